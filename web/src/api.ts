// The bridge's HTTP JSON API (/api/register, /api/login, /api/logout, /api/me,
// /api/info; the account calls under /api/account/ are in account-api.ts).
// Same-origin fetch: the HttpOnly session cookie goes along by itself.

export interface Session {
  username: string;
  expiresAt: string;
  guest: boolean;
  /**
   * A server admin (WhoAmI.admin, from /api/me). Undefined when the session
   * came from /api/login or /api/register, whose answers do not say.
   */
  admin?: boolean;
}

/** Who may register on this server (GET /api/info; chat-core --registration). */
export type RegistrationMode = "open" | "invite" | "closed";

export class ApiError extends Error {
  readonly status: number;
  /** gRPC status name from the body ("INVALID_ARGUMENT", ...), or "UNAVAILABLE" for a network failure. */
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

const CODE_BY_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
  429: "RESOURCE_EXHAUSTED",
  503: "UNAVAILABLE",
};

const DEFAULT_MESSAGE: Record<string, string> = {
  INVALID_ARGUMENT: "Invalid request",
  UNAUTHENTICATED: "Wrong username or password",
  ALREADY_EXISTS: "That username is taken",
  RESOURCE_EXHAUSTED: "Too many attempts, try again later",
  UNAVAILABLE: "The chat service is unavailable, try again shortly",
};

/** Builds the ApiError for a non-2xx answer from its status and (maybe JSON) body text. */
export function errorFromResponse(status: number, bodyText: string): ApiError {
  let code = CODE_BY_STATUS[status] ?? (status >= 500 ? "INTERNAL" : "UNKNOWN");
  let message = "";
  try {
    const body = JSON.parse(bodyText) as unknown;
    if (body && typeof body === "object") {
      const b = body as Record<string, unknown>;
      if (typeof b.code === "string" && b.code) code = b.code;
      if (typeof b.message === "string") message = b.message;
    }
  } catch {
    /* not JSON */
  }
  if (!message) message = DEFAULT_MESSAGE[code] ?? `Request failed (HTTP ${status})`;
  return new ApiError(status, code, message);
}

function toSession(body: unknown, fromMe = false): Session {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const s: Session = {
    username: typeof b.username === "string" ? b.username : "",
    expiresAt: typeof b.expiresAt === "string" ? b.expiresAt : "",
    guest: b.guest === true,
  };
  // proto3 JSON leaves out a false `admin`: from /api/me, absent means no.
  if (fromMe) s.admin = b.admin === true;
  return s;
}

export class Api {
  private readonly fetchImpl: Fetch;
  constructor(fetchImpl?: Fetch) {
    this.fetchImpl = fetchImpl ?? ((input, init) => fetch(input, init));
  }

  /** One JSON request: the parsed answer, or an ApiError (the server's code and message). */
  async request(path: string, method: "GET" | "POST", body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetchImpl(path, {
        method,
        credentials: "same-origin",
        headers: body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json", Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "UNAVAILABLE", "Cannot reach the chat server");
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) throw errorFromResponse(res.status, text);
    if (text.trim() === "") return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ApiError(res.status, "INTERNAL", "The server sent an unreadable answer");
    }
  }

  /** `inviteCode`: needed when the server registers by invitation (info() says "invite"). */
  async register(username: string, password: string, inviteCode = ""): Promise<Session> {
    const body: Record<string, string> = { username, password };
    if (inviteCode !== "") body.inviteCode = inviteCode;
    return toSession(await this.request("/api/register", "POST", body));
  }

  /**
   * Who may register (GET /api/info, no credentials). A bridge without
   * /api/info (older than issue #29) counts as "open": its Register says no
   * itself if it must.
   */
  async info(): Promise<{ registration: RegistrationMode }> {
    let body: unknown;
    try {
      body = await this.request("/api/info", "GET");
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { registration: "open" };
      throw err;
    }
    const r = body && typeof body === "object" ? (body as Record<string, unknown>).registration : undefined;
    if (r === "REGISTRATION_MODE_INVITE" || r === 2) return { registration: "invite" };
    if (r === "REGISTRATION_MODE_CLOSED" || r === 3) return { registration: "closed" };
    return { registration: "open" };
  }

  async login(username: string, password: string): Promise<Session> {
    return toSession(await this.request("/api/login", "POST", { username, password }));
  }

  async logout(): Promise<void> {
    await this.request("/api/logout", "POST", {});
  }

  /** The current session, or null when not logged in (401). Other failures throw. */
  async me(): Promise<Session | null> {
    try {
      return toSession(await this.request("/api/me", "GET"), true);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return null;
      throw err;
    }
  }
}

// Client-side checks, mirroring the server's rules (the server has the last word).
export const USERNAME_RE = /^[a-zA-Z0-9_.-]{3,32}$/;
export const ROOM_RE = /^[a-z0-9._-]{1,64}$/;

export function validateUsername(u: string): string {
  return USERNAME_RE.test(u) ? "" : "Username must be 3-32 characters of letters, digits, _ . or -";
}

export function validatePassword(p: string): string {
  return p.length >= 8 ? "" : "Password must be at least 8 characters";
}

/** Registration by invitation needs a code; the server checks it. */
export function validateInviteCode(code: string): string {
  return code.trim() === "" ? "Enter the invite code you were given: this server registers by invitation" : "";
}

export function validateRoomName(n: string): string {
  return ROOM_RE.test(n) ? "" : "Room names are 1-64 characters of a-z, 0-9, . _ or -";
}
