// The payloads of the cluster's PostgreSQL notifications (LISTEN/NOTIFY),
// read and written here and nowhere else. They are JSON (a notification is
// text of at most 8000 bytes):
//   chat_messages  {"r": room_id, "m": [[seq, author, text, sent_at_ms,
//                  client_msg_id], [seq] (too big: read it from the table)...]},
//                  a bot's message with its AccountKind's number as a sixth
//                  element (schema 5; five elements: a user's),
//                  or {"r": room_id, "to": seq} (many: read up to seq from the
//                  table), written by chat_append (pg_schema.cc);
//   chat_rooms     [id, name, created_at_ms, created_by, kind (RoomKind's
//                  number), topic], a new room (written by the store's room
//                  creation, pg_room_ops.cc); [id, name, created_at_ms,
//                  created_by] alone (a node of schema version 3): a public
//                  room without a topic;
//   chat_room_changes  the writer's own note (store.h), passed on as it is
//                  and never parsed here;
//   chat_sessions  the revoked token's hash, in hex;
//   chat_presence  [node, room_id, user, 1 (present) or 0 (gone)], or [node]
//                  alone: that node is gone;
//   chat_typing    [node, room_id, user, 1 (typing) or 0].
//
// Threading: pure functions. Lifetime: stateless.
#ifndef CHAT_CORE_SRC_PG_NOTIFY_CODEC_H_
#define CHAT_CORE_SRC_PG_NOTIFY_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cluster.h"
#include "store.h"

namespace chat::core {

struct MessagesNote {
  int64_t room_id = 0;
  std::vector<StoredMessage> messages;
  // The room has messages up to this seq that did not come inline: read them
  // from the store (0: none).
  int64_t fetch_up_to = 0;
};
absl::StatusOr<MessagesNote> ParseMessagesNote(absl::string_view payload);

// A chat_rooms payload: the room as created (last_seq 0, not archived).
absl::StatusOr<RoomRecord> ParseRoomNote(absl::string_view payload);

struct PresenceNote {
  PresenceRecord who;
  bool present = false;
  // [node] alone: the node is gone.
  bool node_gone = false;
};
std::string PresenceNotePayload(const PresenceRecord& who, bool present);
std::string NodeGonePayload(const std::string& node);
absl::StatusOr<PresenceNote> ParsePresenceNote(absl::string_view payload);
// Typing notes share the presence note's shape ("present" is "typing").
std::string TypingNotePayload(const PresenceRecord& who, bool active);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_NOTIFY_CODEC_H_
