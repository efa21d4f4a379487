#include "sqlite_schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "sqlite_store.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "store";

// Each entry migrates the schema from version i to i + 1. Entries are never
// edited once released: databases in the field were made by them.
const char* const kMigrations[] = {
    // 1: rooms and messages.
    R"sql(
      CREATE TABLE rooms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL DEFAULT ''
      );
      CREATE TABLE messages (
        room_id INTEGER NOT NULL REFERENCES rooms(id),
        seq INTEGER NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        sent_at_ms INTEGER NOT NULL,
        client_msg_id TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (room_id, seq)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX messages_idempotency
        ON messages (room_id, author, client_msg_id) WHERE client_msg_id != '';
    )sql",
    // 2: accounts.
    R"sql(
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE INDEX sessions_expiry ON sessions (expires_at_ms);
    )sql",
    // 3: room kinds, topics and archiving; members, moderators and bans;
    // tombstones; disabled accounts. The rooms table is rebuilt with
    // AUTOINCREMENT, so the id of a deleted room is never given to another
    // (a late append or read naming it must not land in a new room); the
    // foreign keys of messages are checked at COMMIT, once the rooms are back
    // with their ids. Every room that exists now is public, and its creator,
    // if that is a registered user, its owner.
    R"sql(
      PRAGMA defer_foreign_keys = ON;
      CREATE TABLE rooms_v2 AS SELECT id, name, created_at_ms, created_by FROM rooms;
      DROP TABLE rooms;
      CREATE TABLE rooms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        kind INTEGER NOT NULL DEFAULT 1,
        topic TEXT NOT NULL DEFAULT '',
        archived INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO rooms (id, name, created_at_ms, created_by)
        SELECT id, name, created_at_ms, created_by FROM rooms_v2 ORDER BY id;
      DROP TABLE rooms_v2;
      ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
      -- username: as registered; user_key: its lower-case key (users.username_key).
      CREATE TABLE room_members (
        room_id INTEGER NOT NULL,
        username TEXT NOT NULL,
        user_key TEXT NOT NULL,
        state INTEGER NOT NULL,
        role INTEGER NOT NULL DEFAULT 0,
        by_user TEXT NOT NULL DEFAULT '',
        at_ms INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (room_id, user_key)
      ) WITHOUT ROWID;
      INSERT INTO room_members (room_id, username, user_key, state, role, by_user, at_ms, reason)
        SELECT r.id, u.username, u.username_key, 2, 3, '', r.created_at_ms, ''
        FROM rooms r JOIN users u ON u.username_key = lower(r.created_by)
        WHERE r.created_by != '';
    )sql",
    // 4: bots, API tokens, webhooks and the account lifecycle (#29). Every
    // account that exists now is a user, every session a login session with
    // no bound on renewal (max_expires_at_ms 0), every message a user's
    // (author_kind 0 reads as a user). owner/owner_key: a bot's owning user,
    // as registered and as its key. A session's rooms are its API token's
    // room names joined with newlines. Revoked webhooks keep their rows, so
    // an id is never given twice; a used invite keeps its row with used_by.
    R"sql(
      ALTER TABLE users ADD COLUMN kind INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE users ADD COLUMN owner TEXT NOT NULL DEFAULT '';
      ALTER TABLE users ADD COLUMN owner_key TEXT NOT NULL DEFAULT '';
      ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
      ALTER TABLE users ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX users_owner ON users (owner_key) WHERE owner_key != '';
      ALTER TABLE sessions ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN max_expires_at_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN peer TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN client TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN name TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN rooms TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN actions INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
      CREATE INDEX sessions_user ON sessions (user_id, created_at_ms);
      CREATE UNIQUE INDEX sessions_token_name ON sessions (user_id, name) WHERE kind = 1;
      ALTER TABLE messages ADD COLUMN author_kind INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        secret_hash BLOB NOT NULL,
        room_id INTEGER NOT NULL,
        bot TEXT NOT NULL,
        bot_key TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_by_key TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        created_at_ms INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE registration_invites (
        code_hash BLOB PRIMARY KEY,
        created_by TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        used_by TEXT NOT NULL DEFAULT '',
        used_at_ms INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
    )sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace

int SqliteSchemaVersion() { return kSchemaVersion; }

absl::Status MigrateSqliteSchema(SqliteConnection& c, int target) {
  if (target < 0 || target > kSchemaVersion) target = kSchemaVersion;
  absl::Status st = c.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (!st.ok()) return st;
  int version = 0;
  {
    SqliteStmt s;
    if (auto p = s.Prepare(c.db(), "SELECT max(version) FROM schema_version"); !p.ok()) return p;
    if (s.Step() == SQLITE_ROW) version = static_cast<int>(s.Int(0));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", c.path(), " has schema version ", version,
                     ", newer than this chat-core understands (", kSchemaVersion, ")"));
  }
  for (int v = version; v < target; ++v) {
    if (auto s = c.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    st = c.Exec(kMigrations[v]);
    if (st.ok()) {
      std::string bump = absl::StrCat("DELETE FROM schema_version; INSERT INTO schema_version VALUES (",
                                      v + 1, ")");
      st = c.Exec(bump.c_str());
    }
    if (st.ok()) st = c.Exec("COMMIT");
    if (!st.ok()) {
      c.Exec("ROLLBACK").IgnoreError();
      return absl::FailedPreconditionError(
          absl::StrCat("cannot migrate database ", c.path(), " to version ", v + 1, ": ",
                       st.message()));
    }
    CHAT_LOG_INFO(kLog, "database %s migrated to schema version %d", c.path(), v + 1);
  }
  return absl::OkStatus();
}

}  // namespace chat::core
