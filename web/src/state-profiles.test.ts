import { describe, expect, it } from "vitest";
import { AccountKind } from "./gen/chat/v1/chat_pb";
import { visibleMessages } from "./messages";
import { encodeClientEvent, parseServerFrame, type Profile } from "./protocol";
import { reducer } from "./state";
import { PROFILE_TTL_MS, authorLabel, profileFresh, profileOf } from "./state-profiles";
import { makeEvent } from "./testing/events";
import { ev, msg, open, server } from "./testing/chat-state";

const profile = (over: Partial<Profile> = {}): Profile => ({
  username: "bob",
  displayName: "",
  kind: AccountKind.USER,
  owner: "",
  deleted: false,
  createdAt: "",
  ...over,
});

describe("profiles in the reducer", () => {
  it("caches the answer to getUsers by lower-case name; names left out do not exist", () => {
    let s = reducer(open(), { type: "requestSent", ref: "r9", request: { kind: "getUsers", names: ["Bob", "ghost"] } });
    s = reducer(s, { type: "server", events: [makeEvent("profiles", { ref: "r9", users: [profile({ username: "Bob", displayName: "Bobby" })] })], now: 5000 });
    expect(s.requests.r9).toBeUndefined();
    expect(profileOf(s, "bob")?.displayName).toBe("Bobby");
    expect(profileOf(s, "BOB")?.username).toBe("Bob");
    expect(profileOf(s, "ghost")).toBeNull();
    expect(profileOf(s, "carol")).toBeUndefined();
    expect(profileFresh(s, "ghost", 5000 + PROFILE_TTL_MS - 1)).toBe(true);
    expect(profileFresh(s, "bob", 5000 + PROFILE_TTL_MS)).toBe(false);
  });

  it("a refused getUsers is dropped quietly (no notice)", () => {
    let s = reducer(open(), { type: "requestSent", ref: "r3", request: { kind: "getUsers", names: ["bob"] } });
    s = server(s, makeEvent("error", { ref: "r3", message: "unknown event" }));
    expect(s.notice).toBe("");
    expect(s.requests.r3).toBeUndefined();
    expect(profileOf(s, "bob")).toBeUndefined();
  });

  it("takes a profile learnt elsewhere (UpdateProfile's answer)", () => {
    const s = reducer(open(), { type: "profilesKnown", profiles: [profile({ username: "alice", displayName: "Al" })], now: 7 });
    expect(s.profiles.alice).toEqual({ profile: expect.objectContaining({ displayName: "Al" }), fetchedAt: 7 });
  });

  it("keeps the expiry a sessionRenewed event brings", () => {
    const s = server(open(), makeEvent("sessionRenewed", { expiresAt: "2026-12-14T06:00:00.000Z" }));
    expect(s.sessionExpiresAt).toBe("2026-12-14T06:00:00.000Z");
    expect(s.notice).toBe("");
  });

  it("marks a bot's messages", () => {
    const s = server(open(), ev.message(msg(1, { author: "ci.bot", authorKind: AccountKind.BOT })), ev.message(msg(2)));
    expect(visibleMessages(s.rooms.lobby).map((m) => [m.author, m.bot])).toEqual([
      ["ci.bot", true],
      ["bob", false],
    ]);
  });
});

describe("authorLabel", () => {
  it("is the username while the profile is unknown or has no display name", () => {
    expect(authorLabel("bob", undefined)).toEqual({ name: "bob", handle: "", title: "bob", bot: false, deleted: false });
    expect(authorLabel("bob", profile())).toMatchObject({ name: "bob", handle: "" });
    expect(authorLabel("bob", null)).toMatchObject({ name: "bob" });
  });

  it("puts the display name first and the username beside it", () => {
    expect(authorLabel("bob", profile({ displayName: " Bob Stone " }))).toEqual({
      name: "Bob Stone",
      handle: "@bob",
      title: "Bob Stone (@bob)",
      bot: false,
      deleted: false,
    });
  });

  it('says "deleted user" for a deleted account, keeping the username in the title', () => {
    const l = authorLabel("bob", profile({ deleted: true, displayName: "Bob" }));
    expect(l).toMatchObject({ name: "deleted user", handle: "", deleted: true });
    expect(l.title).toContain("bob");
  });

  it("is a bot when the message or the profile says so", () => {
    expect(authorLabel("ci", undefined, true).bot).toBe(true);
    expect(authorLabel("ci", profile({ username: "ci", kind: AccountKind.BOT })).bot).toBe(true);
    expect(authorLabel("ci", profile({ username: "ci", deleted: true }), true)).toMatchObject({ bot: true, deleted: true });
  });
});

describe("the wire form of profiles and renewals", () => {
  it("decodes profiles, sessionRenewed and a bot's message", () => {
    const frame = [
      '{"ref":"r4","profiles":{"users":[{"username":"ci.bot","displayName":"CI","kind":"ACCOUNT_KIND_BOT","owner":"alice","createdAt":"2026-12-07T06:00:00Z"},{"username":"carol","deleted":true}]}}',
      '{"sessionRenewed":{"expiresAt":"2026-12-14T06:00:00Z"}}',
      '{"message":{"room":"lobby","seq":"3","author":"ci.bot","text":"hi","authorKind":"ACCOUNT_KIND_BOT"}}',
    ].join("\n");
    const [profiles, renewed, message] = parseServerFrame(frame);
    expect(profiles).toEqual({
      type: "profiles",
      ref: "r4",
      users: [
        { username: "ci.bot", displayName: "CI", kind: AccountKind.BOT, owner: "alice", deleted: false, createdAt: "2026-12-07T06:00:00.000Z" },
        { username: "carol", displayName: "", kind: AccountKind.UNSPECIFIED, owner: "", deleted: true, createdAt: "" },
      ],
    });
    expect(renewed).toEqual({ type: "sessionRenewed", ref: "", expiresAt: "2026-12-14T06:00:00.000Z" });
    expect(message.type === "message" && message.message.authorKind).toBe(AccountKind.BOT);
  });

  it("encodes getUsers", () => {
    expect(JSON.parse(encodeClientEvent({ ref: "r1", event: { case: "getUsers", value: { usernames: ["bob", "carol"] } } }))).toEqual({
      ref: "r1",
      getUsers: { usernames: ["bob", "carol"] },
    });
  });
});
