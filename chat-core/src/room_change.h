// RoomChange: one committed change of a room's membership, settings or
// messages, as the node that made it tells every node (itself included): the
// event the members see, the room's id (names may be reused after a delete),
// and an id so a node that applied its own change at once skips the copy the
// cluster brings back. It travels as the `note` of the store write
// (store.h; PostgreSQL channel chat_room_changes), in text form:
//   <id, 16 hex digits>:<room id>:<ServerEvent, base64>
//
// Threading: plain values and pure functions.
#ifndef CHAT_CORE_SRC_ROOM_CHANGE_H_
#define CHAT_CORE_SRC_ROOM_CHANGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chat/v1/chat.pb.h"

namespace chat::core {

struct RoomChange {
  uint64_t id = 0;
  int64_t room_id = 0;
  // membership, room_changed or message_deleted.
  chat::v1::ServerEvent event;
};

// A fresh random id (never 0).
uint64_t NewRoomChangeId();
std::string EncodeRoomChange(const RoomChange& change);
// INVALID_ARGUMENT for a note that is not one.
absl::StatusOr<RoomChange> DecodeRoomChange(absl::string_view note);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ROOM_CHANGE_H_
