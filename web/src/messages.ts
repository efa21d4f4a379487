// A room's messages as the UI shows them: the list merged by seq, what is
// visible, resume points, who is typing, and what the live announcer says.
// Pure, like state.ts.

import type { ChatMessage, RoomState } from "./model";

export function sameUser(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

// ---------------------------------------------------------------------------
// Message list helpers (pure, exported for tests)

/** Index of the message with this seq, or -(insertion point) - 1. */
export function findSeq(list: readonly ChatMessage[], seq: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = list[mid].seq as number;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

/**
 * Puts a confirmed message into a seq-ordered list: replaces the entry with
 * the same seq (keeping its local identity and best status) or inserts it in
 * order. Returns the new list and whether the seq was new.
 */
export function mergeBySeq(list: readonly ChatMessage[], msg: ChatMessage): { list: ChatMessage[]; added: boolean } {
  const seq = msg.seq as number;
  const last = list[list.length - 1];
  if (!last || (last.seq as number) < seq) return { list: [...list, msg], added: true };
  const i = findSeq(list, seq);
  if (i >= 0) {
    const old = list[i];
    const merged: ChatMessage = {
      ...msg,
      key: old.local ? old.key : msg.key,
      local: old.local || msg.local,
      acked: old.acked || msg.acked,
      status: old.status === "sent" || msg.status === "sent" ? "sent" : msg.status,
      error: "",
    };
    const next = list.slice();
    next[i] = merged;
    return { list: next, added: false };
  }
  const at = -i - 1;
  const next = list.slice();
  next.splice(at, 0, msg);
  return { list: next, added: true };
}

/** Everything shown for a room: confirmed messages by seq, then optimistic ones. */
export function visibleMessages(room: RoomState): ChatMessage[] {
  return room.pending.length === 0 ? room.messages : [...room.messages, ...room.pending];
}

/** The oldest seq held (the beforeSeq of the next older page), or 0 if none. */
export function oldestSeq(room: RoomState): number {
  return room.messages.length > 0 ? (room.messages[0].seq as number) : 0;
}

/** The newest seq held, or 0. */
export function newestSeq(room: RoomState): number {
  return room.messages.length > 0 ? (room.messages[room.messages.length - 1].seq as number) : 0;
}

/** The join arguments for (re)joining a room: sinceSeq once we hold a resume point. */
export function joinArgs(room: RoomState): { room: string; sinceSeq?: number } {
  return room.synced ? { room: room.name, sinceSeq: room.syncedSeq } : { room: room.name };
}

/** Users typing in a room right now (not expired), sorted. */
export function typingUsers(room: RoomState, now: number): string[] {
  return Object.keys(room.typing)
    .filter((u) => room.typing[u] > now)
    .sort();
}

/** What the live announcer last saw of the room in view. */
export interface AnnouncerSeen {
  room: string;
  seq: number;
  /** The room's newest page had loaded: later messages are new ones, not history. */
  ready: boolean;
}

export const NOTHING_SEEN: AnnouncerSeen = { room: "", seq: 0, ready: false };

/**
 * The screen-reader announcement for the room in view: its newest message
 * when it is new since the last look (not the first history page, not a
 * switch of rooms) and from someone else; "" otherwise. Returns what to
 * remember for the next look. The first message of an empty room counts too.
 */
export function announcement(prev: AnnouncerSeen, room: RoomState, me: string): { seen: AnnouncerSeen; text: string } {
  const newest = room.messages[room.messages.length - 1];
  const seq = newest?.seq ?? 0;
  const seen: AnnouncerSeen = { room: room.name, seq, ready: room.history === "loaded" };
  const isNew = prev.room === room.name && prev.ready && newest !== undefined && seq > prev.seq;
  return { seen, text: isNew && !sameUser(newest.author, me) ? `${newest.author}: ${newest.text}` : "" };
}

/** Describes a typing list: "alice is typing…", "alice and bob are typing…", "Several people are typing…". */
export function typingText(users: string[]): string {
  if (users.length === 0) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  if (users.length === 3) return `${users[0]}, ${users[1]} and ${users[2]} are typing…`;
  return "Several people are typing…";
}
