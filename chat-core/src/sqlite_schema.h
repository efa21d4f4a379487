// The SQLite store's schema: an append-only list of migrations, and the code
// that brings a database up to the version this build understands.
#ifndef CHAT_CORE_SRC_SQLITE_SCHEMA_H_
#define CHAT_CORE_SRC_SQLITE_SCHEMA_H_

#include "absl/status/status.h"
#include "sqlite_db.h"

namespace chat::core {

// Brings the database on `connection` to SqliteSchemaVersion() (declared in
// sqlite_store.h), one migration per transaction, keeping its data. A database
// without tables is created from scratch. FAILED_PRECONDITION naming the path if
// the database is newer than this build or a migration fails (that migration is
// rolled back; the ones before it stay).
// `target` below the latest (tests make the databases older releases made
// with it; -1: the latest) stops there.
// Threading: runs on the connection's thread, before anyone else uses the file.
absl::Status MigrateSqliteSchema(SqliteConnection& connection, int target = -1);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_SCHEMA_H_
