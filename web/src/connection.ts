// The WebSocket client: one socket at a time to the bridge's /ws, automatic
// reconnect with exponential backoff and jitter, a heartbeat, and an auth
// check when the server refuses us. It knows nothing about rooms: the owner
// re-joins (with sinceSeq) in onOpen.
//
// No React, no DOM beyond the WebSocket interface (injectable for tests).

import { encodeClientEvent, parseServerFrame, type ClientEventInit, type ServerEvent } from "./protocol";

/** The part of the browser WebSocket this module uses. */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => WebSocketLike;

export type AuthCheck = "ok" | "unauthenticated" | "unknown";

export interface DownInfo {
  code: number;
  reason: string;
  /** The socket had opened (false: the upgrade was refused or the network failed). */
  opened: boolean;
  /** A human-readable description for the banner. */
  detail: string;
}

export interface ConnectionOptions {
  url: string;
  onOpen: () => void;
  onEvents: (events: ServerEvent[]) => void;
  /** The connection went down; a reconnect follows unless onAuthLost is called. */
  onDown: (info: DownInfo) => void;
  /** Called when a reconnect is scheduled, with its delay. */
  onRetryScheduled?: (delayMs: number, attempt: number) => void;
  /** /api/me said 401: the session is over. No reconnect follows. */
  onAuthLost: () => void;
  /** GET /api/me. */
  checkAuth: () => Promise<AuthCheck>;
  createSocket?: SocketFactory;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** How long a connection must stay open before the backoff starts over. */
  stableAfterMs?: number;
}

const OPEN = 1;

/** Close code the client uses when its heartbeat finds the connection dead. */
export const HEARTBEAT_CLOSE = 4000;

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from
 * baseMs, capped at maxMs, with "equal jitter" (a random point in the upper
 * half) so a restarted server is not hit by every client at once.
 */
export function backoffDelay(attempt: number, random: number, baseMs = 500, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const r = Math.min(1, Math.max(0, random));
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}

/** Words for the banner about why the connection went down. */
export function describeClose(code: number, reason: string, opened: boolean): string {
  if (!opened) return "Cannot reach the chat server";
  switch (code) {
    case 1000:
      return reason || "Disconnected";
    case 1001:
      return "The server is restarting";
    case 1008:
      return reason ? `Disconnected: ${reason}` : "Disconnected by the server";
    case 1011:
      return "The chat service is unavailable";
    case 1012:
      return "The chat service is restarting";
    case 1013:
      return "The server is overloaded";
    case HEARTBEAT_CLOSE:
      return "The connection stopped responding";
    default:
      return reason ? `Connection lost: ${reason}` : "Connection lost";
  }
}

export type ConnectionPhase = "idle" | "connecting" | "open" | "checking" | "waiting" | "stopped";

export class Connection {
  private readonly o: Required<Omit<ConnectionOptions, "onRetryScheduled">> &
    Pick<ConnectionOptions, "onRetryScheduled">;
  private ws: WebSocketLike | null = null;
  private phase: ConnectionPhase = "idle";
  private attempt = 0;
  private opened = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private nonce = 0;
  private readonly decoder = typeof TextDecoder !== "undefined" ? new TextDecoder() : null;

  constructor(options: ConnectionOptions) {
    this.o = {
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      random: Math.random,
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      pingIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      stableAfterMs: 5_000,
      // An option given as undefined keeps its default.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ConnectionOptions),
    };
  }

  get state(): ConnectionPhase {
    return this.phase;
  }

  get isOpen(): boolean {
    return this.phase === "open";
  }

  /** Opens the first socket. */
  start(): void {
    if (this.phase !== "idle") return;
    this.connect();
  }

