import { describe, expect, it } from "vitest";
import { Error_Code, MembershipEvent_Kind as Kind, Role, RoomKind } from "./gen/chat/v1/chat_pb";
import { visibleMessages } from "./messages";
import type { ChatState, PendingRequest } from "./model";
import type { Member } from "./protocol";
import { memberRows } from "./state-members";
import { reducer, roomNames } from "./state";
import { ME, ev, msg, open, server } from "./testing/chat-state";
import { makeEvent, makeRoom } from "./testing/events";

const member = (user: string, role = Role.MEMBER, online = false): Member => ({ user, role, online });

const membership = (kind: Kind, user: string, over: Record<string, unknown> = {}) =>
  makeEvent("membership", { room: "ops", user, kind, ...over });

function sent(s: ChatState, ref: string, request: PendingRequest): ChatState {
  return reducer(s, { type: "requestSent", ref, request });
}

const action = (key: string, notice = false, room = "ops"): PendingRequest => ({
  kind: "action",
  key,
  label: "Remove bob",
  notice,
  room,
});

/** In the private room "ops" with the given role, its roster loaded. */
function inOps(myRole = Role.OWNER, members: Member[] = [member(ME, myRole), member("bob")]): ChatState {
  let s = open();
  s = server(s, makeEvent("room", { room: makeRoom({ name: "ops", kind: RoomKind.PRIVATE, myRole }) }));
  s = server(s, ev.joined("ops", 0, [ME]));
  s = sent(s, "m1", { kind: "listMembers", room: "ops" });
  expect(s.rooms.ops.roster.status).toBe("loading");
  return server(s, makeEvent("members", { ref: "m1", room: "ops", members, invited: ["zed", "dan"], banned: ["eve"] }));
}

describe("the member list", () => {
  it("orders by role, then name", () => {
    const s = inOps(Role.MODERATOR, [member("carol"), member("bob", Role.OWNER), member(ME, Role.MODERATOR), member("al")]);
    expect(s.rooms.ops.roster.members.map((m) => m.user)).toEqual(["bob", ME, "al", "carol"]);
    expect(s.rooms.ops.roster).toMatchObject({ status: "loaded", invited: ["dan", "zed"], banned: ["eve"] });
    expect(s.requests).toEqual({});
  });

  it("follows invitations, joins, kicks, bans and unbans", () => {
    let s = inOps();
    s = server(s, membership(Kind.INVITED, "carol", { by: ME }));
    expect(s.rooms.ops.roster.invited).toEqual(["carol", "dan", "zed"]);
    s = server(s, membership(Kind.DECLINED, "dan", { by: "dan" }));
    s = server(s, membership(Kind.JOINED, "carol", { by: "carol", role: Role.MEMBER }));
    expect(s.rooms.ops.roster.invited).toEqual(["zed"]);
    expect(s.rooms.ops.roster.members.map((m) => m.user)).toEqual([ME, "bob", "carol"]);
    s = server(s, membership(Kind.KICKED, "bob", { by: ME, reason: "spam" }));
    s = server(s, membership(Kind.BANNED, "carol", { by: ME }));
    expect(s.rooms.ops.roster.members.map((m) => m.user)).toEqual([ME]);
    expect(s.rooms.ops.roster.banned).toEqual(["carol", "eve"]);
    s = server(s, membership(Kind.UNBANNED, "eve", { by: ME }));
    expect(s.rooms.ops.roster.banned).toEqual(["carol"]);
  });

  it("a member sees others invited or banned only as moderators do (not at all)", () => {
    let s = inOps(Role.MEMBER, [member("bob", Role.OWNER), member(ME)]);
    s = server(s, membership(Kind.INVITED, "carol", { by: "bob" }), membership(Kind.BANNED, "dan", { by: "bob" }));
    expect(s.rooms.ops.roster.invited).not.toContain("carol");
    expect(s.rooms.ops.roster.banned).not.toContain("dan");
  });

  it("changes roles, and a new owner makes the old one a moderator", () => {
    let s = inOps();
    s = server(s, membership(Kind.ROLE_CHANGED, "bob", { role: Role.MODERATOR, by: ME }));
    expect(s.rooms.ops.roster.members).toMatchObject([{ user: ME, role: Role.OWNER }, { user: "bob", role: Role.MODERATOR }]);
    s = server(s, membership(Kind.ROLE_CHANGED, "bob", { role: Role.OWNER, by: ME }));
    expect(s.rooms.ops.roster.members).toMatchObject([{ user: "bob", role: Role.OWNER }, { user: ME, role: Role.MODERATOR }]);
    expect(s.rooms.ops.info?.myRole).toBe(Role.MODERATOR);
    s = server(s, membership(Kind.ROLE_CHANGED, ME, { role: Role.MEMBER, by: "bob" }));
    expect(s.rooms.ops.info?.myRole).toBe(Role.MEMBER);
  });

  it("shows why the list could not be loaded", () => {
    let s = server(open(), ev.joined("ops", 0));
    s = sent(s, "m1", { kind: "listMembers", room: "ops" });
    s = server(s, makeEvent("error", { ref: "m1", code: Error_Code.NOT_FOUND, message: "no room 'ops'", event: "listMembers" }));
    expect(s.rooms.ops.roster).toMatchObject({ status: "error", error: "no room 'ops'" });
    expect(s.notice).toBe("");
  });
});

