#include "pg_store.h"

#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chat/log.h"
#include "chat/thread_priority.h"
#include "pg_account_ops.h"
#include "pg_conn.h"
#include "pg_room_ops.h"
#include "pg_schema.h"
#include "pg_write_batch.h"
#include "work_queue.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "store";

// A read on a reader connection; `conn` is null when none could be had
// (`why` says why).
using ReadFn = std::function<void(PgConn* conn, const absl::Status& why)>;

class PgStoreImpl final : public PgStore {
 public:
  explicit PgStoreImpl(PgStoreOptions options)
      : options_(std::move(options)), writes_(static_cast<size_t>(std::max(1, options_.max_queued_writes))) {}
  ~PgStoreImpl() override { Close(); }

  void Start() {
    writer_ = std::thread([this] { WriterLoop(); });
    for (int i = 0; i < std::max(1, options_.reader_connections); ++i) {
      readers_.emplace_back([this] { ReaderLoop(); });
    }
  }

  bool connected() const override {
    absl::MutexLock lock(&mu_);
    return connected_;
  }

  bool WaitConnected(absl::Duration timeout) override {
    absl::MutexLock lock(&mu_);
    // A database this build cannot use, or a malformed URI, will not get better.
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return connected_ || closed_ || absl::IsFailedPrecondition(last_error_) ||
             absl::IsInvalidArgument(last_error_);
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return connected_;
  }

  absl::Status last_error() const {
    absl::MutexLock lock(&mu_);
    return last_error_;
  }

  absl::StatusOr<std::vector<RoomRecord>> LoadRooms() override {
    return ReadAndWait<std::vector<RoomRecord>>([](PgConn& conn) { return LoadPgRooms(conn); });
  }

  absl::StatusOr<std::vector<SessionRecord>> LoadSessions(int64_t now_ms) override {
    return ReadAndWait<std::vector<SessionRecord>>([now_ms](PgConn& conn) { return LoadPgSessions(conn, now_ms); });
  }

  void CreateRoomAs(const RoomRecord& spec, std::vector<MemberRecord> members, int64_t now_ms, const RoomQuota& quota,
                    StoreCallback<RoomRecord> done) override {
    std::vector<const std::string*> texts{&spec.name, &spec.created_by, &spec.topic};
    for (const MemberRecord& m : members) {
      for (const std::string* t : {&m.user, &m.by, &m.reason}) texts.push_back(t);
    }
    if (absl::Status st = CheckPgText(texts); !st.ok()) return done(st);
    PushOp(PgCreateRoomOp(spec, std::move(members), now_ms, quota, std::move(done)));
  }

  // Membership and moderation (store.h; the SQL is in pg_room_ops.cc).
  absl::StatusOr<std::vector<MemberRecord>> LoadMembers() override {
    return ReadAndWait<std::vector<MemberRecord>>([](PgConn& conn) { return ReadPgMembers(conn, 0); });
  }

  void ReadMembers(int64_t room_id, StoreCallback<std::vector<MemberRecord>> done) override {
    Read([room_id, done = std::move(done)](PgConn* conn, const absl::Status& why) {
      done(conn == nullptr ? absl::StatusOr<std::vector<MemberRecord>>(why) : ReadPgMembers(*conn, room_id));
    });
  }

  void WriteMembers(std::vector<MemberWrite> writes, const std::string& note, StoreCallback<bool> done) override {
    if (absl::Status st = CheckPgNote(note); !st.ok()) return done(st);
    std::vector<const std::string*> texts;
    for (const MemberWrite& w : writes) {
      if (w.record.user.empty()) return done(absl::InvalidArgumentError("a member row names no user"));
      for (const std::string* t : {&w.record.user, &w.record.by, &w.record.reason}) texts.push_back(t);
    }
    if (absl::Status st = CheckPgText(texts); !st.ok()) return done(st);
    PushOp(PgWriteMembersOp(writes, note, std::move(done)));
  }

