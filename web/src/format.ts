// Time and grouping helpers for the message list (pure).

import type { ChatMessage } from "./model";

export const GROUP_WINDOW_MS = 5 * 60 * 1000;

export function parseTime(iso: string): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "14:05" in the user's locale; "" for a missing or bad timestamp. */
export function formatTime(iso: string, locale?: string): string {
  const d = parseTime(iso);
  if (!d) return "";
  return d.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
}

/** Full date and time for a tooltip. */
export function formatFull(iso: string, locale?: string): string {
  const d = parseTime(iso);
  if (!d) return "";
  return d.toLocaleString(locale, { dateStyle: "full", timeStyle: "medium" });
}

export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "Today", "Yesterday" or a date, for day dividers (local time). */
export function dayLabel(iso: string, now: Date, locale?: string): string {
  const d = parseTime(iso);
  if (!d) return "";
  if (sameDay(d, now)) return "Today";
  const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (sameDay(d, y)) return "Yesterday";
  return d.toLocaleDateString(locale, {
    weekday: "long",
    month: "long",
    day: "numeric",
    year: d.getFullYear() === now.getFullYear() ? undefined : "numeric",
  });
}

/** A day divider goes before `cur` when it is the first message or starts a new local day. */
export function startsNewDay(prev: ChatMessage | undefined, cur: ChatMessage): boolean {
  const c = parseTime(cur.sentAt);
  if (!c) return false;
  if (!prev) return true;
  const p = parseTime(prev.sentAt);
  return !p || !sameDay(p, c);
}

/** `cur` continues `prev`'s group: same author, same day, within five minutes. */
export function continuesGroup(prev: ChatMessage | undefined, cur: ChatMessage): boolean {
  if (!prev || prev.author !== cur.author) return false;
  const p = parseTime(prev.sentAt);
  const c = parseTime(cur.sentAt);
  if (!p || !c || !sameDay(p, c)) return false;
  const dt = c.getTime() - p.getTime();
  return dt >= 0 && dt <= GROUP_WINDOW_MS;
}

/** Two-letter avatar initials for a username. */
export function initials(name: string): string {
  const parts = name.split(/[._-]+/).filter(Boolean);
  if (parts.length >= 2) return (parts[0][0] + parts[1][0]).toUpperCase();
  return name.slice(0, 2).toUpperCase();
}

/** A stable hue (0-359) for a username, for avatar colors. */
export function userHue(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 360;
}

/**
 * How many messages came after the one that was last before (by key): the
 * "N new messages" count. One frame from the server can carry several
 * messages, so this is not always 1. If the old last message is gone, counts 1.
 */
export function appendedCount(prevLastKey: string, list: readonly { key: string }[]): number {
  if (list.length === 0) return 0;
  if (prevLastKey === "") return list.length;
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i].key === prevLastKey) return list.length - 1 - i;
  }
  return 1;
}

/** Server messages come in lower case ("invalid username or password"): start them with a capital. */
export function sentence(text: string): string {
  return text.length === 0 ? text : text[0].toUpperCase() + text.slice(1);
}
