import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Connection, HEARTBEAT_CLOSE, backoffDelay, describeClose, type AuthCheck, type DownInfo } from "./connection";
import type { ServerEvent } from "./protocol";
import { FakeSocket, fakeFactory } from "./testing/fake-socket";

function setup(over: { auth?: AuthCheck; random?: number; pingIntervalMs?: number } = {}) {
  const events: ServerEvent[][] = [];
  const downs: DownInfo[] = [];
  const delays: number[] = [];
  const calls = { open: 0, authLost: 0, checkAuth: 0 };
  const conn = new Connection({
    url: "ws://test/ws",
    createSocket: fakeFactory,
    random: () => over.random ?? 1,
    pingIntervalMs: over.pingIntervalMs ?? 25_000,
    pongTimeoutMs: 10_000,
    onOpen: () => calls.open++,
    onEvents: (e) => events.push(e),
    onDown: (d) => downs.push(d),
    onRetryScheduled: (d) => delays.push(d),
    onAuthLost: () => calls.authLost++,
    checkAuth: async () => {
      calls.checkAuth++;
      return over.auth ?? "ok";
    },
  });
  return { conn, events, downs, delays, calls };
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("backoffDelay", () => {
  it("grows exponentially from 0.5 s and caps at 10 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, 1))).toEqual([
      500, 1000, 2000, 4000, 8000, 10000, 10000, 10000,
    ]);
  });

  it("jitters within the upper half", () => {
    expect(backoffDelay(3, 0)).toBe(2000);
    expect(backoffDelay(3, 0.5)).toBe(3000);
    expect(backoffDelay(3, 1)).toBe(4000);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(2, Math.random());
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(2000);
    }
  });

  it("survives silly attempts", () => {
    expect(backoffDelay(1e9, 1)).toBe(10000);
  });
});

describe("describeClose", () => {
  it("has words for the server's close codes", () => {
    expect(describeClose(1001, "", true)).toMatch(/restarting/);
    expect(describeClose(1008, "too slow", true)).toBe("Disconnected: too slow");
    expect(describeClose(1011, "", true)).toMatch(/unavailable/);
    expect(describeClose(1012, "", true)).toMatch(/restarting/);
    expect(describeClose(1013, "", true)).toMatch(/overloaded/);
    expect(describeClose(1006, "", false)).toMatch(/Cannot reach/);
  });
});

