// chat.v1 over WebSocket: the proto3 canonical JSON mapping of ClientEvent /
// ServerEvent (see proto/chat/v1/chat.proto).
//
// Server → browser: one text frame holds ONE OR MORE ServerEvent objects
// separated by "\n". Fields with their default value are omitted, int64 values
// arrive as strings ("42"), enums as names. Everything here normalizes that
// into plain, fully populated TypeScript objects so the rest of the UI never
// sees a missing field or a string seq.
//
// No React, no DOM: this module is pure and unit-tested.

// ---------------------------------------------------------------------------
// Shared shapes (normalized)

export interface Message {
  room: string;
  seq: number;
  author: string;
  text: string;
  /** RFC 3339 timestamp, "" when the server sent none. */
  sentAt: string;
  /** "" when the sender gave none. */
  clientMsgId: string;
}

export interface RoomInfo {
  name: string;
  createdAt: string;
  lastSeq: number;
  memberCount: number;
  createdBy: string;
}

export type HistoryOrder = "HISTORY_ORDER_NEWEST_FIRST" | "HISTORY_ORDER_OLDEST_FIRST";

// ---------------------------------------------------------------------------
// Client → server

export type ClientEventBody =
  | { join: { room: string; sinceSeq?: number } }
  | { leave: { room: string } }
  | { send: { room: string; text: string; clientMsgId: string } }
  | { typing: { room: string; active: boolean } }
  | { ping: { nonce: number } }
  | {
      history: {
        room: string;
        beforeSeq?: number;
        afterSeq?: number;
        limit?: number;
        order?: HistoryOrder;
      };
    }
  | { listRooms: Record<string, never> }
  | { createRoom: { name: string } };

export type ClientEvent = ClientEventBody & { ref?: string };

const INT64_FIELDS = new Set(["sinceSeq", "beforeSeq", "afterSeq", "nonce", "seq"]);

/**
 * Encodes one ClientEvent as the JSON text of one WebSocket frame. int64
 * fields are written as strings (the canonical form); undefined fields are
 * dropped.
 */
export function encodeClientEvent(ev: ClientEvent): string {
  return JSON.stringify(ev, (key, value: unknown) => {
    if (INT64_FIELDS.has(key) && typeof value === "number") {
      return String(Math.trunc(value));
    }
    return value;
  });
}

// ---------------------------------------------------------------------------
// Server → client

export type ErrorCode = string; // gRPC status name, e.g. "NOT_FOUND"

export type ServerEvent =
  | { type: "joined"; ref: string; room: string; members: string[]; latestSeq: number; memberCount: number }
  | { type: "left"; ref: string; room: string }
  | { type: "message"; ref: string; message: Message }
  | { type: "member"; ref: string; room: string; user: string; kind: "JOINED" | "LEFT" | "KIND_UNSPECIFIED" }
  | { type: "typing"; ref: string; room: string; user: string; active: boolean }
  | { type: "ack"; ref: string; room: string; clientMsgId: string; seq: number; duplicate: boolean }
  | {
      type: "error";
      ref: string;
      code: ErrorCode;
      message: string;
      event: string;
      clientMsgId: string;
      room: string;
    }
  | { type: "pong"; ref: string; nonce: number }
  | { type: "history"; ref: string; room: string; messages: Message[]; hasMore: boolean }
  | { type: "rooms"; ref: string; rooms: RoomInfo[] }
  | { type: "room"; ref: string; room: RoomInfo }
  | { type: "unknown"; ref: string; raw: unknown };

/** Splits one server frame into its non-empty lines (one JSON event each). */
export function splitFrame(frame: string): string[] {
  const out: string[] = [];
  for (const line of frame.split("\n")) {
    const t = line.trim();
    if (t !== "") out.push(t);
  }
  return out;
}

/**
 * Converts an int64 in canonical JSON (string or number; absent = 0) to a JS
 * number. Anything unreadable becomes 0. Seqs stay far below 2^53.
 */
