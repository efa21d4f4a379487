// The membership and moderation requests of the chat client: direct
// messages, private rooms, invitations, leaving, kicks and bans, roles, room
// settings, message deletion, user search and the member list.
//
// Each request goes out with a ref and is tracked in ChatState.actions under
// its actionKey, so the form or menu that sent it shows "under way", the
// server's refusal, or done. No React; tested with client.test.ts's fake socket.

import { Role, RoomKind } from "./gen/chat/v1/chat_pb";
import { validateRoomName } from "./api";
import { sameUser } from "./messages";
import type { Action, ChatState, PendingRequest } from "./model";
import type { ClientEventInit } from "./protocol";
import { DIRECT_PREFIX } from "./roles";
import { actionKey } from "./state-members";

/** What the client gives this part: sending with a fresh ref, and the state. */
export interface RequestPort {
  /** Sends the event with a fresh ref and records `req` under it; false when offline. */
  send(body: ClientEventInit, req: PendingRequest): boolean;
  getState(): ChatState;
  dispatch(action: Action): void;
}

/** At most this many others in a direct room (chat-core allows 9 users in all). */
export const MAX_DIRECT_USERS = 8;
/** Topics and kick/ban reasons: at most this many bytes of UTF-8. */
export const MAX_TEXT_BYTES = 256;
export const SEARCH_LIMIT = 10;

const OFFLINE = "You are offline";

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** The client-side check of a new room's name ("" when fine); the server has the last word. */
export function validateNewRoomName(name: string): string {
  if (name.startsWith(DIRECT_PREFIX)) return `Names starting with "${DIRECT_PREFIX}" are kept for direct messages`;
  return validateRoomName(name);
}

export class MembershipActions {
  private readonly port: RequestPort;

  constructor(port: RequestPort) {
    this.port = port;
  }

  /**
   * Sends one tracked request. `notice`: its error also goes to the general
   * notice (for menus that close at once). Returns false when offline.
   */
  private act(
    body: ClientEventInit,
    key: string,
    label: string,
    room: string,
    notice: boolean,
  ): boolean {
    const req: PendingRequest = { kind: "action", key, label, notice, room };
    if (this.port.send(body, req)) return true;
    this.port.dispatch({ type: "actionFailed", key, error: OFFLINE, notice: notice ? `${label}: ${OFFLINE}` : "" });
    return false;
  }

  /** Opens (or finds) the direct room of the user and `users`. Returns an error text, or "" when sent. */
  openDirect(users: string[]): string {
    const me = this.port.getState().me;
    const others = users.filter((u, i) => !sameUser(u, me) && users.findIndex((x) => sameUser(x, u)) === i);
    if (others.length === 0) return "Pick someone to talk to";
    if (others.length > MAX_DIRECT_USERS) return `At most ${MAX_DIRECT_USERS} people besides you`;
    this.act({ event: { case: "openDirect", value: { users: others } } }, "openDirect", "New message", "", false);
    return "";
  }

  /** Creates a room from the dialog (public or private, with a topic). Returns an error text, or "". */
  createRoom(name: string, topic: string, isPrivate: boolean): string {
    const n = name.trim();
    const bad = validateNewRoomName(n);
    if (bad) return bad;
    const t = topic.trim();
    if (utf8Length(t) > MAX_TEXT_BYTES) return `The topic is too long (at most ${MAX_TEXT_BYTES} bytes)`;
    const kind = isPrivate ? RoomKind.PRIVATE : RoomKind.PUBLIC;
    this.act({ event: { case: "createRoom", value: { name: n, kind, topic: t } } }, "createRoom", "New room", n, false);
    return "";
  }

  invite(room: string, user: string): void {
    this.act({ event: { case: "invite", value: { room, user } } }, actionKey("invite", room, user), `Invite ${user}`, room, false);
  }

