// The mock server's private rooms, direct messages, membership and
// moderation (docs: /work/spec/members-spec.md as chat-core enforces it),
// in memory and simplified: enough to develop and eyeball the UI. Not used by
// the build or any test.

import { createHash } from "node:crypto";

const ROLE = { NONE: 0, MEMBER: 1, MODERATOR: 2, OWNER: 3 };
const ROLE_JSON = ["ROLE_UNSPECIFIED", "ROLE_MEMBER", "ROLE_MODERATOR", "ROLE_OWNER"];
const KIND_JSON = { PUBLIC: "ROOM_KIND_PUBLIC", PRIVATE: "ROOM_KIND_PRIVATE", DIRECT: "ROOM_KIND_DIRECT" };
const low = (u) => u.toLowerCase();

/** The membership fields every mock room gets. */
export function initMembership(r, kind = "PUBLIC", creator = "") {
  r.kind = kind;
  r.topic = "";
  r.archived = false;
  r.roles = new Map(); // lower(user) -> {user, role}
  r.invited = new Map(); // lower(user) -> {user, by, at}
  r.banned = new Map(); // lower(user) -> user
  r.directUsers = [];
  if (creator) r.roles.set(low(creator), { user: creator, role: kind === "DIRECT" ? ROLE.MEMBER : ROLE.OWNER });
  return r;
}

export function roleOf(r, user) {
  return r.roles.get(low(user))?.role ?? ROLE.NONE;
}

export function maySee(r, user) {
  return r.kind === "PUBLIC" || r.roles.has(low(user));
}

/** Room JSON as `user` sees it. */
export function roomView(r, user) {
  const o = { name: r.name, createdAt: r.createdAt, kind: KIND_JSON[r.kind] };
  if (r.messages.length) o.lastSeq = String(r.messages.length);
  if (r.members.size) o.memberCount = r.members.size;
  if (r.createdBy) o.createdBy = r.createdBy;
  if (r.topic) o.topic = r.topic;
  if (r.archived) o.archived = true;
  const role = roleOf(r, user);
  if (role) o.myRole = ROLE_JSON[role];
  if (r.directUsers.length) o.directUsers = r.directUsers;
  return o;
}

/**
 * Handles one membership ClientEvent for session `s`; false if `ev` is not one.
 * ctx: { rooms, users, sockets, makeRoom, broadcast, msgJson }.
 */
