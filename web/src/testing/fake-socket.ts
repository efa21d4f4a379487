// A scriptable stand-in for the browser WebSocket, for unit tests.

import type { WebSocketLike } from "../connection";

export class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = "blob";
  sent: string[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static reset(): void {
    FakeSocket.all = [];
  }

  static last(): FakeSocket {
    const s = FakeSocket.all[FakeSocket.all.length - 1];
    if (!s) throw new Error("no socket");
    return s;
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // ---- driven by the test ----

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Delivers one frame holding these events (objects are JSON-encoded and joined with \n). */
  receive(...events: unknown[]): void {
    const frame = events.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join("\n");
    this.onmessage?.({ data: frame });
  }

  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The upgrade was refused / the network failed before open. */
  fail(): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: "" });
  }

  /** The sent frames, parsed. */
  json(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

export const fakeFactory = (url: string): FakeSocket => new FakeSocket(url);
