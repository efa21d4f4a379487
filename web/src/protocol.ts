// chat.v1 over WebSocket, the browser's side: a thin layer over the code that
// protoc-gen-es generates from proto/chat/v1/chat.proto into src/gen/
// (`npm run gen`; see README.md). The generated code reads and writes the
// proto3 canonical JSON; this layer adds only what the UI wants on top:
//
//  - a server frame holds ONE OR MORE ServerEvents separated by "\n";
//  - int64 values (seq, latestSeq, nonce) are JS numbers (protobuf-es gives
//    bigint; seqs stay far below 2^53), timestamps RFC 3339 strings ("" when
//    the server sent none);
//  - a ServerEvent is one flat object tagged by `type` (the name of its
//    oneof case), without protobuf-es's `$typeName`, for the reducer's switch.
//
// Every other field is passed on as generated (scalars and lists fully
// populated, enums as the generated TypeScript enums), so a field added to
// chat.proto reaches the UI after `npm run gen` with nothing to change here.
//
// No React, no DOM: this module is pure and unit-tested.

import { create, fromJson, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import * as pb from "./gen/chat/v1/chat_pb";

// ---------------------------------------------------------------------------
// Shapes (generated fields, with the UI's numbers and strings)

/** A generated message's fields, without protobuf-es's own `$typeName` and `$unknown`. */
type Fields<M> = Omit<M, "$typeName" | "$unknown">;

/** M's fields, with the ones named in R changed to R's types. */
type With<M, R> = Omit<Fields<M>, keyof R> & R;

export type Message = With<pb.Message, { seq: number; sentAt: string }>;

export type RoomInfo = With<pb.Room, { lastSeq: number; createdAt: string }>;

export type Member = Fields<pb.Member>;

/** A user's profile (GetUsers): display name, kind (bot or user), deleted. */
export type Profile = With<pb.UserProfile, { createdAt: string }>;

/** A pending invitation of the user (ListInvites, or an INVITED event about them). */
export type Invite = { room: RoomInfo; invitedBy: string; invitedAt: string };

/** A MembershipEvent; roomInfo is null when the server sent none (it does on INVITED and JOINED). */
export type Membership = With<pb.MembershipEvent, { roomInfo: RoomInfo | null }>;

type Event<T extends string, F> = { type: T; ref: string } & F;

/** One ServerEvent as the UI sees it: `type` is the name of the event's oneof case. */
export type ServerEvent =
  | Event<"joined", With<pb.Joined, { latestSeq: number }>>
  | Event<"left", Fields<pb.Left>>
  | Event<"message", { message: Message }>
  | Event<"member", Fields<pb.MemberEvent>>
  | Event<"typing", Fields<pb.TypingEvent>>
  | Event<"ack", With<pb.Ack, { seq: number }>>
  | Event<"error", Fields<pb.Error>>
  | Event<"pong", With<pb.Pong, { nonce: number }>>
  | Event<"history", With<pb.GetHistoryResponse, { messages: Message[] }>>
  | Event<"rooms", With<pb.ListRoomsResponse, { rooms: RoomInfo[] }>>
  | Event<"room", { room: RoomInfo }>
  // A room was created, updated or deleted (on any chat-core node).
  | Event<"roomChanged", { kind: pb.RoomChanged_Kind; room: RoomInfo }>
  // A change of a room's stored membership (also the answer to invite, kick, ...).
  | Event<"membership", Membership>
  | Event<"messageDeleted", With<pb.MessageDeleted, { seq: number }>>
  | Event<"members", With<pb.ListMembersResponse, { members: Member[] }>>
  | Event<"invites", { invites: Invite[] }>
  | Event<"users", Fields<pb.SearchUsersResponse>>
  | Event<"roomDeleted", Fields<pb.DeleteRoomResponse>>
  // The answer to getUsers: the profiles of the names that exist.
  | Event<"profiles", { users: Profile[] }>
  // The session's token was renewed while in use: it now expires later.
  | Event<"sessionRenewed", { expiresAt: string }>
  // An event this UI does not know (e.g. one a newer server added): ignored.
  | Event<"unknown", { raw: pb.ServerEvent }>;

/**
 * What the UI sends: the generated ClientEvent's init shape, e.g.
 * `{ ref, event: { case: "join", value: { room, sinceSeq: BigInt(seq) } } }`.
 */
export type ClientEventInit = MessageInitShape<typeof pb.ClientEventSchema>;

// ---------------------------------------------------------------------------
// Client → server

/**
 * Encodes one ClientEvent as the JSON text of one WebSocket frame, in the
 * canonical form the server expects: lowerCamelCase names, int64 as strings,
 * enums as names, default values omitted (an unset `optional` field too; a
 * set one is written even when 0). JSON.stringify escapes newlines, so the
 * frame never holds a raw one.
 */
export function encodeClientEvent(ev: ClientEventInit): string {
  return toJsonString(pb.ClientEventSchema, create(pb.ClientEventSchema, ev));
}

// ---------------------------------------------------------------------------
// Server → client

/** A newer server may send fields this UI does not know: skip them. */
const READ_OPTIONS = { ignoreUnknownFields: true } as const;

/** Splits one server frame into its non-empty lines (one JSON event each). */
export function splitFrame(frame: string): string[] {
  const out: string[] = [];
  for (const line of frame.split("\n")) {
    const t = line.trim();
    if (t !== "") out.push(t);
  }
  return out;
}

/** The fields of a generated message, without `$typeName` (and `$unknown`, which JSON never sets). */
function fields<M extends { $typeName: string }>(m: M): Fields<M> {
  const { $typeName: _, ...rest } = m;
  return rest as Fields<M>;
}

/** RFC 3339 (as Date.toISOString writes it, milliseconds), "" for an absent timestamp. */
export function timeString(t: Timestamp | undefined): string {
  return t === undefined ? "" : timestampDate(t).toISOString();
}

export function normalizeMessage(m: pb.Message): Message {
  return { ...fields(m), seq: Number(m.seq), sentAt: timeString(m.sentAt) };
}

export function normalizeRoom(r: pb.Room): RoomInfo {
  return { ...fields(r), lastSeq: Number(r.lastSeq), createdAt: timeString(r.createdAt) };
}

export function normalizeMembership(m: pb.MembershipEvent): Membership {
  return { ...fields(m), roomInfo: m.roomInfo ? normalizeRoom(m.roomInfo) : null };
}

export function normalizeProfile(p: pb.UserProfile): Profile {
  return { ...fields(p), createdAt: timeString(p.createdAt) };
}

function normalizeInvite(i: pb.Invite): Invite {
  return {
    room: normalizeRoom(i.room ?? create(pb.RoomSchema)),
    invitedBy: i.invitedBy,
    invitedAt: timeString(i.invitedAt),
  };
}

/** The UI's form of one decoded ServerEvent. */
export function normalizeServerEvent(ev: pb.ServerEvent): ServerEvent {
  const ref = ev.ref;
  const e = ev.event;
  switch (e.case) {
    case "joined":
      return { ...fields(e.value), type: e.case, ref, latestSeq: Number(e.value.latestSeq) };
    case "left":
      return { ...fields(e.value), type: e.case, ref };
    case "member":
      return { ...fields(e.value), type: e.case, ref };
    case "typing":
      return { ...fields(e.value), type: e.case, ref };
    case "error":
      return { ...fields(e.value), type: e.case, ref };
    case "message":
      return { type: e.case, ref, message: normalizeMessage(e.value) };
    case "ack":
      return { ...fields(e.value), type: e.case, ref, seq: Number(e.value.seq) };
    case "pong":
      return { ...fields(e.value), type: e.case, ref, nonce: Number(e.value.nonce) };
    case "history":
      return { ...fields(e.value), type: e.case, ref, messages: e.value.messages.map(normalizeMessage) };
    case "rooms":
      return { ...fields(e.value), type: e.case, ref, rooms: e.value.rooms.map(normalizeRoom) };
    case "room":
      return { type: e.case, ref, room: normalizeRoom(e.value) };
    case "roomChanged":
      return { type: e.case, ref, kind: e.value.kind, room: normalizeRoom(e.value.room ?? create(pb.RoomSchema)) };
    case "membership":
      return { ...normalizeMembership(e.value), type: e.case, ref };
    case "messageDeleted":
      return { ...fields(e.value), type: e.case, ref, seq: Number(e.value.seq) };
    case "members":
      return { ...fields(e.value), type: e.case, ref, members: e.value.members.map(fields) };
    case "invites":
      return { type: e.case, ref, invites: e.value.invites.map(normalizeInvite) };
    case "users":
      return { ...fields(e.value), type: e.case, ref };
    case "roomDeleted":
      return { ...fields(e.value), type: e.case, ref };
    case "profiles":
      return { type: e.case, ref, users: e.value.users.map(normalizeProfile) };
    case "sessionRenewed":
      return { type: e.case, ref, expiresAt: timeString(e.value.expiresAt) };
    default:
      return { type: "unknown", ref, raw: ev };
  }
}

/**
 * Parses one server frame into its events, in order. A line the generated
 * decoder refuses (not JSON, or a value of the wrong type) is reported through
 * onBadLine (if given) and skipped; the other events of the frame are still
 * delivered. Unknown fields and enum names are ignored.
 *
 * JSON.parse + fromJson rather than fromJsonString: the latter also scans the
 * text for duplicate keys (which the server never writes) in JavaScript, which
 * adds a measurable share to every event (README.md, "Decode cost").
 */
export function parseServerFrame(frame: string, onBadLine?: (line: string, err: unknown) => void): ServerEvent[] {
  const events: ServerEvent[] = [];
  for (const line of splitFrame(frame)) {
    try {
      events.push(normalizeServerEvent(fromJson(pb.ServerEventSchema, JSON.parse(line), READ_OPTIONS)));
    } catch (err) {
      onBadLine?.(line, err);
    }
  }
  return events;
}

/** ws:// or wss:// URL of the bridge's /ws endpoint for a page location. */
export function webSocketUrl(loc: { protocol: string; host: string }, path = "/ws"): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}${path}`;
}
