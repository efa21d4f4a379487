// The shapes of the chat state (state.ts) and of the actions its reducer takes.

import type { RoomInfo, ServerEvent } from "./protocol";

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
}

export type HistoryState = "none" | "loading" | "loaded" | "error";

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
}

export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "offline";

export type PendingRequest =
  | { kind: "join"; room: string }
  | { kind: "history"; room: string; mode: "newest" | "older" }
  | { kind: "createRoom"; room: string }
  /** cursor: "" for the first page, else the next cursor of the page before. */
  | { kind: "listRooms"; cursor: string };

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
  | { type: "clearCreateError" };
