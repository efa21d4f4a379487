// ChatClient: the controller between the Connection, the reducer and the UI.
// It owns the state (a tiny external store for React's useSyncExternalStore),
// decides what to send (joins with sinceSeq on every (re)connect, history
// pages, typing), and feeds server events into the reducer.
//
// No React: tested with a fake WebSocket.

import { Connection, type AuthCheck, type SocketFactory } from "./connection";
import { Error_Code, MembershipEvent_Kind, RoomChanged_Kind } from "./gen/chat/v1/chat_pb";
import type { ClientEventInit, ServerEvent } from "./protocol";
import { validateRoomName } from "./api";
import { MembershipActions, validateNewRoomName } from "./client-members";
import { ProfileDirectory } from "./client-profiles";
import { joinArgs, oldestSeq, sameUser } from "./messages";
import type { Action, ChatState, PendingRequest, RoomState } from "./model";
import { isPublic } from "./roles";
import { LOBBY, initialState, reducer } from "./state";

/** A room of the user's own: direct, private, or one they have a role in. */
function isOwnRoom(r: RoomState): boolean {
  return !isPublic(r.name, r.info) || (r.info?.myRole ?? 0) !== 0;
}

export interface ChatClientOptions {
  me: string;
  /** A server admin (WhoAmI.admin), if known at start; see setAdmin. */
  admin?: boolean;
  url: string;
  checkAuth: () => Promise<AuthCheck>;
  /** The session is over (401): show the login screen. */
  onAuthLost: () => void;
  createSocket?: SocketFactory;
  now?: () => number;
  uuid?: () => string;
  random?: () => number;
  /** The room to show first (e.g. the one from the last visit). */
  initialRoom?: string;
  /** Remembers the room in view across reloads. */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  /** Public rooms joined automatically from the room list (for unread counts). */
  maxAutoJoin?: number;
  /** The user's own rooms (direct, private, or with a role) joined automatically. */
  maxAutoJoinOwn?: number;
  historyPageSize?: number;
  /** Rooms per page of the room list (the server allows 1-1000). */
  roomsPageSize?: number;
  roomsRefreshMs?: number;
  /** Our own typing goes inactive after this much idle time. */
  typingIdleMs?: number;
  /** Heartbeat; see Connection. */
  pingIntervalMs?: number;
}

export const LAST_ROOM_KEY = "chat.lastRoom";
/** Rooms per page of the room list, unless ChatClientOptions.roomsPageSize says otherwise. */
export const ROOMS_PAGE_SIZE = 100;

