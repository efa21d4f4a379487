import { describe, expect, it } from "vitest";
import {
  Error_Code,
  HistoryOrder,
  MemberEvent_Kind,
  MembershipEvent_Kind,
  Role,
  RoomChanged_Kind,
  RoomKind,
} from "./gen/chat/v1/chat_pb";
import { encodeClientEvent, parseServerFrame, splitFrame, webSocketUrl, type ServerEvent } from "./protocol";

// The events below are checked with toMatchObject, not toEqual, so that a
// field chat.proto gains later (which arrives with its default) breaks nothing
// here; `parse` checks what toEqual also would: no protobuf-es bookkeeping.

/** parseServerFrame, checking that no event holds a protobuf-es `$…` key (`$typeName`) anywhere. */
function parse(frame: string): ServerEvent[] {
  const evs = parseServerFrame(frame);
  const dollarKeys = (v: unknown): string[] =>
    v !== null && typeof v === "object"
      ? Object.entries(v).flatMap(([k, x]) => (k.startsWith("$") ? [k] : dollarKeys(x)))
      : [];
  for (const ev of evs) if (ev.type !== "unknown") expect(dollarKeys(ev)).toEqual([]);
  return evs;
}

describe("splitFrame", () => {
  it("returns one line for a single event", () => {
    expect(splitFrame('{"pong":{"nonce":"1"}}')).toEqual(['{"pong":{"nonce":"1"}}']);
  });

  it("splits several events and drops empty lines", () => {
    const frame = '{"a":1}\n{"b":2}\n\n{"c":3}\n';
    expect(splitFrame(frame)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it("tolerates CRLF and whitespace-only lines", () => {
    expect(splitFrame('{"a":1}\r\n  \r\n{"b":2}\r\n')).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("returns nothing for an empty frame", () => {
    expect(splitFrame("")).toEqual([]);
    expect(splitFrame("\n\n")).toEqual([]);
  });
});

describe("parseServerFrame", () => {
  it("parses a frame holding a message and its ack, int64 strings as numbers", () => {
    const frame = [
      JSON.stringify({
        message: {
          room: "lobby",
          seq: "42",
          author: "alice",
          text: "hi",
          sentAt: "2026-11-25T06:40:17.123Z",
          clientMsgId: "c1",
        },
      }),
      JSON.stringify({ ref: "r7", ack: { room: "lobby", clientMsgId: "c1", seq: "42" } }),
    ].join("\n");
    const evs = parse(frame);
    expect(evs).toHaveLength(2);
    expect(evs[0]).toMatchObject({
      type: "message",
      ref: "",
      message: {
        room: "lobby",
        seq: 42,
        author: "alice",
        text: "hi",
        sentAt: "2026-11-25T06:40:17.123Z",
        clientMsgId: "c1",
      },
    });
    expect(evs[1]).toMatchObject({ type: "ack", ref: "r7", room: "lobby", clientMsgId: "c1", seq: 42, duplicate: false });
  });

  it("fills omitted default fields", () => {
    const [joined, typing, history, ack, err, msg, rooms] = parse(
      [
        '{"joined":{"room":"empty"}}',
        '{"typing":{"room":"lobby","user":"bob"}}',
        '{"history":{"room":"lobby"}}',
        '{"ack":{"room":"lobby","clientMsgId":"x","seq":"3","duplicate":true}}',
        '{"error":{"message":"nope"}}',
        '{"message":{"room":"lobby","seq":"1","author":"a"}}',
        '{"rooms":{"rooms":[{"name":"lobby"}]}}',
      ].join("\n"),
    );
    expect(joined).toMatchObject({ type: "joined", ref: "", room: "empty", members: [], latestSeq: 0, memberCount: 0 });
    expect(typing).toMatchObject({ type: "typing", ref: "", room: "lobby", user: "bob", active: false });
    expect(history).toMatchObject({ type: "history", ref: "", room: "lobby", messages: [], hasMore: false });
    expect(ack).toMatchObject({ type: "ack", seq: 3, duplicate: true });
    expect(err).toMatchObject({
      type: "error",
      ref: "",
      code: Error_Code.OK,
      message: "nope",
      event: "",
      clientMsgId: "",
      room: "",
    });
    expect(msg).toMatchObject({
      type: "message",
      ref: "",
      message: { room: "lobby", seq: 1, author: "a", text: "", sentAt: "", clientMsgId: "" },
    });
    expect(rooms).toMatchObject({
      type: "rooms",
      ref: "",
      rooms: [{ name: "lobby", createdAt: "", lastSeq: 0, memberCount: 0, createdBy: "" }],
    });
  });

  it("parses every event kind", () => {
    const evs = parse(
      [
        '{"ref":"r1","joined":{"room":"lobby","members":["alice","bob"],"latestSeq":"10","memberCount":2}}',
        '{"left":{"room":"lobby"}}',
        '{"member":{"room":"lobby","user":"carol","kind":"JOINED"}}',
        '{"member":{"room":"lobby","user":"carol","kind":"LEFT"}}',
        '{"member":{"room":"lobby","user":"carol"}}',
        '{"pong":{"nonce":"5"}}',
        '{"history":{"room":"lobby","messages":[{"room":"lobby","seq":"9","author":"a","text":"x"}],"hasMore":true}}',
        '{"ref":"r2","room":{"name":"dev","createdAt":"2026-01-01T00:00:00Z","createdBy":"alice"}}',
        '{"error":{"code":"FAILED_PRECONDITION","message":"not joined","event":"send","clientMsgId":"c9","room":"dev"}}',
        '{"typing":{"room":"lobby","user":"bob","active":true}}',
        '{"rooms":{}}',
      ].join("\n"),
    );
    expect(evs.map((e) => e.type)).toEqual([
      "joined",
      "left",
      "member",
      "member",
      "member",
      "pong",
      "history",
      "room",
      "error",
      "typing",
      "rooms",
    ]);
    expect(evs[0]).toMatchObject({
      type: "joined",
      ref: "r1",
      room: "lobby",
      members: ["alice", "bob"],
      latestSeq: 10,
      memberCount: 2,
    });
    expect(evs[1]).toMatchObject({ type: "left", ref: "", room: "lobby" });
    expect(evs[2]).toMatchObject({ kind: MemberEvent_Kind.JOINED, user: "carol" });
    expect(evs[3]).toMatchObject({ kind: MemberEvent_Kind.LEFT });
    expect(evs[4]).toMatchObject({ kind: MemberEvent_Kind.KIND_UNSPECIFIED });
    expect(evs[5]).toMatchObject({ type: "pong", ref: "", nonce: 5 });
    expect(evs[6]).toMatchObject({ hasMore: true, messages: [{ seq: 9, text: "x", sentAt: "" }] });
    expect(evs[7]).toMatchObject({
      type: "room",
      ref: "r2",
      room: { name: "dev", createdAt: "2026-01-01T00:00:00.000Z", lastSeq: 0, memberCount: 0, createdBy: "alice" },
    });
    expect(evs[8]).toMatchObject({
      code: Error_Code.FAILED_PRECONDITION,
      event: "send",
      clientMsgId: "c9",
      room: "dev",
    });
    expect(evs[9]).toMatchObject({ type: "typing", ref: "", room: "lobby", user: "bob", active: true });
    expect(evs[10]).toMatchObject({ type: "rooms", ref: "", rooms: [] });
  });

  it("gives timestamps as RFC 3339 UTC strings with milliseconds", () => {
    const sentAt = (ts: string) => {
      const [ev] = parse(JSON.stringify({ message: { seq: "1", sentAt: ts } }));
      return ev.type === "message" ? ev.message.sentAt : "not a message";
    };
    expect(sentAt("2026-11-25T06:40:17.123Z")).toBe("2026-11-25T06:40:17.123Z");
    expect(sentAt("2026-11-25T06:40:17Z")).toBe("2026-11-25T06:40:17.000Z");
    expect(sentAt("2026-11-25T06:40:17.123456789Z")).toBe("2026-11-25T06:40:17.123Z");
    expect(sentAt("2026-11-25T07:40:17.5+01:00")).toBe("2026-11-25T06:40:17.500Z");
  });

  it("ignores fields, events and enum names it does not know", () => {
    const evs = parse(
      [
        '{"ref":"r1","message":{"room":"lobby","seq":"3","author":"a","text":"t","futureField":"2027-01-01T00:00:00Z","futureList":[{"x":"+1"}]},"futureTop":"x"}',
        '{"member":{"room":"lobby","user":"carol","kind":"FUTURE_KIND"}}',
        '{"futureEvent":{"room":"lobby"}}',
        '{"batch":{"events":[{"pong":{}}]}}',
      ].join("\n"),
    );
    expect(evs.map((e) => e.type)).toEqual(["message", "member", "unknown", "unknown"]);
    expect(evs[0]).toMatchObject({
      type: "message",
      ref: "r1",
      message: { room: "lobby", seq: 3, author: "a", text: "t", sentAt: "", clientMsgId: "" },
    });
    expect(evs[1]).toMatchObject({ user: "carol", kind: MemberEvent_Kind.KIND_UNSPECIFIED });
    expect(evs[2]).toMatchObject({ type: "unknown", ref: "" });
  });

  it("skips a line the decoder refuses and keeps the others", () => {
    const bad: string[] = [];
    const lines = [
      '{"pong":{"nonce":"1"}}',
      "not json",
      '{"message":{"seq":"abc"}}',
      '{"joined":{"room":"r","members":["a",3]}}',
      '{"pong":{"nonce":"2"}}',
    ];
    const evs = parseServerFrame(lines.join("\n"), (line) => bad.push(line));
    expect(evs.map((e) => (e.type === "pong" ? e.nonce : -1))).toEqual([1, 2]);
    expect(bad).toEqual(lines.slice(1, 4));
  });

  it("accepts numbers where int64 strings are expected, and keeps seqs up to 2^53 - 1 exact", () => {
    const [a, b] = parse(
      '{"message":{"room":"r","seq":7,"author":"a","text":"t"}}\n{"ack":{"seq":"9007199254740991"}}',
    );
    expect(a).toMatchObject({ message: { seq: 7 } });
    expect(b).toMatchObject({ type: "ack", seq: 9007199254740991 });
  });
});

describe("membership and moderation events", () => {
  it("parses membership with its room as the user sees it, and without one", () => {
    const [invited, kicked] = parse(
      [
        JSON.stringify({
          membership: {
            room: "ops",
            user: "bob",
            kind: "INVITED",
            by: "alice",
            roomInfo: { name: "ops", kind: "ROOM_KIND_PRIVATE", topic: "on call", lastSeq: "4", createdAt: "2026-01-01T00:00:00Z" },
          },
        }),
        '{"ref":"r5","membership":{"room":"ops","user":"bob","kind":"KICKED","by":"alice","reason":"spam"}}',
      ].join("\n"),
    );
    expect(invited).toMatchObject({
      type: "membership",
      ref: "",
      room: "ops",
      user: "bob",
      kind: MembershipEvent_Kind.INVITED,
      role: Role.UNSPECIFIED,
      by: "alice",
      reason: "",
      roomInfo: { name: "ops", kind: RoomKind.PRIVATE, topic: "on call", lastSeq: 4, createdAt: "2026-01-01T00:00:00.000Z" },
    });
    expect(kicked).toMatchObject({ type: "membership", ref: "r5", kind: MembershipEvent_Kind.KICKED, reason: "spam", roomInfo: null });
  });

  it("parses messageDeleted, members, invites, users, roomDeleted and a deleted message", () => {
    const evs = parse(
      [
        '{"messageDeleted":{"room":"ops","seq":"12","by":"carol"}}',
        '{"ref":"r2","members":{"room":"ops","members":[{"user":"alice","role":"ROLE_OWNER","online":true},{"user":"bob","role":"ROLE_MEMBER"}],"invited":["dan"],"banned":["eve"]}}',
        '{"ref":"r3","invites":{"invites":[{"room":{"name":"ops","myRole":"ROLE_UNSPECIFIED"},"invitedBy":"alice","invitedAt":"2026-02-03T04:05:06Z"},{}]}}',
        '{"ref":"r4","users":{"users":["bob","bobby"]}}',
        '{"ref":"r6","roomDeleted":{}}',
        '{"message":{"room":"ops","seq":"3","author":"bob","deleted":true}}',
        '{"roomChanged":{"kind":"UPDATED","room":{"name":"ops","topic":"t","archived":true,"myRole":"ROLE_OWNER","directUsers":[]}}}',
      ].join("\n"),
    );
    expect(evs.map((e) => e.type)).toEqual(["messageDeleted", "members", "invites", "users", "roomDeleted", "message", "roomChanged"]);
    expect(evs[0]).toMatchObject({ room: "ops", seq: 12, by: "carol" });
    expect(evs[1]).toMatchObject({
      ref: "r2",
      room: "ops",
      members: [
        { user: "alice", role: Role.OWNER, online: true },
        { user: "bob", role: Role.MEMBER, online: false },
      ],
      invited: ["dan"],
      banned: ["eve"],
      nextCursor: "",
    });
    expect(evs[2]).toMatchObject({
      invites: [
        { room: { name: "ops", myRole: Role.UNSPECIFIED, lastSeq: 0 }, invitedBy: "alice", invitedAt: "2026-02-03T04:05:06.000Z" },
        { room: { name: "" }, invitedBy: "", invitedAt: "" },
      ],
    });
    expect(evs[3]).toMatchObject({ ref: "r4", users: ["bob", "bobby"] });
    expect(evs[4]).toMatchObject({ type: "roomDeleted", ref: "r6" });
    expect(evs[5]).toMatchObject({ message: { seq: 3, deleted: true, text: "" } });
    expect(evs[6]).toMatchObject({ kind: RoomChanged_Kind.UPDATED, room: { topic: "t", archived: true, myRole: Role.OWNER } });
  });

  it("encodes the membership requests as the server reads them", () => {
    const enc = (ev: Parameters<typeof encodeClientEvent>[0]) => JSON.parse(encodeClientEvent(ev));
    expect(enc({ ref: "r1", event: { case: "openDirect", value: { users: ["bob", "carol"] } } })).toEqual({
      ref: "r1",
      openDirect: { users: ["bob", "carol"] },
    });
    expect(enc({ event: { case: "createRoom", value: { name: "ops", kind: RoomKind.PRIVATE, topic: "t" } } })).toEqual({
      createRoom: { name: "ops", kind: "ROOM_KIND_PRIVATE", topic: "t" },
    });
    // optional fields: a set empty topic and a set false are written, unset ones are not.
    expect(enc({ event: { case: "updateRoom", value: { room: "ops", topic: "" } } })).toEqual({ updateRoom: { room: "ops", topic: "" } });
    expect(enc({ event: { case: "updateRoom", value: { room: "ops", archived: false } } })).toEqual({
      updateRoom: { room: "ops", archived: false },
    });
    expect(enc({ event: { case: "setRole", value: { room: "ops", user: "bob", role: Role.MODERATOR } } })).toEqual({
      setRole: { room: "ops", user: "bob", role: "ROLE_MODERATOR" },
    });
    expect(enc({ event: { case: "respondInvite", value: { room: "ops", accept: false } } })).toEqual({ respondInvite: { room: "ops" } });
    expect(enc({ event: { case: "deleteMessage", value: { room: "ops", seq: 12n } } })).toEqual({ deleteMessage: { room: "ops", seq: "12" } });
    expect(enc({ event: { case: "listInvites", value: {} } })).toEqual({ listInvites: {} });
    expect(enc({ event: { case: "searchUsers", value: { prefix: "bo", limit: 8 } } })).toEqual({ searchUsers: { prefix: "bo", limit: 8 } });
  });
});

describe("encodeClientEvent", () => {
  it("writes int64 fields as strings", () => {
    expect(
      JSON.parse(encodeClientEvent({ ref: "r1", event: { case: "join", value: { room: "lobby", sinceSeq: 42n } } })),
    ).toEqual({ ref: "r1", join: { room: "lobby", sinceSeq: "42" } });
    const history = encodeClientEvent({
      event: { case: "history", value: { room: "lobby", cursor: { case: "beforeSeq", value: 51n }, limit: 50 } },
    });
    expect(JSON.parse(history)).toEqual({ history: { room: "lobby", beforeSeq: "51", limit: 50 } });
    expect(encodeClientEvent({ event: { case: "ping", value: { nonce: 3n } } })).toBe('{"ping":{"nonce":"3"}}');
  });

  it("keeps a set sinceSeq 0 and drops an absent sinceSeq (proto3 optional)", () => {
    const join = (sinceSeq?: bigint) => encodeClientEvent({ event: { case: "join", value: { room: "a", sinceSeq } } });
    expect(join(0n)).toBe('{"join":{"room":"a","sinceSeq":"0"}}');
    expect(join()).toBe('{"join":{"room":"a"}}');
  });

  it("omits default values and writes enums by name", () => {
    expect(encodeClientEvent({ ref: "", event: { case: "typing", value: { room: "a", active: false } } })).toBe(
      '{"typing":{"room":"a"}}',
    );
    expect(encodeClientEvent({ event: { case: "typing", value: { room: "a", active: true } } })).toBe(
      '{"typing":{"room":"a","active":true}}',
    );
    const history = encodeClientEvent({
      event: {
        case: "history",
        value: { room: "a", cursor: { case: "afterSeq", value: 0n }, order: HistoryOrder.OLDEST_FIRST, limit: 0 },
      },
    });
    expect(history).toBe('{"history":{"room":"a","afterSeq":"0","order":"HISTORY_ORDER_OLDEST_FIRST"}}');
  });

  it("encodes send, listRooms and createRoom in lowerCamelCase", () => {
    const send = encodeClientEvent({ event: { case: "send", value: { room: "a", text: "hi\nthere", clientMsgId: "u1" } } });
    expect(JSON.parse(send)).toEqual({ send: { room: "a", text: "hi\nthere", clientMsgId: "u1" } });
    expect(encodeClientEvent({ ref: "r3", event: { case: "listRooms", value: {} } })).toBe('{"ref":"r3","listRooms":{}}');
    expect(encodeClientEvent({ event: { case: "createRoom", value: { name: "dev" } } })).toBe(
      '{"createRoom":{"name":"dev"}}',
    );
  });

  it("never puts a raw newline in a frame", () => {
    const ev = encodeClientEvent({ event: { case: "send", value: { room: "a", text: "a\nb\r\nc", clientMsgId: "x" } } });
    expect(ev).not.toMatch(/[\r\n]/);
  });
});

describe("webSocketUrl", () => {
  it("matches the page's protocol", () => {
    expect(webSocketUrl({ protocol: "http:", host: "localhost:8080" })).toBe("ws://localhost:8080/ws");
    expect(webSocketUrl({ protocol: "https:", host: "chat.example" })).toBe("wss://chat.example/ws");
  });
});
