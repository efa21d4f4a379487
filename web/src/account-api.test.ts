import { describe, expect, it } from "vitest";
import { AccountApi } from "./account-api";
import { Api, ApiError } from "./api";
import { AccountKind, RegistrationMode, TokenAction } from "./gen/chat/v1/chat_pb";

type Call = { url: string; body: unknown; method: string };

/** A fetch that answers each call with the next (status, body) and records what was sent. */
function fakeFetch(answers: [number, unknown][], calls: Call[]) {
  return async (url: string, init?: RequestInit) => {
    calls.push({ url, method: String(init?.method), body: init?.body === undefined ? undefined : JSON.parse(String(init.body)) });
    const [status, body] = answers.shift() ?? [500, {}];
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
  };
}

function setup(...answers: [number, unknown][]) {
  const calls: Call[] = [];
  return { account: new AccountApi(new Api(fakeFetch(answers, calls))), calls };
}

describe("AccountApi", () => {
  it("posts each call to /api/account/{Method} in proto3 JSON", async () => {
    const { account, calls } = setup([200, { sessionsEnded: 2 }], [200, {}]);
    await expect(account.changePassword("old-secret", "new-secret-1")).resolves.toBe(2);
    expect(calls[0]).toEqual({
      url: "/api/account/ChangePassword",
      method: "POST",
      body: { oldPassword: "old-secret", newPassword: "new-secret-1" },
    });
    // A zero answer omits the field: it reads as 0.
    await expect(account.revokeOtherSessions()).resolves.toBe(0);
    expect(calls[1]).toMatchObject({ url: "/api/account/RevokeSession", body: { allOthers: true } });
  });

  it("writes token actions as enum names and the expiry as RFC 3339", async () => {
    const token = {
      id: "0123456789abcdef",
      account: "ci.bot",
      name: "ci",
      rooms: ["deploy"],
      actions: ["TOKEN_ACTION_POST"],
      createdAt: "2026-12-07T06:00:00Z",
    };
    const { account, calls } = setup([200, { token, secret: "chat_abc" }]);
    const made = await account.createApiToken({
      account: "ci.bot",
      name: "ci",
      rooms: ["deploy"],
      actions: [TokenAction.READ, TokenAction.POST],
      expiresAt: new Date("2027-01-01T00:00:00Z"),
    });
    expect(calls[0].body).toEqual({
      account: "ci.bot",
      name: "ci",
      rooms: ["deploy"],
      actions: ["TOKEN_ACTION_READ", "TOKEN_ACTION_POST"],
      expiresAt: "2027-01-01T00:00:00Z",
    });
    expect(made.secret).toBe("chat_abc");
    expect(made.token).toEqual({
      id: "0123456789abcdef",
      account: "ci.bot",
      name: "ci",
      rooms: ["deploy"],
      actions: [TokenAction.POST],
      createdBy: "",
      createdAt: "2026-12-07T06:00:00.000Z",
      expiresAt: "",
      lastUsedAt: "",
    });
  });

  it("leaves out a token's expiry when it never expires", async () => {
    const { account, calls } = setup([200, { token: { id: "a", name: "n" }, secret: "chat_x" }]);
    await account.createApiToken({ account: "", name: "n", rooms: [], actions: [], expiresAt: null });
    expect(calls[0].body).toEqual({ name: "n" });
  });

  it("reads WhoAmI: kind, display name, invite right, registration mode", async () => {
    const { account } = setup([
      200,
      {
        username: "alice",
        displayName: "Alice L.",
        kind: "ACCOUNT_KIND_USER",
        mayInvite: true,
        registration: "REGISTRATION_MODE_INVITE",
        expiresAt: "2026-12-14T06:00:00Z",
        someFutureField: 1,
      },
    ]);
    await expect(account.whoAmI()).resolves.toEqual({
      username: "alice",
      displayName: "Alice L.",
      admin: false,
      bot: false,
      mayInvite: true,
      registration: RegistrationMode.INVITE,
      expiresAt: "2026-12-14T06:00:00.000Z",
    });
  });

  it("reads sessions, bots and webhooks with their times as strings", async () => {
    const { account } = setup(
      [200, { sessions: [{ id: "s1", current: true, peer: "127.0.0.1", client: "Mozilla/5.0", createdAt: "2026-12-07T06:00:00Z" }, { id: "s2" }] }],
      [200, { bots: [{ username: "ci.bot", kind: "ACCOUNT_KIND_BOT", owner: "alice" }] }],
      [200, { webhooks: [{ id: "h1", room: "ops", bot: "ci.bot", createdAt: "2026-12-07T06:00:00Z" }] }],
    );
    const sessions = await account.listSessions();
    expect(sessions[0]).toMatchObject({ id: "s1", current: true, peer: "127.0.0.1", createdAt: "2026-12-07T06:00:00.000Z", lastUsedAt: "" });
    expect(sessions[1]).toMatchObject({ id: "s2", current: false, client: "" });
    const bots = await account.listBots();
    expect(bots[0]).toMatchObject({ username: "ci.bot", kind: AccountKind.BOT, owner: "alice", createdAt: "" });
    expect(await account.listWebhooks()).toEqual([
      { id: "h1", room: "ops", bot: "ci.bot", name: "", createdBy: "", createdAt: "2026-12-07T06:00:00.000Z" },
    ]);
  });

  it("sends the invite's validity as a proto3 JSON duration", async () => {
    const { account, calls } = setup([200, { code: "abc", expiresAt: "2026-12-08T06:00:00Z" }]);
    await expect(account.createInvite(86_400)).resolves.toEqual({ code: "abc", expiresAt: "2026-12-08T06:00:00.000Z" });
    expect(calls[0].body).toEqual({ validFor: "86400s" });
  });

  it("throws the server's code and message", async () => {
    const { account } = setup([403, { code: "PERMISSION_DENIED", message: "this call needs a login session" }]);
    const err = await account.listBots().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: "PERMISSION_DENIED", message: "this call needs a login session" });
  });

  it("refuses an answer that is not the response message", async () => {
    const { account } = setup([200, { sessions: "nope" }]);
    await expect(account.listSessions()).rejects.toMatchObject({ code: "INTERNAL" });
  });

  it("a created webhook without its secret is an error, not a blank URL", async () => {
    const { account } = setup([200, { webhook: { id: "h1" } }]);
    await expect(account.createWebhook("ops", "ci.bot", "")).rejects.toMatchObject({ code: "INTERNAL" });
  });
});
