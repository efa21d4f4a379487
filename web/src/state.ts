// The chat state and its reducer: rooms, messages merged by seq, optimistic
// sends matched by clientMsgId, unread counts, presence and typing.
//
// Pure: no React, no DOM, no timers, no I/O. Time comes in on the actions
// (`now`, in ms). The controller (client.ts) decides what to send and tells
// the reducer about it with the "...Sent" actions; server events come in with
// the "server" action.

import { AccountKind, Error_Code, MemberEvent_Kind } from "./gen/chat/v1/chat_pb";
import { mergeBySeq, oldestSeq, sameUser } from "./messages";
import type { Action, ChatMessage, ChatState, RoomState } from "./model";
import type { Message, ServerEvent } from "./protocol";
import {
  applyInvites,
  applyMembers,
  applyMembersError,
  applyMembership,
  applyMessageDeleted,
  applyUsers,
  lostActions,
  requestSent,
  settleAction,
} from "./state-members";
import { applyProfiles, applySessionRenewed, cacheProfiles } from "./state-profiles";
import { applyLeft, applyRoom, applyRoomChanged, applyRooms, dropRoom, listRoomsRequest } from "./state-rooms";
import { EMPTY_ROSTER, LOBBY, newRoom, takeRequest, withRoom } from "./state-util";

export { LOBBY, newRoom } from "./state-util";
export { directNames, roomNames } from "./state-rooms";

export const TYPING_EXPIRE_MS = 5000;

const NO_SEARCH = { ref: "", prefix: "", users: [], pending: false, error: "" };

export function initialState(me: string, current = LOBBY): ChatState {
  const rooms: Record<string, RoomState> = { [LOBBY]: newRoom(LOBBY) };
  if (!rooms[current]) rooms[current] = newRoom(current);
  return {
    me,
    connection: "connecting",
    connectionDetail: "",
    everConnected: false,
    rooms,
    current,
    roomsLoaded: false,
    roomsCursor: "",
    roomsPastFirstPage: false,
    requests: {},
    createRoom: { pending: false, error: "", name: "" },
    notice: "",
    admin: false,
    invites: [],
    invitesLoaded: false,
    actions: {},
    userSearch: NO_SEARCH,
    farewell: null,
    profiles: {},
    sessionExpiresAt: "",
  };
}

function fromServer(m: Message): ChatMessage {
  return {
    key: `s:${m.seq}`,
    room: m.room,
    seq: m.seq,
    author: m.author,
    text: m.text,
    sentAt: m.sentAt,
    clientMsgId: m.clientMsgId,
    status: "sent",
    error: "",
    local: false,
    acked: false,
    deleted: m.deleted,
    bot: m.authorKind === AccountKind.BOT,
  };
}

// ---------------------------------------------------------------------------
// Reducer

/** Finds the room and place of this tab's message with the given clientMsgId. */
function findLocal(
  state: ChatState,
  clientMsgId: string,
  hintRoom = "",
): { room: string; where: "pending" | "messages"; index: number } | null {
  if (clientMsgId === "") return null;
  const names = hintRoom && state.rooms[hintRoom] ? [hintRoom, ...Object.keys(state.rooms)] : Object.keys(state.rooms);
  for (const name of names) {
    const r = state.rooms[name];
    const p = r.pending.findIndex((m) => m.clientMsgId === clientMsgId);
    if (p >= 0) return { room: name, where: "pending", index: p };
    for (let i = r.messages.length - 1; i >= 0; i--) {
      const m = r.messages[i];
      if (m.local && m.clientMsgId === clientMsgId) return { room: name, where: "messages", index: i };
    }
  }
  return null;
}

/**
 * Applies one confirmed message (live, replayed or from history) to a room.
 * A pending local message with the same clientMsgId becomes this message.
 */
function applyMessage(state: ChatState, m: Message, live: boolean): ChatState {
  if (m.seq <= 0 || m.room === "") return state;
  let incoming = fromServer(m);
  let room = state.rooms[m.room] ?? newRoom(m.room);
  let pending = room.pending;
  const mine = sameUser(m.author, state.me);
  if (m.clientMsgId !== "" && mine) {
    const p = pending.findIndex((x) => x.clientMsgId === m.clientMsgId);
    if (p >= 0) {
      const local = pending[p];
      pending = pending.filter((_, i) => i !== p);
      incoming = {
        ...incoming,
        key: local.key,
        local: true,
        acked: local.acked,
        // Stored for sure (it has a seq); "sending" only until the ack of a live send.
        status: local.acked || local.status === "failed" || !live ? "sent" : "sending",
      };
    }
  }
  const { list, added } = mergeBySeq(room.messages, incoming);
  room = { ...room, messages: list, pending };
  if (live) {
    room.syncedSeq = Math.max(room.syncedSeq, m.seq);
    if (added && !mine && m.room !== state.current) room.unread += 1;
    // Someone who sends has stopped typing.
    if (room.typing[m.author] !== undefined) {
      const typing = { ...room.typing };
      delete typing[m.author];
      room.typing = typing;
    }
  }
  if (room.info && room.info.lastSeq < m.seq) room.info = { ...room.info, lastSeq: m.seq };
  return { ...state, rooms: { ...state.rooms, [m.room]: room } };
}