  /** Closes for good (logout, page teardown): no reconnect, no more callbacks. */
  stop(): void {
    this.phase = "stopped";
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      this.detach(ws);
      try {
        ws.close(1000, "bye");
      } catch {
        /* already closed */
      }
    }
  }

  /** Skips the backoff wait (e.g. the browser came back online, or the user clicked "Retry now"). */
  reconnectNow(): void {
    if (this.phase !== "waiting") return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /** Sends one ClientEvent; false if the socket is not open (nothing is queued). */
  send(ev: ClientEventInit): boolean {
    if (this.phase !== "open" || !this.ws || this.ws.readyState !== OPEN) return false;
    try {
      this.ws.send(encodeClientEvent(ev));
      return true;
    } catch {
      return false;
    }
  }

  // -------------------------------------------------------------------------

  private connect(): void {
    this.phase = "connecting";
    this.opened = false;
    let ws: WebSocketLike;
    try {
      ws = this.o.createSocket(this.o.url);
    } catch {
      this.handleDown(1006, "");
      return;
    }
    this.ws = ws;
    try {
      ws.binaryType = "arraybuffer";
    } catch {
      /* not supported by a fake */
    }
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.phase = "open";
      this.opened = true;
      this.stableTimer = setTimeout(() => {
        this.attempt = 0;
      }, this.o.stableAfterMs);
      this.startHeartbeat();
      this.o.onOpen();
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.alive();
      const text = this.frameText(ev.data);
      if (text === null) return;
      const events = parseServerFrame(text);
      if (events.length > 0) this.o.onEvents(events);
    };
    ws.onerror = () => {
      // The close event follows and carries the code.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.handleDown(ev.code, ev.reason ?? "");
    };
  }

  private frameText(data: unknown): string | null {
    if (typeof data === "string") return data;
    if (data instanceof ArrayBuffer && this.decoder) return this.decoder.decode(data);
    return null;
  }

  private detach(ws: WebSocketLike): void {
    ws.onopen = null;
    ws.onmessage = null;
    ws.onerror = null;
    ws.onclose = null;
  }

  private handleDown(code: number, reason: string): void {
    if (this.phase === "stopped") return;
    const opened = this.opened;
    const ws = this.ws;
    this.ws = null;
    if (ws) this.detach(ws);
    this.clearTimers();
    this.o.onDown({ code, reason, opened, detail: describeClose(code, reason, opened) });
    if ((this.phase as ConnectionPhase) === "stopped") return; // onDown may stop us
    // A refused upgrade or a policy close may mean the session is over.
    if (!opened || code === 1008) {
      this.phase = "checking";
      this.o.checkAuth().then(
        (res) => this.afterCheck(res, code),
        () => this.afterCheck("unknown", code),
      );
      return;
    }
    this.scheduleRetry(code);
  }

  private afterCheck(res: AuthCheck, code: number): void {
    if (this.phase !== "checking") return;
    if (res === "unauthenticated") {
      this.phase = "stopped";
      this.o.onAuthLost();
      return;
    }
    this.scheduleRetry(code);
  }

  private scheduleRetry(code: number): void {
    let delay = backoffDelay(this.attempt, this.o.random(), this.o.baseDelayMs, this.o.maxDelayMs);
    if (code === 1013) {
      // Overloaded: "try again later" — never sooner than half the cap.
      delay = Math.max(delay, backoffDelay(30, this.o.random(), this.o.baseDelayMs, this.o.maxDelayMs));
    }
    const attempt = this.attempt;
    this.attempt += 1;
    this.phase = "waiting";
    this.o.onRetryScheduled?.(delay, attempt);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.phase === "waiting") this.connect();
    }, delay);
  }

  private startHeartbeat(): void {
    this.pingTimer = setInterval(() => {
      if (this.phase !== "open") return;
      this.nonce += 1;
      this.send({ event: { case: "ping", value: { nonce: BigInt(this.nonce) } } });
      if (this.pongTimer === null) {
        this.pongTimer = setTimeout(() => {
          this.pongTimer = null;
          // Nothing at all came back: the connection is dead even if the
          // browser has not noticed. Drop it and reconnect.
          const ws = this.ws;
          if (ws) {
            this.detach(ws);
            try {
              ws.close(HEARTBEAT_CLOSE, "heartbeat timeout");
            } catch {
              /* ignore */
            }
          }
          this.handleDown(HEARTBEAT_CLOSE, "");
        }, this.o.pongTimeoutMs);
      }
    }, this.o.pingIntervalMs);
  }

  /** Any frame proves the connection is alive. */
  private alive(): void {
    if (this.pongTimer !== null) {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
  }

  private clearTimers(): void {
    for (const t of [this.retryTimer, this.pongTimer, this.stableTimer]) if (t !== null) clearTimeout(t);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.retryTimer = this.pongTimer = this.stableTimer = this.pingTimer = null;
  }
}
