// The SQLite store's threads and queues. The statements are in
// sqlite_queries.cc, the schema in sqlite_schema.cc, the C API wrapper in
// sqlite_db.cc; the SqliteStore row of docs/architecture.md shows how they fit.
#include "sqlite_store.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "chat/log.h"
#include "chat/thread_priority.h"
#include "sqlite_account_queries.h"
#include "sqlite_db.h"
#include "sqlite_member_queries.h"
#include "sqlite_queries.h"
#include "sqlite_schema.h"
#include "work_queue.h"

namespace chat::core {
namespace {

bool NiceReaderThread() {
  LowerThisThreadsPriority(kReaderNice);
  return true;
}

constexpr char kLog[] = "store";
constexpr char kClosed[] = "the store is closed";

// Notes are not kept here, but are bounded as on every store (store.h).
absl::Status CheckNote(const std::string& note) {
  if (note.size() > kMaxRoomNoteBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a note may hold at most ", kMaxRoomNoteBytes, " bytes"));
  }
  return absl::OkStatus();
}

// A unit of work run inside the writer's batch transaction.
class WriteTask {
 public:
  virtual ~WriteTask() = default;
  // Runs inside the open transaction. Per-task failures are kept by the task.
  virtual void Apply(WriterState& w) = 0;
  // After COMMIT (commit_status ok) or its failure (everything was rolled back),
  // or instead of Apply when the task was refused (the refusal).
  virtual void Complete(const absl::Status& commit_status) = 0;
};

// A task whose Apply computes a T that `done` receives after the commit.
template <typename T>
class ResultTask : public WriteTask {
 public:
  explicit ResultTask(StoreCallback<T> done) : done_(std::move(done)) {}
  void Complete(const absl::Status& commit_status) final {
    if (!result_.has_value()) {
      // Refused, or cut off by a rollback before its turn: the batch's status.
      done_(commit_status.ok() ? absl::InternalError("not applied") : commit_status);
    } else if (!commit_status.ok() && result_->ok()) {
      done_(commit_status);
    } else {
      done_(std::move(*result_));
    }
  }

 protected:
  // Set by Apply.
  std::optional<absl::StatusOr<T>> result_;

 private:
  StoreCallback<T> done_;
};

class AppendTask final : public ResultTask<AppendResult> {
 public:
  AppendTask(AppendRequest req, StoreCallback<AppendResult> done)
      : ResultTask(std::move(done)), req_(std::move(req)) {}
  void Apply(WriterState& w) override { result_ = AppendOn(w, std::move(req_)); }

 private:
  AppendRequest req_;
};

// A task from a lambda.
template <typename T>
class FnTask final : public ResultTask<T> {
 public:
  using ApplyFn = std::function<absl::StatusOr<T>(WriterState&)>;
  FnTask(ApplyFn apply, StoreCallback<T> done)
      : ResultTask<T>(std::move(done)), apply_(std::move(apply)) {}
  void Apply(WriterState& w) override { this->result_ = apply_(w); }

 private:
  ApplyFn apply_;
};

// A read on a reader thread's connection; nullptr when the store is closed, so
// the caller always hears back.
using ReadJob = std::function<void(SqliteConnection*)>;

// The WAL hook asks the checkpointer for a checkpoint with one of these.
struct CheckpointRequest {};

// Threading and lifetime: see sqlite_store.h.
class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteStoreOptions options)
      : options_(std::move(options)),
        writer_(static_cast<size_t>(std::max(0, options_.max_queued_writes))),
        checkpoints_(1) {}
  ~SqliteStore() override { Close(); }