  void UpdateRoom(int64_t room_id, const RoomUpdate& update, const std::string& note,
                  StoreCallback<RoomRecord> done) override {
    const std::string topic = update.topic.value_or("");
    if (absl::Status st = CheckPgNote(note); !st.ok()) return done(st);
    if (absl::Status st = CheckPgText({&topic}); !st.ok()) return done(st);
    PushOp(PgUpdateRoomOp(room_id, update, note, std::move(done)));
  }

  void DeleteRoom(int64_t room_id, const std::string& note, StoreCallback<bool> done) override {
    if (absl::Status st = CheckPgNote(note); !st.ok()) return done(st);
    PushOp(PgDeleteRoomOp(room_id, note, std::move(done)));
  }

  void DeleteMessage(int64_t room_id, int64_t seq, const std::string& only_author, const std::string& note,
                     StoreCallback<StoredMessage> done) override {
    if (absl::Status st = CheckPgNote(note); !st.ok()) return done(st);
    if (absl::Status st = CheckPgText({&only_author}); !st.ok()) return done(st);
    PushOp(PgDeleteMessageOp(room_id, seq, only_author, note, std::move(done)));
  }

  void SearchUsers(const std::string& prefix_key, int limit, StoreCallback<std::vector<std::string>> done) override {
    if (limit < 1) return done(absl::InvalidArgumentError("search limit must be at least 1"));
    if (absl::Status st = CheckPgText({&prefix_key}); !st.ok()) return done(st);
    Read([prefix_key, limit, done = std::move(done)](PgConn* conn, const absl::Status& why) {
      done(conn == nullptr ? absl::StatusOr<std::vector<std::string>>(why) : SearchPgUsers(*conn, prefix_key, limit));
    });
  }

  void SetUserDisabled(const std::string& username_key, bool disabled,
                       StoreCallback<std::vector<std::string>> done) override {
    if (absl::Status st = CheckPgText({&username_key}); !st.ok()) return done(st);
    PushOp(PgSetUserDisabledOp(username_key, disabled, std::move(done)));
  }

  void Append(AppendRequest request, StoreCallback<AppendResult> done) override {
    if (request.text.find('\0') != std::string::npos || request.author.find('\0') != std::string::npos ||
        request.client_msg_id.find('\0') != std::string::npos) {
      return done(absl::InvalidArgumentError("PostgreSQL text cannot hold U+0000"));
    }
    if (!connected()) return done(Unavailable());
    PgWriteItem item = PgAppendOp{std::move(request), std::move(done)};
    PushResult pushed = writes_.Push(item);
    if (Queued(pushed)) return;
    FailPgWrite(item, pushed == PushResult::kFull ? absl::UnavailableError("the store is overloaded; retry later")
                                               : absl::UnavailableError("the store is closed"));
  }

  void ReadHistory(const HistoryQuery& query, StoreCallback<HistoryPage> done) override {
    Read([query, done = std::move(done)](PgConn* conn, const absl::Status& why) {
      done(conn == nullptr ? absl::StatusOr<HistoryPage>(why) : ReadPgHistory(*conn, query));
    });
  }

  // Accounts and credentials (store.h; the SQL is in pg_account_ops.cc).
  void CreateAccount(const NewAccount& a, StoreCallback<UserRecord> done) override {
    if (absl::Status st = CheckPgText({&a.username, &a.username_key, &a.password_hash, &a.owner_key, &a.display_name});
        !st.ok()) {
      return done(st);
    }
    PushOp(PgCreateAccountOp(a, std::move(done)));
  }

  void FindUser(const std::string& username_key, StoreCallback<UserRecord> done) override {
    if (absl::Status st = CheckPgText({&username_key}); !st.ok()) return done(st);
    ReadWith<UserRecord>([username_key](PgConn& c) { return FindPgUser(c, username_key); }, std::move(done));
  }

  void FindUsers(const std::vector<std::string>& keys, StoreCallback<std::vector<UserRecord>> done) override {
    for (const std::string& k : keys) {
      if (absl::Status st = CheckPgText({&k}); !st.ok()) return done(st);
    }
    ReadWith<std::vector<UserRecord>>([keys](PgConn& c) { return FindPgUsers(c, keys); }, std::move(done));
  }

