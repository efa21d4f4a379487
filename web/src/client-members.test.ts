import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatClient } from "./client";
import { Role } from "./gen/chat/v1/chat_pb";
import { FakeSocket, fakeFactory } from "./testing/fake-socket";

function setup(admin = false) {
  const client = new ChatClient({
    me: "alice",
    admin,
    url: "ws://test/ws",
    createSocket: fakeFactory,
    random: () => 1,
    uuid: () => "id",
    now: () => 1_000_000,
    checkAuth: async () => "ok",
    onAuthLost: () => {},
  });
  client.start();
  const ws = FakeSocket.last();
  ws.open();
  ws.receive({ ref: "r1", joined: { room: "lobby", latestSeq: "0" } });
  drain(ws);
  return { client, ws };
}

/** The events sent since the last call, parsed, without their refs. */
function drain(ws: FakeSocket): Record<string, any>[] {
  const out = ws.json().map(({ ref: _, ...rest }) => rest);
  ws.sent = [];
  return out;
}

/** The ref of the last event sent. */
function lastRef(ws: FakeSocket): string {
  return String(ws.json().at(-1)?.ref);
}

const privateRoom = (name: string, myRole = "ROLE_MEMBER", extra: Record<string, unknown> = {}) => ({
  name,
  kind: "ROOM_KIND_PRIVATE",
  myRole,
  ...extra,
});

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.reset();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("ChatClient membership", () => {
  it("asks for the invitations on every connect", () => {
    const client = new ChatClient({
      me: "alice",
      url: "ws://t/ws",
      createSocket: fakeFactory,
      checkAuth: async () => "ok",
      onAuthLost: () => {},
    });
    client.start();
    FakeSocket.last().open();
    expect(drain(FakeSocket.last()).filter((e) => e.listInvites)).toEqual([{ listInvites: {} }]);
    client.stop();
  });

  it("opens a direct room and goes into it; the picker's own name and repeats are dropped", () => {
    const { client, ws } = setup();
    expect(client.membership.openDirect(["alice"])).toMatch(/Pick someone/);
    expect(client.membership.openDirect(Array.from({ length: 9 }, (_, i) => `u${i}`))).toMatch(/At most 8/);
    expect(drain(ws)).toEqual([]);
    expect(client.membership.openDirect(["Bob", "bob", "ALICE", "carol"])).toBe("");
    const ref = lastRef(ws);
    expect(drain(ws)).toEqual([{ openDirect: { users: ["Bob", "carol"] } }]);
    expect(client.getState().actions.openDirect.pending).toBe(true);
    ws.receive({ ref, room: { name: "dm.abc", kind: "ROOM_KIND_DIRECT", directUsers: ["alice", "Bob", "carol"], myRole: "ROLE_MEMBER" } });
    expect(client.getState().current).toBe("dm.abc");
    expect(client.getState().actions.openDirect.done).toBe(true);
    expect(drain(ws)).toEqual([{ join: { room: "dm.abc" } }]);
  });

  it("creates a private room with a topic, then goes into it; a taken name stays an error in the form", () => {
    const { client, ws } = setup();
    expect(client.membership.createRoom("dm.x", "", true)).toMatch(/direct messages/);
    expect(client.membership.createRoom("ops", "x".repeat(257), true)).toMatch(/too long/);
    expect(client.membership.createRoom("ops", " on call ", true)).toBe("");
    let ref = lastRef(ws);
    expect(drain(ws)).toEqual([{ createRoom: { name: "ops", kind: "ROOM_KIND_PRIVATE", topic: "on call" } }]);
    ws.receive({ ref, error: { code: "ALREADY_EXISTS", message: "room 'ops' exists", event: "createRoom" } });
    expect(client.getState().current).toBe("lobby");
    expect(client.getState().actions.createRoom.error).toBe("room 'ops' exists");
    client.membership.createRoom("ops2", "", true);
    ref = lastRef(ws);
    drain(ws);
    ws.receive({ ref, room: privateRoom("ops2", "ROLE_OWNER") });
    expect(client.getState().current).toBe("ops2");
    expect(client.getState().rooms.ops2.info?.myRole).toBe(Role.OWNER);
  });

  it("accepting an invitation goes into the room; one accepted elsewhere is only joined", () => {
    const { client, ws } = setup();
    ws.receive({ membership: { room: "ops", user: "alice", kind: "INVITED", by: "bob", roomInfo: privateRoom("ops", "ROLE_UNSPECIFIED") } });
    expect(client.getState().invites).toHaveLength(1);
    client.membership.respondInvite("ops", true);
    const ref = lastRef(ws);
    expect(drain(ws)).toEqual([{ respondInvite: { room: "ops", accept: true } }]);
    ws.receive({ ref, membership: { room: "ops", user: "alice", kind: "JOINED", role: "ROLE_MEMBER", by: "alice", roomInfo: privateRoom("ops") } });
    expect(client.getState().current).toBe("ops");
    expect(client.getState().invites).toEqual([]);
    expect(drain(ws)).toEqual([{ join: { room: "ops", sinceSeq: "0" } }]);

    ws.receive({ membership: { room: "zoo", user: "alice", kind: "JOINED", role: "ROLE_MEMBER", by: "alice", roomInfo: privateRoom("zoo", "ROLE_MEMBER", { lastSeq: "40" }) } });
    expect(client.getState().current).toBe("ops");
    expect(drain(ws)).toEqual([{ join: { room: "zoo", sinceSeq: "40" } }]);
  });

  it("joins a direct room someone else opened with us, for its unread count", () => {
    const { client, ws } = setup();
    ws.receive({ roomChanged: { kind: "CREATED", room: { name: "dm.1", kind: "ROOM_KIND_DIRECT", directUsers: ["alice", "bob"] } } });
    // From the seq the room had when we heard of it: a message sent before our join is replayed.
    expect(drain(ws)).toEqual([{ join: { room: "dm.1", sinceSeq: "0" } }]);
    ws.receive({ message: { room: "dm.1", seq: "1", author: "bob", text: "hi" } }, { joined: { room: "dm.1", latestSeq: "1" } });
    expect(client.getState().rooms["dm.1"].unread).toBe(1);
  });

  it("joins the user's own rooms even when public rooms have used up their share", () => {
    const client = new ChatClient({
      me: "alice",
      url: "ws://t/ws",
      createSocket: fakeFactory,
      checkAuth: async () => "ok",
      onAuthLost: () => {},
      maxAutoJoin: 2,
      maxAutoJoinOwn: 2,
    });
    client.start();
    const ws = FakeSocket.last();
    ws.open();
    drain(ws);
    ws.receive({ rooms: { rooms: [{ name: "lobby" }, { name: "a" }, { name: "b" }, { name: "c" }, privateRoom("p1"), privateRoom("p2"), privateRoom("p3")] } });
    // lobby is wanted already: one more public room; two own rooms.
    expect(drain(ws).map((e) => e.join.room)).toEqual(["a", "p1", "p2"]);
    client.stop();
  });

  it("kicked from the room in view: back to the lobby, told why", () => {
    const { client, ws } = setup();
    ws.receive({ rooms: { rooms: [{ name: "lobby" }, privateRoom("ops")] } });
    drain(ws);
    client.selectRoom("ops");
    ws.receive({ ref: lastRef(ws), joined: { room: "ops", latestSeq: "0" } });
    drain(ws);
    ws.receive(
      { membership: { room: "ops", user: "alice", kind: "KICKED", by: "bob", reason: "spam" } },
      { left: { room: "ops", reason: "kicked by bob: spam" } },
    );
    const s = client.getState();
    expect(s.current).toBe("lobby");
    expect(s.rooms.ops).toBeUndefined();
    expect(s.farewell?.text).toBe("You were removed from #ops by bob: spam");
    client.membership.dismissFarewell();
    expect(client.getState().farewell).toBeNull();
  });

  it("kicked from a public room in view: back to the lobby, and not joined again by the room list", () => {
    const { client, ws } = setup();
    ws.receive({ rooms: { rooms: [{ name: "lobby" }, { name: "dev" }] } });
    ws.receive({ joined: { room: "dev", latestSeq: "0" } });
    client.selectRoom("dev");
    drain(ws);
    ws.receive({ left: { room: "dev", reason: "kicked by bob" } });
    expect(client.getState().current).toBe("lobby");
    ws.receive({ rooms: { rooms: [{ name: "lobby" }, { name: "dev" }] } });
    expect(drain(ws).filter((e) => e.join)).toEqual([]);
    // Picking it again joins it (the server lets a kicked user back into a public room).
    client.selectRoom("dev");
    expect(drain(ws)).toEqual([{ join: { room: "dev", sinceSeq: "0" } }]);
  });

  it("loads the member list of the room in view when it is joined, once at a time", () => {
    const { client, ws } = setup();
    client.selectRoom("dev");
    const ref = lastRef(ws);
    drain(ws);
    ws.receive({ ref, joined: { room: "dev", latestSeq: "0" } });
    expect(drain(ws).filter((e) => e.listMembers)).toEqual([{ listMembers: { room: "dev" } }]);
    client.membership.loadMembers("dev");
    expect(drain(ws)).toEqual([]);
  });

  it("sends each moderation request as the server reads it", () => {
    const { client, ws } = setup(true);
    expect(client.getState().admin).toBe(true);
    const m = client.membership;
    m.invite("ops", "bob");
    expect(m.kick("ops", "bob", "x".repeat(300))).toMatch(/too long/);
    m.kick("ops", "bob", " spam ");
    m.ban("ops", "eve");
    m.unban("ops", "eve");
    m.setRole("ops", "bob", Role.MODERATOR);
    m.setTopic("ops", "on call");
    m.setArchived("ops", true);
    m.setArchived("ops", false);
    m.leaveRoom("ops");
    m.deleteRoom("ops");
    m.deleteMessage("ops", 12);
    m.respondInvite("zoo", false);
    expect(drain(ws)).toEqual([
      { invite: { room: "ops", user: "bob" } },
      { kick: { room: "ops", user: "bob", reason: "spam" } },
      { ban: { room: "ops", user: "eve" } },
      { unban: { room: "ops", user: "eve" } },
      { setRole: { room: "ops", user: "bob", role: "ROLE_MODERATOR" } },
      { updateRoom: { room: "ops", topic: "on call" } },
      { updateRoom: { room: "ops", archived: true } },
      { updateRoom: { room: "ops", archived: false } },
      { leaveRoom: { room: "ops" } },
      { deleteRoom: { room: "ops" } },
      { deleteMessage: { room: "ops", seq: "12" } },
      { respondInvite: { room: "zoo" } },
    ]);
    expect(Object.keys(client.getState().actions).sort()).toEqual([
      "archive:ops",
      "ban:ops:eve",
      "deleteMessage:ops:12",
      "deleteRoom:ops",
      "invite:ops:bob",
      "kick:ops:bob",
      "leave:ops",
      "respond:zoo",
      "role:ops:bob",
      "topic:ops",
      "unban:ops:eve",
    ]);
  });

  it("searches users; an empty prefix clears the results", () => {
    const { client, ws } = setup();
    client.membership.searchUsers(" bo ");
    const ref = lastRef(ws);
    expect(drain(ws)).toEqual([{ searchUsers: { prefix: "bo", limit: 10 } }]);
    ws.receive({ ref, users: { users: ["bob", "bobby"] } });
    expect(client.getState().userSearch.users).toEqual(["bob", "bobby"]);
    client.membership.searchUsers("");
    expect(drain(ws)).toEqual([]);
    expect(client.getState().userSearch.users).toEqual([]);
  });

  it("a request made offline fails at once, with a notice for menu actions", () => {
    const { client, ws } = setup();
    ws.serverClose(1012);
    client.membership.kick("ops", "bob");
    expect(client.getState().actions["kick:ops:bob"]).toEqual({ pending: false, error: "You are offline", done: false });
    expect(client.getState().notice).toBe("Remove bob: You are offline");
    client.membership.clearAction("kick:ops:bob");
    expect(client.getState().actions["kick:ops:bob"]).toBeUndefined();
  });

  it("learns that the user is a server admin", () => {
    const { client } = setup();
    expect(client.getState().admin).toBe(false);
    client.setAdmin(true);
    expect(client.getState().admin).toBe(true);
  });
});