  absl::Status Init() {
    memory_ = options_.path == ":memory:";
    if (!memory_) {
      if (auto st = CreateOwnerOnlyDatabaseFile(options_.path); !st.ok()) return st;
      if (auto st = file_lock_.Lock(options_.path); !st.ok()) return st;
    }
    SqliteConnectionOptions conn_options;
    conn_options.synchronous_full = options_.synchronous_full;
    conn_options.cache_kib = options_.cache_kib;
    conn_options.busy_timeout_ms = options_.busy_timeout_ms;
    conn_options.create = true;
    if (auto st = state_.conn.Open(options_.path, conn_options); !st.ok()) return st;
    conn_options.create = false;
    if (auto st = MigrateSqliteSchema(state_.conn); !st.ok()) return st;
    if (auto st = LoadSeqCounters(state_); !st.ok()) return st;
    if (!memory_) {
      // Checkpoints (copying the WAL back into the database, with its fsyncs) run
      // on a thread of their own, so no commit waits for one. The writer only
      // checkpoints itself if the WAL grows far past the mark (a checkpointer
      // that cannot keep up).
      if (auto st = state_.conn.Exec("PRAGMA wal_autocheckpoint=0"); !st.ok()) return st;
      if (auto st = checkpoint_conn_.Open(options_.path, conn_options); !st.ok()) return st;
      for (int i = 0; i < std::max(1, options_.reader_threads); ++i) {
        auto conn = std::make_unique<SqliteConnection>();
        if (auto st = conn->Open(options_.path, conn_options); !st.ok()) return st;
        reader_conns_.push_back(std::move(conn));
      }
      sqlite3_wal_hook(state_.conn.db(), &SqliteStore::WalHook, this);
      checkpoints_.Start(1, 1, [this](size_t, std::vector<CheckpointRequest>&) { Checkpoint(); });
      readers_.Start(reader_conns_.size(), 1, [this](size_t worker, std::vector<ReadJob>& jobs) {
        static thread_local const bool niced = NiceReaderThread();
        (void)niced;
        for (ReadJob& job : jobs) job(reader_conns_[worker].get());
      });
    }
    writer_.Start(1, static_cast<size_t>(std::max(1, options_.max_batch)),
                  [this](size_t, std::vector<std::unique_ptr<WriteTask>>& batch) { RunBatch(batch); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<RoomRecord>> LoadRooms() override {
    return RunOnWriter<std::vector<RoomRecord>>(&LoadRoomsOn);
  }

  absl::StatusOr<std::vector<SessionRecord>> LoadSessions(int64_t now_ms) override {
    return RunOnWriter<std::vector<SessionRecord>>(
        [now_ms](WriterState& w) { return LoadSessionsOn(w.conn, now_ms); });
  }

  void CreateRoomAs(const RoomRecord& spec, std::vector<MemberRecord> members, int64_t now_ms,
                    const RoomQuota& quota, StoreCallback<RoomRecord> done) override {
    Write<RoomRecord>(
        [spec, members = std::move(members), now_ms, quota](WriterState& w) mutable {
          return CreateRoomAsOn(w, spec, members, now_ms, quota);
        },
        std::move(done));
  }

  // Membership and moderation (store.h). SQLite has no other node to tell:
  // the notes are checked (CheckNote), not kept.
  absl::StatusOr<std::vector<MemberRecord>> LoadMembers() override {
    return RunOnWriter<std::vector<MemberRecord>>([](WriterState& w) { return ReadMembersOn(w.conn, 0); });
  }

  void ReadMembers(int64_t room_id, StoreCallback<std::vector<MemberRecord>> done) override {
    Read<std::vector<MemberRecord>>([room_id](SqliteConnection& c) { return ReadMembersOn(c, room_id); },
                                    std::move(done));
  }

  void WriteMembers(std::vector<MemberWrite> writes, const std::string& note, StoreCallback<bool> done) override {
    if (absl::Status st = CheckNote(note); !st.ok()) return done(st);
    for (const MemberWrite& w : writes) {
      if (w.record.user.empty()) return done(absl::InvalidArgumentError("a member row names no user"));
    }
    Write<bool>([writes = std::move(writes)](WriterState& w) { return WriteMembersOn(w.conn, writes); },
                std::move(done));
  }

  void UpdateRoom(int64_t room_id, const RoomUpdate& update, const std::string& note,
                  StoreCallback<RoomRecord> done) override {
    if (absl::Status st = CheckNote(note); !st.ok()) return done(st);
    Write<RoomRecord>([room_id, update](WriterState& w) { return UpdateRoomOn(w, room_id, update); },
                      std::move(done));
  }

  void DeleteRoom(int64_t room_id, const std::string& note, StoreCallback<bool> done) override {
    if (absl::Status st = CheckNote(note); !st.ok()) return done(st);
    Write<bool>([room_id](WriterState& w) { return DeleteRoomOn(w, room_id); }, std::move(done));
  }

  void DeleteMessage(int64_t room_id, int64_t seq, const std::string& only_author, const std::string& note,
                     StoreCallback<StoredMessage> done) override {
    if (absl::Status st = CheckNote(note); !st.ok()) return done(st);
    Write<StoredMessage>(
        [room_id, seq, only_author](WriterState& w) { return DeleteMessageOn(w.conn, room_id, seq, only_author); },
        std::move(done));
  }

  void SearchUsers(const std::string& prefix_key, int limit, StoreCallback<std::vector<std::string>> done) override {
    if (limit < 1) return done(absl::InvalidArgumentError("search limit must be at least 1"));
    Read<std::vector<std::string>>(
        [prefix_key, limit](SqliteConnection& c) { return SearchUsersOn(c, prefix_key, limit); }, std::move(done));
  }

  void SetUserDisabled(const std::string& username_key, bool disabled,
                       StoreCallback<std::vector<std::string>> done) override {
    Write<std::vector<std::string>>(
        [username_key, disabled](WriterState& w) { return SetUserDisabledOn(w.conn, username_key, disabled); },
        std::move(done));
  }

  void Append(AppendRequest request, StoreCallback<AppendResult> done) override {
    std::unique_ptr<WriteTask> task = std::make_unique<AppendTask>(std::move(request), std::move(done));
    PushWrite(task, /*bounded=*/true);
  }

  void ReadHistory(const HistoryQuery& query, StoreCallback<HistoryPage> done) override {
    if (query.limit < 1) {
      return done(absl::InvalidArgumentError(
          absl::StrCat("history limit must be at least 1, not ", query.limit)));
    }
    Read<HistoryPage>([query](SqliteConnection& c) { return ReadHistoryOn(c, query); },
                      std::move(done));
  }

  // Accounts and credentials (store.h; the SQL is in sqlite_account_queries.cc).
  void CreateAccount(const NewAccount& a, StoreCallback<UserRecord> done) override {
    Write<UserRecord>([a](WriterState& w) { return CreateAccountOn(w.conn, a); }, std::move(done));
  }

  void FindUser(const std::string& username_key, StoreCallback<UserRecord> done) override {
    Read<UserRecord>([username_key](SqliteConnection& c) { return FindUserOn(c, username_key); },
                     std::move(done));
  }

  void FindUsers(const std::vector<std::string>& keys, StoreCallback<std::vector<UserRecord>> done) override {
    Read<std::vector<UserRecord>>([keys](SqliteConnection& c) { return FindUsersOn(c, keys); }, std::move(done));
  }

  void ListBots(const std::string& owner_key, StoreCallback<std::vector<UserRecord>> done) override {
    Read<std::vector<UserRecord>>([owner_key](SqliteConnection& c) { return ListBotsOn(c, owner_key); },
                                  std::move(done));
  }

  void SetDisplayName(const std::string& key, const std::string& name, StoreCallback<UserRecord> done) override {
    Write<UserRecord>([key, name](WriterState& w) { return SetDisplayNameOn(w.conn, key, name); }, std::move(done));
  }

  void SetPassword(const std::string& key, const std::string& hash, const std::string& keep,
                   StoreCallback<std::vector<std::string>> done) override {
    Write<std::vector<std::string>>([key, hash, keep](WriterState& w) { return SetPasswordOn(w.conn, key, hash, keep); },
                                    std::move(done));
  }

  void DeleteUser(const std::string& key, StoreCallback<std::vector<std::string>> done) override {
    Write<std::vector<std::string>>([key](WriterState& w) { return DeleteUserOn(w.conn, key); }, std::move(done));
  }

  void FindSession(const std::string& token_hash, int64_t now_ms, StoreCallback<SessionRecord> done) override {
    Read<SessionRecord>([token_hash, now_ms](SqliteConnection& c) { return FindSessionOn(c, token_hash, now_ms); },
                        std::move(done));
  }

  void ListSessions(const std::string& key, int64_t now_ms, StoreCallback<std::vector<SessionRecord>> done) override {
    Read<std::vector<SessionRecord>>([key, now_ms](SqliteConnection& c) { return ListSessionsOn(c, key, now_ms); },
                                     std::move(done));
  }

  void CreateSession(const SessionRecord& session, int64_t now_ms,
                     StoreCallback<bool> done) override {
    Write<bool>([session, now_ms](WriterState& w) { return CreateSessionOn(w.conn, session, now_ms); },
                std::move(done));
  }

  void RevokeSession(const std::string& token_hash, StoreCallback<bool> done) override {
    Write<bool>([token_hash](WriterState& w) { return RevokeSessionOn(w.conn, token_hash); },
                std::move(done));
  }

  void TrimSessions(const SessionRecord& newest, int max_sessions,
                    StoreCallback<std::vector<std::string>> done) override {
    if (max_sessions < 1) return done(absl::InvalidArgumentError("max_sessions must be at least 1"));
    Write<std::vector<std::string>>(
        [newest, max_sessions](WriterState& w) { return TrimSessionsOn(w.conn, newest, max_sessions); },
        std::move(done));
  }

  void DeleteExpiredSessions(int64_t now_ms, StoreCallback<int64_t> done) override {
    Write<int64_t>([now_ms](WriterState& w) { return DeleteExpiredSessionsOn(w.conn, now_ms); }, std::move(done));
  }

  void UpdateSessionUse(const std::string& token_hash, int64_t expires_at_ms, int64_t last_used_ms,
                        StoreCallback<bool> done) override {
    Write<bool>([=](WriterState& w) { return UpdateSessionUseOn(w.conn, token_hash, expires_at_ms, last_used_ms); },
                std::move(done));
  }

  void CreateWebhook(const WebhookRecord& hook, StoreCallback<WebhookRecord> done) override {
    Write<WebhookRecord>([hook](WriterState& w) { return CreateWebhookOn(w.conn, hook); }, std::move(done));
  }

  void ListWebhooks(const std::string& key, StoreCallback<std::vector<WebhookRecord>> done) override {
    Read<std::vector<WebhookRecord>>([key](SqliteConnection& c) { return ListWebhooksOn(c, key); }, std::move(done));
  }

  void FindWebhook(const std::string& id, StoreCallback<WebhookRecord> done) override {
    Read<WebhookRecord>([id](SqliteConnection& c) { return FindWebhookOn(c, id); }, std::move(done));
  }

  void RevokeWebhook(const std::string& id, StoreCallback<bool> done) override {
    Write<bool>([id](WriterState& w) { return RevokeWebhookOn(w.conn, id); }, std::move(done));
  }

  void CreateRegistrationInvite(const RegistrationInviteRecord& invite, StoreCallback<bool> done) override {
    Write<bool>([invite](WriterState& w) { return CreateRegistrationInviteOn(w.conn, invite); }, std::move(done));
  }

  void Close() override {
    // Refuse new work everywhere at once; then each pool drains what it holds.
    // The writer drains first: its last commits may still ask for checkpoints,
    // which are then refused (a closed checkpointer has nothing left to do).
    readers_.queue().Close();
    checkpoints_.queue().Close();
    writer_.Stop();
    checkpoints_.Stop();
    readers_.Stop();
  }

 private:
  // Runs `fn` on the writer thread and waits for it (start-up only).
  template <typename T>
  absl::StatusOr<T> RunOnWriter(std::function<absl::StatusOr<T>(WriterState&)> fn) {
    absl::Notification ready;
    absl::StatusOr<T> out = absl::InternalError("not run");
    Write<T>(std::move(fn), [&](absl::StatusOr<T> r) {
      out = std::move(r);
      ready.Notify();
    });
    ready.WaitForNotification();
    return out;
  }

  template <typename T>
  void Write(std::function<absl::StatusOr<T>(WriterState&)> apply, StoreCallback<T> done) {
    std::unique_ptr<WriteTask> task = std::make_unique<FnTask<T>>(std::move(apply), std::move(done));
    PushWrite(task, /*bounded=*/false);
  }

  // Only appends count against max_queued_writes: room, account and session
  // writes are few, and a flood of messages must not turn them away.
  void PushWrite(std::unique_ptr<WriteTask>& task, bool bounded) {
    PushResult r = bounded ? writer_.queue().Push(task) : writer_.queue().PushPastCapacity(task);
    if (r == PushResult::kClosed) {
      task->Complete(absl::UnavailableError(kClosed));
    } else if (r == PushResult::kFull) {
      task->Complete(absl::UnavailableError("the store is overloaded; retry later"));
    }
  }

  // Runs `query` on a reader connection, or on the writer's with ":memory:".
  template <typename T>
  void Read(std::function<absl::StatusOr<T>(SqliteConnection&)> query, StoreCallback<T> done) {
    if (memory_) {
      return Write<T>([query = std::move(query)](WriterState& w) { return query(w.conn); },
                      std::move(done));
    }
    ReadJob job = [query = std::move(query), done = std::move(done)](SqliteConnection* c) {
      done(c != nullptr ? query(*c) : absl::StatusOr<T>(absl::UnavailableError(kClosed)));
    };
    if (!Queued(readers_.queue().Push(job))) job(nullptr);
  }

  // On the writer thread: one transaction for the whole batch (group commit).
  void RunBatch(std::vector<std::unique_ptr<WriteTask>>& batch) {
    const auto start = options_.on_commit ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    state_.batch_saved.clear();
    absl::Status commit = state_.conn.Exec("BEGIN IMMEDIATE");
    if (commit.ok()) {
      for (auto& t : batch) {
        t->Apply(state_);
        // Some errors (disk full, I/O) make SQLite roll the transaction back on its
        // own; then nothing of this batch is stored and every task must hear so.
        if (sqlite3_get_autocommit(state_.conn.db()) != 0) {
          commit = absl::UnavailableError(
              absl::StrCat("the database rolled back a write: ", sqlite3_errmsg(state_.conn.db())));
          break;
        }
      }
      if (commit.ok()) {
        commit = state_.conn.Exec("COMMIT");
        if (!commit.ok()) state_.conn.Exec("ROLLBACK").IgnoreError();
      }
    }
    if (!commit.ok()) {
      CHAT_LOG_ERROR(kLog, "commit of %d tasks failed: %s", static_cast<int>(batch.size()),
                     commit.message());
      for (auto& [room, seq] : state_.batch_saved) state_.last_seq[room] = seq;
    } else if (options_.on_commit) {
      options_.on_commit(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count(),
          batch.size());
    }
    for (auto& t : batch) t->Complete(commit);
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
      // Refused when one is already asked for (the queue holds one) or closed.
      CheckpointRequest request;
      (void)self->checkpoints_.queue().Push(request);
    }
    return SQLITE_OK;
  }

  // On the checkpointer thread.
  void Checkpoint() {
    if (checkpoints_.queue().closed()) return;
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(checkpoint_conn_.db(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      CHAT_LOG_WARN(kLog, "checkpoint failed: %s", sqlite3_errmsg(checkpoint_conn_.db()));
    }
  }

  // Set before the threads start, constant after.
  const SqliteStoreOptions options_;
  bool memory_ = false;
  // Held while the store lives; declared before the connections, so released
  // after they closed.
  DatabaseFileLock file_lock_;
  // The writer thread's (and Init's, before that thread starts).
  WriterState state_;
  // The checkpointer thread's.
  SqliteConnection checkpoint_conn_;
  // reader_conns_[i] is reader thread i's.
  std::vector<std::unique_ptr<SqliteConnection>> reader_conns_;

  // Declared after the connections their threads use, so destroyed (joined)
  // before them.
  WorkerPool<std::unique_ptr<WriteTask>> writer_;
  WorkerPool<CheckpointRequest> checkpoints_;
  WorkerPool<ReadJob> readers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  if (absl::Status st = store->Init(); !st.ok()) return st;
  return store;
}

}  // namespace chat::core
