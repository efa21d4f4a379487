// The small pieces every part of the reducer shares (state.ts, state-rooms.ts,
// state-members.ts): a fresh room, changing one room, taking an answered
// request off the books. Pure.

import type { ChatState, PendingRequest, RoomState, Roster } from "./model";

export const LOBBY = "lobby";

export const EMPTY_ROSTER: Roster = { status: "none", members: [], invited: [], banned: [], error: "" };

export function newRoom(name: string): RoomState {
  return {
    name,
    info: null,
    wanted: false,
    joinRequested: false,
    joined: false,
    synced: false,
    syncedSeq: 0,
    messages: [],
    pending: [],
    members: [],
    memberCount: 0,
    typing: {},
    unread: 0,
    history: "none",
    hasMoreOlder: true,
    loadingOlder: false,
    error: "",
    roster: EMPTY_ROSTER,
  };
}

/** Changes one room (made if missing); the same state back when fn changed nothing. */
export function withRoom(state: ChatState, name: string, fn: (r: RoomState) => RoomState): ChatState {
  const old = state.rooms[name] ?? newRoom(name);
  const next = fn(old);
  if (next === old && state.rooms[name]) return state;
  return { ...state, rooms: { ...state.rooms, [name]: next } };
}

/** Takes the request this ref answers off the books: the state without it, and the request. */
export function takeRequest(state: ChatState, ref: string): { s: ChatState; req: PendingRequest | undefined } {
  const req = ref ? state.requests[ref] : undefined;
  if (!req) return { s: state, req: undefined };
  const requests = { ...state.requests };
  delete requests[ref];
  return { s: { ...state, requests }, req };
}

export function byName(a: string, b: string): number {
  return a.localeCompare(b);
}
