// What the chat-state tests share: a logged-in user, messages and server
// events to feed the reducer, and shorthands to apply them.
import type { Message, ServerEvent } from "../protocol";
import type { Action, ChatState } from "../model";
import { initialState, reducer } from "../state";
import { visibleMessages } from "../messages";
import { makeEvent, makeMessage } from "./events";

export const ME = "alice";

export function msg(seq: number, over: Partial<Message> = {}): Message {
  return makeMessage({
    room: "lobby",
    seq,
    author: "bob",
    text: `m${seq}`,
    sentAt: `2026-11-25T06:40:${String(seq % 60).padStart(2, "0")}Z`,
    ...over,
  });
}

export const ev = {
  message: (m: Message): ServerEvent => makeEvent("message", { message: m }),
  joined: (room: string, latestSeq: number, members: string[] = [ME], ref = ""): ServerEvent =>
    makeEvent("joined", { ref, room, members, latestSeq, memberCount: members.length }),
  ack: (clientMsgId: string, seq: number, room = "lobby", duplicate = false): ServerEvent =>
    makeEvent("ack", { room, clientMsgId, seq, duplicate }),
  history: (room: string, messages: Message[], hasMore: boolean, ref = ""): ServerEvent =>
    makeEvent("history", { ref, room, messages, hasMore }),
};

export function apply(s: ChatState, ...actions: Action[]): ChatState {
  return actions.reduce(reducer, s);
}

export function server(s: ChatState, ...events: ServerEvent[]): ChatState {
  return reducer(s, { type: "server", events, now: 1000 });
}

export function open(): ChatState {
  return reducer(initialState(ME), { type: "connection", status: "open" });
}

export function seqs(s: ChatState, room = "lobby"): (number | null)[] {
  return visibleMessages(s.rooms[room]).map((m) => m.seq);
}
