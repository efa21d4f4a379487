// ServerEvents, messages and rooms for tests, built through the generated code
// and the protocol layer: every field not given has its default, also the
// fields chat.proto gains later, so fixtures keep compiling after `npm run gen`.

import { create, fromJson } from "@bufbuild/protobuf";
import { MessageSchema, RoomSchema, ServerEventSchema } from "../gen/chat/v1/chat_pb";
import {
  normalizeMessage,
  normalizeRoom,
  normalizeServerEvent,
  type Message,
  type RoomInfo,
  type ServerEvent,
} from "../protocol";

type EventOf<T extends ServerEvent["type"]> = Extract<ServerEvent, { type: T }>;

/** An event of this type as parseServerFrame gives it, with `fields` set over the defaults. */
export function makeEvent<T extends Exclude<ServerEvent["type"], "unknown">>(
  type: T,
  fields: Partial<Omit<EventOf<T>, "type">> = {},
): EventOf<T> {
  const blank = normalizeServerEvent(fromJson(ServerEventSchema, { [type]: {} }));
  if (blank.type !== type) throw new Error(`makeEvent: "${type}" is not a ServerEvent case`);
  return { ...blank, ...fields } as EventOf<T>;
}

export function makeMessage(fields: Partial<Message> = {}): Message {
  return { ...normalizeMessage(create(MessageSchema)), ...fields };
}

export function makeRoom(fields: Partial<RoomInfo> = {}): RoomInfo {
  return { ...normalizeRoom(create(RoomSchema)), ...fields };
}