function applyAck(state: ChatState, ev: Extract<ServerEvent, { type: "ack" }>): ChatState {
  const found = findLocal(state, ev.clientMsgId, ev.room);
  if (!found) return state;
  return withRoom(state, found.room, (r) => {
    if (found.where === "messages") {
      const messages = r.messages.slice();
      messages[found.index] = { ...messages[found.index], status: "sent", acked: true, error: "" };
      return { ...r, messages };
    }
    const local = r.pending[found.index];
    const pending = r.pending.filter((_, i) => i !== found.index);
    if (ev.seq <= 0) {
      const p2 = r.pending.slice();
      p2[found.index] = { ...local, acked: true, status: "sent", error: "" };
      return { ...r, pending: p2 };
    }
    const confirmed: ChatMessage = { ...local, seq: ev.seq, status: "sent", acked: true, error: "" };
    const { list } = mergeBySeq(r.messages, confirmed);
    return { ...r, messages: list, pending };
  });
}

function markFailed(state: ChatState, clientMsgId: string, error: string, hintRoom = ""): ChatState {
  const found = findLocal(state, clientMsgId, hintRoom);
  if (!found || found.where !== "pending") return state;
  return withRoom(state, found.room, (r) => {
    const pending = r.pending.slice();
    pending[found.index] = { ...pending[found.index], status: "failed", error };
    return { ...r, pending };
  });
}

function applyError(state: ChatState, ev: Extract<ServerEvent, { type: "error" }>): ChatState {
  const { s, req } = takeRequest(state, ev.ref);
  const text = ev.message || Error_Code[ev.code];
  if (ev.clientMsgId !== "") return markFailed(s, ev.clientMsgId, text, ev.room);
  if (req?.kind === "join") {
    return withRoom(s, req.room, (r) => ({ ...r, joinRequested: false, wanted: false, error: text }));
  }
  if (req?.kind === "history") {
    return withRoom(s, req.room, (r) => ({
      ...r,
      loadingOlder: req.mode === "older" ? false : r.loadingOlder,
      history: req.mode === "newest" ? "error" : r.history,
      error: text,
    }));
  }
  if (req?.kind === "createRoom") return { ...s, createRoom: { pending: false, error: text, name: req.room } };
  if (req?.kind === "listRooms") return { ...s, roomsLoaded: true, notice: text };
  // Profiles are a nicety: names stay usernames (and are asked for again later).
  if (req?.kind === "getUsers") return s;
  const handled = req ? applyMembersError(s, req, ev.ref, text) : null;
  if (handled) return handled;
  if (ev.event === "typing" || ev.event === "ping") return s;
  return { ...s, notice: text };
}

