// SqliteStore: the embedded default Store, one SQLite database file in WAL mode.
//
// Threading: thread-safe. One writer thread owns the write connection and commits
// everything that queued up while the previous commit ran in one transaction
// (group commit); reader threads own read connections (WAL readers never block the
// writer). With path ":memory:" there is one connection and reads run on the writer
// thread. A checkpoint thread copies the WAL back into the database file in the
// background (the writer never waits for it). Each of these threads is a
// WorkerPool over a WorkQueue (work_queue.h). Callbacks of writes run on the
// writer thread, callbacks of reads on a reader thread.
// Lifetime: OpenSqliteStore() returns it ready; Close() (or the destructor) drains
// the queues and joins the threads; no callback runs after that. The behaviour
// every Store shares is in store.h; its files are named in the SqliteStore row
// of docs/architecture.md.
#ifndef CHAT_CORE_SRC_SQLITE_STORE_H_
#define CHAT_CORE_SRC_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store.h"

namespace chat::core {

struct SqliteStoreOptions {
  // A file path, or ":memory:".
  std::string path = "data/chat.db";
  // synchronous=FULL: survives power loss, not only a process crash (slower).
  bool synchronous_full = false;
  // Page cache per connection (the writer and each reader), in KiB.
  int cache_kib = 65536;
  int reader_threads = 2;
  // Most tasks in one transaction.
  int max_batch = 4096;
  // Appends waiting for the writer beyond this are refused with UNAVAILABLE.
  int max_queued_writes = 200000;
  // WAL pages after which a background checkpoint copies them into the
  // database (SQLite's auto-checkpoint mark, moved off the commit path).
  int checkpoint_pages = 1000;
  // How long a transaction waits for a lock another process holds on the file
  // before its writes fail with UNAVAILABLE.
  int busy_timeout_ms = 5000;
  // Told of each group commit (metrics); empty: nothing is measured.
  CommitObserver on_commit = nullptr;
};

// Opens (creating and migrating as needed) the database. Errors name the path and
// SQLite's reason: unwritable directory, not a database, newer schema, ...
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

// The schema version this build creates and understands (sqlite_schema.cc).
int SqliteSchemaVersion();

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_STORE_H_
