// The Store conformance suite on SqliteStore, one database file per test in a
// temp directory.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "process.h"
#include "sqlite_db.h"
#include "sqlite_schema.h"
#include "sqlite_store.h"
#include "store_conformance.h"

namespace chat::core::conformance {
namespace {

// Schema version 1 as the release that introduced it created it, written out
// by hand: migrations must keep turning exactly this into the current schema.
constexpr const char* kSchemaVersion1[] = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version VALUES (1)",
    "CREATE TABLE rooms (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "created_at_ms INTEGER NOT NULL, created_by TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE messages (room_id INTEGER NOT NULL REFERENCES rooms(id), seq INTEGER NOT NULL, "
    "author TEXT NOT NULL, text TEXT NOT NULL, sent_at_ms INTEGER NOT NULL, "
    "client_msg_id TEXT NOT NULL DEFAULT '', PRIMARY KEY (room_id, seq)) WITHOUT ROWID",
    "CREATE UNIQUE INDEX messages_idempotency ON messages (room_id, author, client_msg_id) "
    "WHERE client_msg_id != ''",
};

// What schema version 2 (accounts; the last before membership) added, as its
// release wrote it.
constexpr const char* kSchemaVersion2[] = {
    "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL, username_key TEXT NOT NULL UNIQUE, "
    "password_hash TEXT NOT NULL, created_at_ms INTEGER NOT NULL)",
    "CREATE TABLE sessions (token_hash BLOB PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), "
    "created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0) "
    "WITHOUT ROWID",
    "CREATE INDEX sessions_expiry ON sessions (expires_at_ms)",
    "UPDATE schema_version SET version = 2",
};

// Another connection inside BEGIN IMMEDIATE: it holds the WAL's write lock.
class SqliteWriteLock : public HeldWriteLock {
 public:
  ~SqliteWriteLock() override { conn_.Exec("ROLLBACK").IgnoreError(); }
  absl::Status Take(const std::string& path) {
    if (absl::Status st = conn_.Open(path, {}); !st.ok()) return st;
    return conn_.Exec("BEGIN IMMEDIATE");
  }

 private:
  SqliteConnection conn_;
};

class SqliteStoreFactory : public StoreConformanceFactory {
 public:
  absl::Status SetUp() override { return absl::OkStatus(); }

  absl::StatusOr<std::unique_ptr<Store>> Open(const ConformanceOpenOptions& options) override {
    SqliteStoreOptions o;
    o.path = path_;
    if (options.max_queued_writes > 0) o.max_queued_writes = options.max_queued_writes;
    if (options.lock_timeout > absl::ZeroDuration()) {
      o.busy_timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(options.lock_timeout));
    }
    return OpenSqliteStore(o);
  }

