import { describe, expect, it } from "vitest";
import { Role, RoomChanged_Kind, RoomKind } from "./gen/chat/v1/chat_pb";
import type { ChatState } from "./model";
import type { RoomInfo } from "./protocol";
import { directLabel, roomLabel } from "./roles";
import { joinArgs } from "./messages";
import { directNames, reducer, roomNames } from "./state";
import { ME, ev, msg, open, server } from "./testing/chat-state";
import { makeEvent, makeRoom } from "./testing/events";

const dm = (users: string[], name = `dm.${users.join("")}`): RoomInfo =>
  makeRoom({ name, kind: RoomKind.DIRECT, directUsers: users, myRole: Role.MEMBER });

function listed(s: ChatState, rooms: RoomInfo[], ref = "l1"): ChatState {
  s = reducer(s, { type: "listRoomsSent", ref, cursor: "" });
  return server(s, makeEvent("rooms", { ref, rooms }));
}

describe("direct rooms in the sidebar", () => {
  it("lists direct rooms apart, by the other users' names", () => {
    const s = listed(open(), [
      makeRoom({ name: "lobby" }),
      makeRoom({ name: "ops", kind: RoomKind.PRIVATE, myRole: Role.OWNER }),
      dm(["alice", "Zed"], "dm.1"),
      dm(["alice", "bob", "carol"], "dm.2"),
    ]);
    expect(roomNames(s)).toEqual(["lobby", "ops"]);
    const label = (n: string) => directLabel(s.rooms[n].info, ME);
    expect(directNames(s, label)).toEqual(["dm.2", "dm.1"]);
    expect(label("dm.2")).toBe("bob, carol");
    expect(roomLabel("dm.1", s.rooms["dm.1"].info, "ALICE")).toBe("Zed");
    expect(roomLabel("ops", s.rooms.ops.info, ME)).toBe("#ops");
    // Each user once, whatever the sender repeats.
    expect(directLabel(dm(["alice", "bob", "alice", "Bob"]), ME)).toBe("bob");
  });

  it("takes a dm. room not yet described for a direct one", () => {
    const s = reducer(open(), { type: "select", room: "dm.0123" });
    expect(roomNames(s)).toEqual(["lobby"]);
    expect(directNames(s, (n) => n)).toEqual(["dm.0123"]);
  });
});