function applyServerEvent(state: ChatState, ev: ServerEvent, now: number): ChatState {
  switch (ev.type) {
    case "message":
      return applyMessage(state, ev.message, true);

    case "history": {
      const taken = takeRequest(state, ev.ref);
      const req = taken.req?.kind === "history" ? taken.req : undefined;
      let s = taken.s;
      for (const m of ev.messages) s = applyMessage(s, { ...m, room: m.room || ev.room }, false);
      const pageOldest = ev.messages.reduce((min, m) => (m.seq > 0 && m.seq < min ? m.seq : min), Infinity);
      return withRoom(s, ev.room, (r) => {
        const held = oldestSeq(r);
        let hasMoreOlder: boolean;
        if (held <= 1) hasMoreOlder = false; // nothing held, or seq 1 held: nothing older exists
        else if (req?.mode === "older") hasMoreOlder = ev.hasMore;
        else if (ev.messages.length === 0) hasMoreOlder = true; // only live messages held: let paging ask
        else if (pageOldest <= held) hasMoreOlder = ev.hasMore;
        else hasMoreOlder = true; // we hold older live messages than the page: keep paging from them
        return {
          ...r,
          history: req?.mode === "older" ? r.history : "loaded",
          loadingOlder: req?.mode === "older" ? false : r.loadingOlder,
          hasMoreOlder,
          error: "",
        };
      });
    }

    case "ack":
      return applyAck(state, ev);

    case "joined": {
      const { s } = takeRequest(state, ev.ref);
      return withRoom(s, ev.room, (r) => {
        const members = Array.from(new Set(ev.members)).sort((a, b) => a.localeCompare(b));
        const syncedSeq = r.synced ? Math.max(r.syncedSeq, ev.latestSeq) : ev.latestSeq;
        return {
          ...r,
          wanted: true,
          joined: true,
          joinRequested: false,
          synced: true,
          syncedSeq,
          members,
          memberCount: Math.max(ev.memberCount, members.length),
          // Nothing in the room yet: no older page to ask for.
          hasMoreOlder: ev.latestSeq === 0 && r.messages.length === 0 ? false : r.hasMoreOlder,
          info: r.info
            ? { ...r.info, lastSeq: Math.max(r.info.lastSeq, ev.latestSeq), memberCount: ev.memberCount }
            : r.info,
          error: "",
        };
      });
    }

    case "left":
      return applyLeft(state, ev);

    case "member":
      if (!state.rooms[ev.room] || ev.user === "") return state;
      return withRoom(state, ev.room, (r) => {
        const present = r.members.includes(ev.user);
        if (ev.kind === MemberEvent_Kind.JOINED) {
          if (present) return r;
          const members = [...r.members, ev.user].sort((a, b) => a.localeCompare(b));
          const memberCount = r.memberCount + 1;
          return { ...r, members, memberCount, info: r.info ? { ...r.info, memberCount } : r.info };
        }
        if (ev.kind === MemberEvent_Kind.LEFT) {
          const typing = { ...r.typing };
          delete typing[ev.user];
          if (!present) return { ...r, typing };
          const memberCount = Math.max(0, r.memberCount - 1);
          return {
            ...r,
            members: r.members.filter((u) => u !== ev.user),
            memberCount,
            typing,
            info: r.info ? { ...r.info, memberCount } : r.info,
          };
        }
        return r;
      });

    case "typing":
      if (sameUser(ev.user, state.me) || !state.rooms[ev.room] || ev.user === "") return state;
      return withRoom(state, ev.room, (r) => {
        const typing = { ...r.typing };
        if (ev.active) typing[ev.user] = now + TYPING_EXPIRE_MS;
        else if (typing[ev.user] !== undefined) delete typing[ev.user];
        else return r;
        return { ...r, typing };
      });

    case "error":
      return applyError(state, ev);

    case "rooms":
      return applyRooms(state, ev);
    case "room":
      return applyRoom(state, ev);
    case "roomChanged":
      return applyRoomChanged(state, ev);
    case "membership":
      return applyMembership(state, ev);
    case "members":
      return applyMembers(state, ev);
    case "invites":
      return applyInvites(state, ev);
    case "users":
      return applyUsers(state, ev);
    case "messageDeleted":
      return applyMessageDeleted(state, ev);

    case "profiles":
      return applyProfiles(state, ev, now);
    case "sessionRenewed":
      return applySessionRenewed(state, ev);
    case "roomDeleted":
    case "pong":
    case "unknown":
      return state;
  }
}