export function handleMembership(s, ev, ref, err, ctx) {
  const { rooms, users, sockets } = ctx;
  const me = s.user;
  const reply = (body) => s.queue({ ...ref, ...body });
  const room = (name, event) => {
    const r = rooms.get(name);
    if (!r || !maySee(r, me)) {
      err("NOT_FOUND", `no room '${name}'`, event);
      return null;
    }
    return r;
  };
  const userNamed = (name, event) => {
    const u = users.get(low(name ?? ""));
    if (!u) err("NOT_FOUND", `no user '${name}'`, event);
    return u?.username ?? null;
  };
  const toUser = (user, body) => {
    for (const x of sockets) if (low(x.user) === low(user)) x.queue(body);
  };
  /** A MembershipEvent: to sessions in the room and every session of `user`; the answer to the caller. */
  const membership = (r, user, kind, by, extra = {}) => {
    const m = { room: r.name, user, kind, by, ...extra };
    const role = roleOf(r, user);
    if (role) m.role = ROLE_JSON[role];
    for (const x of sockets) {
      if (x === s) continue;
      if (x.rooms.has(r.name) || low(x.user) === low(user)) {
        const own = low(x.user) === low(user) && (kind === "INVITED" || kind === "JOINED");
        x.queue({ membership: own ? { ...m, roomInfo: roomView(r, user) } : m });
      }
    }
    const own = low(me) === low(user) && (kind === "INVITED" || kind === "JOINED");
    reply({ membership: own ? { ...m, roomInfo: roomView(r, user) } : m });
  };
  const changed = (r, kind) => {
    for (const x of sockets) if (maySee(r, x.user) || kind === "DELETED") x.queue({ roomChanged: { kind, room: roomView(r, x.user) } });
  };
  const created = (r, user) => toUser(user, { roomChanged: { kind: "CREATED", room: roomView(r, user) } });
  const out = (r, user, reason) => {
    for (const x of sockets) {
      if (low(x.user) !== low(user) || !x.rooms.has(r.name)) continue;
      x.leaveRoom(r.name);
      x.queue({ left: { room: r.name, reason } });
    }
  };
  const mod = (r) => roleOf(r, me) >= ROLE.MODERATOR;

  if (ev.openDirect) {
    const names = [me];
    for (const n of ev.openDirect.users ?? []) {
      const u = userNamed(n, "openDirect");
      if (!u) return true;
      if (!names.some((x) => low(x) === low(u))) names.push(u);
    }
    if (names.length < 2) return err("INVALID_ARGUMENT", "name someone else", "openDirect"), true;
    if (names.length > 9) return err("INVALID_ARGUMENT", "at most 9 users in a direct room", "openDirect"), true;
    const key = names.map(low).sort().join(",");
    const name = `dm.${createHash("sha256").update(key).digest("hex").slice(0, 24)}`;
    let r = rooms.get(name);
    if (!r) {
      r = initMembership(ctx.makeRoom(name, me), "DIRECT");
      r.directUsers = [...names].sort((a, b) => low(a).localeCompare(low(b)));
      for (const u of names) r.roles.set(low(u), { user: u, role: ROLE.MEMBER });
      for (const u of names) created(r, u);
    }
    reply({ room: roomView(r, me) });
  } else if (ev.getRoom) {
    const r = room(ev.getRoom.name, "getRoom");
    if (r) reply({ room: roomView(r, me) });
  } else if (ev.updateRoom) {
    const u = ev.updateRoom;
    const r = room(u.room, "updateRoom");
    if (!r) return true;
    if (u.topic !== undefined) {
      if (!mod(r)) return err("PERMISSION_DENIED", "moderators set the topic", "updateRoom"), true;
      if (Buffer.byteLength(u.topic) > 256) return err("INVALID_ARGUMENT", "topic is longer than 256 bytes", "updateRoom"), true;
      r.topic = u.topic;
    }
    if (u.archived !== undefined) {
      if (roleOf(r, me) < ROLE.OWNER) return err("PERMISSION_DENIED", "the owner archives the room", "updateRoom"), true;
      r.archived = u.archived;
    }
    reply({ room: roomView(r, me) });
    changed(r, "UPDATED");
  } else if (ev.deleteRoom) {
    const r = room(ev.deleteRoom.room, "deleteRoom");
    if (!r) return true;
    if (r.kind === "DIRECT") return err("FAILED_PRECONDITION", "a direct room cannot be deleted", "deleteRoom"), true;
    if (roleOf(r, me) < ROLE.OWNER) return err("PERMISSION_DENIED", "the owner deletes the room", "deleteRoom"), true;
    for (const x of sockets) if (x.rooms.has(r.name)) (x.leaveRoom(r.name), x.queue({ left: { room: r.name, reason: "room deleted" } }));
    changed(r, "DELETED");
    rooms.delete(r.name);
    reply({ roomDeleted: {} });
  } else if (ev.invite) {
    const r = room(ev.invite.room, "invite");
    if (!r) return true;
    if (r.kind === "DIRECT") return err("FAILED_PRECONDITION", "nobody is invited to a direct room", "invite"), true;
    if (!mod(r)) return err("PERMISSION_DENIED", "moderators invite", "invite"), true;
    const u = userNamed(ev.invite.user, "invite");
    if (!u) return true;
    if (r.roles.has(low(u))) return err("ALREADY_EXISTS", `${u} is a member already`, "invite"), true;
    if (r.banned.has(low(u))) return err("FAILED_PRECONDITION", "banned; unban first", "invite"), true;
    if (r.invited.has(low(u))) return err("ALREADY_EXISTS", `${u} is invited already`, "invite"), true;
    r.invited.set(low(u), { user: u, by: me, at: new Date().toISOString() });
    const m = { room: r.name, user: u, kind: "INVITED", by: me };
    toUser(u, { membership: { ...m, roomInfo: roomView(r, u) } });
    for (const x of sockets) if (x !== s && x.rooms.has(r.name) && low(x.user) !== low(u)) x.queue({ membership: m });
    reply({ membership: m });
  } else if (ev.respondInvite) {
    const name = ev.respondInvite.room;
    const r = rooms.get(name);
    if (!r || !r.invited.has(low(me))) return err("NOT_FOUND", `no invitation to '${name}'`, "respondInvite"), true;
    r.invited.delete(low(me));
    if (ev.respondInvite.accept) {
      r.roles.set(low(me), { user: me, role: ROLE.MEMBER });
      created(r, me);
      membership(r, me, "JOINED", me);
    } else membership(r, me, "DECLINED", me);
  } else if (ev.listInvites) {
    const invites = [];
    for (const r of rooms.values()) {
      const i = r.invited.get(low(me));
      if (i) invites.push({ room: roomView(r, me), invitedBy: i.by, invitedAt: i.at });
    }
    reply({ invites: { invites } });
  } else if (ev.leaveRoom) {
    const r = room(ev.leaveRoom.room, "leaveRoom");
    if (!r) return true;
    if (!r.roles.has(low(me))) return err("FAILED_PRECONDITION", "not a member", "leaveRoom"), true;
    if (roleOf(r, me) === ROLE.OWNER && r.roles.size > 1) return err("FAILED_PRECONDITION", "hand over ownership first", "leaveRoom"), true;
    r.roles.delete(low(me));
    out(r, me, "you left the room");
    membership(r, me, "LEFT", me);
  } else if (ev.kick || ev.ban) {
    const k = ev.kick ?? ev.ban;
    const what = ev.kick ? "kick" : "ban";
    const r = room(k.room, what);
    if (!r) return true;
    if (r.kind === "DIRECT") return err("FAILED_PRECONDITION", "nobody moderates a direct room", what), true;
    if (!mod(r)) return err("PERMISSION_DENIED", "moderators only", what), true;
    const u = userNamed(k.user, what);
    if (!u) return true;
    if (roleOf(r, u) >= roleOf(r, me)) return err("PERMISSION_DENIED", `${u} has the same or a higher role`, what), true;
    if (ev.kick && !r.roles.has(low(u)) && r.kind !== "PUBLIC") return err("FAILED_PRECONDITION", `${u} is not a member`, what), true;
    r.roles.delete(low(u));
    r.invited.delete(low(u));
    if (ev.ban) r.banned.set(low(u), u);
    const reason = `${ev.kick ? "kicked" : "banned"} by ${me}${k.reason ? `: ${k.reason}` : ""}`;
    out(r, u, reason);
    membership(r, u, ev.kick ? "KICKED" : "BANNED", me, k.reason ? { reason: k.reason } : {});
  } else if (ev.unban) {
    const r = room(ev.unban.room, "unban");
    if (!r) return true;
    if (!mod(r)) return err("PERMISSION_DENIED", "moderators only", "unban"), true;
    if (!r.banned.has(low(ev.unban.user))) return err("FAILED_PRECONDITION", "not banned", "unban"), true;
    const u = r.banned.get(low(ev.unban.user));
    r.banned.delete(low(u));
    membership(r, u, "UNBANNED", me);
  } else if (ev.setRole) {
    const { room: name, user, role } = ev.setRole;
    const r = room(name, "setRole");
    if (!r) return true;
    if (r.kind === "DIRECT") return err("FAILED_PRECONDITION", "no roles in a direct room", "setRole"), true;
    if (roleOf(r, me) < ROLE.OWNER) return err("PERMISSION_DENIED", "the owner sets roles", "setRole"), true;
    const u = userNamed(user, "setRole");
    if (!u) return true;
    const n = ROLE_JSON.indexOf(role);
    if (n < 1) return err("INVALID_ARGUMENT", "no such role", "setRole"), true;
    if (n === ROLE.OWNER) r.roles.set(low(me), { user: me, role: ROLE.MODERATOR });
    r.roles.set(low(u), { user: u, role: n });
    if (n === ROLE.OWNER) membership(r, me, "ROLE_CHANGED", me);
    membership(r, u, "ROLE_CHANGED", me);
  } else if (ev.listMembers) {
    const r = room(ev.listMembers.room, "listMembers");
    if (!r) return true;
    const online = (u) => [...sockets].some((x) => low(x.user) === low(u) && x.rooms.has(r.name));
    const list = [...r.roles.values()].map((m) => ({ user: m.user, role: ROLE_JSON[m.role], online: online(m.user) }));
    if (r.kind === "PUBLIC") for (const u of r.members.keys()) if (!r.roles.has(low(u))) list.push({ user: u, online: true });
    list.sort((a, b) => low(a.user).localeCompare(low(b.user)));
    const body = { room: r.name, members: list };
    if (mod(r)) {
      body.invited = [...r.invited.values()].map((i) => i.user);
      body.banned = [...r.banned.values()];
    }
    reply({ members: body });
  } else if (ev.deleteMessage) {
    const r = room(ev.deleteMessage.room, "deleteMessage");
    if (!r) return true;
    const m = r.messages[Number(ev.deleteMessage.seq) - 1];
    if (!m) return err("NOT_FOUND", "no such message", "deleteMessage"), true;
    if (low(m.author) !== low(me) && !mod(r)) return err("PERMISSION_DENIED", "not your message", "deleteMessage"), true;
    m.deleted = true;
    m.text = "";
    const d = { room: r.name, seq: String(m.seq), by: me };
    ctx.broadcast(r, { messageDeleted: d }, s);
    reply({ messageDeleted: d });
  } else if (ev.searchUsers) {
    const p = low(ev.searchUsers.prefix ?? "");
    if (!p) return err("INVALID_ARGUMENT", "prefix is empty", "searchUsers"), true;
    const found = [...users.values()].map((u) => u.username).filter((u) => low(u).startsWith(p)).sort();
    reply({ users: { users: found.slice(0, Number(ev.searchUsers.limit) || 10) } });
  } else {
    return false;
  }
  return true;
}