function defaultUuid(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // Fallback for non-secure contexts (plain http on a LAN address), where randomUUID is missing.
  const b = new Uint8Array(16);
  if (typeof crypto !== "undefined" && typeof crypto.getRandomValues === "function") crypto.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class ChatClient {
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private readonly conn: Connection;
  private readonly o: ChatClientOptions;
  private readonly now: () => number;
  private readonly uuid: () => string;
  private refSeq = 0;
  private myCreateRef = "";
  private expireTimer: ReturnType<typeof setInterval> | null = null;
  private roomsTimer: ReturnType<typeof setInterval> | null = null;
  private selfTyping: { room: string; active: boolean; lastSent: number; idle: ReturnType<typeof setTimeout> | null } = {
    room: "",
    active: false,
    lastSent: 0,
    idle: null,
  };
  private stopped = false;
  /** Direct messages, private rooms, invitations, moderation, user search. */
  readonly membership: MembershipActions;
  /** Display names, bot and deleted flags of the names on screen. */
  readonly profiles: ProfileDirectory;

  constructor(options: ChatClientOptions) {
    this.o = options;
    this.now = options.now ?? Date.now;
    this.uuid = options.uuid ?? defaultUuid;
    let first = options.initialRoom;
    if (!first && options.storage) {
      try {
        first = options.storage.getItem(LAST_ROOM_KEY) ?? undefined;
      } catch {
        /* storage disabled */
      }
    }
    if (!first || validateRoomName(first) !== "") first = LOBBY;
    this.state = { ...initialState(options.me, first), admin: options.admin ?? false };
    this.membership = new MembershipActions({
      send: (body, req) => this.sendRequest(body, req),
      getState: () => this.state,
      dispatch: (a) => this.dispatch(a),
    });
    this.profiles = new ProfileDirectory({
      send: (body, req) => this.sendRequest(body, req),
      getState: () => this.state,
      dispatch: (a) => this.dispatch(a),
      now: this.now,
    });
    this.conn = new Connection({
      url: options.url,
      createSocket: options.createSocket,
      random: options.random,
      pingIntervalMs: options.pingIntervalMs,
      checkAuth: options.checkAuth,
      onOpen: () => this.handleOpen(),
      onEvents: (events) => this.handleEvents(events),
      onDown: (info) => {
        this.clearSelfTyping();
        this.dispatch({ type: "connection", status: "reconnecting", detail: info.detail });
      },
      onAuthLost: () => this.authLost(),
    });
  }

  // ---- external store ------------------------------------------------------

  getState = (): ChatState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private dispatch(action: Action): void {
    const next = reducer(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const fn of Array.from(this.listeners)) fn();
  }

  // ---- lifecycle -----------------------------------------------------------

  start(): void {
    this.conn.start();
    this.expireTimer = setInterval(() => this.dispatch({ type: "expireTyping", now: this.now() }), 1000);
    this.roomsTimer = setInterval(() => {
      if (!this.conn.isOpen) return;
      this.listRooms("");
    }, this.o.roomsRefreshMs ?? 30_000);
  }

  /** Closes the socket for good (logout or unmount). */
  stop(): void {
    this.stopped = true;
    this.clearSelfTyping();
    this.conn.stop();
    if (this.expireTimer !== null) clearInterval(this.expireTimer);
    if (this.roomsTimer !== null) clearInterval(this.roomsTimer);
    this.expireTimer = this.roomsTimer = null;
  }

  /** Skips the reconnect wait. */
  reconnectNow(): void {
    this.conn.reconnectNow();
  }

  private authLost(): void {
    this.stop();
    this.dispatch({ type: "connection", status: "offline", detail: "Signed out" });
    this.o.onAuthLost();
  }

  // ---- sending helpers -----------------------------------------------------

  private nextRef(): string {
    this.refSeq += 1;
    return `r${this.refSeq}`;
  }

  /** Sends an event with a fresh ref and records it in the state. */
  private request(body: ClientEventInit, record: (ref: string) => Action): boolean {
    const ref = this.nextRef();
    if (!this.conn.send({ ...body, ref })) return false;
    this.dispatch(record(ref));
    return true;
  }

  /** Sends an event with a fresh ref and records the request it makes. */
  private sendRequest(body: ClientEventInit, request: PendingRequest): boolean {
    return this.request(body, (ref) => ({ type: "requestSent", ref, request }));
  }

  /** The user is (or is not) a server admin: moderation controls follow. */
  setAdmin(admin: boolean): void {
    this.dispatch({ type: "setAdmin", admin });
  }

  private join(room: RoomState | string): void {
    const r = typeof room === "string" ? (this.state.rooms[room] ?? null) : room;
    const args = r ? joinArgs(r) : { room: room as string };
    const sinceSeq = args.sinceSeq === undefined ? undefined : BigInt(args.sinceSeq);
    this.request({ event: { case: "join", value: { room: args.room, sinceSeq } } }, (ref) => ({
      type: "joinSent",
      room: args.room,
      ref,
    }));
  }

  /**
   * Asks for one page of the room list: the first ("") on connect and on
   * refresh, so thousands of rooms are never re-fetched each time.
   */
  private listRooms(cursor: string): void {
    const limit = this.o.roomsPageSize ?? ROOMS_PAGE_SIZE;
    this.request({ event: { case: "listRooms", value: { limit, cursor } } }, (ref) => ({
      type: "listRoomsSent",
      ref,
      cursor,
    }));
  }

  /** Loads the next page of the room list, if there is one and none is on its way. */
  loadMoreRooms(): void {
    const s = this.state;
    if (!this.conn.isOpen || s.roomsCursor === "") return;
    if (Object.values(s.requests).some((r) => r.kind === "listRooms" && r.cursor !== "")) return;
    this.listRooms(s.roomsCursor);
  }

  private requestNewest(room: string): void {
    const limit = this.o.historyPageSize ?? 50;
    this.request({ event: { case: "history", value: { room, limit } } }, (ref) => ({
      type: "historySent",
      room,
      ref,
      mode: "newest",
    }));
  }

  // ---- connection events ---------------------------------------------------

  private handleOpen(): void {
    this.dispatch({ type: "connection", status: "open" });
    const s = this.state;
    // Current room first, so its history starts loading soonest; then every
    // room we were in, each resuming from the last seq we hold.
    const order = [s.current, LOBBY, ...Object.keys(s.rooms)];
    const seen = new Set<string>();
    for (const name of order) {
      if (seen.has(name)) continue;
      seen.add(name);
      const r = this.state.rooms[name];
      if (!r) continue;
      if (name === s.current || name === LOBBY || r.wanted) this.join(r);
    }
    this.listRooms("");
    this.membership.loadInvites();
    this.profiles.onOpen();
  }

  private handleEvents(events: ServerEvent[]): void {
    const before = this.state;
    this.dispatch({ type: "server", events, now: this.now() });
    for (const ev of events) {
      switch (ev.type) {
        case "joined": {
          const r = this.state.rooms[ev.room];
          if (r && ev.room === this.state.current && r.history === "none") this.requestNewest(ev.room);
          // The member list of the room in view, fresh on every (re)join.
          if (r && ev.room === this.state.current) this.membership.loadMembers(ev.room);
          break;
        }
        case "rooms":
          this.autoJoin();
          break;
        case "room": {
          const req = ev.ref ? before.requests[ev.ref] : undefined;
          const made = req?.kind === "action" && (req.key === "openDirect" || req.key === "createRoom");
          if ((ev.ref !== "" && ev.ref === this.myCreateRef) || made) {
            if (ev.ref === this.myCreateRef) this.myCreateRef = "";
            this.selectRoom(ev.room.name);
          }
          break;
        }
        case "roomChanged":
          // A room we may now see (created, or we became a member): join it for its unread count.
          if (ev.kind === RoomChanged_Kind.CREATED) this.autoJoin();
          break;
        case "membership": {
          if (!sameUser(ev.user, this.state.me)) break;
          const req = ev.ref ? before.requests[ev.ref] : undefined;
          if (ev.kind === MembershipEvent_Kind.JOINED) {
            // Accepted here: go in. Accepted in another tab: join for the unread count.
            if (req?.kind === "action" && req.key.startsWith("respond:")) this.selectRoom(ev.room);
            else this.autoJoin();
          }
          break;
        }

        case "error": {
          const req = ev.ref ? before.requests[ev.ref] : undefined;
          if (req?.kind === "join" && req.room === this.state.current && req.room !== LOBBY) {
            // The room in view does not exist (any more): go back to the lobby.
            this.selectRoom(LOBBY);
          }
          if (req?.kind === "createRoom" && ev.code === Error_Code.ALREADY_EXISTS) {
            // It is there already: just go in.
            this.myCreateRef = "";
            this.dispatch({ type: "clearCreateError" });
            this.selectRoom(req.room);
          }
          if (ev.code === Error_Code.UNAUTHENTICATED) {
            this.o.checkAuth().then(
              (res) => {
                if (res === "unauthenticated" && !this.stopped) this.authLost();
              },
              () => {},
            );
          }
          break;
        }
        default:
          break;
      }
    }
    this.leftCurrent(before);
  }

  /** After events that took the user out of the room in view (kicked, left, deleted): back to the lobby. */
  private leftCurrent(before: ChatState): void {
    const cur = this.state.current;
    if (cur === LOBBY) return;
    const r = this.state.rooms[cur];
    const was = before.rooms[cur];
    const dropped = !r && !!was;
    const thrownOut = !!r && !!was && (was.joined || was.joinRequested) && !r.joined && !r.joinRequested && r.error !== "";
    if (dropped || thrownOut) this.selectRoom(LOBBY);
  }

  /** Joins the listed rooms we are not in yet (for their unread counts). */
  private autoJoin(): void {
    // The user's own rooms (direct, private, or with a role) have a cap of their own,
    // so a new direct message is counted however many public rooms are listed.
    const max = { own: this.o.maxAutoJoinOwn ?? 200, other: this.o.maxAutoJoin ?? 50 };
    const rooms = Object.values(this.state.rooms);
    const kind = (r: RoomState) => (isOwnRoom(r) ? "own" : "other");
    const count = { own: 0, other: 0 };
    for (const r of rooms) if (r.wanted) count[kind(r)] += 1;
    const candidates = rooms
      .filter((r) => r.info !== null && !r.wanted && !r.joined && !r.joinRequested && r.error === "")
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const r of candidates) {
      const k = kind(r);
      if (count[k] >= max[k]) continue;
      this.join(r);
      count[k] += 1;
    }
  }

  // ---- user actions --------------------------------------------------------

  selectRoom(name: string): void {
    if (name === "") return;
    if (this.selfTyping.room !== name) this.stopTyping();
    this.dispatch({ type: "select", room: name });
    try {
      this.o.storage?.setItem(LAST_ROOM_KEY, name);
    } catch {
      /* storage disabled */
    }
    const r = this.state.rooms[name];
    if (!this.conn.isOpen || !r) return;
    if (!r.joined && !r.joinRequested) this.join(r);
    else if (r.joined && (r.history === "none" || r.history === "error")) this.requestNewest(name);
    if (r.joined && r.roster.status === "none") this.membership.loadMembers(name);
  }

  /** Sends text to the room in view (optimistic). Returns false if there was nothing to send. */
  sendMessage(text: string, room = this.state.current): boolean {
    const body = text.trim();
    if (body === "") return false;
    this.stopTyping();
    const clientMsgId = this.uuid();
    this.dispatch({ type: "localSend", room, text: body, clientMsgId, now: this.now() });
    if (!this.conn.send({ event: { case: "send", value: { room, text: body, clientMsgId } } })) {
      this.dispatch({ type: "sendFailed", clientMsgId, error: "you are offline" });
    }
    return true;
  }

  /** Resends a failed message with the SAME clientMsgId: the server stores it at most once. */
  retry(clientMsgId: string): void {
    let found: { room: string; text: string } | null = null;
    for (const r of Object.values(this.state.rooms)) {
      const m = r.pending.find((x) => x.clientMsgId === clientMsgId);
      if (m) {
        found = { room: m.room, text: m.text };
        break;
      }
    }
    if (!found) return;
    this.dispatch({ type: "retrySend", clientMsgId });
    const value = { room: found.room, text: found.text, clientMsgId };
    if (!this.conn.send({ event: { case: "send", value } })) {
      this.dispatch({ type: "sendFailed", clientMsgId, error: "you are offline" });
    }
  }

  /** Asks for the page of messages older than the oldest one held. */
  loadOlder(room = this.state.current): void {
    const r = this.state.rooms[room];
    if (!r || r.loadingOlder || !r.hasMoreOlder || r.history !== "loaded") return;
    const beforeSeq = oldestSeq(r);
    if (beforeSeq <= 1) return;
    const limit = this.o.historyPageSize ?? 50;
    const cursor = { case: "beforeSeq", value: BigInt(beforeSeq) } as const;
    this.request({ event: { case: "history", value: { room, cursor, limit } } }, (ref) => ({
      type: "historySent",
      room,
      ref,
      mode: "older",
    }));
  }

  /** Returns an error text, or "" when the request went out. */
  createRoom(name: string): string {
    const n = name.trim();
    const invalid = validateNewRoomName(n);
    if (invalid) return invalid;
    const ref = this.nextRef();
    if (!this.conn.send({ ref, event: { case: "createRoom", value: { name: n } } })) return "You are offline";
    this.myCreateRef = ref;
    this.dispatch({ type: "createRoomSent", name: n, ref });
    return "";
  }

  clearCreateError(): void {
    this.dispatch({ type: "clearCreateError" });
  }

  dismissNotice(): void {
    this.dispatch({ type: "dismissNotice" });
  }

  /** Call on every edit of the composer: typing goes active, then inactive after idle time. */
  inputActivity(room = this.state.current): void {
    const t = this.selfTyping;
    const now = this.now();
    if (t.active && t.room !== room) this.stopTyping();
    if (!t.active || now - t.lastSent > 3000) {
      if (this.conn.send({ event: { case: "typing", value: { room, active: true } } })) {
        t.active = true;
        t.room = room;
        t.lastSent = now;
      }
    }
    if (t.idle !== null) clearTimeout(t.idle);
    t.idle = setTimeout(() => this.stopTyping(), this.o.typingIdleMs ?? 3000);
  }

  /** Typing inactive now (on send, on room switch, on blur of an empty composer). */
  stopTyping(): void {
    const t = this.selfTyping;
    if (t.idle !== null) clearTimeout(t.idle);
    t.idle = null;
    if (t.active) this.conn.send({ event: { case: "typing", value: { room: t.room, active: false } } });
    t.active = false;
  }

  private clearSelfTyping(): void {
    const t = this.selfTyping;
    if (t.idle !== null) clearTimeout(t.idle);
    t.idle = null;
    t.active = false;
  }
}