describe("live room changes", () => {
  it("shows a new topic and the archived flag, keeping my role and the newest seq", () => {
    let s = listed(open(), [makeRoom({ name: "ops", kind: RoomKind.PRIVATE, myRole: Role.OWNER, lastSeq: 4 })]);
    s = server(s, ev.joined("ops", 4), ev.message(msg(5, { room: "ops" })));
    s = server(s, makeEvent("roomChanged", {
      kind: RoomChanged_Kind.UPDATED,
      room: makeRoom({ name: "ops", kind: RoomKind.PRIVATE, topic: "on call", archived: true, lastSeq: 3 }),
    }));
    expect(s.rooms.ops.info).toMatchObject({ topic: "on call", archived: true, myRole: Role.OWNER, lastSeq: 5 });
    expect(s.rooms.ops.joined).toBe(true);
  });

  it("a deleted room leaves the list, with a word for those who were in it", () => {
    let s = listed(open(), [makeRoom({ name: "ops" }), makeRoom({ name: "old" })]);
    s = server(s, ev.joined("ops", 0));
    s = server(s, makeEvent("roomChanged", { kind: RoomChanged_Kind.DELETED, room: makeRoom({ name: "old" }) }));
    expect(roomNames(s)).toEqual(["lobby", "ops"]);
    expect(s.farewell).toBeNull(); // never in it
    s = server(s, makeEvent("roomChanged", { kind: RoomChanged_Kind.DELETED, room: makeRoom({ name: "ops" }) }));
    expect(s.rooms.ops).toBeUndefined();
    expect(s.farewell).toEqual({ room: "ops", text: "#ops was deleted.", source: "event" });
    // The left event that follows says less: the first word stays.
    s = server(s, makeEvent("left", { room: "ops", reason: "room deleted" }));
    expect(s.farewell?.text).toBe("#ops was deleted.");
    expect(s.rooms.ops).toBeUndefined();
  });

  it("a deleted room's left event may come first: the word from the RoomChanged replaces it", () => {
    let s = listed(open(), [makeRoom({ name: "ops" })]);
    s = server(s, ev.joined("ops", 0));
    s = server(s, makeEvent("left", { room: "ops", reason: "room deleted" }));
    expect(s.farewell?.source).toBe("left");
    s = server(s, makeEvent("roomChanged", { kind: RoomChanged_Kind.DELETED, room: makeRoom({ name: "ops" }) }));
    expect(s.farewell).toEqual({ room: "ops", text: "#ops was deleted.", source: "event" });
    expect(s.rooms.ops).toBeUndefined();
  });

  it("a deleted room in view is told about even after a left without a reason took the session out", () => {
    let s = listed(open(), [makeRoom({ name: "ops" })]);
    s = reducer(s, { type: "select", room: "ops" });
    s = server(s, ev.joined("ops", 0));
    s = server(s, makeEvent("left", { room: "ops" }));
    s = server(s, makeEvent("roomChanged", { kind: RoomChanged_Kind.DELETED, room: makeRoom({ name: "ops" }) }));
    expect(s.farewell?.text).toBe("#ops was deleted.");
  });

  it("the owner who deleted the room is not told about it, and the answer alone removes it", () => {
    let s = listed(open(), [makeRoom({ name: "ops", myRole: Role.OWNER })]);
    s = server(s, ev.joined("ops", 0));
    s = reducer(s, {
      type: "requestSent",
      ref: "d1",
      request: { kind: "action", key: "deleteRoom:ops", label: "Delete #ops", notice: false, room: "ops" },
    });
    s = server(s, makeEvent("roomDeleted", { ref: "d1" }));
    expect(s.rooms.ops).toBeUndefined();
    expect(s.actions["deleteRoom:ops"]).toEqual({ pending: false, error: "", done: true });
    s = server(s, makeEvent("left", { room: "ops", reason: "room deleted" }));
    expect(s.farewell).toBeNull();
  });

  it("a left with a reason takes a private room off the list and says why", () => {
    let s = listed(open(), [makeRoom({ name: "ops", kind: RoomKind.PRIVATE, myRole: Role.MEMBER })]);
    s = server(s, ev.joined("ops", 0));
    s = server(s, makeEvent("left", { room: "ops", reason: "kicked by bob: spam" }));
    expect(roomNames(s)).toEqual(["lobby"]);
    expect(s.farewell).toEqual({ room: "ops", text: "You are no longer in #ops: kicked by bob: spam", source: "left" });
    s = reducer(s, { type: "dismissFarewell" });
    expect(s.farewell).toBeNull();
  });

  it("a left with a reason keeps a public room listed but not joined, and not joined again by itself", () => {
    let s = listed(open(), [makeRoom({ name: "dev", myRole: Role.MODERATOR })]);
    s = server(s, ev.joined("dev", 0, [ME, "bob"]));
    s = server(s, makeEvent("left", { room: "dev", reason: "banned by bob" }));
    expect(roomNames(s)).toEqual(["lobby", "dev"]);
    expect(s.rooms.dev).toMatchObject({ joined: false, wanted: false, members: [], error: "banned by bob" });
    expect(s.rooms.dev.info?.myRole).toBe(Role.UNSPECIFIED);
  });

  it("the answer to a plain leave changes nothing else", () => {
    let s = listed(open(), [makeRoom({ name: "dev" })]);
    s = server(s, ev.joined("dev", 0));
    s = server(s, makeEvent("left", { room: "dev", ref: "x" }));
    expect(s.rooms.dev).toMatchObject({ joined: false, error: "" });
    expect(s.farewell).toBeNull();
  });

  it("a room learnt of live is first joined from the seq it had then; one joined before keeps its own point", () => {
    let s = server(open(), makeEvent("roomChanged", { kind: RoomChanged_Kind.CREATED, room: dm(["alice", "bob"], "dm.1") }));
    expect(joinArgs(s.rooms["dm.1"])).toEqual({ room: "dm.1", sinceSeq: 0 });
    s = server(s, ev.joined("dev", 7), ev.message(msg(8, { room: "dev" })));
    s = server(s, makeEvent("roomChanged", { kind: RoomChanged_Kind.CREATED, room: makeRoom({ name: "dev", lastSeq: 3 }) }));
    expect(joinArgs(s.rooms.dev)).toEqual({ room: "dev", sinceSeq: 8 });
  });

  it("a whole room list drops the rooms it no longer has, but not one made since it was asked for", () => {
    let s = listed(open(), [makeRoom({ name: "lobby" }), makeRoom({ name: "ops", kind: RoomKind.PRIVATE })]);
    s = reducer(s, { type: "listRoomsSent", ref: "l2", cursor: "" });
    s = server(s, makeEvent("roomChanged", { kind: RoomChanged_Kind.CREATED, room: makeRoom({ name: "fresh" }) }));
    s = server(s, makeEvent("rooms", { ref: "l2", rooms: [makeRoom({ name: "lobby" })] }));
    expect(roomNames(s)).toEqual(["lobby", "fresh"]);
  });

  it("a page that is not the whole list drops nothing", () => {
    let s = listed(open(), [makeRoom({ name: "a" }), makeRoom({ name: "b" })]);
    s = reducer(s, { type: "listRoomsSent", ref: "l2", cursor: "" });
    s = server(s, makeEvent("rooms", { ref: "l2", rooms: [makeRoom({ name: "a" })], nextCursor: "a" }));
    expect(roomNames(s)).toEqual(["lobby", "a", "b"]);
  });
});
