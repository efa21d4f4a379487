// The membership part of the reducer: a room's roster (ListMembers) kept live
// by MembershipEvents, the user's own invitations, the user search, message
// tombstones, and where each membership or moderation request stands.
// Pure, like state.ts.

import { MembershipEvent_Kind as Kind, Role } from "./gen/chat/v1/chat_pb";
import { findSeq, sameUser } from "./messages";
import type { ActionStatus, ChatState, PendingRequest, RoomState, Roster } from "./model";
import type { Invite, Member, ServerEvent } from "./protocol";
import { effectiveRole } from "./roles";
import { farewell, mergeInfo, removedFrom, resumeFrom } from "./state-rooms";
import { byName, takeRequest, withRoom } from "./state-util";

type Ev<T extends ServerEvent["type"]> = Extract<ServerEvent, { type: T }>;

/** The key of a request in ChatState.actions, e.g. actionKey("kick", "ops", "bob") = "kick:ops:bob". */
export function actionKey(kind: string, ...parts: (string | number)[]): string {
  return [kind, ...parts].join(":");
}

/** Owner first, then moderators, then members; by name within a role. */
export function sortMembers(list: Member[]): Member[] {
  return list.slice().sort((a, b) => b.role - a.role || byName(a.user, b.user));
}

function setAction(state: ChatState, key: string, status: ActionStatus): ChatState {
  return { ...state, actions: { ...state.actions, [key]: status } };
}

/** A request went out: remember it by ref, and show it as under way. */
export function requestSent(state: ChatState, ref: string, req: PendingRequest): ChatState {
  let s: ChatState = { ...state, requests: { ...state.requests, [ref]: req } };
  switch (req.kind) {
    case "action":
      s = setAction(s, req.key, { pending: true, error: "", done: false });
      break;
    case "listMembers":
      s = withRoom(s, req.room, (r) => ({
        ...r,
        roster: { ...r.roster, status: r.roster.status === "loaded" ? "loaded" : "loading", error: "" },
      }));
      break;
    case "searchUsers":
      s = { ...s, userSearch: { ...s.userSearch, ref, prefix: req.prefix, pending: true, error: "" } };
      break;
    default:
      break;
  }
  return s;
}

/** Any answer (not an error) to a membership or moderation request marks it done. */
export function settleAction(state: ChatState, ev: ServerEvent): ChatState {
  if (ev.type === "error" || ev.ref === "") return state;
  const req = state.requests[ev.ref];
  if (req?.kind !== "action") return state;
  const { s } = takeRequest(state, ev.ref);
  return setAction(s, req.key, { pending: false, error: "", done: true });
}

/** The error answering a request of this part, or null when the request is not one of ours. */
export function applyMembersError(state: ChatState, req: PendingRequest, ref: string, text: string): ChatState | null {
  switch (req.kind) {
    case "action": {
      const s = setAction(state, req.key, { pending: false, error: text, done: false });
      return req.notice ? { ...s, notice: `${req.label}: ${text}` } : s;
    }
    case "listMembers":
      return withRoom(state, req.room, (r) => ({ ...r, roster: { ...r.roster, status: "error", error: text } }));
    case "listInvites":
      return { ...state, invitesLoaded: true, notice: `Invitations: ${text}` };
    case "searchUsers":
      return ref === state.userSearch.ref ? { ...state, userSearch: { ...state.userSearch, pending: false, error: text } } : state;
    default:
      return null;
  }
}

export function applyMembers(state: ChatState, ev: Ev<"members">): ChatState {
  const { s } = takeRequest(state, ev.ref);
  if (ev.room === "" || !s.rooms[ev.room]) return s;
  const roster: Roster = {
    status: "loaded",
    members: sortMembers(ev.members),
    invited: ev.invited.slice().sort(byName),
    banned: ev.banned.slice().sort(byName),
    error: "",
  };
  return withRoom(s, ev.room, (r) => ({ ...r, roster }));
}