export function reducer(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case "server": {
      let s = state;
      for (const ev of action.events) {
        const req = ev.ref ? s.requests[ev.ref] : undefined;
        s = applyServerEvent(settleAction(s, ev), ev, action.now);
        // The room we deleted is gone, whether or not its RoomChanged came first.
        if (ev.type === "roomDeleted" && req?.kind === "action") s = dropRoom(s, req.room);
      }
      return s;
    }

    case "connection": {
      const detail = action.detail ?? "";
      if (action.status === "open") {
        return { ...state, connection: "open", connectionDetail: "", everConnected: true };
      }
      if (state.connection !== "open") {
        return { ...state, connection: action.status, connectionDetail: detail || state.connectionDetail };
      }
      // The connection was lost: nothing is joined any more, every request in
      // flight is gone, and a send without its ack is failed (Retry resends it
      // with the same clientMsgId, so it can never be stored twice).
      const rooms: Record<string, RoomState> = {};
      for (const [name, r] of Object.entries(state.rooms)) {
        rooms[name] = {
          ...r,
          joined: false,
          joinRequested: false,
          loadingOlder: false,
          history: r.history === "loading" ? "none" : r.history,
          roster: r.roster.status === "loading" ? EMPTY_ROSTER : r.roster,
          typing: {},
          pending: r.pending.map((m) =>
            m.status === "sending" ? { ...m, status: "failed", error: "connection lost before it was confirmed" } : m,
          ),
          messages: r.messages.some((m) => m.status === "sending")
            ? r.messages.map((m) => (m.status === "sending" ? { ...m, status: "sent" } : m))
            : r.messages,
        };
      }
      return {
        ...state,
        connection: action.status,
        connectionDetail: detail,
        rooms,
        requests: {},
        createRoom: state.createRoom.pending
          ? { pending: false, error: "Connection lost, try again", name: state.createRoom.name }
          : state.createRoom,
        actions: lostActions(state.actions),
        userSearch: state.userSearch.pending ? { ...state.userSearch, pending: false } : state.userSearch,
      };
    }

    case "select":
      return withRoom({ ...state, current: action.room }, action.room, (r) =>
        r.unread === 0 && !r.error ? r : { ...r, unread: 0, error: r.joined ? "" : r.error },
      );

    case "joinSent":
      return withRoom(
        { ...state, requests: { ...state.requests, [action.ref]: { kind: "join", room: action.room } } },
        action.room,
        (r) => ({ ...r, wanted: true, joinRequested: true, error: "" }),
      );

    case "historySent":
      return withRoom(
        {
          ...state,
          requests: { ...state.requests, [action.ref]: { kind: "history", room: action.room, mode: action.mode } },
        },
        action.room,
        (r) =>
          action.mode === "newest" ? { ...r, history: "loading" } : { ...r, loadingOlder: true },
      );

    case "listRoomsSent":
      return {
        ...state,
        requests: { ...state.requests, [action.ref]: listRoomsRequest(state, action.cursor) },
      };

    case "createRoomSent":
      return {
        ...state,
        requests: { ...state.requests, [action.ref]: { kind: "createRoom", room: action.name } },
        createRoom: { pending: true, error: "", name: action.name },
      };

    case "localSend": {
      const msg: ChatMessage = {
        key: `c:${action.clientMsgId}`,
        room: action.room,
        seq: null,
        author: state.me,
        text: action.text,
        sentAt: new Date(action.now).toISOString(),
        clientMsgId: action.clientMsgId,
        status: "sending",
        error: "",
        local: true,
        acked: false,
        deleted: false,
        bot: false,
      };
      return withRoom(state, action.room, (r) => ({ ...r, pending: [...r.pending, msg] }));
    }

    case "retrySend": {
      const found = findLocal(state, action.clientMsgId);
      if (!found || found.where !== "pending") return state;
      return withRoom(state, found.room, (r) => {
        const pending = r.pending.slice();
        pending[found.index] = { ...pending[found.index], status: "sending", error: "" };
        return { ...r, pending };
      });
    }

    case "sendFailed":
      return markFailed(state, action.clientMsgId, action.error);

    case "expireTyping": {
      let changed = false;
      const rooms: Record<string, RoomState> = {};
      for (const [name, r] of Object.entries(state.rooms)) {
        const live = Object.entries(r.typing).filter(([, exp]) => exp > action.now);
        if (live.length !== Object.keys(r.typing).length) {
          changed = true;
          rooms[name] = { ...r, typing: Object.fromEntries(live) };
        } else {
          rooms[name] = r;
        }
      }
      return changed ? { ...state, rooms } : state;
    }

    case "dismissNotice":
      return state.notice === "" ? state : { ...state, notice: "" };

    case "clearCreateError":
      return state.createRoom.error === "" ? state : { ...state, createRoom: { ...state.createRoom, error: "" } };

    case "setAdmin":
      return state.admin === action.admin ? state : { ...state, admin: action.admin };

    case "requestSent":
      return requestSent(state, action.ref, action.request);

    case "actionFailed": {
      const s = { ...state, actions: { ...state.actions, [action.key]: { pending: false, error: action.error, done: false } } };
      return action.notice ? { ...s, notice: action.notice } : s;
    }

    case "clearAction": {
      if (state.actions[action.key] === undefined) return state;
      const actions = { ...state.actions };
      delete actions[action.key];
      return { ...state, actions };
    }

    case "clearSearch":
      return state.userSearch === NO_SEARCH ? state : { ...state, userSearch: NO_SEARCH };

    case "dismissFarewell":
      return state.farewell === null ? state : { ...state, farewell: null };
    case "profilesKnown":
      return cacheProfiles(state, action.profiles, action.now);
  }
}
