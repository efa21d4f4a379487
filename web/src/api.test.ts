import { describe, expect, it } from "vitest";
import { Api, ApiError, errorFromResponse, validateInviteCode, validatePassword, validateRoomName, validateUsername } from "./api";

type Call = { url: string; init?: RequestInit };

function fakeFetch(status: number, body: string, calls: Call[] = []) {
  return async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, headers: { "Content-Type": "application/json" } });
  };
}

describe("errorFromResponse", () => {
  it("uses the server's code and message", () => {
    const e = errorFromResponse(400, '{"code":"INVALID_ARGUMENT","message":"username must be 3-32 characters"}');
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 400, code: "INVALID_ARGUMENT", message: "username must be 3-32 characters" });
  });

  it("falls back to the HTTP status when the body is not JSON", () => {
    expect(errorFromResponse(409, "")).toMatchObject({ code: "ALREADY_EXISTS", message: "That username is taken" });
    expect(errorFromResponse(429, "<html>")).toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    expect(errorFromResponse(503, "")).toMatchObject({ code: "UNAVAILABLE" });
    expect(errorFromResponse(502, "")).toMatchObject({ code: "INTERNAL", message: "Request failed (HTTP 502)" });
  });
});

describe("Api", () => {
  it("posts JSON to /api/login and returns the session", async () => {
    const calls: Call[] = [];
    const api = new Api(fakeFetch(200, '{"username":"alice","expiresAt":"2026-12-02T10:00:00Z"}', calls));
    await expect(api.login("alice", "password1")).resolves.toEqual({
      username: "alice",
      expiresAt: "2026-12-02T10:00:00Z",
      guest: false,
    });
    // The login answer does not say whether the user is an admin: /api/me does.
    expect((await api.login("alice", "password1")).admin).toBeUndefined();
    expect(calls[0].url).toBe("/api/login");
    expect(calls[0].init?.method).toBe("POST");
    expect(calls[0].init?.credentials).toBe("same-origin");
    expect(JSON.parse(String(calls[0].init?.body))).toEqual({ username: "alice", password: "password1" });
  });

  it("registers via /api/register", async () => {
    const calls: Call[] = [];
    const api = new Api(fakeFetch(200, '{"username":"bob"}', calls));
    await expect(api.register("bob", "password1")).resolves.toMatchObject({ username: "bob" });
    expect(calls[0].url).toBe("/api/register");
  });

  it("throws the server's message on failure", async () => {
    const api = new Api(fakeFetch(429, '{"code":"RESOURCE_EXHAUSTED","message":"too many failed logins, retry in 60 s"}'));
    await expect(api.login("a", "b")).rejects.toMatchObject({ code: "RESOURCE_EXHAUSTED", message: "too many failed logins, retry in 60 s" });
  });

  it("me() is null on 401 and the session otherwise", async () => {
    await expect(new Api(fakeFetch(401, '{"code":"UNAUTHENTICATED","message":"no"}')).me()).resolves.toBeNull();
    await expect(new Api(fakeFetch(200, '{"username":"g","guest":true}')).me()).resolves.toEqual({
      username: "g",
      expiresAt: "",
      guest: true,
      admin: false,
    });
    await expect(new Api(fakeFetch(200, '{"username":"root","admin":true}')).me()).resolves.toMatchObject({ admin: true });
    await expect(new Api(fakeFetch(503, "")).me()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("reports a network failure as UNAVAILABLE", async () => {
    const api = new Api(async () => {
      throw new TypeError("Failed to fetch");
    });
    await expect(api.me()).rejects.toMatchObject({ status: 0, code: "UNAVAILABLE" });
  });

  it("logout posts to /api/logout and accepts {}", async () => {
    const calls: Call[] = [];
    await new Api(fakeFetch(200, "{}", calls)).logout();
    expect(calls[0]).toMatchObject({ url: "/api/logout", init: { method: "POST" } });
  });

  it("sends Content-Type: application/json on every POST (the bridge answers 415 otherwise)", async () => {
    const calls: Call[] = [];
    const api = new Api(fakeFetch(200, '{"username":"alice"}', calls));
    await api.login("alice", "password1");
    await api.register("alice", "password1");
    await api.logout();
    expect(calls.map((c) => c.url)).toEqual(["/api/login", "/api/register", "/api/logout"]);
    for (const c of calls) {
      expect(c.init?.method).toBe("POST");
      expect(new Headers(c.init?.headers).get("Content-Type")).toBe("application/json");
    }
  });
});

describe("validation", () => {
  it("mirrors the server's rules", () => {
    expect(validateUsername("al")).not.toBe("");
    expect(validateUsername("alice")).toBe("");
    expect(validateUsername("a.b-c_d")).toBe("");
    expect(validateUsername("a".repeat(33))).not.toBe("");
    expect(validateUsername("bad name")).not.toBe("");
    expect(validatePassword("1234567")).not.toBe("");
    expect(validatePassword("12345678")).toBe("");
    expect(validateRoomName("dev")).toBe("");
    expect(validateRoomName("Dev")).not.toBe("");
    expect(validateRoomName("")).not.toBe("");
    expect(validateRoomName("a".repeat(65))).not.toBe("");
  });
});

describe("Api, registration modes", () => {
  it("registers with an invite code when one is given", async () => {
    const calls: Call[] = [];
    const api = new Api(fakeFetch(200, '{"username":"bob"}', calls));
    await api.register("bob", "password1", "code-123");
    await api.register("bob", "password1");
    expect(JSON.parse(String(calls[0].init?.body))).toEqual({ username: "bob", password: "password1", inviteCode: "code-123" });
    expect(JSON.parse(String(calls[1].init?.body))).toEqual({ username: "bob", password: "password1" });
  });

  it("reads the registration mode from /api/info", async () => {
    const calls: Call[] = [];
    await expect(new Api(fakeFetch(200, '{"registration":"REGISTRATION_MODE_INVITE"}', calls)).info()).resolves.toEqual({
      registration: "invite",
    });
    expect(calls[0].url).toBe("/api/info");
    expect(calls[0].init?.method).toBe("GET");
    await expect(new Api(fakeFetch(200, '{"registration":"REGISTRATION_MODE_CLOSED"}')).info()).resolves.toEqual({ registration: "closed" });
    await expect(new Api(fakeFetch(200, '{"registration":"REGISTRATION_MODE_OPEN"}')).info()).resolves.toEqual({ registration: "open" });
    await expect(new Api(fakeFetch(200, "{}")).info()).resolves.toEqual({ registration: "open" });
    // A bridge older than /api/info: as before, open.
    await expect(new Api(fakeFetch(404, "")).info()).resolves.toEqual({ registration: "open" });
    await expect(new Api(fakeFetch(503, "")).info()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("asks for an invite code", () => {
    expect(validateInviteCode("  ")).toMatch(/invite code/);
    expect(validateInviteCode("abc")).toBe("");
  });
});
