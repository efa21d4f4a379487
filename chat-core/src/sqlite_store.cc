#include "sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "chat/log.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "store";

// Each entry migrates the schema from version i to i + 1.
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
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  absl::StatusCode code = absl::StatusCode::kInternal;
  int primary = rc & 0xff;
  if (primary == SQLITE_FULL || primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
      primary == SQLITE_IOERR) {
    code = absl::StatusCode::kUnavailable;
  } else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    code = absl::StatusCode::kDataLoss;
  }
  return absl::Status(code, absl::StrCat(what, ": ", msg));
}

// One prepared statement, reset on each use. Confined to its connection's thread.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
  }

  absl::Status Prepare(sqlite3* db, const char* sql) {
    db_ = db;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, "prepare");
    return absl::OkStatus();
  }

  // Resets and clears bindings; returns *this for chaining binds.
  Stmt& Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, absl::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, absl::string_view v) {
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

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// One connection and its prepared statements. Confined to one thread.
class Connection {
 public:
  ~Connection() {
    // Statements must be finalized before the connection closes.
    stmts_.clear();
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  absl::Status Open(const std::string& path, bool create, bool synchronous_full) {
    path_ = path;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (create) flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open database ", path, ": ", sqlite3_errmsg(db_)));
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);
    // The first statement that reads the file tells a non-database apart.
    absl::Status st = Exec("PRAGMA foreign_keys=ON");
    if (st.ok() && path != ":memory:") {
      st = Exec("PRAGMA journal_mode=WAL");
    }
    if (st.ok()) {
      st = Exec(synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    }
    // 64 MiB of page cache per connection: the writer touches one B-tree leaf per
    // active room per batch, and re-reading them from the OS costs more than RAM.
    if (st.ok()) st = Exec("PRAGMA cache_size=-65536");
    if (st.ok()) st = Exec("SELECT count(*) FROM sqlite_schema");
    if (!st.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot use database ", path, ": ", st.message()));
    }
    return absl::OkStatus();
  }

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return SqliteError(nullptr, rc, msg);
    }
    return absl::OkStatus();
  }

  // A cached prepared statement for `sql` (keyed by the literal's address).
  Stmt& Get(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return *it->second;
    auto stmt = std::make_unique<Stmt>();
    absl::Status st = stmt->Prepare(db_, sql);
    if (!st.ok()) {
      // Every statement is a compile-time literal checked by the tests: a failure
      // here is a programming error.
      CHAT_LOG_ERROR(kLog, "cannot prepare \"%s\": %s", sql, st.message());
      std::abort();
    }
    Stmt& ref = *stmt;
    stmts_.emplace(sql, std::move(stmt));
    return ref;
  }

  sqlite3* db() { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  absl::flat_hash_map<const char*, std::unique_ptr<Stmt>> stmts_;
};

absl::Status Migrate(Connection& c) {
  absl::Status st = c.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (!st.ok()) return st;
  int version = 0;
  {
    Stmt s;
    if (auto p = s.Prepare(c.db(), "SELECT max(version) FROM schema_version"); !p.ok()) return p;
    if (s.Step() == SQLITE_ROW) version = static_cast<int>(s.Int(0));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", c.path(), " has schema version ", version,
                     ", newer than this chat-core understands (", kSchemaVersion, ")"));
  }
  for (int v = version; v < kSchemaVersion; ++v) {
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

// ----------------------------------------------------------------------------
// Writer tasks

class WriterState;

// A unit of work run inside the writer's batch transaction.
class WriteTask {
 public:
  virtual ~WriteTask() = default;
  // Runs inside the open transaction. Per-task failures are kept by the task.
  virtual void Apply(WriterState& w) = 0;
  // After COMMIT (commit_status ok) or its failure (everything was rolled back).
  virtual void Complete(const absl::Status& commit_status) = 0;
  // Reads need no commit; they are still completed after it, in queue order.
};

// State owned by the writer thread.
class WriterState {
 public:
  Connection conn;
  // room id -> last seq (the counter of committed + in-batch appends).
  absl::flat_hash_map<int64_t, int64_t> last_seq;
  // Counters as they were before the batch, for rollback.
  absl::flat_hash_map<int64_t, int64_t> batch_saved;

  void SaveCounter(int64_t room_id) {
    if (!batch_saved.contains(room_id)) batch_saved[room_id] = last_seq[room_id];
  }
};

const char kFindDuplicate[] =
    "SELECT seq, text, sent_at_ms FROM messages WHERE room_id=?1 AND author=?2 AND "
    "client_msg_id=?3 AND client_msg_id!=''";  // the last term lets SQLite use the partial index
const char kInsertMessage[] =
    "INSERT INTO messages (room_id, seq, author, text, sent_at_ms, client_msg_id) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6)";

class AppendTask : public WriteTask {
 public:
  AppendTask(AppendRequest req, StoreCallback<AppendResult> done)
      : req_(std::move(req)), done_(std::move(done)) {}

  void Apply(WriterState& w) override {
    auto counter = w.last_seq.find(req_.room_id);
    if (counter == w.last_seq.end()) {
      result_ = absl::NotFoundError("room does not exist");
      return;
    }
    AppendResult r;
    r.message.room_id = req_.room_id;
    r.message.author = req_.author;
    r.message.client_msg_id = req_.client_msg_id;
    if (!req_.client_msg_id.empty()) {
      Stmt& s = w.conn.Get(kFindDuplicate);
      s.Reset().Bind(1, req_.room_id).Bind(2, req_.author).Bind(3, req_.client_msg_id);
      int rc = s.Step();
      if (rc == SQLITE_ROW) {
        r.message.seq = s.Int(0);
        r.message.text = s.Text(1);
        r.message.sent_at_ms = s.Int(2);
        r.duplicate = true;
        s.Reset();
        result_ = std::move(r);
        return;
      }
      s.Reset();
      if (rc != SQLITE_DONE) {
        result_ = s.Error(rc, "idempotency lookup");
        return;
      }
    }
    w.SaveCounter(req_.room_id);
    int64_t seq = counter->second + 1;
    Stmt& ins = w.conn.Get(kInsertMessage);
    ins.Reset()
        .Bind(1, req_.room_id)
        .Bind(2, seq)
        .Bind(3, req_.author)
        .Bind(4, req_.text)
        .Bind(5, req_.sent_at_ms)
        .Bind(6, req_.client_msg_id);
    int rc = ins.Step();
    ins.Reset();
    if (rc != SQLITE_DONE) {
      result_ = ins.Error(rc, "append");
      return;
    }
    counter->second = seq;
    r.message.seq = seq;
    r.message.text = std::move(req_.text);
    r.message.sent_at_ms = req_.sent_at_ms;
    result_ = std::move(r);
  }

  void Complete(const absl::Status& commit_status) override {
    if (!commit_status.ok() && result_.ok()) {
      done_(commit_status);
    } else {
      done_(std::move(result_));
    }
  }

 private:
  AppendRequest req_;
  StoreCallback<AppendResult> done_;
  absl::StatusOr<AppendResult> result_ = absl::InternalError("not applied");
};

// A task from a lambda: `apply` computes a result, `done` receives it after commit.
template <typename T>
class FnTask : public WriteTask {
 public:
  using ApplyFn = std::function<absl::StatusOr<T>(WriterState&)>;
  FnTask(ApplyFn apply, StoreCallback<T> done) : apply_(std::move(apply)), done_(std::move(done)) {}
  void Apply(WriterState& w) override { result_ = apply_(w); }
  void Complete(const absl::Status& commit_status) override {
    if (!commit_status.ok() && result_.ok()) {
      done_(commit_status);
    } else {
      done_(std::move(result_));
    }
  }

 private:
  ApplyFn apply_;
  StoreCallback<T> done_;
  absl::StatusOr<T> result_ = absl::InternalError("not applied");
};

// ----------------------------------------------------------------------------

const char kHistoryLatest[] =
    "SELECT seq, author, text, sent_at_ms, client_msg_id FROM messages WHERE room_id=?1 AND "
    "seq<=?2 ORDER BY seq DESC LIMIT ?3";
const char kHistoryBefore[] =
    "SELECT seq, author, text, sent_at_ms, client_msg_id FROM messages WHERE room_id=?1 AND "
    "seq<=?2 AND seq<?4 ORDER BY seq DESC LIMIT ?3";
const char kHistoryAfter[] =
    "SELECT seq, author, text, sent_at_ms, client_msg_id FROM messages WHERE room_id=?1 AND "
    "seq<=?2 AND seq>?4 ORDER BY seq ASC LIMIT ?3";

absl::StatusOr<HistoryPage> ReadHistoryOn(Connection& c, const HistoryQuery& q) {
  const char* sql = q.direction == HistoryQuery::Direction::kLatest   ? kHistoryLatest
                    : q.direction == HistoryQuery::Direction::kBefore ? kHistoryBefore
                                                                      : kHistoryAfter;
  Stmt& s = c.Get(sql);
  s.Reset()
      .Bind(1, q.room_id)
      .Bind(2, q.max_seq > 0 ? q.max_seq : INT64_MAX)
      .Bind(3, static_cast<int64_t>(q.limit) + 1);
  if (q.direction != HistoryQuery::Direction::kLatest) s.Bind(4, q.cursor);
  HistoryPage page;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    if (static_cast<int>(page.messages.size()) == q.limit) {
      page.has_more = true;
      break;
    }
    StoredMessage m;
    m.room_id = q.room_id;
    m.seq = s.Int(0);
    m.author = s.Text(1);
    m.text = s.Text(2);
    m.sent_at_ms = s.Int(3);
    m.client_msg_id = s.Text(4);
    page.messages.push_back(std::move(m));
  }
  s.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s.Error(rc, "history");
  if (q.direction != HistoryQuery::Direction::kAfter) {
    std::reverse(page.messages.begin(), page.messages.end());
  }
  return page;
}

