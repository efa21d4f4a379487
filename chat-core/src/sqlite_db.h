// The thin layer over SQLite's C API that the SQLite store is written on: an
// error converter, a prepared statement, and a connection that caches its
// prepared statements. Nothing here knows the store's schema.
#ifndef CHAT_CORE_SRC_SQLITE_DB_H_
#define CHAT_CORE_SRC_SQLITE_DB_H_

#include <sqlite3.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chat::core {

// SQLite's result code `rc` as a status: UNAVAILABLE for conditions that may
// pass (busy, locked, disk full, I/O), DATA_LOSS for a corrupt file or not a
// database, INTERNAL otherwise. The message is `what` and SQLite's reason (from
// `db` when given, else from the code).
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

// Makes the database file `path` if it does not exist yet, owner-only (0600),
// and the folders above it that are missing, owner-only too (0700). SQLite
// gives the -wal and -shm files the database file's mode, so no other user can
// read any of them. An existing file or folder is left as it is.
absl::Status CreateOwnerOnlyDatabaseFile(const std::string& path);

// An exclusive lock on a database file for as long as this lives, so a second
// chat-core on the same file refuses to start instead of handing out the same
// sequence numbers (each process keeps its rooms' next seq in memory). It is
// flock(2) on a descriptor of its own, apart from SQLite's fcntl locks, which
// it neither takes nor disturbs while it is held. The descriptor is closed
// last (after every SQLite connection of the file): closing a descriptor of a
// file drops the process's fcntl locks on it. Stores of one process on one
// file share the lock (only another process is refused).
// Threading: thread-safe. Lifetime: the lock is held until the last
// DatabaseFileLock of the file in this process is destroyed.
class DatabaseFileLock {
 public:
  DatabaseFileLock() = default;
  ~DatabaseFileLock();
  DatabaseFileLock(const DatabaseFileLock&) = delete;
  DatabaseFileLock& operator=(const DatabaseFileLock&) = delete;

  // FAILED_PRECONDITION naming the file if another process (or another store
  // in this one) holds it.
  absl::Status Lock(const std::string& path);

 private:
  bool locked_ = false;
  std::pair<dev_t, ino_t> file_;
};

// One prepared statement, reset on each use.
// Threading: confined to its connection's thread. Lifetime: owned by its
// SqliteConnection (or a local), finalized before the connection closes.
class SqliteStmt {
 public:
  SqliteStmt() = default;
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  ~SqliteStmt() {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
  }

  absl::Status Prepare(sqlite3* db, const char* sql);

  // Resets and clears bindings; returns *this for chaining binds.
  SqliteStmt& Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return *this;
  }
  SqliteStmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  SqliteStmt& Bind(int i, absl::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  SqliteStmt& BindBlob(int i, absl::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
  }
  absl::Status Error(int rc, absl::string_view what) { return SqliteError(db_, rc, what); }
  // Steps through the rows, calling row() at each; the error (named `what`)
  // if the statement fails.
  template <typename Row>
  absl::Status EachRow(Row row, absl::string_view what) {
    int rc;
    while ((rc = Step()) == SQLITE_ROW) row();
    return rc == SQLITE_DONE ? absl::OkStatus() : Error(rc, what);
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

struct SqliteConnectionOptions {
  // Create the file if it does not exist.
  bool create = false;
  // synchronous=FULL instead of NORMAL.
  bool synchronous_full = false;
  // The most page cache this connection keeps, in KiB (PRAGMA cache_size=-N).
  int cache_kib = 65536;
  // How long a statement waits for a lock held by another connection before it
  // fails with SQLITE_BUSY.
  int busy_timeout_ms = 5000;
};

// One connection and its cached prepared statements.
// Threading: confined to one thread at a time (opened SQLITE_OPEN_NOMUTEX).
// Lifetime: owned by whoever uses it; closing finalizes its statements first.
class SqliteConnection {
 public:
  SqliteConnection() = default;
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();

  // Opens `path` (a file, or ":memory:") in WAL mode with foreign keys on, and
  // reads it once so that a file that is not a database fails here.
  // FAILED_PRECONDITION naming the path and SQLite's reason otherwise.
  absl::Status Open(const std::string& path, const SqliteConnectionOptions& options);

  // Runs one or more statements that return no rows.
  absl::Status Exec(const char* sql);

  // A cached prepared statement for `sql`, keyed by the literal's address, so
  // `sql` must be a string with static storage. Every statement is a literal the
  // tests run: failing to prepare one is a programming error and aborts.
  SqliteStmt& Get(const char* sql);

  sqlite3* db() { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  absl::flat_hash_map<const char*, std::unique_ptr<SqliteStmt>> stmts_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_DB_H_
