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

// Runs `fn` (returning absl::StatusOr<T>) in a savepoint of the writer's batch
// transaction: when it fails, what it did is undone and the rest of the batch
// goes on.
template <typename T, typename Fn>
absl::StatusOr<T> InSavepoint(SqliteConnection& c, Fn fn) {
  if (absl::Status st = c.Exec("SAVEPOINT store_write"); !st.ok()) return st;
  absl::StatusOr<T> r = fn();
  if (r.ok()) {
    if (absl::Status st = c.Exec("RELEASE store_write"); !st.ok()) return st;
  } else if (sqlite3_get_autocommit(c.db()) == 0) {
    // (With autocommit on, SQLite rolled everything back itself; the batch notices.)
    c.Exec("ROLLBACK TO store_write").IgnoreError();
    c.Exec("RELEASE store_write").IgnoreError();
  }
  return r;
}

// Steps a statement that returns no row, and resets it.
inline absl::Status StepDone(SqliteStmt& s, absl::string_view what) {
  int rc = s.Step();
  s.Reset();
  if (rc != SQLITE_DONE) return s.Error(rc, what);
  return absl::OkStatus();
}

// Whether the statement has a row (it is reset either way).
inline absl::StatusOr<bool> StepAny(SqliteStmt& s, absl::string_view what) {
  int rc = s.Step();
  s.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s.Error(rc, what);
  return rc == SQLITE_ROW;
}

// A stored kind (0 in rows from before kinds) as an AccountKind.
inline AccountKind StoredAuthorKind(int64_t v) {
  return v == static_cast<int64_t>(AccountKind::kBot) ? AccountKind::kBot : AccountKind::kUser;
}

// Fills w.last_seq with every room's highest stored seq (0 for an empty room).
absl::Status LoadSeqCounters(WriterState& w);

// On the writer connection, inside its open transaction.
absl::StatusOr<std::vector<RoomRecord>> LoadRoomsOn(WriterState& w);
// A room of spec's name, created_by, kind and topic (store.h's CreateRoomAs,
// without its members).
absl::StatusOr<RoomRecord> CreateRoomOn(WriterState& w, const RoomRecord& spec, int64_t now_ms,
                                        const RoomQuota& quota);
// Moves req.text into the result.
absl::StatusOr<AppendResult> AppendOn(WriterState& w, AppendRequest&& req);
// Reads: on a reader connection (or the writer's, for ":memory:").
absl::StatusOr<HistoryPage> ReadHistoryOn(SqliteConnection& c, const HistoryQuery& q);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_QUERIES_H_