  void ListBots(const std::string& owner_key, StoreCallback<std::vector<UserRecord>> done) override {
    if (absl::Status st = CheckPgText({&owner_key}); !st.ok()) return done(st);
    ReadWith<std::vector<UserRecord>>([owner_key](PgConn& c) { return ListPgBots(c, owner_key); }, std::move(done));
  }

  void SetDisplayName(const std::string& key, const std::string& name, StoreCallback<UserRecord> done) override {
    if (absl::Status st = CheckPgText({&key, &name}); !st.ok()) return done(st);
    PushOp(PgSetDisplayNameOp(key, name, std::move(done)));
  }

  void SetPassword(const std::string& key, const std::string& hash, const std::string& keep,
                   StoreCallback<std::vector<std::string>> done) override {
    if (absl::Status st = CheckPgText({&key, &hash}); !st.ok()) return done(st);
    PushOp(PgSetPasswordOp(key, hash, keep, std::move(done)));
  }

  void DeleteUser(const std::string& key, StoreCallback<std::vector<std::string>> done) override {
    if (absl::Status st = CheckPgText({&key}); !st.ok()) return done(st);
    PushOp(PgDeleteUserOp(key, std::move(done)));
  }

  void FindSession(const std::string& token_hash, int64_t now_ms, StoreCallback<SessionRecord> done) override {
    ReadWith<SessionRecord>([token_hash, now_ms](PgConn& c) { return FindPgSession(c, token_hash, now_ms); },
                            std::move(done));
  }

  void ListSessions(const std::string& key, int64_t now_ms, StoreCallback<std::vector<SessionRecord>> done) override {
    if (absl::Status st = CheckPgText({&key}); !st.ok()) return done(st);
    ReadWith<std::vector<SessionRecord>>([key, now_ms](PgConn& c) { return ListPgSessions(c, key, now_ms); },
                                         std::move(done));
  }

  void CreateSession(const SessionRecord& session, int64_t now_ms, StoreCallback<bool> done) override {
    std::vector<const std::string*> texts{&session.peer, &session.client, &session.name, &session.created_by};
    for (const std::string& room : session.rooms) texts.push_back(&room);
    if (absl::Status st = CheckPgText(texts); !st.ok()) return done(st);
    PushOp(PgCreateSessionOp(session, now_ms, std::move(done)));
  }

  void RevokeSession(const std::string& token_hash, StoreCallback<bool> done) override {
    PushOp(PgRevokeSessionOp(token_hash, std::move(done)));
  }

  void TrimSessions(const SessionRecord& newest, int max_sessions,
                    StoreCallback<std::vector<std::string>> done) override {
    if (max_sessions < 1) return done(absl::InvalidArgumentError("max_sessions must be at least 1"));
    PushOp(PgTrimSessionsOp(newest, max_sessions, std::move(done)));
  }

  void DeleteExpiredSessions(int64_t now_ms, StoreCallback<int64_t> done) override {
    PushOp(PgDeleteExpiredSessionsOp(now_ms, std::move(done)));
  }

  void UpdateSessionUse(const std::string& token_hash, int64_t expires_at_ms, int64_t last_used_ms,
                        StoreCallback<bool> done) override {
    PushOp(PgUpdateSessionUseOp(token_hash, expires_at_ms, last_used_ms, std::move(done)));
  }

  void CreateWebhook(const WebhookRecord& hook, StoreCallback<WebhookRecord> done) override {
    if (absl::Status st = CheckPgText({&hook.id, &hook.bot, &hook.created_by, &hook.name}); !st.ok()) return done(st);
    PushOp(PgCreateWebhookOp(hook, std::move(done)));
  }

  void ListWebhooks(const std::string& key, StoreCallback<std::vector<WebhookRecord>> done) override {
    if (absl::Status st = CheckPgText({&key}); !st.ok()) return done(st);
    ReadWith<std::vector<WebhookRecord>>([key](PgConn& c) { return ListPgWebhooks(c, key); }, std::move(done));
  }

