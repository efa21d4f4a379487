import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ChatClient, LAST_ROOM_KEY } from "./client";
import type { AuthCheck } from "./connection";
import { visibleMessages } from "./messages";
import { FakeSocket, fakeFactory } from "./testing/fake-socket";

function memoryStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), map: m };
}

function setup(opts: { auth?: AuthCheck; storage?: ReturnType<typeof memoryStorage>; maxAutoJoin?: number } = {}) {
  let n = 0;
  const authLost = vi.fn();
  const client = new ChatClient({
    me: "alice",
    url: "ws://test/ws",
    createSocket: fakeFactory,
    random: () => 1,
    uuid: () => `id-${++n}`,
    now: () => 1_000_000,
    checkAuth: async () => opts.auth ?? "ok",
    onAuthLost: authLost,
    storage: opts.storage ?? null,
    maxAutoJoin: opts.maxAutoJoin,
  });
  client.start();
  return { client, authLost };
}

/** The events sent on a socket since the last call, parsed. */
function drain(ws: FakeSocket): Record<string, any>[] {
  const out = ws.json();
  ws.sent = [];
  return out;
}

const M = (seq: number, extra: Record<string, unknown> = {}) => ({
  message: { room: "lobby", seq: String(seq), author: "bob", text: `m${seq}`, sentAt: "2026-11-25T06:40:17Z", ...extra },
});

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.reset();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("ChatClient", () => {
  it("on open joins the room in view, lists rooms, then loads the newest history page", () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    const sent = drain(ws);
    expect(sent).toEqual([
      { ref: "r1", join: { room: "lobby" } },
      { ref: "r2", listRooms: { limit: 100 } },
      { ref: "r3", listInvites: {} },
    ]);
    ws.receive({ ref: "r1", joined: { room: "lobby", members: ["alice", "bob"], latestSeq: "120", memberCount: 2 } });
    expect(drain(ws)).toEqual([
      { ref: "r4", history: { room: "lobby", limit: 50 } },
      { ref: "r5", listMembers: { room: "lobby" } },
    ]);
    expect(client.getState().rooms.lobby.history).toBe("loading");
  });

  it("fetches only the first page of rooms on connect and on refresh, later pages when asked", () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    drain(ws);
    const page = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: `room-${String(from + i).padStart(5, "0")}` }));
    ws.receive({ ref: "r2", rooms: { rooms: page(0, 100), nextCursor: "room-00099" } });
    drain(ws); // auto-joins
    expect(client.getState().roomsCursor).toBe("room-00099");
    client.loadMoreRooms();
    client.loadMoreRooms(); // one page at a time
    const more = drain(ws).filter((e) => e.listRooms);
    expect(more).toEqual([{ ref: expect.any(String), listRooms: { limit: 100, cursor: "room-00099" } }]);
    ws.receive({ ref: more[0].ref, rooms: { rooms: page(100, 100), nextCursor: "room-00199" } });
    expect(client.getState().roomsCursor).toBe("room-00199");
    expect(Object.values(client.getState().rooms).filter((r) => r.info !== null)).toHaveLength(200);
    // The 30 s refresh asks for the first page only.
    vi.advanceTimersByTime(30_000);
    expect(drain(ws).filter((e) => e.listRooms)).toEqual([{ ref: expect.any(String), listRooms: { limit: 100 } }]);
    // Reconnecting does too.
    ws.close(1006);
    vi.advanceTimersByTime(60_000);
    const ws2 = FakeSocket.last();
    expect(ws2).not.toBe(ws);
    ws2.open();
    expect(drain(ws2).filter((e) => e.listRooms)).toEqual([{ ref: expect.any(String), listRooms: { limit: 100 } }]);
  });

  it("joins the other listed rooms for unread counts", () => {
    const { client } = setup({ maxAutoJoin: 3 });
    const ws = FakeSocket.last();
    ws.open();
    drain(ws);
    ws.receive({
      ref: "r2",
      rooms: {
        rooms: [{ name: "lobby", lastSeq: "5" }, { name: "dev" }, { name: "b" }, { name: "zzz" }],
      },
    });
    const joins = drain(ws).map((e) => e.join?.room);
    // lobby is already wanted; cap of 3 → 2 more, alphabetically.
    expect(joins).toEqual(["b", "dev"]);
    expect(client.getState().roomsLoaded).toBe(true);
  });

  it("sends optimistically, shows sending then sent", () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    ws.receive({ ref: "r1", joined: { room: "lobby", latestSeq: "0" } });
    drain(ws);
    expect(client.sendMessage("  hello  ")).toBe(true);
    expect(client.sendMessage("   ")).toBe(false);
    expect(drain(ws)).toEqual([{ send: { room: "lobby", text: "hello", clientMsgId: "id-1" } }]);
    expect(visibleMessages(client.getState().rooms.lobby)).toMatchObject([{ status: "sending", text: "hello" }]);
    ws.receive(M(1, { author: "alice", text: "hello", clientMsgId: "id-1" }), {
      ack: { room: "lobby", clientMsgId: "id-1", seq: "1" },
    });
    expect(visibleMessages(client.getState().rooms.lobby)).toMatchObject([{ seq: 1, status: "sent" }]);
  });

  it("resumes every joined room with sinceSeq after a disconnect and fails unacked sends", async () => {
    const { client } = setup();
    let ws = FakeSocket.last();
    ws.open();
    ws.receive(
      { ref: "r1", joined: { room: "lobby", latestSeq: "10" } },
      { ref: "r2", rooms: { rooms: [{ name: "lobby" }, { name: "dev", lastSeq: "3" }] } },
    );
    ws.receive({ joined: { room: "dev", latestSeq: "3" } }, M(11), M(12));
    client.sendMessage("lost?");
    ws.serverClose(1012, "restarting");
    const st = client.getState();
    expect(st.connection).toBe("reconnecting");
    expect(st.connectionDetail).toMatch(/restarting/);
    expect(visibleMessages(st.rooms.lobby).at(-1)).toMatchObject({ status: "failed", clientMsgId: "id-1" });

    await vi.advanceTimersByTimeAsync(500);
    ws = FakeSocket.last();
    ws.open();
    const sent = drain(ws);
    expect(sent.filter((e) => e.join).map((e) => e.join)).toEqual([
      { room: "lobby", sinceSeq: "12" },
      { room: "dev", sinceSeq: "3" },
    ]);

    // Retry resends with the same clientMsgId; the server says it is a duplicate.
    client.retry("id-1");
    expect(drain(ws)).toEqual([{ send: { room: "lobby", text: "lost?", clientMsgId: "id-1" } }]);
    ws.receive({ ack: { room: "lobby", clientMsgId: "id-1", seq: "13", duplicate: true } });
    const lobby = client.getState().rooms.lobby;
    expect(visibleMessages(lobby).map((m) => m.seq)).toEqual([11, 12, 13]);
    expect(visibleMessages(lobby).at(-1)).toMatchObject({ status: "sent", clientMsgId: "id-1" });
  });

  it("marks a send failed at once when offline, and retry keeps the clientMsgId", async () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    client.sendMessage("offline msg");
    expect(client.getState().rooms.lobby.pending[0]).toMatchObject({ status: "failed", clientMsgId: "id-1" });
    ws.open();
    drain(ws);
    client.retry("id-1");
    expect(drain(ws)).toEqual([{ send: { room: "lobby", text: "offline msg", clientMsgId: "id-1" } }]);
    expect(client.getState().rooms.lobby.pending[0].status).toBe("sending");
  });

  it("loads older pages with beforeSeq = the oldest seq held, one at a time", () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    ws.receive({ ref: "r1", joined: { room: "lobby", latestSeq: "100" } });
    drain(ws);
    ws.receive({
      ref: "r4",
      history: { room: "lobby", messages: Array.from({ length: 50 }, (_, i) => M(100 - i).message), hasMore: true },
    });
    client.loadOlder();
    client.loadOlder(); // already loading: no second request
    expect(drain(ws)).toEqual([{ ref: "r6", history: { room: "lobby", beforeSeq: "51", limit: 50 } }]);
    ws.receive({
      ref: "r6",
      history: { room: "lobby", messages: Array.from({ length: 50 }, (_, i) => M(50 - i).message) },
    });
    client.loadOlder();
    expect(drain(ws)).toEqual([]);
    expect(visibleMessages(client.getState().rooms.lobby)).toHaveLength(100);
  });

  it("switching rooms joins the new room, loads its history and remembers it", () => {
    const storage = memoryStorage();
    const { client } = setup({ storage });
    const ws = FakeSocket.last();
    ws.open();
    ws.receive({ ref: "r1", joined: { room: "lobby" } });
    drain(ws);
    client.selectRoom("dev");
    expect(storage.map.get(LAST_ROOM_KEY)).toBe("dev");
    expect(drain(ws)).toEqual([{ ref: "r6", join: { room: "dev" } }]);
    ws.receive({ ref: "r6", joined: { room: "dev", latestSeq: "2" } });
    expect(drain(ws)).toEqual([
      { ref: "r7", history: { room: "dev", limit: 50 } },
      { ref: "r8", listMembers: { room: "dev" } },
    ]);
  });

  it("starts in the remembered room and falls back to lobby if it is gone", () => {
    const { client } = setup({ storage: memoryStorage({ [LAST_ROOM_KEY]: "old" }) });
    expect(client.getState().current).toBe("old");
    const ws = FakeSocket.last();
    ws.open();
    expect(drain(ws).slice(0, 2)).toEqual([
      { ref: "r1", join: { room: "old" } },
      { ref: "r2", join: { room: "lobby" } },
    ]);
    ws.receive({ ref: "r1", error: { code: "NOT_FOUND", message: "no room old", event: "join", room: "old" } });
    expect(client.getState().current).toBe("lobby");
  });

  it("creates a room and switches into it", () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    drain(ws);
    expect(client.createRoom("Bad Name!")).toMatch(/a-z/);
    expect(client.createRoom("dev")).toBe("");
    expect(client.createRoom("dm.abc")).toMatch(/direct messages/);
    expect(drain(ws)).toEqual([{ ref: "r4", createRoom: { name: "dev" } }]);
    ws.receive({ ref: "r4", room: { name: "dev", createdBy: "alice" } });
    expect(client.getState().current).toBe("dev");
    expect(drain(ws)).toEqual([{ ref: "r5", join: { room: "dev" } }]);
  });

  it("goes into a room that already exists instead of showing an error", () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    drain(ws);
    client.createRoom("dev");
    ws.receive({ ref: "r4", error: { code: "ALREADY_EXISTS", message: "exists", event: "createRoom" } });
    expect(client.getState().current).toBe("dev");
    expect(client.getState().createRoom.error).toBe("");
  });

  it("sends typing active once per burst and inactive after 3 s idle or on send", async () => {
    const { client } = setup();
    const ws = FakeSocket.last();
    ws.open();
    ws.receive({ ref: "r1", joined: { room: "lobby" } });
    drain(ws);
    client.inputActivity();
    client.inputActivity();
    expect(drain(ws)).toEqual([{ typing: { room: "lobby", active: true } }]);
    await vi.advanceTimersByTimeAsync(2999);
    expect(drain(ws)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    // active: false is the default, which the canonical JSON omits.
    expect(drain(ws)).toEqual([{ typing: { room: "lobby" } }]);
    client.inputActivity();
    client.sendMessage("x");
    expect(drain(ws).map((e) => Object.keys(e).filter((k) => k !== "ref")[0])).toEqual(["typing", "typing", "send"]);
  });

  it("expires others' typing after 5 s", async () => {
    let now = 1_000_000;
    const client = new ChatClient({
      me: "alice",
      url: "ws://t/ws",
      createSocket: fakeFactory,
      now: () => now,
      checkAuth: async () => "ok",
      onAuthLost: () => {},
    });
    client.start();
    const ws = FakeSocket.last();
    ws.open();
    ws.receive({ ref: "r1", joined: { room: "lobby", members: ["alice", "bob"] } });
    ws.receive({ typing: { room: "lobby", user: "bob", active: true } });
    expect(Object.keys(client.getState().rooms.lobby.typing)).toEqual(["bob"]);
    now += 5000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(client.getState().rooms.lobby.typing).toEqual({});
    client.stop();
  });

  it("goes to the login screen when the server refuses us and /api/me says 401", async () => {
    const { client, authLost } = setup({ auth: "unauthenticated" });
    FakeSocket.last().fail();
    await vi.advanceTimersByTimeAsync(0);
    expect(authLost).toHaveBeenCalledTimes(1);
    expect(client.getState().connection).toBe("offline");
  });

  it("notifies subscribers on change and stops cleanly", () => {
    const { client } = setup();
    const fn = vi.fn();
    const unsub = client.subscribe(fn);
    FakeSocket.last().open();
    expect(fn).toHaveBeenCalled();
    unsub();
    client.stop();
    expect(FakeSocket.last().closedWith?.code).toBe(1000);
  });
});
