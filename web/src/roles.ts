// Who may do what in a room, as the UI decides which controls to show, and
// how a room is named on screen. The server has the last word on every
// request (docs/protocol.md, "Private rooms and direct messages"); these only
// keep the UI from offering what would be refused. Pure.

import { Role, RoomKind } from "./gen/chat/v1/chat_pb";
import { sameUser } from "./messages";
import type { RoomInfo } from "./protocol";

/** Direct rooms are named "dm." + hex by chat-core; CreateRoom refuses such names. */
export const DIRECT_PREFIX = "dm.";

export function isDirect(name: string, info: RoomInfo | null): boolean {
  return info ? info.kind === RoomKind.DIRECT : name.startsWith(DIRECT_PREFIX);
}

export function isPrivate(info: RoomInfo | null): boolean {
  return info?.kind === RoomKind.PRIVATE;
}

/** Public (or a kind this UI does not know as private/direct): listed, anyone may join. */
export function isPublic(name: string, info: RoomInfo | null): boolean {
  return !isDirect(name, info) && !isPrivate(info);
}

/**
 * The other users of a direct room, as its name on screen ("bob", "bob,
 * carol"). Each once: the list is a set, whatever a sender repeats.
 */
export function directLabel(info: RoomInfo | null, me: string): string {
  const users = info?.directUsers ?? [];
  const others = users.filter((u, i) => !sameUser(u, me) && users.findIndex((x) => sameUser(x, u)) === i);
  if (others.length > 0) return others.join(", ");
  return users.length > 0 ? me : "Direct message";
}

/** How a room is named in titles and placeholders: "#dev", or the other users of a direct room. */
export function roomLabel(name: string, info: RoomInfo | null, me: string): string {
  return isDirect(name, info) ? directLabel(info, me) : `#${name}`;
}

/** The role the user acts with: a server admin acts as owner everywhere. */
export function effectiveRole(info: RoomInfo | null, admin: boolean): Role {
  if (admin) return Role.OWNER;
  return info?.myRole ?? Role.UNSPECIFIED;
}

export const ROLE_NAMES: Record<Role, string> = {
  [Role.UNSPECIFIED]: "",
  [Role.MEMBER]: "member",
  [Role.MODERATOR]: "moderator",
  [Role.OWNER]: "owner",
};

export interface Permissions {
  /** Invite, kick, ban, unban. */
  moderate: boolean;
  invite: boolean;
  /** Moderators, and anyone in a direct room. */
  editTopic: boolean;
  /** Archive or unarchive, change roles, delete the room. */
  own: boolean;
  archive: boolean;
  deleteRoom: boolean;
  setRoles: boolean;
  /** LeaveRoom: only a stored member has anything to leave. */
  leave: boolean;
}

export function permissions(name: string, info: RoomInfo | null, admin: boolean): Permissions {
  const role = effectiveRole(info, admin);
  const direct = isDirect(name, info);
  const mod = role >= Role.MODERATOR;
  const own = role >= Role.OWNER;
  const member = (info?.myRole ?? Role.UNSPECIFIED) !== Role.UNSPECIFIED;
  return {
    moderate: mod && !direct,
    invite: mod && !direct,
    // Nobody moderates a direct room: any of its people may set its topic.
    editTopic: mod || (direct && member),
    own,
    archive: own,
    deleteRoom: own && !direct,
    setRoles: own && !direct,
    leave: member,
  };
}

/** Kick or ban `target`: a moderator acts on lower roles only; an admin on anyone but themself. */
export function canRemove(p: Permissions, myRole: Role, admin: boolean, target: { user: string; role: Role }, me: string): boolean {
  if (!p.moderate || sameUser(target.user, me)) return false;
  return admin || myRole > target.role;
}

/**
 * The roles the owner may give `target` from the member list: another role
 * for a member; in a public room also moderator or owner for someone present
 * without a stored role. Never their own (it changes only by handing over).
 */
export function roleChoices(p: Permissions, target: { user: string; role: Role }, me: string, isPublicRoom: boolean): Role[] {
  if (!p.setRoles || sameUser(target.user, me)) return [];
  if (target.role === Role.UNSPECIFIED) return isPublicRoom ? [Role.OWNER, Role.MODERATOR] : [];
  return [Role.OWNER, Role.MODERATOR, Role.MEMBER].filter((r) => r !== target.role);
}

/** Delete a message: its author, or a moderator, owner or server admin. */
export function canDeleteMessage(info: RoomInfo | null, admin: boolean, author: string, me: string): boolean {
  if (sameUser(author, me)) return true;
  return effectiveRole(info, admin) >= Role.MODERATOR;
}
