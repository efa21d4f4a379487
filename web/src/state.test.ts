import { describe, expect, it } from "vitest";
import { Error_Code, MemberEvent_Kind, RoomChanged_Kind } from "./gen/chat/v1/chat_pb";
import { parseServerFrame } from "./protocol";
import { joinArgs, oldestSeq, typingUsers, visibleMessages } from "./messages";
import type { ChatState } from "./model";
import { initialState, reducer, roomNames } from "./state";
import { ME, apply, ev, msg, open, seqs, server } from "./testing/chat-state";
import { makeEvent, makeRoom } from "./testing/events";

describe("messages: merge by seq", () => {
  it("keeps strict seq order and drops duplicates across live, replay and history", () => {
    let s = server(open(), ev.joined("lobby", 10));
    s = server(s, ev.message(msg(12)), ev.message(msg(11)), ev.message(msg(12)));
    s = server(s, ev.history("lobby", [msg(12), msg(11), msg(10), msg(9)], true));
    s = server(s, ev.message(msg(13)), ev.message(msg(10)));
    expect(seqs(s)).toEqual([9, 10, 11, 12, 13]);
  });

  it("handles a history page in newest-first order", () => {
    let s = server(open(), ev.joined("lobby", 5));
    s = server(s, ev.history("lobby", [msg(5), msg(4), msg(3), msg(2), msg(1)], false));
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5]);
  });

  it("ignores a message without a seq", () => {
    const s = server(open(), ev.message(msg(0)));
    expect(seqs(s)).toEqual([]);
  });

  it("processes a multi-event frame end to end", () => {
    const frame =
      '{"joined":{"room":"lobby","members":["alice","bob"],"latestSeq":"2","memberCount":2}}\n' +
      '{"message":{"room":"lobby","seq":"3","author":"bob","text":"x"}}\n' +
      '{"message":{"room":"lobby","seq":"4","author":"bob","text":"y"}}\n';
    const s = server(open(), ...parseServerFrame(frame));
    expect(seqs(s)).toEqual([3, 4]);
    expect(s.rooms.lobby.syncedSeq).toBe(4);
    expect(s.rooms.lobby.members).toEqual(["alice", "bob"]);
  });
});

