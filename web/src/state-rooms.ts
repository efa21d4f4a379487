// The room list part of the reducer: pages of ListRooms, a room's
// description, live RoomChanged events, and rooms the user is no longer in
// (left, kicked, banned, deleted), with the one line that tells them why.
// Pure, like state.ts.

import { Role, RoomChanged_Kind } from "./gen/chat/v1/chat_pb";
import { newestSeq } from "./messages";
import type { ChatState, Farewell, PendingRequest, RoomState } from "./model";
import type { RoomInfo, ServerEvent } from "./protocol";
import { isDirect, isPublic } from "./roles";
import { LOBBY, newRoom, takeRequest, withRoom } from "./state-util";

type Ev<T extends ServerEvent["type"]> = Extract<ServerEvent, { type: T }>;

/** Room names for the sidebar's room section: lobby first, then by name; no direct rooms. */
export function roomNames(state: ChatState): string[] {
  return listed(state)
    .filter((n) => !isDirect(n, state.rooms[n].info))
    .sort((a, b) => (a === LOBBY ? -1 : b === LOBBY ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/** The user's direct rooms, for the sidebar's "Direct messages" section, by their label. */
export function directNames(state: ChatState, label: (name: string) => string): string[] {
  return listed(state)
    .filter((n) => isDirect(n, state.rooms[n].info))
    .map((n) => ({ n, l: label(n).toLowerCase() }))
    .sort((a, b) => (a.l < b.l ? -1 : a.l > b.l ? 1 : 0))
    .map((x) => x.n);
}

function listed(state: ChatState): string[] {
  return Object.keys(state.rooms).filter(
    (n) => n === LOBBY || state.rooms[n].info !== null || state.rooms[n].wanted || n === state.current,
  );
}

/**
 * A newer description of a room. Room.my_role is the caller's role: an event
 * sent to many users (RoomChanged) may not carry each one's, so an unset role
 * keeps the one known; lastSeq never goes back.
 */
export function mergeInfo(old: RoomInfo | null, next: RoomInfo, trustRole: boolean): RoomInfo {
  if (!old) return next;
  return {
    ...next,
    myRole: trustRole || next.myRole !== Role.UNSPECIFIED ? next.myRole : old.myRole,
    lastSeq: Math.max(old.lastSeq, next.lastSeq),
  };
}

export function applyRooms(state: ChatState, ev: Ev<"rooms">): ChatState {
  const { s: s0, req } = takeRequest({ ...state, roomsLoaded: true }, ev.ref);
  let s = s0;
  // A later page moves the cursor on; a (re)fetched first page sets it
  // only while no later page was loaded, so a refresh does not undo them.
  if (req?.kind === "listRooms" && req.cursor !== "") {
    s = { ...s, roomsCursor: ev.nextCursor, roomsPastFirstPage: true };
  } else if (!s.roomsPastFirstPage) {
    s = { ...s, roomsCursor: ev.nextCursor };
  }
  const rooms = { ...s.rooms };
  for (const info of ev.rooms) {
    if (info.name === "") continue;
    const r = rooms[info.name] ?? newRoom(info.name);
    rooms[info.name] = {
      ...r,
      info: { ...info, lastSeq: Math.max(info.lastSeq, newestSeq(r)) },
      memberCount: r.joined ? r.memberCount : info.memberCount,
    };
  }
  s = { ...s, rooms };
  // The whole list in one page: a listed room missing from it is gone for us
  // (deleted, or we were removed from it while this tab was not told).
  const whole = req?.kind === "listRooms" && req.cursor === "" && ev.nextCursor === "" && !state.roomsPastFirstPage;
  if (whole) {
    // Only rooms known when the list was asked for: one made since is not in it yet.
    const names = new Set(ev.rooms.map((r) => r.name));
    for (const name of req.known ?? []) {
      if (name !== LOBBY && s.rooms[name]?.info && !names.has(name)) s = dropRoom(s, name);
    }
  }
  return s;
}

export function applyRoom(state: ChatState, ev: Ev<"room">): ChatState {
  let { s, req } = takeRequest(state, ev.ref);
  if (req?.kind === "createRoom") s = { ...s, createRoom: { pending: false, error: "", name: "" } };
  if (ev.room.name === "") return s;
  // The answer to our own request: the room as we see it.
  return withRoom(s, ev.room.name, (r) => ({ ...r, info: mergeInfo(r.info, ev.room, true) }));
}

export function applyRoomChanged(state: ChatState, ev: Ev<"roomChanged">): ChatState {
  const name = ev.room.name;
  if (name === "") return state;
  if (ev.kind === RoomChanged_Kind.DELETED) {
    const r = state.rooms[name];
    const ours = state.actions[`deleteRoom:${name}`] !== undefined;
    // Told already by the left event (which may come first): this says it better.
    const told = state.farewell?.room === name && state.farewell.source === "left";
    // In it, or a member of it, or looking at it (a left event may have come first and
    // taken the session out already).
    const wasIn = r !== undefined && (r.wanted || r.joined || name === state.current || r.info?.myRole !== Role.UNSPECIFIED);
    const s = !ours && (wasIn || told) ? farewell(state, name, `#${name} was deleted.`, "event") : state;
    return r ? dropRoom(s, name) : s;
  }
  // CREATED (made here or on another node, or we became a member) or UPDATED (topic, archived).
  return withRoom(state, name, (r) => {
    const next = { ...r, info: mergeInfo(r.info, ev.room, false), error: r.joined ? r.error : "" };
    return ev.kind === RoomChanged_Kind.CREATED ? resumeFrom(next, ev.room.lastSeq) : next;
  });
}

/**
 * A room learnt of live (created, or the user became a member) and not joined
 * yet: its first join asks for what came after the description's seq, so
 * messages sent between the event and the join still arrive, and count as
 * unread. A room joined before keeps its own resume point.
 */
export function resumeFrom(r: RoomState, lastSeq: number): RoomState {
  if (r.synced || r.joined || r.joinRequested) return r;
  return { ...r, synced: true, syncedSeq: lastSeq };
}

/**
 * `left`: the answer to a leave, or (with a reason) the server took this
 * session out of the room: kicked, banned, room deleted, left elsewhere.
 */
export function applyLeft(state: ChatState, ev: Ev<"left">): ChatState {
  const { s } = takeRequest(state, ev.ref);
  if (!s.rooms[ev.room]) return s; // gone already (deleted, removed)
  const out = withRoom(s, ev.room, (r) => ({ ...r, joined: false, joinRequested: false, wanted: false, typing: {} }));
  if (ev.reason === "" || ev.ref !== "") return out;
  const ours = s.actions[`leave:${ev.room}`] !== undefined || s.actions[`deleteRoom:${ev.room}`] !== undefined;
  const told = ours ? out : farewell(out, ev.room, `You are no longer in #${ev.room}: ${ev.reason}`, "left");
  return removedFrom(told, ev.room, ev.reason);
}

/**
 * The user is no longer a member of `name`: a private or direct room leaves
 * the list (a public one stays listed: they may join it again, or see it).
 */
export function removedFrom(state: ChatState, name: string, why: string): ChatState {
  const r = state.rooms[name];
  if (!r) return state;
  if (!isPublic(name, r.info)) return dropRoom(state, name);
  return withRoom(state, name, (x) => ({
    ...x,
    joined: false,
    joinRequested: false,
    wanted: false,
    typing: {},
    members: [],
    // Keeps the automatic joins (for unread counts) away until the user picks it again.
    error: why,
    info: x.info ? { ...x.info, myRole: Role.UNSPECIFIED } : x.info,
  }));
}

/** Forgets a room (the lobby is only reset), and any invitation to it. */
export function dropRoom(state: ChatState, name: string): ChatState {
  const rooms = { ...state.rooms };
  if (name === LOBBY) rooms[LOBBY] = newRoom(LOBBY);
  else delete rooms[name];
  const invites = state.invites.some((i) => i.room.name === name)
    ? state.invites.filter((i) => i.room.name !== name)
    : state.invites;
  return { ...state, rooms, invites };
}

/** Tells the user why they are out of a room; a precise event wins over the left event's reason. */
export function farewell(state: ChatState, room: string, text: string, source: Farewell["source"]): ChatState {
  const old = state.farewell;
  if (source === "left" && old?.room === room && old.source === "event") return state;
  return { ...state, farewell: { room, text, source } };
}

/** A first page remembers the rooms listed now: if it is the whole list, it may drop those missing from it. */
export function listRoomsRequest(state: ChatState, cursor: string): PendingRequest {
  if (cursor !== "") return { kind: "listRooms", cursor };
  return { kind: "listRooms", cursor, known: Object.keys(state.rooms).filter((n) => state.rooms[n].info !== null) };
}
