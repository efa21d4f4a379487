// The PostgreSQL store's group commit: a batch of queued writes committed in
// one transaction, sent as one pipeline (BEGIN, one chat_append with every
// append of the batch, the other writes' queries, COMMIT), and each write
// answered from its rows.
//
// Threading: CommitPgBatch runs on the store's writer thread, the only user of
// its connection; it calls each write's callback on that thread, appends in
// input order (seq order within a room). Lifetime: nothing outlives the call.
#ifndef CHAT_CORE_SRC_PG_WRITE_BATCH_H_
#define CHAT_CORE_SRC_PG_WRITE_BATCH_H_

#include <functional>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pg_conn.h"
#include "store.h"

namespace chat::core {

// A write that is not an append: its queries run in the batch's transaction,
// and `complete` gets their results once the transaction is over (with the
// commit's status).
struct PgWriteOp {
  std::vector<PgQuery> queries;
  std::function<void(std::vector<absl::StatusOr<PgResult>>& results, const absl::Status& commit)> complete;
};
struct PgAppendOp {
  AppendRequest request;
  StoreCallback<AppendResult> done;
};
using PgWriteItem = std::variant<PgAppendOp, PgWriteOp>;

// Answers every part of `item` with `status`.
void FailPgWrite(PgWriteItem& item, const absl::Status& status);

// Commits `batch` in one transaction and answers each write. A failed commit:
// on a broken connection every write fails with UNAVAILABLE (the outcome is
// unknown, so nothing is acknowledged); otherwise the transaction is rolled
// back and, in a batch of several, each write runs again alone, so one write's
// error fails only that write.
// `on_commit` (may be empty) is told of a successful commit before any write
// is answered.
void CommitPgBatch(PgConn& conn, std::vector<PgWriteItem>& batch, const CommitObserver& on_commit = nullptr);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_WRITE_BATCH_H_
