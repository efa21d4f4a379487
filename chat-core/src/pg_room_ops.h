// The PostgreSQL store's room, message and membership statements besides the
// append (pg_write_batch.cc) and the start-up loads: the writes (store.h:
// CreateRoomAs, WriteMembers, UpdateRoom, DeleteRoom, DeleteMessage,
// SetUserDisabled) as PgWriteOps for the writer's group commit
// (pg_write_batch.h), and the reads (history, member rows, user search) for a
// reader connection. Each
// write that takes a note sends it on chat_room_changes inside its own
// statements, so it is heard exactly when the write commits.
//
// Threading: pure builders; an op's `complete` runs on the writer thread,
// the reads on the caller's (a reader thread). Lifetime: stateless.
#ifndef CHAT_CORE_SRC_PG_ROOM_OPS_H_
#define CHAT_CORE_SRC_PG_ROOM_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pg_conn.h"
#include "pg_write_batch.h"
#include "store.h"

namespace chat::core {

// The first error among an op's results, else the commit's status; a
// deadlock PostgreSQL broke by failing the write (ABORTED) is UNAVAILABLE.
absl::Status PgOpStatus(std::vector<absl::StatusOr<PgResult>>& results, const absl::Status& commit);
// INVALID_ARGUMENT if a text of a write holds U+0000 (PostgreSQL's text cannot).
absl::Status CheckPgText(const std::vector<const std::string*>& texts);
// INVALID_ARGUMENT for a note that pg_notify would refuse (store.h's
// kMaxRoomNoteBytes, or U+0000).
absl::Status CheckPgNote(const std::string& note);

PgWriteOp PgCreateRoomOp(const RoomRecord& spec, std::vector<MemberRecord> members, int64_t now_ms,
                         const RoomQuota& quota, StoreCallback<RoomRecord> done);
PgWriteOp PgWriteMembersOp(const std::vector<MemberWrite>& writes, const std::string& note, StoreCallback<bool> done);
PgWriteOp PgUpdateRoomOp(int64_t room_id, const RoomUpdate& update, const std::string& note,
                         StoreCallback<RoomRecord> done);
PgWriteOp PgDeleteRoomOp(int64_t room_id, const std::string& note, StoreCallback<bool> done);
PgWriteOp PgDeleteMessageOp(int64_t room_id, int64_t seq, const std::string& only_author, const std::string& note,
                            StoreCallback<StoredMessage> done);
PgWriteOp PgSetUserDisabledOp(const std::string& username_key, bool disabled,
                              StoreCallback<std::vector<std::string>> done);

// One page of history (store.h's ReadHistory).
absl::StatusOr<HistoryPage> ReadPgHistory(PgConn& conn, const HistoryQuery& q);
// The member rows of `room_id` (0: of every room), by room then username.
absl::StatusOr<std::vector<MemberRecord>> ReadPgMembers(PgConn& conn, int64_t room_id);
absl::StatusOr<std::vector<std::string>> SearchPgUsers(PgConn& conn, const std::string& prefix_key, int limit);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_ROOM_OPS_H_