  void FindWebhook(const std::string& id, StoreCallback<WebhookRecord> done) override {
    if (absl::Status st = CheckPgText({&id}); !st.ok()) return done(st);
    ReadWith<WebhookRecord>([id](PgConn& c) { return FindPgWebhook(c, id); }, std::move(done));
  }

  void RevokeWebhook(const std::string& id, StoreCallback<bool> done) override {
    if (absl::Status st = CheckPgText({&id}); !st.ok()) return done(st);
    PushOp(PgRevokeWebhookOp(id, std::move(done)));
  }

  void CreateRegistrationInvite(const RegistrationInviteRecord& invite, StoreCallback<bool> done) override {
    if (absl::Status st = CheckPgText({&invite.created_by}); !st.ok()) return done(st);
    PushOp(PgCreateInviteOp(invite, std::move(done)));
  }

  void Close() override {
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        auto joined = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return joined_; };
        mu_.Await(absl::Condition(&joined));
        return;
      }
      closed_ = true;
    }
    writes_.Close();
    reads_.Close();
    if (writer_.joinable()) writer_.join();
    for (auto& t : readers_) {
      if (t.joinable()) t.join();
    }
    absl::MutexLock lock(&mu_);
    joined_ = true;
  }

 private:
  absl::Status Unavailable() const {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the store is closed");
    return absl::UnavailableError(absl::StrCat("the database is unavailable",
                                               last_error_.ok() ? "" : ": ", last_error_.message()));
  }

  // Queues a write that is not an append (never refused as overload: room,
  // account and session writes are few).
  void PushOp(PgWriteOp op) {
    PgWriteItem item = std::move(op);
    if (!connected()) return FailPgWrite(item, Unavailable());
    PushResult pushed = writes_.PushPastCapacity(item);
    if (!Queued(pushed)) FailPgWrite(item, absl::UnavailableError("the store is closed"));
  }

  void Read(ReadFn fn) {
    PushResult pushed = reads_.Push(fn);
    if (!Queued(pushed)) fn(nullptr, absl::UnavailableError("the store is closed"));
  }

  // Runs `query` on a reader connection and hands its answer to `done`.
  template <typename T>
  void ReadWith(std::function<absl::StatusOr<T>(PgConn&)> query, StoreCallback<T> done) {
    Read([query = std::move(query), done = std::move(done)](PgConn* conn, const absl::Status& why) {
      done(conn == nullptr ? absl::StatusOr<T>(why) : query(*conn));
    });
  }

  // Runs `fn` on a reader connection and waits for it (start-up loads).
  template <typename T>
  absl::StatusOr<T> ReadAndWait(std::function<absl::StatusOr<T>(PgConn&)> fn) {
    absl::Mutex m;
    bool ready = false;
    absl::StatusOr<T> out = absl::InternalError("not run");
    Read([&](PgConn* conn, const absl::Status& why) {
      absl::StatusOr<T> r = conn == nullptr ? absl::StatusOr<T>(why) : fn(*conn);
      absl::MutexLock lock(&m);
      out = std::move(r);
      ready = true;
    });
    absl::MutexLock lock(&m);
    m.Await(absl::Condition(&ready));
    return out;
  }

  absl::StatusOr<std::unique_ptr<PgConn>> Connect(bool migrate) {
    auto conn = PgConn::Connect(options_.pg);
    if (!conn.ok()) return conn.status();
    if (migrate) {
      if (absl::Status st = MigratePg(**conn); !st.ok()) return st;
    }
    auto set = (*conn)->Exec(
        absl::StrCat("SET lock_timeout = ", std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.lock_timeout))));
    if (!set.ok()) return set.status();
    return conn;
  }

  void SetConnected(bool connected, const absl::Status& why) {
    absl::MutexLock lock(&mu_);
    if (connected_ != connected) {
      if (connected) {
        CHAT_LOG_INFO(kLog, "connected to PostgreSQL");
      } else {
        CHAT_LOG_WARN(kLog, "PostgreSQL is unavailable: %s", why.message());
      }
    }
    connected_ = connected;
    if (!why.ok()) last_error_ = why;
  }

  // Sleeps `d` unless the store closes first.
  void Backoff(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    auto closed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&closed), d);
  }

  void WriterLoop() {
    std::unique_ptr<PgConn> conn;
    absl::Duration backoff = options_.pg.reconnect_min;
    std::vector<PgWriteItem> batch;
    for (;;) {
      if (conn == nullptr || !conn->healthy()) {
        conn.reset();
        auto c = Connect(/*migrate=*/true);
        if (!c.ok()) {
          SetConnected(false, c.status());
          // Nothing waits for a database that is not there.
          batch.clear();
          while (writes_.TryPopBatch(options_.max_batch, batch) > 0) {
            for (auto& item : batch) FailPgWrite(item, Unavailable());
            batch.clear();
          }
          if (writes_.closed()) return;
          Backoff(backoff);
          backoff = std::min(backoff * 2, options_.pg.reconnect_max);
          continue;
        }
        conn = std::move(*c);
        backoff = options_.pg.reconnect_min;
        SetConnected(true, absl::OkStatus());
      }
      batch.clear();
      if (writes_.PopBatch(static_cast<size_t>(options_.max_batch), batch) == 0) return;
      CommitPgBatch(*conn, batch, options_.on_commit);
      if (!conn->healthy()) SetConnected(false, absl::UnavailableError("the connection broke"));
    }
  }

  void ReaderLoop() {
    LowerThisThreadsPriority(kReaderNice);
    std::unique_ptr<PgConn> conn;
    absl::Time next_attempt = absl::InfinitePast();
    absl::Duration backoff = options_.pg.reconnect_min;
    absl::Status down;
    std::vector<ReadFn> one;
    for (;;) {
      one.clear();
      if (reads_.PopBatch(1, one) == 0) return;
      if (conn == nullptr || !conn->healthy()) {
        conn.reset();
        if (absl::Now() >= next_attempt) {
          auto c = Connect(/*migrate=*/false);
          if (c.ok()) {
            conn = std::move(*c);
            backoff = options_.pg.reconnect_min;
          } else {
            down = c.status();
            next_attempt = absl::Now() + backoff;
            backoff = std::min(backoff * 2, options_.pg.reconnect_max);
          }
        }
      }
      if (conn == nullptr) {
        one[0](nullptr, absl::UnavailableError(absl::StrCat("the database is unavailable: ", down.message())));
        continue;
      }
      one[0](conn.get(), absl::OkStatus());
    }
  }

  const PgStoreOptions options_;
  WorkQueue<PgWriteItem> writes_;
  WorkQueue<ReadFn> reads_;
  std::thread writer_;
  std::vector<std::thread> readers_;

  mutable absl::Mutex mu_;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

bool IsPostgresUri(const std::string& db) {
  return absl::StartsWith(db, "postgresql://") || absl::StartsWith(db, "postgres://");
}

absl::StatusOr<std::unique_ptr<PgStore>> OpenPgStore(const PgStoreOptions& options) {
  if (!IsPostgresUri(options.pg.uri)) {
    return absl::InvalidArgumentError("a PostgreSQL database is named by a postgresql:// URI");
  }
  if (absl::Status st = CheckPgUri(options.pg.uri); !st.ok()) return st;
  auto store = std::make_unique<PgStoreImpl>(options);
  store->Start();
  if (options.open_wait > absl::ZeroDuration() && !store->WaitConnected(options.open_wait)) {
    absl::Status why = store->last_error();
    store->Close();
    if (why.code() == absl::StatusCode::kInvalidArgument || why.code() == absl::StatusCode::kFailedPrecondition) {
      return why;
    }
    return absl::UnavailableError(absl::StrCat("cannot reach PostgreSQL: ", why.message()));
  }
  return store;
}

}  // namespace chat::core
