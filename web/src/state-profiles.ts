// The profile part of the reducer: display names, bot and deleted flags of
// the users whose names are on screen (getUsers → profiles), and the
// session's expiry as SessionRenewed tells it. Pure, like state.ts.
//
// Which names to ask for, and when, is client-profiles.ts's business; this
// file only keeps the answers.

import { AccountKind } from "./gen/chat/v1/chat_pb";
import type { ChatState, ProfileEntry } from "./model";
import type { Profile, ServerEvent } from "./protocol";
import { takeRequest } from "./state-util";

/** A cached profile is asked for again when wanted after this long (display names change). */
export const PROFILE_TTL_MS = 5 * 60_000;

/** The cache key of a username: usernames are case-insensitive. */
export function profileKey(name: string): string {
  return name.toLowerCase();
}

/** The cached profile of a user: undefined while unknown, null when there is no such user. */
export function profileOf(state: Pick<ChatState, "profiles">, name: string): Profile | null | undefined {
  return state.profiles[profileKey(name)]?.profile;
}

/** Is a fresh answer about this name cached (so it need not be asked for)? */
export function profileFresh(state: Pick<ChatState, "profiles">, name: string, now: number): boolean {
  const e = state.profiles[profileKey(name)];
  return e !== undefined && now - e.fetchedAt < PROFILE_TTL_MS;
}

/** Puts profiles into the cache; names in `missing` are cached as "no such user". */
export function cacheProfiles(state: ChatState, profiles: Profile[], now: number, missing: string[] = []): ChatState {
  if (profiles.length === 0 && missing.length === 0) return state;
  const next: Record<string, ProfileEntry> = { ...state.profiles };
  for (const name of missing) next[profileKey(name)] = { profile: null, fetchedAt: now };
  for (const p of profiles) {
    if (p.username !== "") next[profileKey(p.username)] = { profile: p, fetchedAt: now };
  }
  return { ...state, profiles: next };
}

/** The answer to getUsers: the names asked for that it leaves out do not exist. */
export function applyProfiles(state: ChatState, ev: Extract<ServerEvent, { type: "profiles" }>, now: number): ChatState {
  const { s, req } = takeRequest(state, ev.ref);
  const found = new Set(ev.users.map((u) => profileKey(u.username)));
  const missing = req?.kind === "getUsers" ? req.names.filter((n) => !found.has(profileKey(n))) : [];
  return cacheProfiles(s, ev.users, now, missing);
}

export function applySessionRenewed(state: ChatState, ev: Extract<ServerEvent, { type: "sessionRenewed" }>): ChatState {
  return ev.expiresAt === "" || ev.expiresAt === state.sessionExpiresAt ? state : { ...state, sessionExpiresAt: ev.expiresAt };
}

// ---------------------------------------------------------------------------
// How an author is named on screen

export interface AuthorLabel {
  /** The main name: the display name, else the username; "deleted user" for a deleted account. */
  name: string;
  /** "@username" beside a display name ("" when the name is the username). */
  handle: string;
  /** Tooltip: who it is exactly. */
  title: string;
  bot: boolean;
  deleted: boolean;
}

/**
 * The label of a message's author. `botMessage`: the message itself says a
 * bot wrote it (Message.authorKind), which holds even before the profile is
 * known and after the bot is deleted.
 */
export function authorLabel(author: string, profile: Profile | null | undefined, botMessage = false): AuthorLabel {
  const bot = botMessage || profile?.kind === AccountKind.BOT;
  if (profile?.deleted) {
    return { name: "deleted user", handle: "", title: `${author} (account deleted)`, bot, deleted: true };
  }
  const display = (profile?.displayName ?? "").trim();
  if (display !== "" && display !== author) {
    return { name: display, handle: `@${author}`, title: `${display} (@${author})`, bot, deleted: false };
  }
  return { name: author, handle: "", title: author, bot, deleted: false };
}
