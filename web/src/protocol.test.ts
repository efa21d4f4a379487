import { describe, expect, it } from "vitest";
import {
  encodeClientEvent,
  normalizeServerEvent,
  parseServerFrame,
  splitFrame,
  toInt,
  webSocketUrl,
} from "./protocol";

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

describe("toInt", () => {
  it("reads int64 strings and numbers", () => {
    expect(toInt("42")).toBe(42);
    expect(toInt(42)).toBe(42);
    expect(toInt("9007199254740991")).toBe(9007199254740991);
  });
  it("treats missing or unreadable values as 0", () => {
    expect(toInt(undefined)).toBe(0);
    expect(toInt(null)).toBe(0);
    expect(toInt("")).toBe(0);
    expect(toInt("abc")).toBe(0);
    expect(toInt({})).toBe(0);
    expect(toInt(Number.NaN)).toBe(0);
  });
});

describe("parseServerFrame", () => {
  it("parses a frame holding a message and its ack, with int64 strings", () => {
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
    const evs = parseServerFrame(frame);
    expect(evs).toHaveLength(2);
    expect(evs[0]).toEqual({
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
    expect(evs[1]).toEqual({ type: "ack", ref: "r7", room: "lobby", clientMsgId: "c1", seq: 42, duplicate: false });
  });

  it("fills omitted default fields", () => {
    const [joined, typing, history, ack, err, msg, rooms] = parseServerFrame(
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
    expect(joined).toEqual({ type: "joined", ref: "", room: "empty", members: [], latestSeq: 0, memberCount: 0 });
    expect(typing).toEqual({ type: "typing", ref: "", room: "lobby", user: "bob", active: false });
    expect(history).toEqual({ type: "history", ref: "", room: "lobby", messages: [], hasMore: false });
    expect(ack).toMatchObject({ type: "ack", seq: 3, duplicate: true });
    expect(err).toEqual({
      type: "error",
      ref: "",
      code: "UNKNOWN",
      message: "nope",
      event: "",
      clientMsgId: "",
      room: "",
    });
    expect(msg).toMatchObject({ type: "message", message: { text: "", sentAt: "", clientMsgId: "" } });
    expect(rooms).toEqual({
      type: "rooms",
      ref: "",
      rooms: [{ name: "lobby", createdAt: "", lastSeq: 0, memberCount: 0, createdBy: "" }],
    });
  });

  it("parses every event kind", () => {
    const evs = parseServerFrame(
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
        '{"somethingNew":{}}',
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
      "unknown",
    ]);
    expect(evs[0]).toEqual({
      type: "joined",
      ref: "r1",
      room: "lobby",
      members: ["alice", "bob"],
      latestSeq: 10,
      memberCount: 2,
    });
    expect(evs[4]).toMatchObject({ kind: "KIND_UNSPECIFIED" });
    expect(evs[5]).toEqual({ type: "pong", ref: "", nonce: 5 });
    expect(evs[6]).toMatchObject({ hasMore: true, messages: [{ seq: 9, text: "x" }] });
    expect(evs[7]).toMatchObject({ ref: "r2", room: { name: "dev", lastSeq: 0, memberCount: 0, createdBy: "alice" } });
    expect(evs[8]).toMatchObject({ code: "FAILED_PRECONDITION", event: "send", clientMsgId: "c9", room: "dev" });
  });

  it("skips a line that is not JSON and keeps the others", () => {
    const bad: string[] = [];
    const evs = parseServerFrame('{"pong":{"nonce":"1"}}\nnot json\n{"pong":{"nonce":"2"}}', (line) => bad.push(line));
    expect(evs.map((e) => (e.type === "pong" ? e.nonce : -1))).toEqual([1, 2]);
    expect(bad).toEqual(["not json"]);
  });

  it("accepts numbers where int64 strings are expected", () => {
    const [ev] = parseServerFrame('{"message":{"room":"r","seq":7,"author":"a","text":"t"}}');
    expect(ev).toMatchObject({ message: { seq: 7 } });
  });

  it("ignores members that are not strings", () => {
    expect(normalizeServerEvent({ joined: { room: "r", members: ["a", 3, null, "b"] } })).toMatchObject({
      members: ["a", "b"],
    });
  });
});

describe("encodeClientEvent", () => {
  it("writes int64 fields as strings", () => {
    expect(JSON.parse(encodeClientEvent({ ref: "r1", join: { room: "lobby", sinceSeq: 42 } }))).toEqual({
      ref: "r1",
      join: { room: "lobby", sinceSeq: "42" },
    });
    expect(JSON.parse(encodeClientEvent({ history: { room: "lobby", beforeSeq: 51, limit: 50 } }))).toEqual({
      history: { room: "lobby", beforeSeq: "51", limit: 50 },
    });
    expect(JSON.parse(encodeClientEvent({ ping: { nonce: 3 } }))).toEqual({ ping: { nonce: "3" } });
  });

  it("keeps sinceSeq 0 and drops an absent sinceSeq", () => {
    expect(encodeClientEvent({ join: { room: "a", sinceSeq: 0 } })).toBe('{"join":{"room":"a","sinceSeq":"0"}}');
    expect(encodeClientEvent({ join: { room: "a" } })).toBe('{"join":{"room":"a"}}');
    expect(encodeClientEvent({ join: { room: "a", sinceSeq: undefined } })).toBe('{"join":{"room":"a"}}');
  });

  it("encodes send, typing, listRooms and createRoom in lowerCamelCase", () => {
    expect(JSON.parse(encodeClientEvent({ send: { room: "a", text: "hi\nthere", clientMsgId: "u1" } }))).toEqual({
      send: { room: "a", text: "hi\nthere", clientMsgId: "u1" },
    });
    expect(encodeClientEvent({ typing: { room: "a", active: false } })).toBe('{"typing":{"room":"a","active":false}}');
    expect(encodeClientEvent({ ref: "r3", listRooms: {} })).toBe('{"ref":"r3","listRooms":{}}');
    expect(encodeClientEvent({ createRoom: { name: "dev" } })).toBe('{"createRoom":{"name":"dev"}}');
  });

  it("never puts a raw newline in a frame", () => {
    expect(encodeClientEvent({ send: { room: "a", text: "a\nb\r\nc", clientMsgId: "x" } })).not.toMatch(/[\r\n]/);
  });
});

describe("webSocketUrl", () => {
  it("matches the page's protocol", () => {
    expect(webSocketUrl({ protocol: "http:", host: "localhost:8080" })).toBe("ws://localhost:8080/ws");
    expect(webSocketUrl({ protocol: "https:", host: "chat.example" })).toBe("wss://chat.example/ws");
  });
});