export function toInt(v: unknown): number {
  if (typeof v === "number") return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : 0;
  }
  return 0;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function bool(v: unknown): boolean {
  return v === true || v === "true";
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function normalizeMessage(raw: unknown): Message {
  const m = obj(raw);
  return {
    room: str(m.room),
    seq: toInt(m.seq),
    author: str(m.author),
    text: str(m.text),
    sentAt: str(m.sentAt),
    clientMsgId: str(m.clientMsgId),
  };
}

export function normalizeRoom(raw: unknown): RoomInfo {
  const r = obj(raw);
  return {
    name: str(r.name),
    createdAt: str(r.createdAt),
    lastSeq: toInt(r.lastSeq),
    memberCount: toInt(r.memberCount),
    createdBy: str(r.createdBy),
  };
}

/** Normalizes one parsed ServerEvent object, filling every omitted default. */
export function normalizeServerEvent(raw: unknown): ServerEvent {
  const e = obj(raw);
  const ref = str(e.ref);
  if ("joined" in e) {
    const j = obj(e.joined);
    return {
      type: "joined",
      ref,
      room: str(j.room),
      members: arr(j.members).filter((x): x is string => typeof x === "string"),
      latestSeq: toInt(j.latestSeq),
      memberCount: toInt(j.memberCount),
    };
  }
  if ("left" in e) return { type: "left", ref, room: str(obj(e.left).room) };
  if ("message" in e) return { type: "message", ref, message: normalizeMessage(e.message) };
  if ("member" in e) {
    const m = obj(e.member);
    const kind = str(m.kind);
    return {
      type: "member",
      ref,
      room: str(m.room),
      user: str(m.user),
      kind: kind === "JOINED" || kind === "LEFT" ? kind : "KIND_UNSPECIFIED",
    };
  }
  if ("typing" in e) {
    const t = obj(e.typing);
    return { type: "typing", ref, room: str(t.room), user: str(t.user), active: bool(t.active) };
  }
  if ("ack" in e) {
    const a = obj(e.ack);
    return {
      type: "ack",
      ref,
      room: str(a.room),
      clientMsgId: str(a.clientMsgId),
      seq: toInt(a.seq),
      duplicate: bool(a.duplicate),
    };
  }
  if ("error" in e) {
    const x = obj(e.error);
    return {
      type: "error",
      ref,
      code: str(x.code) || "UNKNOWN",
      message: str(x.message),
      event: str(x.event),
      clientMsgId: str(x.clientMsgId),
      room: str(x.room),
    };
  }
  if ("pong" in e) return { type: "pong", ref, nonce: toInt(obj(e.pong).nonce) };
  if ("history" in e) {
    const h = obj(e.history);
    return {
      type: "history",
      ref,
      room: str(h.room),
      messages: arr(h.messages).map(normalizeMessage),
      hasMore: bool(h.hasMore),
    };
  }
  if ("rooms" in e) return { type: "rooms", ref, rooms: arr(obj(e.rooms).rooms).map(normalizeRoom) };
  if ("room" in e) return { type: "room", ref, room: normalizeRoom(e.room) };
  return { type: "unknown", ref, raw };
}

/**
 * Parses one server frame into its events, in order. A line that is not JSON
 * is reported through onBadLine (if given) and skipped; the other events of
 * the frame are still delivered.
 */
export function parseServerFrame(frame: string, onBadLine?: (line: string, err: unknown) => void): ServerEvent[] {
  const events: ServerEvent[] = [];
  for (const line of splitFrame(frame)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      onBadLine?.(line, err);
      continue;
    }
    events.push(normalizeServerEvent(parsed));
  }
  return events;
}

/** ws:// or wss:// URL of the bridge's /ws endpoint for a page location. */
export function webSocketUrl(loc: { protocol: string; host: string }, path = "/ws"): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${path}`;
}
