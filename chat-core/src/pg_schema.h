// The PostgreSQL schema of chat-core and its versioned migrations. Several
// nodes may start at once against one database: migrations run under a
// session-level advisory lock, one node at a time, each in its own
// transaction, and a database newer than this build is refused.
//
// Threading: Migrate runs on the caller's thread with the caller's connection.
// Lifetime: stateless.
#ifndef CHAT_CORE_SRC_PG_SCHEMA_H_
#define CHAT_CORE_SRC_PG_SCHEMA_H_

#include "absl/status/status.h"
#include <vector>

#include "absl/status/statusor.h"
#include "pg_conn.h"
#include "store.h"

namespace chat::core {

// The schema version this build creates and understands.
int PgSchemaVersion();

// Brings the database to `target` (the latest by default). FAILED_PRECONDITION
// for a database newer than this build; the failing step's error otherwise.
absl::Status MigratePg(PgConn& conn, int target = PgSchemaVersion());

// Every room with its newest seq, kind, topic and archived, in creation order
// (what LoadRooms and the cluster's seq check, ClusterEvents::OnRoomSeqs, get).
absl::StatusOr<std::vector<RoomRecord>> LoadPgRooms(PgConn& conn);
// The room in columns col.. of `row`: id, name, created_at_ms, created_by,
// last_seq, kind, topic, archived.
RoomRecord PgRoomRow(const PgResult& r, int row, int col);

// Notification channels (LISTEN/NOTIFY) written by the schema's functions and
// read by the cluster bus.
inline constexpr char kPgMessagesChannel[] = "chat_messages";
inline constexpr char kPgRoomsChannel[] = "chat_rooms";
inline constexpr char kPgSessionsChannel[] = "chat_sessions";
inline constexpr char kPgPresenceChannel[] = "chat_presence";
inline constexpr char kPgTypingChannel[] = "chat_typing";
// The notes of the store's membership and moderation writes (store.h), as the
// writer gave them; read by ClusterEvents::OnRoomChange.
inline constexpr char kPgRoomChangesChannel[] = "chat_room_changes";

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_SCHEMA_H_