  respondInvite(room: string, accept: boolean): void {
    const label = `${accept ? "Accept" : "Decline"} the invitation to #${room}`;
    this.act({ event: { case: "respondInvite", value: { room, accept } } }, actionKey("respond", room), label, room, true);
  }

  leaveRoom(room: string): void {
    this.act({ event: { case: "leaveRoom", value: { room } } }, actionKey("leave", room), `Leave #${room}`, room, false);
  }

  kick(room: string, user: string, reason = ""): string {
    const r = reason.trim();
    if (utf8Length(r) > MAX_TEXT_BYTES) return `The reason is too long (at most ${MAX_TEXT_BYTES} bytes)`;
    this.act({ event: { case: "kick", value: { room, user, reason: r } } }, actionKey("kick", room, user), `Remove ${user}`, room, true);
    return "";
  }

  ban(room: string, user: string, reason = ""): string {
    const r = reason.trim();
    if (utf8Length(r) > MAX_TEXT_BYTES) return `The reason is too long (at most ${MAX_TEXT_BYTES} bytes)`;
    this.act({ event: { case: "ban", value: { room, user, reason: r } } }, actionKey("ban", room, user), `Ban ${user}`, room, true);
    return "";
  }

  unban(room: string, user: string): void {
    this.act({ event: { case: "unban", value: { room, user } } }, actionKey("unban", room, user), `Unban ${user}`, room, true);
  }

  setRole(room: string, user: string, role: Role): void {
    this.act({ event: { case: "setRole", value: { room, user, role } } }, actionKey("role", room, user), `Change ${user}'s role`, room, true);
  }

  /** Returns an error text, or "" when sent. */
  setTopic(room: string, topic: string): string {
    const t = topic.trim();
    if (utf8Length(t) > MAX_TEXT_BYTES) return `The topic is too long (at most ${MAX_TEXT_BYTES} bytes)`;
    this.act({ event: { case: "updateRoom", value: { room, topic: t } } }, actionKey("topic", room), "Topic", room, false);
    return "";
  }

  setArchived(room: string, archived: boolean): void {
    const label = archived ? `Archive #${room}` : `Unarchive #${room}`;
    this.act({ event: { case: "updateRoom", value: { room, archived } } }, actionKey("archive", room), label, room, false);
  }

  deleteRoom(room: string): void {
    this.act({ event: { case: "deleteRoom", value: { room } } }, actionKey("deleteRoom", room), `Delete #${room}`, room, false);
  }

  deleteMessage(room: string, seq: number): void {
    this.act(
      { event: { case: "deleteMessage", value: { room, seq: BigInt(seq) } } },
      actionKey("deleteMessage", room, seq),
      "Delete message",
      room,
      true,
    );
  }

  /** Usernames starting with `prefix` (the newest search wins). An empty prefix clears the results. */
  searchUsers(prefix: string): void {
    const p = prefix.trim();
    if (p === "") {
      this.port.dispatch({ type: "clearSearch" });
      return;
    }
    this.port.send({ event: { case: "searchUsers", value: { prefix: p, limit: SEARCH_LIMIT } } }, { kind: "searchUsers", prefix: p });
  }

  /** The room's member list, unless it is on its way. */
  loadMembers(room: string): void {
    const s = this.port.getState();
    if (Object.values(s.requests).some((r) => r.kind === "listMembers" && r.room === room)) return;
    this.port.send({ event: { case: "listMembers", value: { room } } }, { kind: "listMembers", room });
  }

  loadInvites(): void {
    const s = this.port.getState();
    if (Object.values(s.requests).some((r) => r.kind === "listInvites")) return;
    this.port.send({ event: { case: "listInvites", value: {} } }, { kind: "listInvites" });
  }

  /** Forgets a request's outcome (its form was closed). */
  clearAction(key: string): void {
    this.port.dispatch({ type: "clearAction", key });
  }

  clearSearch(): void {
    this.port.dispatch({ type: "clearSearch" });
  }

  dismissFarewell(): void {
    this.port.dispatch({ type: "dismissFarewell" });
  }
}
