// The Store conformance suite on PgStore: a fresh database per test on the
// test run's PostgreSQL (pg_cluster.h).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "pg_cluster.h"
#include "pg_conn.h"
#include "pg_schema.h"
#include "pg_store.h"
#include "store_conformance.h"

namespace chat::core::conformance {
namespace {

// Another connection inside a transaction that locks every table the store
// writes: its writes wait (and fail after lock_timeout); reads go on.
class PgWriteLock : public HeldWriteLock {
 public:
  explicit PgWriteLock(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
  ~PgWriteLock() override { (void)conn_->Exec("ROLLBACK"); }

 private:
  std::unique_ptr<PgConn> conn_;
};

class PgStoreFactory : public StoreConformanceFactory {
 public:
  absl::Status SetUp() override {
    auto uri = chat::testing::NewTestDatabase();
    if (!uri.ok()) return uri.status();
    uri_ = *uri;
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Store>> Open(const ConformanceOpenOptions& options) override {
    PgStoreOptions o;
    o.pg.uri = uri_;
    if (options.max_queued_writes > 0) o.max_queued_writes = options.max_queued_writes;
    if (options.lock_timeout > absl::ZeroDuration()) o.lock_timeout = options.lock_timeout;
    auto store = OpenPgStore(o);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }

  // PostgreSQL support started at schema version 3, so no release wrote an
  // older one: version 1 here is the current migration's (not a copy by hand),
  // with rooms and messages as that version kept them.
  absl::Status MakeOldSchemaDatabase(const std::vector<LegacyRoom>& rooms) override {
    auto conn = Connect();
    if (!conn.ok()) return conn.status();
    if (absl::Status st = MigratePg(**conn, /*target=*/1); !st.ok()) return st;
    return AddRooms(**conn, rooms);
  }

  // Schema version 3 (the cluster; the last before membership), by the
  // released migrations, which are never edited.
  absl::Status MakePreMembershipDatabase(const std::vector<LegacyRoom>& rooms,
                                         const std::vector<std::string>& users) override {
    auto conn = Connect();
    if (!conn.ok()) return conn.status();
    if (absl::Status st = MigratePg(**conn, /*target=*/3); !st.ok()) return st;
    for (const std::string& name : users) {
      auto ins = (*conn)->Query({"INSERT INTO users (username, username_key, password_hash, created_at_ms) "
                                 "VALUES ($1, lower($1), 'h', 1)",
                                 {name}});
      if (!ins.ok()) return ins.status();
    }
    return AddRooms(**conn, rooms);
  }

  // Schema version 4 (membership; the last before bots and tokens), by the
  // released migrations, with users and sessions in that version's columns.
  absl::Status MakePreAccountsDatabase(const std::vector<LegacyRoom>& rooms, const std::vector<std::string>& users,
                                       const std::vector<SessionRecord>& sessions) override {
    auto conn = Connect();
    if (!conn.ok()) return conn.status();
    if (absl::Status st = MigratePg(**conn, /*target=*/4); !st.ok()) return st;
    for (const std::string& name : users) {
      auto ins = (*conn)->Query({"INSERT INTO users (username, username_key, password_hash, created_at_ms) "
                                 "VALUES ($1, lower($1), 'h', 1)",
                                 {name}});
      if (!ins.ok()) return ins.status();
    }
    for (const SessionRecord& r : sessions) {
      auto ins = (*conn)->Query({"INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) "
                                 "SELECT decode($1, 'hex'), id, $2, $3 FROM users WHERE username = $4",
                                 {absl::BytesToHexString(r.token_hash), absl::StrCat(r.created_at_ms),
                                  absl::StrCat(r.expires_at_ms), r.username}});
      if (!ins.ok()) return ins.status();
    }
    return AddRooms(**conn, rooms);
  }

  // Rooms and their messages as the old releases wrote them.
  static absl::Status AddRooms(PgConn& conn, const std::vector<LegacyRoom>& rooms) {
    for (const LegacyRoom& room : rooms) {
      auto id = conn.Query({"INSERT INTO rooms (name, created_at_ms, created_by, last_seq) VALUES ($1, $2, $3, "
                                "$4) RETURNING id",
                                {room.name, absl::StrCat(room.created_at_ms), room.created_by,
                                 absl::StrCat(room.messages.size())}});
      if (!id.ok()) return id.status();
      int64_t seq = 0;
      for (const StoredMessage& m : room.messages) {
        auto ins = conn.Query({"INSERT INTO messages VALUES ($1, $2, $3, $4, $5, $6)",
                                   {absl::StrCat(id->Int(0, 0)), absl::StrCat(++seq), m.author, m.text,
                                    absl::StrCat(m.sent_at_ms), m.client_msg_id}});
        if (!ins.ok()) return ins.status();
      }
    }
    return absl::OkStatus();
  }

  absl::Status MarkSchemaNewer() override {
    auto conn = Connect();
    if (!conn.ok()) return conn.status();
    return (*conn)->Exec(absl::StrCat("UPDATE schema_version SET version = ", PgSchemaVersion() + 1)).status();
  }

  absl::StatusOr<std::unique_ptr<HeldWriteLock>> HoldWriteLock() override {
    auto conn = Connect();
    if (!conn.ok()) return conn.status();
    auto locked = (*conn)->Exec("BEGIN; LOCK TABLE rooms, messages, users, sessions IN EXCLUSIVE MODE");
    if (!locked.ok()) return locked.status();
    return std::unique_ptr<HeldWriteLock>(std::make_unique<PgWriteLock>(std::move(*conn)));
  }

 private:
  absl::StatusOr<std::unique_ptr<PgConn>> Connect() { return PgConn::Connect(uri_, absl::Seconds(10)); }

  std::string uri_;
};

}  // namespace

INSTANTIATE_STORE_CONFORMANCE(PgStore, PgStoreFactory);

}  // namespace chat::core::conformance