describe("Connection", () => {
  it("opens, delivers every event of a multi-event frame in order, and sends JSON", () => {
    const { conn, events, calls } = setup();
    conn.start();
    const ws = FakeSocket.last();
    expect(ws.url).toBe("ws://test/ws");
    expect(conn.send({ event: { case: "ping", value: { nonce: 1n } } })).toBe(false);
    ws.open();
    expect(calls.open).toBe(1);
    expect(conn.isOpen).toBe(true);
    ws.receive(
      { message: { room: "lobby", seq: "1", author: "a", text: "x" } },
      { message: { room: "lobby", seq: "2", author: "a", text: "y" } },
      { ack: { room: "lobby", clientMsgId: "c", seq: "2" } },
    );
    expect(events).toHaveLength(1);
    expect(events[0].map((e) => e.type)).toEqual(["message", "message", "ack"]);
    expect(conn.send({ event: { case: "join", value: { room: "lobby", sinceSeq: 5n } } })).toBe(true);
    expect(ws.sent).toEqual(['{"join":{"room":"lobby","sinceSeq":"5"}}']);
  });

  it("decodes ArrayBuffer frames", () => {
    const { conn, events } = setup();
    conn.start();
    const ws = FakeSocket.last();
    ws.open();
    ws.onmessage?.({ data: new TextEncoder().encode('{"pong":{"nonce":"1"}}').buffer });
    expect(events[0]).toEqual([{ type: "pong", ref: "", nonce: 1 }]);
  });

  it("reconnects with growing backoff after server closes (1011/1012/1001)", async () => {
    const { conn, downs, delays, calls } = setup();
    conn.start();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1012, "restart");
    expect(downs[0]).toMatchObject({ code: 1012, opened: true });
    expect(conn.isOpen).toBe(false);
    expect(delays).toEqual([500]);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.last().open();
    expect(calls.open).toBe(2);
    FakeSocket.last().serverClose(1011);
    FakeSocket.last(); // no new socket yet
    expect(delays).toEqual([500, 1000]);
    await vi.advanceTimersByTimeAsync(1000);
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1001);
    expect(delays).toEqual([500, 1000, 2000]);
    expect(calls.checkAuth).toBe(0);
  });

  it("starts the backoff over once a connection stayed up", async () => {
    const { conn, delays } = setup();
    conn.start();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1012);
    await vi.advanceTimersByTimeAsync(500);
    FakeSocket.last().open();
    await vi.advanceTimersByTimeAsync(5000);
    FakeSocket.last().serverClose(1012);
    expect(delays).toEqual([500, 500]);
  });

  it("caps the wait at 10 s", async () => {
    const { conn, delays } = setup({ auth: "unknown" });
    conn.start();
    for (let i = 0; i < 8; i++) {
      FakeSocket.last().fail();
      await vi.advanceTimersByTimeAsync(10_000);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it("checks /api/me when the upgrade is refused and stops on 401", async () => {
    const { conn, calls, downs } = setup({ auth: "unauthenticated" });
    conn.start();
    FakeSocket.last().fail();
    expect(downs[0]).toMatchObject({ opened: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.checkAuth).toBe(1);
    expect(calls.authLost).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(conn.state).toBe("stopped");
  });

  it("keeps retrying a refused upgrade while /api/me says the session is fine", async () => {
    const { conn, calls } = setup({ auth: "ok" });
    conn.start();
    FakeSocket.last().fail();
    await vi.advanceTimersByTimeAsync(500);
    expect(calls.checkAuth).toBe(1);
    expect(calls.authLost).toBe(0);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("checks auth on a policy close (1008) and reconnects if still logged in", async () => {
    const ok = setup({ auth: "ok" });
    ok.conn.start();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1008, "too many events");
    expect(ok.downs[0].detail).toBe("Disconnected: too many events");
    await vi.advanceTimersByTimeAsync(500);
    expect(ok.calls.checkAuth).toBe(1);
    expect(FakeSocket.all).toHaveLength(2);
    ok.conn.stop();

    FakeSocket.reset();
    const out = setup({ auth: "unauthenticated" });
    out.conn.start();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1008, "logged out");
    await vi.advanceTimersByTimeAsync(20_000);
    expect(out.calls.authLost).toBe(1);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("waits longer on 1013 (overloaded)", () => {
    const { conn, delays } = setup({ random: 0 });
    conn.start();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1013, "try again later");
    expect(delays[0]).toBeGreaterThanOrEqual(5000);
  });

  it("stop() closes the socket and never reconnects", async () => {
    const { conn, downs } = setup();
    conn.start();
    const ws = FakeSocket.last();
    ws.open();
    conn.stop();
    expect(ws.closedWith?.code).toBe(1000);
    ws.serverClose(1000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(downs).toHaveLength(0);
    expect(FakeSocket.all).toHaveLength(1);
    expect(conn.send({ event: { case: "ping", value: { nonce: 1n } } })).toBe(false);
  });

  it("reconnectNow() skips the wait", () => {
    const { conn } = setup();
    conn.start();
    FakeSocket.last().open();
    FakeSocket.last().serverClose(1012);
    expect(FakeSocket.all).toHaveLength(1);
    conn.reconnectNow();
    expect(FakeSocket.all).toHaveLength(2);
    conn.reconnectNow(); // not waiting any more: no effect
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("pings, and drops a connection that stops answering", async () => {
    const { conn, downs } = setup({ pingIntervalMs: 1000 });
    conn.start();
    const ws = FakeSocket.last();
    ws.open();
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.json()).toEqual([{ ping: { nonce: "1" } }]);
    ws.receive({ pong: { nonce: "1" } });
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.json()).toHaveLength(2);
    // No answer to the second ping for pongTimeoutMs: the socket is dropped.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(downs).toHaveLength(1);
    expect(downs[0].code).toBe(HEARTBEAT_CLOSE);
    expect(ws.closedWith?.code).toBe(HEARTBEAT_CLOSE);
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("keeps the default heartbeat when an option is passed as undefined", async () => {
    const conn = new Connection({
      url: "ws://t/ws",
      createSocket: fakeFactory,
      pingIntervalMs: undefined,
      onOpen: () => {},
      onEvents: () => {},
      onDown: () => {},
      onAuthLost: () => {},
      checkAuth: async () => "ok",
    });
    conn.start();
    FakeSocket.last().open();
    await vi.advanceTimersByTimeAsync(24_999);
    expect(FakeSocket.last().sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.last().json()).toEqual([{ ping: { nonce: "1" } }]);
    conn.stop();
  });

  it("ignores events from an old socket", async () => {
    const { conn, events } = setup();
    conn.start();
    const old = FakeSocket.last();
    old.open();
    old.serverClose(1012);
    await vi.advanceTimersByTimeAsync(500);
    old.receive({ pong: { nonce: "1" } });
    expect(events).toHaveLength(0);
  });
});