export function applyInvites(state: ChatState, ev: Ev<"invites">): ChatState {
  const { s } = takeRequest(state, ev.ref);
  const invites = ev.invites.filter((i) => i.room.name !== "").sort((a, b) => byName(a.room.name, b.room.name));
  return { ...s, invites, invitesLoaded: true };
}

export function applyUsers(state: ChatState, ev: Ev<"users">): ChatState {
  const { s } = takeRequest(state, ev.ref);
  // Only the newest search counts: an older answer arriving late is dropped.
  if (ev.ref === "" || ev.ref !== s.userSearch.ref) return s;
  return { ...s, userSearch: { ...s.userSearch, users: ev.users, pending: false, error: "" } };
}

export function applyMessageDeleted(state: ChatState, ev: Ev<"messageDeleted">): ChatState {
  const { s } = takeRequest(state, ev.ref);
  const r = s.rooms[ev.room];
  if (!r) return s;
  const i = findSeq(r.messages, ev.seq);
  if (i < 0 || r.messages[i].deleted) return s;
  const messages = r.messages.slice();
  messages[i] = { ...messages[i], deleted: true, text: "" };
  return withRoom(s, ev.room, (x) => ({ ...x, messages }));
}

function without(list: string[], user: string): string[] {
  return list.some((u) => sameUser(u, user)) ? list.filter((u) => !sameUser(u, user)) : list;
}

function withName(list: string[], user: string): string[] {
  return list.some((u) => sameUser(u, user)) ? list : [...list, user].sort(byName);
}

/** A membership change about someone, on the room's roster (when it is loaded). */
function onRoster(state: ChatState, ev: Ev<"membership">): ChatState {
  const r = state.rooms[ev.room];
  if (!r || r.roster.status !== "loaded") return state;
  const mod = effectiveRole(r.info, state.admin) >= Role.MODERATOR;
  let { members, invited, banned } = r.roster;
  const old = members.find((m) => sameUser(m.user, ev.user));
  const drop = () => members.filter((m) => !sameUser(m.user, ev.user));
  switch (ev.kind) {
    case Kind.INVITED:
      if (mod) invited = withName(invited, ev.user);
      break;
    case Kind.DECLINED:
      invited = without(invited, ev.user);
      break;
    case Kind.JOINED:
      invited = without(invited, ev.user);
      members = [...drop(), { user: old?.user ?? ev.user, role: ev.role || Role.MEMBER, online: old?.online ?? false }];
      break;
    case Kind.LEFT:
    case Kind.KICKED:
      members = drop();
      break;
    case Kind.BANNED:
      members = drop();
      invited = without(invited, ev.user);
      if (mod) banned = withName(banned, ev.user);
      break;
    case Kind.UNBANNED:
      banned = without(banned, ev.user);
      break;
    case Kind.ROLE_CHANGED:
      // There is one owner: a new one makes the old one a moderator.
      members = members.map((m) =>
        sameUser(m.user, ev.user)
          ? { ...m, role: ev.role }
          : ev.role === Role.OWNER && m.role === Role.OWNER
            ? { ...m, role: Role.MODERATOR }
            : m,
      );
      if (!old) members = [...members, { user: ev.user, role: ev.role, online: false }];
      break;
    default:
      return state;
  }
  const roster = { ...r.roster, members: sortMembers(members), invited, banned };
  return withRoom(state, ev.room, (x) => ({ ...x, roster }));
}

/** What a kick or ban says to the one removed. */
function removalText(ev: Ev<"membership">): string {
  const verb = ev.kind === Kind.BANNED ? "banned from" : "removed from";
  const by = ev.by ? ` by ${ev.by}` : "";
  return `You were ${verb} #${ev.room}${by}${ev.reason ? `: ${ev.reason}` : ""}`;
}