  // A new database file at path_ with the released schemas up to `version`
  // (1 or 2) written out by hand.
  absl::Status MakeSchema(SqliteConnection& c, int version) {
    SqliteConnectionOptions create;
    create.create = true;
    if (absl::Status st = c.Open(path_, create); !st.ok()) return st;
    for (const char* sql : kSchemaVersion1) {
      if (absl::Status st = c.Exec(sql); !st.ok()) return st;
    }
    for (const char* sql : kSchemaVersion2) {
      if (version < 2) break;
      if (absl::Status st = c.Exec(sql); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  absl::Status MakeOldSchemaDatabase(const std::vector<LegacyRoom>& rooms) override {
    SqliteConnection c;
    if (absl::Status st = MakeSchema(c, 1); !st.ok()) return st;
    return AddRooms(c, rooms);
  }

  absl::Status MakePreMembershipDatabase(const std::vector<LegacyRoom>& rooms,
                                         const std::vector<std::string>& users) override {
    SqliteConnection c;
    if (absl::Status st = MakeSchema(c, 2); !st.ok()) return st;
    for (const std::string& name : users) {
      SqliteStmt& u = c.Get("INSERT INTO users (username, username_key, password_hash, created_at_ms) "
                            "VALUES (?1, lower(?1), 'h', 1)");
      u.Reset().Bind(1, name);
      if (int rc = u.Step(); rc != SQLITE_DONE) return u.Error(rc, "legacy user");
    }
    return AddRooms(c, rooms);
  }

  // Schema version 3 by the released migrations (never edited), with users
  // and sessions in the columns that version had.
  absl::Status MakePreAccountsDatabase(const std::vector<LegacyRoom>& rooms, const std::vector<std::string>& users,
                                       const std::vector<SessionRecord>& sessions) override {
    SqliteConnection c;
    SqliteConnectionOptions create;
    create.create = true;
    if (absl::Status st = c.Open(path_, create); !st.ok()) return st;
    if (absl::Status st = MigrateSqliteSchema(c, 3); !st.ok()) return st;
    for (const std::string& name : users) {
      SqliteStmt& u = c.Get("INSERT INTO users (username, username_key, password_hash, created_at_ms) "
                            "VALUES (?1, lower(?1), 'h', 1)");
      u.Reset().Bind(1, name);
      if (int rc = u.Step(); rc != SQLITE_DONE) return u.Error(rc, "legacy user");
    }
    for (const SessionRecord& r : sessions) {
      SqliteStmt& ins = c.Get("INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) "
                              "SELECT ?1, id, ?2, ?3 FROM users WHERE username=?4");
      ins.Reset().BindBlob(1, r.token_hash).Bind(2, r.created_at_ms).Bind(3, r.expires_at_ms).Bind(4, r.username);
      if (int rc = ins.Step(); rc != SQLITE_DONE) return ins.Error(rc, "legacy session");
    }
    for (const LegacyRoom& room : rooms) {
      SqliteStmt& r = c.Get("INSERT INTO rooms (name, created_at_ms, created_by) VALUES (?1, ?2, ?3)");
      r.Reset().Bind(1, room.name).Bind(2, room.created_at_ms).Bind(3, room.created_by);
      if (int rc = r.Step(); rc != SQLITE_DONE) return r.Error(rc, "legacy room");
      const int64_t id = sqlite3_last_insert_rowid(c.db());
      int64_t seq = 0;
      for (const StoredMessage& m : room.messages) {
        SqliteStmt& ins = c.Get("INSERT INTO messages (room_id, seq, author, text, sent_at_ms, client_msg_id) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        ins.Reset().Bind(1, id).Bind(2, ++seq).Bind(3, m.author).Bind(4, m.text);
        ins.Bind(5, m.sent_at_ms).Bind(6, m.client_msg_id);
        if (int rc = ins.Step(); rc != SQLITE_DONE) return ins.Error(rc, "legacy message");
      }
    }
    return absl::OkStatus();
  }

  // Rooms and their messages as the old releases wrote them.
  static absl::Status AddRooms(SqliteConnection& c, const std::vector<LegacyRoom>& rooms) {
    for (const LegacyRoom& room : rooms) {
      SqliteStmt& r = c.Get("INSERT INTO rooms (name, created_at_ms, created_by) VALUES (?1, ?2, ?3)");
      r.Reset().Bind(1, room.name).Bind(2, room.created_at_ms).Bind(3, room.created_by);
      if (int rc = r.Step(); rc != SQLITE_DONE) return r.Error(rc, "legacy room");
      const int64_t id = sqlite3_last_insert_rowid(c.db());
      int64_t seq = 0;
      for (const StoredMessage& m : room.messages) {
        SqliteStmt& ins = c.Get("INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        ins.Reset().Bind(1, id).Bind(2, ++seq).Bind(3, m.author).Bind(4, m.text);
        ins.Bind(5, m.sent_at_ms).Bind(6, m.client_msg_id);
        if (int rc = ins.Step(); rc != SQLITE_DONE) return ins.Error(rc, "legacy message");
      }
    }
    return absl::OkStatus();
  }

  absl::Status MarkSchemaNewer() override {
    SqliteConnection c;
    if (absl::Status st = c.Open(path_, {}); !st.ok()) return st;
    return c.Exec(absl::StrCat("UPDATE schema_version SET version=", SqliteSchemaVersion() + 1).c_str());
  }

  absl::StatusOr<std::unique_ptr<HeldWriteLock>> HoldWriteLock() override {
    auto lock = std::make_unique<SqliteWriteLock>();
    if (absl::Status st = lock->Take(path_); !st.ok()) return st;
    return lock;
  }

 private:
  chat::testing::TempDir dir_;
  const std::string path_ = dir_.File("chat.db");
};

}  // namespace

INSTANTIATE_STORE_CONFORMANCE(SqliteStore, SqliteStoreFactory);

}  // namespace chat::core::conformance