describe("member rows: roles merged with presence", () => {
  it("lists stored members with their roles, online from presence, and visitors present without a role", () => {
    let s = inOps(Role.OWNER, [member(ME, Role.OWNER), member("bob", Role.MODERATOR, true), member("zed")]);
    s = server(s, makeEvent("member", { room: "ops", user: "carol", kind: 1 }));
    expect(memberRows(s.rooms.ops)).toEqual([
      { user: ME, role: Role.OWNER, online: true },
      // bob: ListMembers said online, but the presence list (complete) does not have him.
      { user: "bob", role: Role.MODERATOR, online: false },
      { user: "carol", role: Role.UNSPECIFIED, online: true },
      { user: "zed", role: Role.MEMBER, online: false },
    ]);
  });

  it("trusts ListMembers' online flag past the presence limit", () => {
    let s = inOps(Role.OWNER, [member(ME, Role.OWNER), member("bob", Role.MEMBER, true)]);
    s = server(s, makeEvent("joined", { room: "ops", members: [ME], latestSeq: 0, memberCount: 300 }));
    expect(memberRows(s.rooms.ops).find((r) => r.user === "bob")?.online).toBe(true);
  });
});

describe("the user's own membership", () => {
  it("lists invitations from listInvites and live INVITED events, and drops them when answered", () => {
    let s = sent(open(), "i1", { kind: "listInvites" });
    s = server(s, makeEvent("invites", {
      ref: "i1",
      invites: [{ room: makeRoom({ name: "zoo", kind: RoomKind.PRIVATE }), invitedBy: "bob", invitedAt: "2026-01-01T00:00:00.000Z" }],
    }));
    expect(s.invitesLoaded).toBe(true);
    s = server(s, membership(Kind.INVITED, ME, { by: "carol", roomInfo: makeRoom({ name: "ops", kind: RoomKind.PRIVATE, topic: "t" }) }));
    expect(s.invites.map((i) => [i.room.name, i.invitedBy])).toEqual([["ops", "carol"], ["zoo", "bob"]]);
    expect(roomNames(s)).toEqual(["lobby"]); // invited is not a member: not listed yet
    // Declined in another tab.
    s = server(s, membership(Kind.DECLINED, ME, { room: "zoo", by: ME }));
    expect(s.invites.map((i) => i.room.name)).toEqual(["ops"]);
    // Accepted here: the answer is the JOINED event, with the room as we now see it.
    s = sent(s, "a1", action("respond:ops", true));
    expect(s.actions["respond:ops"]).toEqual({ pending: true, error: "", done: false });
    s = server(s, membership(Kind.JOINED, ME, {
      ref: "a1",
      role: Role.MEMBER,
      roomInfo: makeRoom({ name: "ops", kind: RoomKind.PRIVATE, myRole: Role.MEMBER, topic: "t" }),
    }));
    expect(s.invites).toEqual([]);
    expect(s.actions["respond:ops"]).toEqual({ pending: false, error: "", done: true });
    expect(roomNames(s)).toEqual(["lobby", "ops"]);
    expect(s.rooms.ops.info).toMatchObject({ myRole: Role.MEMBER, topic: "t" });
  });

  it("kicked: the room leaves the list and the user is told by whom and why", () => {
    let s = inOps(Role.MEMBER);
    s = server(s, membership(Kind.KICKED, ME, { by: "bob", reason: "spam" }));
    expect(roomNames(s)).toEqual(["lobby"]);
    expect(s.farewell).toEqual({ room: "ops", text: "You were removed from #ops by bob: spam", source: "event" });
    s = server(s, makeEvent("left", { room: "ops", reason: "kicked by bob: spam" }));
    expect(s.farewell?.text).toBe("You were removed from #ops by bob: spam");
  });

  it("banned after the left event came first: the precise word wins", () => {
    let s = inOps(Role.MEMBER);
    s = server(s, makeEvent("left", { room: "ops", reason: "banned by bob" }));
    expect(s.farewell?.source).toBe("left");
    s = server(s, membership(Kind.BANNED, ME, { by: "bob" }));
    expect(s.farewell).toEqual({ room: "ops", text: "You were banned from #ops by bob", source: "event" });
  });

  it("leaving: no farewell for what the user did", () => {
    let s = inOps(Role.MEMBER);
    s = sent(s, "l1", action("leave:ops"));
    s = server(s, makeEvent("left", { room: "ops", reason: "you left the room" }));
    s = server(s, membership(Kind.LEFT, ME, { ref: "l1", by: ME }));
    expect(roomNames(s)).toEqual(["lobby"]);
    expect(s.farewell).toBeNull();
    expect(s.actions["leave:ops"]?.done).toBe(true);
  });
});