/** A MembershipEvent: the roster of the room, and, when it is about the user, their rooms and invitations. */
export function applyMembership(state: ChatState, ev: Ev<"membership">): ChatState {
  if (ev.room === "" || ev.user === "") return state;
  let s = onRoster(state, ev);
  if (!sameUser(ev.user, s.me)) {
    // Someone else became owner: we, the old owner, are a moderator now.
    const r = s.rooms[ev.room];
    if (ev.kind === Kind.ROLE_CHANGED && ev.role === Role.OWNER && r?.info?.myRole === Role.OWNER) {
      s = withRoom(s, ev.room, (x) => ({ ...x, info: x.info && { ...x.info, myRole: Role.MODERATOR } }));
    }
    return s;
  }
  const dropInvite = (st: ChatState) =>
    st.invites.some((i) => i.room.name === ev.room) ? { ...st, invites: st.invites.filter((i) => i.room.name !== ev.room) } : st;
  switch (ev.kind) {
    case Kind.INVITED: {
      const room = ev.roomInfo ?? null;
      if (!room) return s;
      const invite: Invite = { room, invitedBy: ev.by, invitedAt: "" };
      const invites = [...s.invites.filter((i) => i.room.name !== ev.room), invite].sort((a, b) => byName(a.room.name, b.room.name));
      return { ...s, invites };
    }
    case Kind.DECLINED:
      return dropInvite(s);
    case Kind.JOINED: {
      s = dropInvite(s);
      const info = ev.roomInfo;
      return withRoom(s, ev.room, (r) => {
        const next = {
          ...r,
          error: "",
          info: info ? mergeInfo(r.info, info, true) : r.info && { ...r.info, myRole: ev.role || Role.MEMBER },
        };
        return info ? resumeFrom(next, info.lastSeq) : next;
      });
    }
    case Kind.ROLE_CHANGED:
      return withRoom(s, ev.room, (r) => (r.info ? { ...r, info: { ...r.info, myRole: ev.role } } : r));
    case Kind.LEFT:
      return removedFrom(dropInvite(s), ev.room, "");
    case Kind.KICKED:
    case Kind.BANNED: {
      const text = removalText(ev);
      return removedFrom(farewell(dropInvite(s), ev.room, text, "event"), ev.room, text);
    }
    default:
      return s;
  }
}

/** Requests under way when the connection dropped: their answer will never come. */
export function lostActions(actions: ChatState["actions"]): ChatState["actions"] {
  if (!Object.values(actions).some((a) => a.pending)) return actions;
  const out: ChatState["actions"] = {};
  for (const [k, a] of Object.entries(actions)) {
    out[k] = a.pending ? { pending: false, error: "Connection lost, try again", done: false } : a;
  }
  return out;
}

/** One line of the member list. */
export interface MemberRow {
  user: string;
  /** UNSPECIFIED: in a public room without a stored role (a visitor). */
  role: Role;
  online: boolean;
}

/**
 * The member list: the stored members (ListMembers: roles, kept live) merged
 * with who is in the room now (presence); owner and moderators first, then
 * whoever is online, then the others; by name within each.
 */
export function memberRows(room: RoomState): MemberRow[] {
  const present = new Set(room.joined ? room.members.map((u) => u.toLowerCase()) : []);
  // The presence list stops at the server's limit: past it, ListMembers' online flag counts too.
  const complete = room.joined && room.members.length >= room.memberCount;
  const out: MemberRow[] = room.roster.members.map((m) => ({
    user: m.user,
    role: m.role,
    online: present.has(m.user.toLowerCase()) || (!complete && m.online),
  }));
  for (const u of room.joined ? room.members : []) {
    if (!out.some((r) => sameUser(r.user, u))) out.push({ user: u, role: Role.UNSPECIFIED, online: true });
  }
  // A member and a visitor (no stored role) rank alike: online ones before offline ones.
  const rank = (r: MemberRow) => Math.max(r.role, Role.MEMBER);
  return out.sort((a, b) => rank(b) - rank(a) || Number(b.online) - Number(a.online) || byName(a.user, b.user));
}
