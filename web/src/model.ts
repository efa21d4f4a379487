// The shapes of the chat state (state.ts) and of the actions its reducer takes.

import type { Invite, Member, Profile, RoomInfo, ServerEvent } from "./protocol";

export type SendStatus = "sending" | "sent" | "failed";

export interface ChatMessage {
  /** React key: "c:<clientMsgId>" for a message sent from this tab (kept once it has a seq), else "s:<seq>". */
  key: string;
  room: string;
  /** null while an optimistic message has no seq yet. */
  seq: number | null;
  author: string;
  text: string;
  sentAt: string;
  clientMsgId: string;
  /** "sent" for every message that has a seq and an ack (or came from the server). */
  status: SendStatus;
  /** Why the last attempt failed ("" otherwise). */
  error: string;
  /** Created by this tab (optimistic). */
  local: boolean;
  /** The server acknowledged it (ack event). */
  acked: boolean;
  /** A tombstone: deleted by its author or a moderator (text is empty). */
  deleted: boolean;
  /** Sent by a bot account (Message.authorKind BOT): shown with a badge. */
  bot: boolean;
}

export type HistoryState = "none" | "loading" | "loaded" | "error";

/** A room's stored membership (ListMembers), kept live by membership events. */
export interface Roster {
  status: "none" | "loading" | "loaded" | "error";
  /** Owner, moderators, then members; by name within a role. */
  members: Member[];
  /** Filled only for moderators (the server lists them only to them). */
  invited: string[];
  banned: string[];
  error: string;
}

export interface RoomState {
  name: string;
  info: RoomInfo | null;
  /** We want to be in this room: (re)join it on every connection. */
  wanted: boolean;
  /** A join is in flight on the current connection. */
  joinRequested: boolean;
  /** Joined on the current connection. */
  joined: boolean;
  /**
   * True once a `joined` was seen: from then on the messages we hold are
   * contiguous up to syncedSeq and a rejoin asks for sinceSeq = syncedSeq.
   */
  synced: boolean;
  /** The last seq delivered by the live stream (joined.latestSeq, then each live/replayed message). */
  syncedSeq: number;
  /** Confirmed messages, strictly ascending by seq, no duplicates. */
  messages: ChatMessage[];
  /** Optimistic messages without a seq yet, oldest first. */
  pending: ChatMessage[];
  members: string[];
  memberCount: number;
  /** Others typing: user → expiry time (ms). */
  typing: Record<string, number>;
  unread: number;
  /** The newest history page of this room. */
  history: HistoryState;
  /** Older messages exist before the oldest one held. */
  hasMoreOlder: boolean;
  loadingOlder: boolean;
  /** Last error about this room (join refused...), "" if none. */
  error: string;
  roster: Roster;
}

export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "offline";

export type PendingRequest =
  | { kind: "join"; room: string }
  | { kind: "history"; room: string; mode: "newest" | "older" }
  | { kind: "createRoom"; room: string }
  /**
   * cursor: "" for the first page, else the next cursor of the page before.
   * known: the rooms listed when it was sent (a whole list may drop only those).
   */
  | { kind: "listRooms"; cursor: string; known?: string[] }
  | { kind: "listMembers"; room: string }
  | { kind: "listInvites" }
  | { kind: "searchUsers"; prefix: string }
  /** Profiles of these usernames (getUsers); see client-profiles.ts. */
  | { kind: "getUsers"; names: string[] }
  /**
   * A membership or moderation request, tracked in ChatState.actions under
   * `key` (see actionKey). `label` names it in an error ("Kick bob"); with
   * `notice`, its error is also shown as the general notice (actions that no
   * open form shows the result of).
   */
  | { kind: "action"; key: string; label: string; notice: boolean; room: string };

/** Where a membership or moderation request stands, for the form or menu that sent it. */
export interface ActionStatus {
  pending: boolean;
  /** The server's refusal ("" if none). */
  error: string;
  /** Answered with success. */
  done: boolean;
}

/** Why the user is no longer in a room (kicked, banned, room deleted), shown once. */
export interface Farewell {
  room: string;
  text: string;
  /** "event": from a membership or roomChanged event; "left": from the left event's reason (less precise). */
  source: "event" | "left";
}

export interface UserSearch {
  /** The ref of the newest search: older answers are ignored. */
  ref: string;
  prefix: string;
  users: string[];
  pending: boolean;
  error: string;
}

export interface ChatState {
  me: string;
  connection: ConnectionStatus;
  /** Human-readable reason of the last disconnect ("" if none). */
  connectionDetail: string;
  everConnected: boolean;
  rooms: Record<string, RoomState>;
  /** The room in view. */
  current: string;
  roomsLoaded: boolean;
  /**
   * The room list comes in pages: the cursor of the next page not yet loaded
   * ("" when every page is), so the sidebar can offer more. Only the first page
   * is fetched on connect and on refresh; later pages when asked for.
   */
  roomsCursor: string;
  /** A page after the first has been loaded (a refreshed first page then leaves roomsCursor alone). */
  roomsPastFirstPage: boolean;
  /** Requests in flight on the current connection, by ref. */
  requests: Record<string, PendingRequest>;
  createRoom: { pending: boolean; error: string; name: string };
  /** Last general error to show the user ("" if none). */
  notice: string;
  /** A server admin (WhoAmI.admin): acts as owner in every room. */
  admin: boolean;
  /** The user's pending invitations, by room name. */
  invites: Invite[];
  invitesLoaded: boolean;
  /** Membership and moderation requests by actionKey. */
  actions: Record<string, ActionStatus>;
  userSearch: UserSearch;
  farewell: Farewell | null;
  /**
   * Profiles (display name, bot, deleted) by lower-case username, fetched with
   * getUsers and kept PROFILE_TTL_MS (state-profiles.ts); profile null: no such user.
   */
  profiles: Record<string, ProfileEntry>;
  /** When this session's token expires, as the last SessionRenewed said ("" until one comes). */
  sessionExpiresAt: string;
}

export interface ProfileEntry {
  profile: Profile | null;
  /** When it arrived (ms): an older entry is asked for again when wanted. */
  fetchedAt: number;
}

export type Action =
  | { type: "connection"; status: ConnectionStatus; detail?: string }
  | { type: "server"; events: ServerEvent[]; now: number }
  | { type: "select"; room: string }
  | { type: "joinSent"; room: string; ref: string }
  | { type: "historySent"; room: string; ref: string; mode: "newest" | "older" }
  | { type: "listRoomsSent"; ref: string; cursor: string }
  | { type: "createRoomSent"; name: string; ref: string }
  | { type: "localSend"; room: string; text: string; clientMsgId: string; now: number }
  | { type: "retrySend"; clientMsgId: string }
  | { type: "sendFailed"; clientMsgId: string; error: string }
  | { type: "expireTyping"; now: number }
  | { type: "dismissNotice" }
  | { type: "clearCreateError" }
  | { type: "setAdmin"; admin: boolean }
  | { type: "requestSent"; ref: string; request: PendingRequest }
  /** A request that could not go out (offline) or was refused before sending. */
  | { type: "actionFailed"; key: string; error: string; notice: string }
  | { type: "clearAction"; key: string }
  | { type: "clearSearch" }
  | { type: "dismissFarewell" }
  /** Profiles learnt elsewhere (the answer to UpdateProfile): put into the cache. */
  | { type: "profilesKnown"; profiles: Profile[]; now: number };