describe("optimistic sends", () => {
  const send = (s: ChatState, id: string, text = "hello", room = "lobby"): ChatState =>
    reducer(s, { type: "localSend", room, text, clientMsgId: id, now: Date.UTC(2026, 10, 25) });

  it("shows sending, then sent on ack, then merges the echo by clientMsgId", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "c1");
    expect(visibleMessages(s.rooms.lobby)).toMatchObject([{ seq: null, status: "sending", author: ME, key: "c:c1" }]);
    s = server(s, ev.ack("c1", 1));
    expect(visibleMessages(s.rooms.lobby)).toMatchObject([{ seq: 1, status: "sent", key: "c:c1" }]);
    s = server(s, ev.message(msg(1, { author: ME, text: "hello", clientMsgId: "c1" })));
    const list = visibleMessages(s.rooms.lobby);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ seq: 1, status: "sent", key: "c:c1", local: true, sentAt: msg(1).sentAt });
  });

  it("matches the echo arriving before the ack", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "c1");
    s = server(s, ev.message(msg(1, { author: ME, text: "hello", clientMsgId: "c1" })));
    expect(visibleMessages(s.rooms.lobby)).toMatchObject([{ seq: 1, status: "sending", key: "c:c1" }]);
    expect(s.rooms.lobby.pending).toHaveLength(0);
    s = server(s, ev.ack("c1", 1));
    expect(visibleMessages(s.rooms.lobby)).toMatchObject([{ seq: 1, status: "sent", key: "c:c1" }]);
  });

  it("keeps pending messages after confirmed ones and orders confirmed by seq", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "a");
    s = send(s, "b");
    s = server(s, ev.message(msg(1)));
    expect(seqs(s)).toEqual([1, null, null]);
    s = server(s, ev.ack("b", 3), ev.ack("a", 2));
    expect(seqs(s)).toEqual([1, 2, 3]);
    expect(visibleMessages(s.rooms.lobby).map((m) => m.clientMsgId)).toEqual(["", "a", "b"]);
  });

  it("does not count my own messages as unread", () => {
    let s = server(open(), ev.joined("lobby", 0), ev.joined("dev", 0));
    s = server(s, ev.message(msg(1, { room: "dev", author: ME })));
    expect(s.rooms.dev.unread).toBe(0);
    s = server(s, ev.message(msg(2, { room: "dev", author: "ALICE" })));
    expect(s.rooms.dev.unread).toBe(0);
  });

  it("marks a send failed on its error event and keeps the clientMsgId for retry", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "c1");
    s = server(s, makeEvent("error", {
      code: Error_Code.RESOURCE_EXHAUSTED,
      message: "slow down",
      event: "send",
      clientMsgId: "c1",
      room: "lobby",
    }));
    expect(s.rooms.lobby.pending[0]).toMatchObject({ status: "failed", error: "slow down", clientMsgId: "c1" });
    s = reducer(s, { type: "retrySend", clientMsgId: "c1" });
    expect(s.rooms.lobby.pending).toHaveLength(1);
    expect(s.rooms.lobby.pending[0]).toMatchObject({ status: "sending", error: "", clientMsgId: "c1", key: "c:c1" });
    s = server(s, ev.ack("c1", 1));
    expect(visibleMessages(s.rooms.lobby)).toMatchObject([{ seq: 1, status: "sent", clientMsgId: "c1" }]);
  });

  it("fails a send that has no ack when the connection drops", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "c1");
    s = send(s, "c2");
    s = server(s, ev.ack("c2", 1));
    s = reducer(s, { type: "connection", status: "reconnecting", detail: "Connection lost" });
    expect(s.rooms.lobby.pending).toMatchObject([{ clientMsgId: "c1", status: "failed" }]);
    expect(s.rooms.lobby.messages).toMatchObject([{ clientMsgId: "c2", status: "sent" }]);
    expect(s.rooms.lobby.joined).toBe(false);
  });

  it("an echoed message without ack is stored: sent after a disconnect, not failed", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "c1");
    s = server(s, ev.message(msg(1, { author: ME, clientMsgId: "c1" })));
    s = reducer(s, { type: "connection", status: "reconnecting" });
    expect(visibleMessages(s.rooms.lobby)).toMatchObject([{ seq: 1, status: "sent" }]);
  });

  it("a failed send found in the replay after reconnect becomes sent, not doubled", () => {
    let s = server(open(), ev.joined("lobby", 4));
    s = send(s, "c1");
    s = reducer(s, { type: "connection", status: "reconnecting" });
    expect(s.rooms.lobby.pending[0].status).toBe("failed");
    s = reducer(s, { type: "connection", status: "open" });
    s = server(s, ev.message(msg(5, { author: ME, text: "hello", clientMsgId: "c1" })), ev.joined("lobby", 5));
    const list = visibleMessages(s.rooms.lobby);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ seq: 5, status: "sent", clientMsgId: "c1", key: "c:c1" });
  });

  it("a retry answered with duplicate=true resolves to the original seq once", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "c1");
    s = reducer(s, { type: "connection", status: "reconnecting" });
    s = reducer(s, { type: "connection", status: "open" });
    s = server(s, ev.joined("lobby", 7));
    s = reducer(s, { type: "retrySend", clientMsgId: "c1" });
    s = server(s, ev.ack("c1", 7, "lobby", true));
    s = server(s, ev.history("lobby", [msg(7, { author: ME, clientMsgId: "c1", text: "hello" })], true));
    expect(visibleMessages(s.rooms.lobby)).toHaveLength(1);
    expect(visibleMessages(s.rooms.lobby)[0]).toMatchObject({ seq: 7, status: "sent" });
  });

  it("a local sendFailed (offline) marks it failed", () => {
    let s = send(open(), "c1");
    s = reducer(s, { type: "sendFailed", clientMsgId: "c1", error: "offline" });
    expect(s.rooms.lobby.pending[0]).toMatchObject({ status: "failed", error: "offline" });
  });

  it("does not match someone else's message with the same clientMsgId", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = send(s, "same");
    s = server(s, ev.message(msg(1, { author: "mallory", clientMsgId: "same" })));
    expect(s.rooms.lobby.pending).toHaveLength(1);
    expect(seqs(s)).toEqual([1, null]);
  });
});