describe("requests and their errors", () => {
  it("shows a refused request in its form, and as a notice for menus", () => {
    let s = inOps();
    s = sent(s, "t1", action("topic:ops"));
    s = server(s, makeEvent("error", { ref: "t1", code: Error_Code.INVALID_ARGUMENT, message: "topic too long", event: "updateRoom" }));
    expect(s.actions["topic:ops"]).toEqual({ pending: false, error: "topic too long", done: false });
    expect(s.notice).toBe("");
    s = sent(s, "k1", action("kick:ops:bob", true));
    s = server(s, makeEvent("error", { ref: "k1", code: Error_Code.PERMISSION_DENIED, message: "same or higher role", event: "kick" }));
    expect(s.actions["kick:ops:bob"].error).toBe("same or higher role");
    expect(s.notice).toBe("Remove bob: same or higher role");
    s = reducer(s, { type: "clearAction", key: "kick:ops:bob" });
    expect(s.actions["kick:ops:bob"]).toBeUndefined();
  });

  it("a request under way when the connection drops is failed", () => {
    let s = sent(inOps(), "k1", action("kick:ops:bob", true));
    s = reducer(s, { type: "connection", status: "reconnecting" });
    expect(s.actions["kick:ops:bob"]).toEqual({ pending: false, error: "Connection lost, try again", done: false });
  });

  it("an offline request fails at once", () => {
    const s = reducer(open(), { type: "actionFailed", key: "ban:ops:bob", error: "You are offline", notice: "Ban bob: You are offline" });
    expect(s.actions["ban:ops:bob"].error).toBe("You are offline");
    expect(s.notice).toBe("Ban bob: You are offline");
  });
});

describe("user search", () => {
  it("keeps only the newest search's answer", () => {
    let s = sent(open(), "s1", { kind: "searchUsers", prefix: "b" });
    s = sent(s, "s2", { kind: "searchUsers", prefix: "bo" });
    expect(s.userSearch).toMatchObject({ prefix: "bo", pending: true });
    s = server(s, makeEvent("users", { ref: "s2", users: ["bob"] }));
    s = server(s, makeEvent("users", { ref: "s1", users: ["bart", "bob"] }));
    expect(s.userSearch).toMatchObject({ prefix: "bo", users: ["bob"], pending: false, error: "" });
    expect(s.requests).toEqual({});
  });

  it("shows the rate limit", () => {
    let s = sent(open(), "s1", { kind: "searchUsers", prefix: "b" });
    s = server(s, makeEvent("error", { ref: "s1", code: Error_Code.RESOURCE_EXHAUSTED, message: "retry in 3 s", event: "searchUsers" }));
    expect(s.userSearch).toMatchObject({ pending: false, error: "retry in 3 s" });
    expect(s.notice).toBe("");
    s = reducer(s, { type: "clearSearch" });
    expect(s.userSearch).toMatchObject({ ref: "", prefix: "", users: [], error: "" });
  });
});

describe("deleted messages", () => {
  it("turn into tombstones live, and stay so from history", () => {
    let s = server(open(), ev.joined("lobby", 2));
    s = server(s, ev.history("lobby", [msg(2), msg(1)], false));
    s = server(s, makeEvent("messageDeleted", { room: "lobby", seq: 2, by: "bob" }));
    expect(visibleMessages(s.rooms.lobby).map((m) => [m.seq, m.deleted, m.text])).toEqual([
      [1, false, "m1"],
      [2, true, ""],
    ]);
    // A message we do not hold, or one deleted already: nothing changes.
    const same = server(s, makeEvent("messageDeleted", { room: "lobby", seq: 9 }), makeEvent("messageDeleted", { room: "lobby", seq: 2 }));
    expect(same.rooms.lobby).toBe(s.rooms.lobby);
    s = server(s, ev.history("lobby", [msg(1, { deleted: true, text: "" })], false));
    expect(s.rooms.lobby.messages[0]).toMatchObject({ seq: 1, deleted: true, text: "" });
  });

  it("the answer to our own delete does it too", () => {
    let s = server(open(), ev.joined("lobby", 0), ev.message(msg(1, { author: ME })));
    s = sent(s, "d1", action("deleteMessage:lobby:1", true, "lobby"));
    s = server(s, makeEvent("messageDeleted", { ref: "d1", room: "lobby", seq: 1, by: ME }));
    expect(s.rooms.lobby.messages[0].deleted).toBe(true);
    expect(s.actions["deleteMessage:lobby:1"].done).toBe(true);
  });
});