const char kFindUser[] =
    "SELECT id, username, password_hash FROM users WHERE username_key=?1";

absl::StatusOr<UserRecord> FindUserOn(Connection& c, const std::string& key) {
  Stmt& s = c.Get(kFindUser);
  s.Reset().Bind(1, key);
  int rc = s.Step();
  if (rc == SQLITE_ROW) {
    UserRecord u{s.Int(0), s.Text(1), s.Text(2)};
    s.Reset();
    return u;
  }
  s.Reset();
  if (rc == SQLITE_DONE) return absl::NotFoundError("no such user");
  return s.Error(rc, "find user");
}

// ----------------------------------------------------------------------------

class SqliteStore : public Store {
 public:
  explicit SqliteStore(SqliteStoreOptions options) : options_(std::move(options)) {}
  ~SqliteStore() override { Close(); }

  absl::Status Init() {
    memory_ = options_.path == ":memory:";
    if (!memory_) {
      std::filesystem::path p(options_.path);
      if (p.has_parent_path()) {
        std::error_code ec;
        std::filesystem::create_directories(p.parent_path(), ec);
        if (ec) {
          return absl::FailedPreconditionError(absl::StrCat(
              "cannot create the directory of database ", options_.path, ": ", ec.message()));
        }
      }
    }
    if (auto st = writer_.conn.Open(options_.path, true, options_.synchronous_full); !st.ok()) {
      return st;
    }
    if (auto st = Migrate(writer_.conn); !st.ok()) return st;
    {
      Stmt s;
      if (auto p = s.Prepare(writer_.conn.db(),
                             "SELECT r.id, (SELECT coalesce(max(seq),0) FROM messages m WHERE "
                             "m.room_id=r.id) FROM rooms r");
          !p.ok()) {
        return p;
      }
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) writer_.last_seq[s.Int(0)] = s.Int(1);
      if (rc != SQLITE_DONE) return s.Error(rc, "load counters");
    }
    if (!memory_) {
      // Checkpoints (copying the WAL back into the database, with its fsyncs) run
      // on a thread of their own, so no commit waits for one. The writer only
      // checkpoints itself if the WAL grows far past the mark (a checkpointer
      // that cannot keep up).
      if (auto st = writer_.conn.Exec("PRAGMA wal_autocheckpoint=0"); !st.ok()) return st;
      sqlite3_wal_hook(writer_.conn.db(), &SqliteStore::WalHook, this);
      auto ckpt = std::make_unique<Connection>();
      if (auto st = ckpt->Open(options_.path, false, options_.synchronous_full); !st.ok()) return st;
      checkpointer_ = std::thread([this, c = std::move(ckpt)]() mutable { CheckpointLoop(*c); });
      for (int i = 0; i < std::max(1, options_.reader_threads); ++i) {
        auto conn = std::make_unique<Connection>();
        if (auto st = conn->Open(options_.path, false, options_.synchronous_full); !st.ok()) {
          return st;
        }
        readers_.push_back(std::thread([this, c = std::move(conn)]() mutable { ReaderLoop(*c); }));
      }
    }
    writer_thread_ = std::thread([this] { WriterLoop(); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<RoomRecord>> LoadRooms() override {
    return RunOnWriter<std::vector<RoomRecord>>(
        [](WriterState& w) -> absl::StatusOr<std::vector<RoomRecord>> {
          Stmt s;
          if (auto p = s.Prepare(w.conn.db(),
                                 "SELECT id, name, created_at_ms, created_by FROM rooms ORDER BY "
                                 "id");
              !p.ok()) {
            return p;
          }
          std::vector<RoomRecord> out;
          int rc;
          while ((rc = s.Step()) == SQLITE_ROW) {
            RoomRecord r{s.Int(0), s.Text(1), s.Int(2), s.Text(3), 0};
            r.last_seq = w.last_seq[r.id];
            out.push_back(std::move(r));
          }
          if (rc != SQLITE_DONE) return s.Error(rc, "load rooms");
          return out;
        });
  }

  absl::StatusOr<std::vector<SessionRecord>> LoadSessions(int64_t now_ms) override {
    return RunOnWriter<std::vector<SessionRecord>>(
        [now_ms](WriterState& w) -> absl::StatusOr<std::vector<SessionRecord>> {
          Stmt del;
          if (auto p = del.Prepare(w.conn.db(),
                                   "DELETE FROM sessions WHERE expires_at_ms<=?1 OR revoked!=0");
              !p.ok()) {
            return p;
          }
          del.Bind(1, now_ms);
          if (int rc = del.Step(); rc != SQLITE_DONE) return del.Error(rc, "expire sessions");
          Stmt s;
          if (auto p = s.Prepare(w.conn.db(),
                                 "SELECT s.token_hash, s.user_id, u.username, s.expires_at_ms FROM "
                                 "sessions s JOIN users u ON u.id=s.user_id");
              !p.ok()) {
            return p;
          }
          std::vector<SessionRecord> out;
          int rc;
          while ((rc = s.Step()) == SQLITE_ROW) {
            out.push_back(SessionRecord{s.Text(0), s.Int(1), s.Text(2), s.Int(3)});
          }
          if (rc != SQLITE_DONE) return s.Error(rc, "load sessions");
          return out;
        });
  }

  void CreateRoom(const std::string& name, const std::string& created_by, int64_t now_ms,
                  StoreCallback<RoomRecord> done) override {
    Enqueue(std::make_unique<FnTask<RoomRecord>>(
        [name, created_by, now_ms](WriterState& w) -> absl::StatusOr<RoomRecord> {
          Stmt& s = w.conn.Get(
              "INSERT INTO rooms (name, created_at_ms, created_by) VALUES (?1, ?2, ?3) "
              "ON CONFLICT (name) DO NOTHING");
          s.Reset().Bind(1, name).Bind(2, now_ms).Bind(3, created_by);
          int rc = s.Step();
          s.Reset();
          if (rc != SQLITE_DONE) return s.Error(rc, "create room");
          if (sqlite3_changes(w.conn.db()) == 0) {
            return absl::AlreadyExistsError(absl::StrCat("room '", name, "' already exists"));
          }
          RoomRecord r{sqlite3_last_insert_rowid(w.conn.db()), name, now_ms, created_by, 0};
          // A rolled-back batch leaves an unused counter behind, which is harmless.
          w.last_seq[r.id] = 0;
          return r;
        },
        std::move(done)));
  }

  void Append(AppendRequest request, StoreCallback<AppendResult> done) override {
    Enqueue(std::make_unique<AppendTask>(std::move(request), std::move(done)), /*bounded=*/true);
  }

  void ReadHistory(const HistoryQuery& query, StoreCallback<HistoryPage> done) override {
    if (memory_) {
      Enqueue(std::make_unique<FnTask<HistoryPage>>(
          [query](WriterState& w) { return ReadHistoryOn(w.conn, query); }, std::move(done)));
      return;
    }
    EnqueueRead([query, done = std::move(done)](Connection* c) {
      if (c == nullptr) return done(absl::UnavailableError("the store is closed"));
      done(ReadHistoryOn(*c, query));
    });
  }

  void CreateUser(const std::string& username, const std::string& username_key,
                  const std::string& password_hash, int64_t now_ms,
                  StoreCallback<UserRecord> done) override {
    Enqueue(std::make_unique<FnTask<UserRecord>>(
        [=](WriterState& w) -> absl::StatusOr<UserRecord> {
          Stmt& s = w.conn.Get(
              "INSERT INTO users (username, username_key, password_hash, created_at_ms) VALUES "
              "(?1, ?2, ?3, ?4) ON CONFLICT (username_key) DO NOTHING");
          s.Reset().Bind(1, username).Bind(2, username_key).Bind(3, password_hash).Bind(4, now_ms);
          int rc = s.Step();
          s.Reset();
          if (rc != SQLITE_DONE) return s.Error(rc, "create user");
          if (sqlite3_changes(w.conn.db()) == 0) {
            return absl::AlreadyExistsError(absl::StrCat("username '", username, "' is taken"));
          }
          return UserRecord{sqlite3_last_insert_rowid(w.conn.db()), username, password_hash};
        },
        std::move(done)));
  }

  void FindUser(const std::string& username_key, StoreCallback<UserRecord> done) override {
    if (memory_) {
      Enqueue(std::make_unique<FnTask<UserRecord>>(
          [username_key](WriterState& w) { return FindUserOn(w.conn, username_key); },
          std::move(done)));
      return;
    }
    EnqueueRead([username_key, done = std::move(done)](Connection* c) {
      if (c == nullptr) return done(absl::UnavailableError("the store is closed"));
      done(FindUserOn(*c, username_key));
    });
  }

  void CreateSession(const SessionRecord& session, int64_t now_ms,
                     StoreCallback<bool> done) override {
    Enqueue(std::make_unique<FnTask<bool>>(
        [session, now_ms](WriterState& w) -> absl::StatusOr<bool> {
          Stmt& s = w.conn.Get(
              "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) VALUES "
              "(?1, ?2, ?3, ?4)");
          s.Reset()
              .BindBlob(1, session.token_hash)
              .Bind(2, session.user_id)
              .Bind(3, now_ms)
              .Bind(4, session.expires_at_ms);
          int rc = s.Step();
          s.Reset();
          if (rc != SQLITE_DONE) return s.Error(rc, "create session");
          return true;
        },
        std::move(done)));
  }

  void RevokeSession(const std::string& token_hash, StoreCallback<bool> done) override {
    Enqueue(std::make_unique<FnTask<bool>>(
        [token_hash](WriterState& w) -> absl::StatusOr<bool> {
          Stmt& s = w.conn.Get("DELETE FROM sessions WHERE token_hash=?1");
          s.Reset().BindBlob(1, token_hash);
          int rc = s.Step();
          s.Reset();
          if (rc != SQLITE_DONE) return s.Error(rc, "revoke session");
          return sqlite3_changes(w.conn.db()) > 0;
        },
        std::move(done)));
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    write_cv_.notify_all();
    read_cv_.notify_all();
    if (writer_thread_.joinable()) writer_thread_.join();
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    for (auto& t : readers_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  // Runs `fn` on the writer thread and waits for it (start-up only).
  template <typename T>
  absl::StatusOr<T> RunOnWriter(std::function<absl::StatusOr<T>(WriterState&)> fn) {
    std::mutex m;
    std::condition_variable cv;
    bool ready = false;
    absl::StatusOr<T> out = absl::InternalError("not run");
    Enqueue(std::make_unique<FnTask<T>>(std::move(fn), [&](absl::StatusOr<T> r) {
      std::lock_guard<std::mutex> lock(m);
      out = std::move(r);
      ready = true;
      cv.notify_one();
    }));
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return ready; });
    return out;
  }

  void Enqueue(std::unique_ptr<WriteTask> task, bool bounded = false) {
    bool closed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed = closed_;
      if (!closed &&
          (!bounded || static_cast<int>(write_queue_.size()) < options_.max_queued_writes)) {
        write_queue_.push_back(std::move(task));
        if (write_queue_.size() == 1) write_cv_.notify_one();
        return;
      }
    }
    task->Complete(closed ? absl::UnavailableError("the store is closed")
                          : absl::UnavailableError("the store is overloaded; retry later"));
  }

  // `fn` runs on a reader thread with its connection, or with nullptr when the
  // store is closed, so the caller always hears back.
  void EnqueueRead(std::function<void(Connection*)> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_) {
        read_queue_.push_back(std::move(fn));
        read_cv_.notify_one();
        return;
      }
    }
    fn(nullptr);
  }

  void WriterLoop() {
    std::vector<std::unique_ptr<WriteTask>> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        write_cv_.wait(lock, [&] { return closed_ || !write_queue_.empty(); });
        if (write_queue_.empty() && closed_) return;
        size_t n = std::min(write_queue_.size(), static_cast<size_t>(options_.max_batch));
        batch.clear();
        batch.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(write_queue_.front()));
          write_queue_.pop_front();
        }
      }
      RunBatch(batch);
    }
  }

  void RunBatch(std::vector<std::unique_ptr<WriteTask>>& batch) {
    writer_.batch_saved.clear();
    absl::Status commit = writer_.conn.Exec("BEGIN IMMEDIATE");
    if (commit.ok()) {
      for (auto& t : batch) {
        t->Apply(writer_);
        // Some errors (disk full, I/O) make SQLite roll the transaction back on its
        // own; then nothing of this batch is stored and every task must hear so.
        if (sqlite3_get_autocommit(writer_.conn.db()) != 0) {
          commit = absl::UnavailableError(
              absl::StrCat("the database rolled back a write: ", sqlite3_errmsg(writer_.conn.db())));
          break;
        }
      }
      if (commit.ok()) {
        commit = writer_.conn.Exec("COMMIT");
        if (!commit.ok()) writer_.conn.Exec("ROLLBACK").IgnoreError();
      }
    }
    if (!commit.ok()) {
      CHAT_LOG_ERROR(kLog, "commit of %d tasks failed: %s", static_cast<int>(batch.size()),
                     commit.message());
      for (auto& [room, seq] : writer_.batch_saved) writer_.last_seq[room] = seq;
    }
    for (auto& t : batch) t->Complete(commit);
    batch.clear();
  }

  // After each commit, on the writer thread: `pages` frames are in the WAL.
  static int WalHook(void* self_ptr, sqlite3* db, const char* schema, int pages) {
    auto* self = static_cast<SqliteStore*>(self_ptr);
    const int mark = std::max(1, self->options_.checkpoint_pages);
    if (pages >= 8 * mark) {
      // The checkpointer is not keeping up: bound the WAL here, as SQLite's own
      // auto-checkpoint would.
      sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= mark) {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (!self->checkpoint_wanted_) {
        self->checkpoint_wanted_ = true;
        self->checkpoint_cv_.notify_one();
      }
    }
    return SQLITE_OK;
  }

  void CheckpointLoop(Connection& conn) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        checkpoint_cv_.wait(lock, [&] { return closed_ || checkpoint_wanted_; });
        if (closed_) return;
        checkpoint_wanted_ = false;
      }
      int log = 0, done = 0;
      int rc = sqlite3_wal_checkpoint_v2(conn.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        CHAT_LOG_WARN(kLog, "checkpoint failed: %s", sqlite3_errmsg(conn.db()));
      }
    }
  }

  void ReaderLoop(Connection& conn) {
    for (;;) {
      std::function<void(Connection*)> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        read_cv_.wait(lock, [&] { return closed_ || !read_queue_.empty(); });
        if (read_queue_.empty()) return;
        fn = std::move(read_queue_.front());
        read_queue_.pop_front();
      }
      fn(&conn);
    }
  }

  SqliteStoreOptions options_;
  bool memory_ = false;
  WriterState writer_;  // writer thread only (and Init before it starts)

  std::mutex mu_;
  std::condition_variable write_cv_;
  std::condition_variable read_cv_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  std::thread checkpointer_;
  std::deque<std::unique_ptr<WriteTask>> write_queue_;
  std::deque<std::function<void(Connection*)>> read_queue_;
  bool closed_ = false;
  std::thread writer_thread_;
  std::vector<std::thread> readers_;
};

}  // namespace

int SqliteSchemaVersion() { return kSchemaVersion; }

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  if (absl::Status st = store->Init(); !st.ok()) return st;
  return store;
}

}  // namespace chat::core