describe("resume (sinceSeq)", () => {
  it("joins without sinceSeq the first time", () => {
    expect(joinArgs(open().rooms.lobby)).toEqual({ room: "lobby" });
  });

  it("resumes from joined.latestSeq, then from the last live message", () => {
    let s = server(open(), ev.joined("lobby", 10));
    expect(joinArgs(s.rooms.lobby)).toEqual({ room: "lobby", sinceSeq: 10 });
    s = server(s, ev.message(msg(11)), ev.message(msg(12)));
    expect(joinArgs(s.rooms.lobby)).toEqual({ room: "lobby", sinceSeq: 12 });
  });

  it("is not moved by history pages (only the live stream is gap-free)", () => {
    let s = server(open(), ev.joined("lobby", 10));
    s = server(s, ev.history("lobby", [msg(11), msg(10), msg(9)], true));
    expect(joinArgs(s.rooms.lobby).sinceSeq).toBe(10);
  });

  it("keeps sinceSeq 0 for an empty room it has joined", () => {
    const s = server(open(), ev.joined("empty", 0));
    expect(joinArgs(s.rooms.empty)).toEqual({ room: "empty", sinceSeq: 0 });
  });

  it("survives a disconnect and takes the replay without duplicates", () => {
    let s = server(open(), ev.joined("lobby", 2));
    s = server(s, ev.history("lobby", [msg(2), msg(1)], false), ev.message(msg(3)));
    s = reducer(s, { type: "connection", status: "reconnecting" });
    expect(joinArgs(s.rooms.lobby)).toEqual({ room: "lobby", sinceSeq: 3 });
    s = reducer(s, { type: "connection", status: "open" });
    s = server(s, ev.message(msg(3)), ev.message(msg(4)), ev.message(msg(5)), ev.joined("lobby", 5));
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5]);
    expect(s.rooms.lobby.syncedSeq).toBe(5);
    expect(s.rooms.lobby.joined).toBe(true);
  });

  it("never goes backwards", () => {
    let s = server(open(), ev.joined("lobby", 10), ev.message(msg(11)));
    s = server(s, ev.joined("lobby", 9));
    expect(s.rooms.lobby.syncedSeq).toBe(11);
  });
});

