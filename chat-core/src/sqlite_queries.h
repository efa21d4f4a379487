// The SQLite store's queries: each Store operation as one function over a
// connection, so the store itself (sqlite_store.cc) is only threads and queues.
// Write functions run inside the writer's open transaction; read functions on
// any connection.
#ifndef CHAT_CORE_SRC_SQLITE_QUERIES_H_
#define CHAT_CORE_SRC_SQLITE_QUERIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sqlite_db.h"
#include "store.h"

namespace chat::core {

// The write connection and the per-room seq counters that go with it.
// Threading: confined to the writer thread (and the store's Init before that
// thread starts). Lifetime: owned by the SqliteStore.
class WriterState {
 public:
  SqliteConnection conn;
  // room id -> last seq (the counter of committed + in-batch appends).
  absl::flat_hash_map<int64_t, int64_t> last_seq;
  // Counters as they were before the batch, for rollback.
  absl::flat_hash_map<int64_t, int64_t> batch_saved;

  void SaveCounter(int64_t room_id) {
    if (!batch_saved.contains(room_id)) batch_saved[room_id] = last_seq[room_id];
  }
};

// Fills w.last_seq with every room's highest stored seq (0 for an empty room).
absl::Status LoadSeqCounters(WriterState& w);

// On the writer connection, inside its open transaction.
absl::StatusOr<std::vector<RoomRecord>> LoadRoomsOn(WriterState& w);
absl::StatusOr<std::vector<SessionRecord>> LoadSessionsOn(SqliteConnection& c, int64_t now_ms);
// A room of spec's name, created_by, kind and topic (store.h's CreateRoomAs,
// without its members).
absl::StatusOr<RoomRecord> CreateRoomOn(WriterState& w, const RoomRecord& spec, int64_t now_ms,
                                        const RoomQuota& quota);
// Moves req.text into the result.
absl::StatusOr<AppendResult> AppendOn(WriterState& w, AppendRequest&& req);
absl::StatusOr<UserRecord> CreateUserOn(SqliteConnection& c, const std::string& username,
                                        const std::string& username_key,
                                        const std::string& password_hash, int64_t now_ms);
absl::StatusOr<bool> CreateSessionOn(SqliteConnection& c, const SessionRecord& session,
                                     int64_t now_ms);
absl::StatusOr<bool> RevokeSessionOn(SqliteConnection& c, const std::string& token_hash);
absl::StatusOr<std::vector<std::string>> TrimSessionsOn(SqliteConnection& c, const SessionRecord& newest,
                                                        int max_sessions);
absl::StatusOr<int64_t> DeleteExpiredSessionsOn(SqliteConnection& c, int64_t now_ms);

// Reads: on a reader connection (or the writer's, for ":memory:").
absl::StatusOr<HistoryPage> ReadHistoryOn(SqliteConnection& c, const HistoryQuery& q);
absl::StatusOr<UserRecord> FindUserOn(SqliteConnection& c, const std::string& username_key);
absl::StatusOr<SessionRecord> FindSessionOn(SqliteConnection& c, const std::string& token_hash, int64_t now_ms);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_QUERIES_H_
