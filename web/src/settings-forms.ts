// The settings screen's client-side checks and the texts it builds (pure,
// unit-tested). They mirror the server's rules so a mistake is caught before
// a round trip; the server has the last word and its message is shown as is.

import { TokenAction } from "./gen/chat/v1/chat_pb";
import { validatePassword, validateRoomName } from "./api";

const encoder = new TextEncoder();

export function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

// C0 controls, DEL and C1 controls: a display name is shown inline.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** 0-64 bytes, no control characters ("" clears the display name). */
export function validateDisplayName(name: string): string {
  if (CONTROL.test(name)) return "A display name cannot contain control characters (line breaks, tabs)";
  if (utf8Length(name) > 64) return "A display name is at most 64 bytes";
  return "";
}

/** The change-password form: the old one, a valid new one, typed twice, and different. */
export function validatePasswordChange(oldPassword: string, newPassword: string, confirm: string): string {
  if (oldPassword === "") return "Enter your current password";
  const bad = validatePassword(newPassword);
  if (bad) return bad.replace("Password", "The new password");
  if (utf8Length(newPassword) > 1024) return "The new password is at most 1024 bytes";
  if (newPassword !== confirm) return "The two new passwords do not match";
  if (newPassword === oldPassword) return "The new password is the same as the current one";
  return "";
}

/** After ChangePassword or "sign out all other sessions". */
export function sessionsEndedText(n: number): string {
  if (n <= 0) return "No other session was signed in.";
  return n === 1 ? "1 other session was signed out." : `${n} other sessions were signed out.`;
}

/** "Delete account": the password, and the username typed to be sure. */
export function validateDeleteAccount(password: string, typedName: string, username: string): string {
  if (password === "") return "Enter your password";
  if (typedName.trim().toLowerCase() !== username.toLowerCase()) return `Type your username (${username}) to confirm`;
  return "";
}

// ---------------------------------------------------------------------------
// API tokens

export const TOKEN_ACTIONS: { action: TokenAction; name: "read" | "post" | "manage"; hint: string }[] = [
  { action: TokenAction.READ, name: "read", hint: "join rooms, read history, list rooms and members" },
  { action: TokenAction.POST, name: "post", hint: "send and delete messages, typing" },
  { action: TokenAction.MANAGE, name: "manage", hint: "create and change rooms, invite, moderate" },
];

/** A token's actions as words; an empty list means all three. */
export function actionsText(actions: readonly TokenAction[]): string {
  if (actions.length === 0) return "read, post, manage";
  return TOKEN_ACTIONS.filter((a) => actions.includes(a.action))
    .map((a) => a.name)
    .join(", ");
}

export function validateTokenName(name: string): string {
  const n = name.trim();
  if (n === "") return "Give the token a name (e.g. the service that uses it)";
  if (utf8Length(n) > 64) return "A token name is at most 64 bytes";
  if (CONTROL.test(n)) return "A token name cannot contain control characters";
  return "";
}

/** "ops, #deploy  alerts" → ["ops", "deploy", "alerts"]; empty: every room. */
export function parseRooms(text: string): { rooms: string[]; error: string } {
  const rooms: string[] = [];
  for (const part of text.split(/[\s,]+/)) {
    const r = part.replace(/^#/, "").trim();
    if (r === "" || rooms.includes(r)) continue;
    const bad = validateRoomName(r);
    if (bad) return { rooms: [], error: `"${r}": ${bad[0].toLowerCase()}${bad.slice(1)}` };
    rooms.push(r);
  }
  return { rooms, error: "" };
}

export const EXPIRY_CHOICES: { days: number; label: string }[] = [
  { days: 0, label: "Never" },
  { days: 7, label: "In 7 days" },
  { days: 30, label: "In 30 days" },
  { days: 90, label: "In 90 days" },
  { days: 365, label: "In a year" },
];

/** The expiry of a token made now: null for never (days 0). */
export function expiryDate(days: number, now: number): Date | null {
  return days > 0 ? new Date(now + days * 86_400_000) : null;
}

export interface TokenForm {
  name: string;
  roomsText: string;
  actions: TokenAction[];
}

/** The new-token form: a name, valid room names, at least one action. */
export function validateTokenForm(f: TokenForm): string {
  const bad = validateTokenName(f.name);
  if (bad) return bad;
  const { error } = parseRooms(f.roomsText);
  if (error) return error;
  if (f.actions.length === 0) return "Pick at least one action (read, post or manage)";
  return "";
}

// ---------------------------------------------------------------------------
// Webhooks

/** The URL to POST to, with the secret in its path (the bridge also takes it as a header). */
export function webhookUrl(origin: string, id: string, secret: string): string {
  return `${origin}/api/hooks/${encodeURIComponent(id)}/${encodeURIComponent(secret)}`;
}

/** A curl command that posts one message through the webhook (a shell-safe URL: base64url and hex only). */
export function curlExample(url: string, text = "Hello from a webhook"): string {
  const body = JSON.stringify({ text }).replace(/'/g, "'\\''");
  return `curl -X POST -H 'Content-Type: application/json' -d '${body}' '${url}'`;
}

export function validateWebhookForm(room: string, bot: string, name: string): string {
  const r = room.replace(/^#/, "").trim();
  if (r === "") return "Pick the room it posts into";
  const bad = validateRoomName(r);
  if (bad) return bad;
  if (bot === "") return "Pick the bot it posts as (create one under Bots first)";
  if (utf8Length(name.trim()) > 64) return "A webhook name is at most 64 bytes";
  return "";
}

// ---------------------------------------------------------------------------
// Sessions and invites

/**
 * A short name of the client a session logged in with: "Chrome on Linux"
 * from a browser's User-Agent, the client's own name otherwise ("chat-cli").
 */
export function describeClient(client: string): string {
  const c = client.trim();
  if (c === "") return "Unknown client";
  if (!c.startsWith("Mozilla/")) return c.length > 40 ? `${c.slice(0, 39)}…` : c;
  const browser = /Edg\//.test(c)
    ? "Edge"
    : /OPR\//.test(c)
      ? "Opera"
      : /Firefox\//.test(c)
        ? "Firefox"
        : /Chrom(e|ium)\//.test(c)
          ? "Chrome"
          : /Safari\//.test(c)
            ? "Safari"
            : "Browser";
  const os = /Android/.test(c)
    ? "Android"
    : /iPhone|iPad|iPod/.test(c)
      ? "iOS"
      : /Windows/.test(c)
        ? "Windows"
        : /Mac OS X|Macintosh/.test(c)
          ? "macOS"
          : /CrOS/.test(c)
            ? "ChromeOS"
            : /Linux/.test(c)
              ? "Linux"
              : "";
  return os ? `${browser} on ${os}` : browser;
}

export const INVITE_VALIDITY: { seconds: number; label: string }[] = [
  { seconds: 86_400, label: "1 day" },
  { seconds: 7 * 86_400, label: "7 days" },
  { seconds: 30 * 86_400, label: "30 days" },
];
