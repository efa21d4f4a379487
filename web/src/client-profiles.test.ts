import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatClient } from "./client";
import { MAX_NAMES } from "./client-profiles";
import { PROFILE_TTL_MS, profileOf } from "./state-profiles";
import { FakeSocket, fakeFactory } from "./testing/fake-socket";

let now = 1_000_000;

function setup() {
  const client = new ChatClient({
    me: "alice",
    url: "ws://test/ws",
    createSocket: fakeFactory,
    random: () => 1,
    now: () => now,
    checkAuth: async () => "ok",
    onAuthLost: () => {},
  });
  client.start();
  return client;
}

/** The getUsers requests sent since the last call. */
function getUsers(ws: FakeSocket): { ref: string; names: string[] }[] {
  const out = (ws.json() as { ref: string; getUsers?: { usernames: string[] } }[])
    .filter((e) => e.getUsers)
    .map((e) => ({ ref: e.ref, names: e.getUsers?.usernames ?? [] }));
  ws.sent = [];
  return out;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.reset();
  now = 1_000_000;
});
afterEach(() => {
  vi.useRealTimers();
});

describe("client.profiles", () => {
  it("batches the names wanted in one tick into one getUsers, each name once", () => {
    const client = setup();
    const ws = FakeSocket.last();
    ws.open();
    ws.sent = [];
    client.profiles.want(["bob", "carol"]);
    client.profiles.want(["Bob", "dave", ""]);
    expect(getUsers(ws)).toEqual([]);
    vi.advanceTimersByTime(0);
    const sent = getUsers(ws);
    expect(sent.map((r) => r.names)).toEqual([["bob", "carol", "dave"]]);
    // In flight: not asked again.
    client.profiles.want(["bob"]);
    vi.advanceTimersByTime(0);
    expect(getUsers(ws)).toEqual([]);
    // Answered (carol and dave do not exist): cached, not asked again.
    ws.receive({ ref: sent[0].ref, profiles: { users: [{ username: "bob", displayName: "Bob S." }] } });
    expect(profileOf(client.getState(), "bob")?.displayName).toBe("Bob S.");
    expect(profileOf(client.getState(), "dave")).toBeNull();
    client.profiles.want(["bob", "dave"]);
    vi.advanceTimersByTime(0);
    expect(getUsers(ws)).toEqual([]);
    // Until the cache is old.
    now += PROFILE_TTL_MS;
    client.profiles.want(["bob", "dave"]);
    vi.advanceTimersByTime(0);
    expect(getUsers(ws).map((r) => r.names)).toEqual([["bob", "dave"]]);
  });

  it(`asks for at most ${MAX_NAMES} names a request`, () => {
    const client = setup();
    const ws = FakeSocket.last();
    ws.open();
    ws.sent = [];
    client.profiles.want(Array.from({ length: 250 }, (_, i) => `user${i}`));
    vi.advanceTimersByTime(0);
    expect(getUsers(ws).map((r) => r.names.length)).toEqual([100, 100, 50]);
  });

  it("keeps names wanted while offline for the next connection, and re-asks what a lost connection never answered", () => {
    const client = setup();
    const ws = FakeSocket.last();
    client.profiles.want(["bob"]);
    vi.advanceTimersByTime(0);
    ws.open();
    expect(getUsers(ws).map((r) => r.names)).toEqual([["bob"]]);
    ws.serverClose(1012, "restart");
    vi.advanceTimersByTime(20_000);
    const ws2 = FakeSocket.last();
    expect(ws2).not.toBe(ws);
    ws2.open();
    ws2.sent = [];
    client.profiles.want(["bob"]);
    vi.advanceTimersByTime(0);
    expect(getUsers(ws2).map((r) => r.names)).toEqual([["bob"]]);
  });

  it("takes profiles learnt elsewhere", () => {
    const client = setup();
    client.profiles.known([
      { username: "alice", displayName: "Alice", kind: 1, owner: "", deleted: false, createdAt: "" },
    ]);
    expect(profileOf(client.getState(), "ALICE")?.displayName).toBe("Alice");
  });
});
