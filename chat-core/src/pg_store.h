// PgStore: the Store on PostgreSQL (chat-core --db=postgresql://...), shared by
// several chat-core nodes (docs/scaling.md).
//  - Appends: one writer connection commits everything queued while the last
//    commit ran in one transaction, sent as one pipeline (BEGIN, chat_append
//    with every message of the batch, the batch's other writes, COMMIT): one
//    round trip and one fsync per batch. Seqs are assigned inside the
//    transaction under the rooms' row locks (pg_schema.cc), so they are
//    gap-free across nodes, and the commit notifies the other nodes.
//  - Reads (history, users) run on a few reader connections.
//  - PostgreSQL down: every call fails with UNAVAILABLE at once (an append is
//    never acknowledged unless its commit was), and each connection comes back
//    by itself with backoff. An append whose commit's outcome is unknown (the
//    connection broke during COMMIT) fails with UNAVAILABLE too; a retry with
//    the same client_msg_id finds it if it was stored.
//
// Threading: thread-safe, as the Store contract says (store.h). One thread per
// connection. Lifetime: OpenPgStore returns it with its threads running;
// Close() (or the destructor) completes accepted work and joins them.
#ifndef CHAT_CORE_SRC_PG_STORE_H_
#define CHAT_CORE_SRC_PG_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pg_conn.h"
#include "store.h"

namespace chat::core {

struct PgStoreOptions {
  PgConnectOptions pg;
  // How long a write waits for a lock another connection holds (PostgreSQL's
  // lock_timeout) before it fails with UNAVAILABLE.
  absl::Duration lock_timeout = absl::Seconds(10);
  // Wait for the first connection (and the migrations) before returning: up
  // to this long (zero: return at once, connecting in the background).
  absl::Duration open_wait = absl::Seconds(10);
  int reader_connections = 2;
  // Most appends (and other writes) in one transaction.
  int max_batch = 4096;
  // Appends waiting for the writer beyond this are refused with UNAVAILABLE.
  int max_queued_writes = 200000;
  // Told of each group commit (metrics); empty: nothing is measured.
  CommitObserver on_commit = nullptr;
};

// A PostgreSQL store with readiness: calls fail with UNAVAILABLE until the
// first connection is made and the schema migrated.
class PgStore : public Store {
 public:
  // True once connected and migrated (and while the writer is connected).
  virtual bool connected() const = 0;
  // Blocks until connected() or the timeout passes; returns connected().
  virtual bool WaitConnected(absl::Duration timeout) = 0;
};

// Starts a store on `options.pg.uri`. With open_wait > 0, an unreachable server
// or a failed migration within that time is an error; with 0, the store keeps
// trying in the background. INVALID_ARGUMENT for a malformed URI.
absl::StatusOr<std::unique_ptr<PgStore>> OpenPgStore(const PgStoreOptions& options);

// Whether `db` (chat-core's --db) names a PostgreSQL database rather than a
// SQLite file.
bool IsPostgresUri(const std::string& db);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_STORE_H_
