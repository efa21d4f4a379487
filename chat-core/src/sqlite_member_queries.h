// The SQLite store's queries for private rooms, membership and moderation
// (store.h: CreateRoomAs, the member rows, UpdateRoom, DeleteRoom,
// DeleteMessage, SearchUsers, SetUserDisabled), beside sqlite_queries.h's and
// in its shape: one function per operation over a connection. Writes run
// inside the writer's open batch transaction, each in a savepoint of its own,
// so a write that fails half-way leaves nothing behind while the rest of the
// batch commits.
#ifndef CHAT_CORE_SRC_SQLITE_MEMBER_QUERIES_H_
#define CHAT_CORE_SRC_SQLITE_MEMBER_QUERIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sqlite_db.h"
#include "sqlite_queries.h"
#include "store.h"

namespace chat::core {

// On the writer connection, inside its open transaction.
absl::StatusOr<RoomRecord> CreateRoomAsOn(WriterState& w, const RoomRecord& spec, std::vector<MemberRecord>& members,
                                          int64_t now_ms, const RoomQuota& quota);
absl::StatusOr<bool> WriteMembersOn(SqliteConnection& c, const std::vector<MemberWrite>& writes);
absl::StatusOr<RoomRecord> UpdateRoomOn(WriterState& w, int64_t room_id, const RoomUpdate& update);
absl::StatusOr<bool> DeleteRoomOn(WriterState& w, int64_t room_id);
absl::StatusOr<StoredMessage> DeleteMessageOn(SqliteConnection& c, int64_t room_id, int64_t seq,
                                              const std::string& only_author);
absl::StatusOr<std::vector<std::string>> SetUserDisabledOn(SqliteConnection& c, const std::string& username_key,
                                                           bool disabled);

// Reads: on a reader connection (or the writer's, for ":memory:").
// The member rows of `room_id` (0: of every room), by room then username.
absl::StatusOr<std::vector<MemberRecord>> ReadMembersOn(SqliteConnection& c, int64_t room_id);
absl::StatusOr<std::vector<std::string>> SearchUsersOn(SqliteConnection& c, const std::string& prefix_key, int limit);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_MEMBER_QUERIES_H_