describe("history paging", () => {
  it("tracks the newest page and older pages by ref", () => {
    let s = server(open(), ev.joined("lobby", 100));
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h1", mode: "newest" });
    expect(s.rooms.lobby.history).toBe("loading");
    const page = Array.from({ length: 50 }, (_, i) => msg(100 - i));
    s = server(s, ev.history("lobby", page, true, "h1"));
    expect(s.rooms.lobby.history).toBe("loaded");
    expect(s.rooms.lobby.hasMoreOlder).toBe(true);
    expect(oldestSeq(s.rooms.lobby)).toBe(51);
    expect(s.requests.h1).toBeUndefined();

    s = reducer(s, { type: "historySent", room: "lobby", ref: "h2", mode: "older" });
    expect(s.rooms.lobby.loadingOlder).toBe(true);
    s = server(s, ev.history("lobby", Array.from({ length: 50 }, (_, i) => msg(50 - i)), false, "h2"));
    expect(s.rooms.lobby.loadingOlder).toBe(false);
    expect(s.rooms.lobby.hasMoreOlder).toBe(false);
    expect(seqs(s)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("has nothing older once seq 1 is held", () => {
    let s = server(open(), ev.joined("lobby", 3));
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h", mode: "newest" });
    s = server(s, ev.history("lobby", [msg(3), msg(2), msg(1)], true, "h"));
    expect(s.rooms.lobby.hasMoreOlder).toBe(false);
  });

  it("an empty room has no older messages", () => {
    let s = server(open(), ev.joined("lobby", 0));
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h", mode: "newest" });
    s = server(s, ev.history("lobby", [], false, "h"));
    expect(s.rooms.lobby).toMatchObject({ history: "loaded", hasMoreOlder: false, messages: [] });
  });

  it("keeps paging from live messages older than the newest page", () => {
    let s = server(open(), ev.joined("lobby", 100));
    s = server(s, ...Array.from({ length: 60 }, (_, i) => ev.message(msg(101 + i))));
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h", mode: "newest" });
    s = server(s, ev.history("lobby", Array.from({ length: 50 }, (_, i) => msg(160 - i)), true, "h"));
    expect(oldestSeq(s.rooms.lobby)).toBe(101);
    expect(s.rooms.lobby.hasMoreOlder).toBe(true);
    expect(seqs(s)).toHaveLength(60);
  });

  it("clears loading flags when the connection drops", () => {
    let s = server(open(), ev.joined("lobby", 100));
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h", mode: "newest" });
    s = reducer(s, { type: "connection", status: "reconnecting" });
    expect(s.rooms.lobby.history).toBe("none");
    expect(s.requests).toEqual({});
  });

  it("an error answer stops the older-page spinner", () => {
    let s = server(open(), ev.joined("lobby", 100));
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h", mode: "older" });
    s = server(s, makeEvent("error", {
      ref: "h",
      code: Error_Code.INVALID_ARGUMENT,
      message: "bad cursor",
      event: "history",
      room: "lobby",
    }));
    expect(s.rooms.lobby.loadingOlder).toBe(false);
  });
});

describe("unread counts", () => {
  it("counts new messages from others in rooms not in view, and clears on select", () => {
    let s = server(open(), ev.joined("lobby", 0), ev.joined("dev", 5));
    s = server(s, ev.message(msg(6, { room: "dev" })), ev.message(msg(7, { room: "dev" })));
    s = server(s, ev.message(msg(7, { room: "dev" }))); // duplicate
    s = server(s, ev.message(msg(1)));
    expect(s.rooms.dev.unread).toBe(2);
    expect(s.rooms.lobby.unread).toBe(0);
    s = reducer(s, { type: "select", room: "dev" });
    expect(s.rooms.dev.unread).toBe(0);
    expect(s.current).toBe("dev");
    s = server(s, ev.message(msg(2)));
    expect(s.rooms.lobby.unread).toBe(1);
  });

  it("counts replayed messages but not history", () => {
    let s = server(open(), ev.joined("dev", 5));
    s = server(s, ev.history("dev", [msg(5, { room: "dev" }), msg(4, { room: "dev" })], true));
    expect(s.rooms.dev.unread).toBe(0);
    s = reducer(s, { type: "connection", status: "reconnecting" });
    s = reducer(s, { type: "connection", status: "open" });
    s = server(s, ev.message(msg(6, { room: "dev" })), ev.joined("dev", 6));
    expect(s.rooms.dev.unread).toBe(1);
  });
});

describe("presence and typing", () => {
  it("starts from joined.members and follows member events", () => {
    let s = server(open(), ev.joined("lobby", 0, ["bob", ME]));
    expect(s.rooms.lobby.members).toEqual([ME, "bob"]);
    s = server(s, makeEvent("member", { room: "lobby", user: "carol", kind: MemberEvent_Kind.JOINED }));
    s = server(s, makeEvent("member", { room: "lobby", user: "carol", kind: MemberEvent_Kind.JOINED }));
    expect(s.rooms.lobby.members).toEqual([ME, "bob", "carol"]);
    expect(s.rooms.lobby.memberCount).toBe(3);
    s = server(s, makeEvent("member", { room: "lobby", user: "bob", kind: MemberEvent_Kind.LEFT }));
    expect(s.rooms.lobby.members).toEqual([ME, "carol"]);
    expect(s.rooms.lobby.memberCount).toBe(2);
  });

  it("replaces the member list on rejoin", () => {
    let s = server(open(), ev.joined("lobby", 0, ["bob", ME]));
    s = server(s, ev.joined("lobby", 0, ["dave", ME]));
    expect(s.rooms.lobby.members).toEqual([ME, "dave"]);
  });

  it("shows others typing, ignores my own, and expires after 5 s", () => {
    let s = server(open(), ev.joined("lobby", 0, ["bob", ME]));
    s = reducer(s, {
      type: "server",
      now: 1000,
      events: [
        makeEvent("typing", { room: "lobby", user: "bob", active: true }),
        makeEvent("typing", { room: "lobby", user: ME, active: true }),
      ],
    });
    expect(typingUsers(s.rooms.lobby, 1000)).toEqual(["bob"]);
    expect(typingUsers(s.rooms.lobby, 6001)).toEqual([]);
    s = reducer(s, { type: "expireTyping", now: 5999 });
    expect(Object.keys(s.rooms.lobby.typing)).toEqual(["bob"]);
    s = reducer(s, { type: "expireTyping", now: 6000 });
    expect(s.rooms.lobby.typing).toEqual({});
  });

  it("stops showing typing on inactive, on a message and on leave", () => {
    let s = server(open(), ev.joined("lobby", 0, ["bob", "carol", ME]));
    const typing = (user: string, active: boolean) => makeEvent("typing", { room: "lobby", user, active });
    s = server(s, typing("bob", true), typing("carol", true));
    s = server(s, typing("bob", false));
    expect(Object.keys(s.rooms.lobby.typing)).toEqual(["carol"]);
    s = server(s, typing("bob", true), ev.message(msg(1, { author: "bob" })));
    expect(Object.keys(s.rooms.lobby.typing)).toEqual(["carol"]);
    s = server(s, makeEvent("member", { room: "lobby", user: "carol", kind: MemberEvent_Kind.LEFT }));
    expect(s.rooms.lobby.typing).toEqual({});
  });

});

describe("rooms", () => {
  it("lists rooms with lobby first and keeps the ones already known", () => {
    let s = reducer(open(), { type: "listRoomsSent", ref: "l1", cursor: "" });
    s = server(s, makeEvent("rooms", {
      ref: "l1",
      rooms: [
        makeRoom({ name: "zeta", lastSeq: 3, memberCount: 1, createdBy: "bob" }),
        makeRoom({ name: "lobby", lastSeq: 9, memberCount: 4 }),
        makeRoom({ name: "alpha", createdBy: "bob" }),
      ],
    }));
    expect(roomNames(s)).toEqual(["lobby", "alpha", "zeta"]);
    expect(s.roomsLoaded).toBe(true);
    expect(s.requests).toEqual({});
  });

  it("pages the room list: later pages move the cursor, a refreshed first page does not undo them", () => {
    let s = reducer(open(), { type: "listRoomsSent", ref: "l1", cursor: "" });
    s = server(s, makeEvent("rooms", { ref: "l1", rooms: [makeRoom({ name: "a" }), makeRoom({ name: "b" })], nextCursor: "b" }));
    expect(s.roomsCursor).toBe("b");
    expect(roomNames(s)).toEqual(["lobby", "a", "b"]);
    s = reducer(s, { type: "listRoomsSent", ref: "l2", cursor: "b" });
    expect(s.requests.l2).toEqual({ kind: "listRooms", cursor: "b" });
    s = server(s, makeEvent("rooms", { ref: "l2", rooms: [makeRoom({ name: "c" }), makeRoom({ name: "d" })], nextCursor: "d" }));
    expect(s.roomsCursor).toBe("d");
    expect(roomNames(s)).toEqual(["lobby", "a", "b", "c", "d"]);
    // The periodic refresh asks for the first page again: c and d stay, and so does the cursor.
    s = reducer(s, { type: "listRoomsSent", ref: "l3", cursor: "" });
    s = server(s, makeEvent("rooms", { ref: "l3", rooms: [makeRoom({ name: "a", lastSeq: 7 }), makeRoom({ name: "b" })], nextCursor: "b" }));
    expect(s.roomsCursor).toBe("d");
    expect(s.rooms.a.info?.lastSeq).toBe(7);
    expect(roomNames(s)).toEqual(["lobby", "a", "b", "c", "d"]);
    // The last page: nothing more to offer.
    s = reducer(s, { type: "listRoomsSent", ref: "l4", cursor: "d" });
    s = server(s, makeEvent("rooms", { ref: "l4", rooms: [makeRoom({ name: "e" })], nextCursor: "" }));
    expect(s.roomsCursor).toBe("");
    expect(s.requests).toEqual({});
  });

  it("tracks createRoom by ref: success and error", () => {
    let s = reducer(open(), { type: "createRoomSent", name: "dev", ref: "c1" });
    expect(s.createRoom.pending).toBe(true);
    s = server(s, makeEvent("room", {
      ref: "c1",
      room: makeRoom({ name: "dev", createdAt: "2026-01-01T00:00:00Z", createdBy: ME }),
    }));
    expect(s.createRoom).toEqual({ pending: false, error: "", name: "" });
    expect(roomNames(s)).toContain("dev");

    s = reducer(s, { type: "createRoomSent", name: "dev", ref: "c2" });
    s = server(s, makeEvent("error", {
      ref: "c2",
      code: Error_Code.ALREADY_EXISTS,
      message: "room dev already exists",
      event: "createRoom",
    }));
    expect(s.createRoom).toEqual({ pending: false, error: "room dev already exists", name: "dev" });
  });

  it("lists a room another session created as soon as it is announced", () => {
    let s = open();
    s = server(s, makeEvent("roomChanged", {
      kind: RoomChanged_Kind.CREATED,
      room: makeRoom({ name: "news", createdBy: "bob" }),
    }));
    expect(roomNames(s)).toContain("news");
    expect(s.rooms.news.info?.createdBy).toBe("bob");
    expect(s.rooms.news.wanted).toBe(false);  // listed, not joined
  });

  it("a refused join marks the room and stops wanting it", () => {
    let s = reducer(open(), { type: "joinSent", room: "gone", ref: "j1" });
    expect(s.rooms.gone.wanted).toBe(true);
    s = server(s, makeEvent("error", {
      ref: "j1",
      code: Error_Code.NOT_FOUND,
      message: "no such room",
      event: "join",
      room: "gone",
    }));
    expect(s.rooms.gone).toMatchObject({ wanted: false, joinRequested: false, error: "no such room" });
  });

  it("shows an error that answers nothing known as a notice", () => {
    let s = server(open(), makeEvent("error", {
      code: Error_Code.RESOURCE_EXHAUSTED,
      message: "too many events",
    }));
    expect(s.notice).toBe("too many events");
    s = reducer(s, { type: "dismissNotice" });
    expect(s.notice).toBe("");
  });
});

describe("connection status", () => {
  it("goes connecting → open → reconnecting → open", () => {
    let s = initialState(ME);
    expect(s.connection).toBe("connecting");
    s = apply(s, { type: "connection", status: "open" });
    expect(s).toMatchObject({ connection: "open", everConnected: true });
    s = apply(s, { type: "connection", status: "reconnecting", detail: "The server is restarting" });
    expect(s).toMatchObject({ connection: "reconnecting", connectionDetail: "The server is restarting" });
    s = apply(s, { type: "connection", status: "reconnecting", detail: "Cannot reach the chat server" });
    expect(s.connectionDetail).toBe("Cannot reach the chat server");
    s = apply(s, { type: "connection", status: "open" });
    expect(s).toMatchObject({ connection: "open", connectionDetail: "" });
  });
});
