// Calling a Store from a test: each call's reply is awaited with a deadline
// (a store that never answers fails the test instead of hanging it), and the
// reply records how often and on which thread it came, so the suite can check
// the threading half of the contract in store.h on every call.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_UTIL_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "store.h"

namespace chat::core::conformance {

// Long enough for a loaded 2-core machine; a healthy store answers in
// milliseconds.
inline constexpr absl::Duration kReplyDeadline = absl::Seconds(30);

// The reply of one asynchronous Store call.
// Threading: thread-safe; the callback may run on any thread. Lifetime: the
// callback shares the state, so a late reply finds it alive.
template <typename T>
class Reply {
 public:
  Reply() : state_(std::make_shared<State>()) {}

  StoreCallback<T> Callback() const {
    return [state = state_](absl::StatusOr<T> r) {
      absl::MutexLock lock(&state->mu);
      if (++state->calls == 1) {
        state->result = std::move(r);
        state->thread = std::this_thread::get_id();
      }
    };
  }

  // The first reply, or DEADLINE_EXCEEDED if none came in time. An error is
  // a new Status with the reply's code and message (no payloads), sharing
  // nothing with the state: a copy would share the message through
  // libabsl_status's uninstrumented reference count, and the store's thread,
  // freeing the state's copy after the test had read its own, would look like
  // a race to ThreadSanitizer (a conformance test, 2026-12-07).
  absl::StatusOr<T> Wait() const {
    absl::MutexLock lock(&state_->mu);
    if (!state_->mu.AwaitWithTimeout(absl::Condition(state_.get(), &State::HasReply),
                                     kReplyDeadline)) {
      return absl::DeadlineExceededError("the store did not answer");
    }
    const absl::StatusOr<T>& r = *state_->result;
    if (r.ok()) return *r;
    return absl::Status(r.status().code(), std::string(r.status().message()));
  }

  // Whether a reply has come (never blocks).
  bool Arrived() const {
    absl::MutexLock lock(&state_->mu);
    return state_->calls > 0;
  }
  int calls() const {
    absl::MutexLock lock(&state_->mu);
    return state_->calls;
  }
  std::thread::id thread() const {
    absl::MutexLock lock(&state_->mu);
    return state_->thread;
  }

 private:
  struct State {
    bool HasReply() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return calls > 0; }
    absl::Mutex mu;
    int calls ABSL_GUARDED_BY(mu) = 0;
    std::optional<absl::StatusOr<T>> result ABSL_GUARDED_BY(mu);
    std::thread::id thread ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<State> state_;
};

// A refusal before any work may be answered on the calling thread; everything
// else comes later on a thread of the store (store.h).
inline bool MayAnswerInline(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsInvalidArgument(st);
}

// Makes one call through `start` and waits for its reply, checking that it came
// once and, unless it is a refusal, not on this thread.
template <typename T, typename Start>
absl::StatusOr<T> Call(Start start) {
  Reply<T> reply;
  start(reply.Callback());
  absl::StatusOr<T> r = reply.Wait();
  if (r.status().code() != absl::StatusCode::kDeadlineExceeded && !MayAnswerInline(r.status())) {
    EXPECT_NE(reply.thread(), std::this_thread::get_id())
        << "an accepted call was answered on the calling thread: " << r.status();
  }
  EXPECT_LE(reply.calls(), 1) << "the callback ran more than once";
  return r;
}

inline absl::StatusOr<RoomRecord> CreateRoom(Store& s, const std::string& name,
                                             const std::string& by = "tester",
                                             int64_t now_ms = 1000) {
  return Call<RoomRecord>([&](auto cb) { s.CreateRoom(name, by, now_ms, std::move(cb)); });
}

inline AppendRequest Message(int64_t room, const std::string& author, const std::string& text,
                             const std::string& client_msg_id = "", int64_t sent_at_ms = 5000) {
  return AppendRequest{room, author, text, sent_at_ms, client_msg_id};
}

inline absl::StatusOr<AppendResult> Append(Store& s, AppendRequest req) {
  return Call<AppendResult>([&](auto cb) { s.Append(std::move(req), std::move(cb)); });
}

inline absl::StatusOr<AppendResult> Append(Store& s, int64_t room, const std::string& author,
                                           const std::string& text,
                                           const std::string& client_msg_id = "") {
  return Append(s, Message(room, author, text, client_msg_id));
}

inline absl::StatusOr<HistoryPage> Read(Store& s, int64_t room, HistoryQuery::Direction dir,
                                        int64_t cursor, int limit, int64_t max_seq = 0) {
  HistoryQuery q;
  q.room_id = room;
  q.direction = dir;
  q.cursor = cursor;
  q.limit = limit;
  q.max_seq = max_seq;
  return Call<HistoryPage>([&](auto cb) { s.ReadHistory(q, std::move(cb)); });
}

// Every message of a room, oldest first.
inline absl::StatusOr<HistoryPage> ReadAll(Store& s, int64_t room) {
  return Read(s, room, HistoryQuery::Direction::kAfter, 0, 1 << 30);
}

inline std::vector<int64_t> Seqs(const HistoryPage& p) {
  std::vector<int64_t> out;
  for (const auto& m : p.messages) out.push_back(m.seq);
  return out;
}

// 1, 2, ..., n.
inline std::vector<int64_t> OneTo(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

// Member rows and their writes.
inline MemberRecord Row(int64_t room, const std::string& user, MemberState state, Role role = Role::kNone,
                        const std::string& by = "", int64_t at_ms = 0, const std::string& reason = "") {
  MemberRecord m;
  m.room_id = room;
  m.user = user;
  m.state = state;
  m.role = role;
  m.by = by;
  m.at_ms = at_ms;
  m.reason = reason;
  return m;
}

// `record` if the row is now in state `expect` (kNone: no row).
inline MemberWrite Expecting(MemberState expect, MemberRecord record) {
  return MemberWrite{std::move(record), true, expect};
}
// `record` whatever the row is now.
inline MemberWrite Unchecked(MemberRecord record) { return MemberWrite{std::move(record), false}; }

inline absl::StatusOr<bool> WriteMembers(Store& s, std::vector<MemberWrite> writes, const std::string& note = "") {
  return Call<bool>([&](auto cb) { s.WriteMembers(std::move(writes), note, std::move(cb)); });
}

inline absl::StatusOr<std::vector<MemberRecord>> ReadMembers(Store& s, int64_t room_id) {
  return Call<std::vector<MemberRecord>>([&](auto cb) { s.ReadMembers(room_id, std::move(cb)); });
}

inline absl::StatusOr<RoomRecord> CreateRoomAs(Store& s, const RoomRecord& spec, std::vector<MemberRecord> members,
                                               const RoomQuota& quota = {}, int64_t now_ms = 1000) {
  return Call<RoomRecord>(
      [&](auto cb) { s.CreateRoomAs(spec, std::move(members), now_ms, quota, std::move(cb)); });
}

inline RoomRecord Spec(const std::string& name, const std::string& created_by, RoomKind kind,
                       const std::string& topic = "") {
  RoomRecord r;
  r.name = name;
  r.created_by = created_by;
  r.kind = kind;
  r.topic = topic;
  return r;
}

// A member row in short: "room/user:state:role", with the state and role as
// their numbers.
inline std::string Brief(const MemberRecord& m) {
  return absl::StrCat(m.room_id, "/", m.user, ":", static_cast<int>(m.state), ":", static_cast<int>(m.role));
}
inline std::vector<std::string> Briefs(const std::vector<MemberRecord>& rows) {
  std::vector<std::string> out;
  for (const MemberRecord& m : rows) out.push_back(Brief(m));
  return out;
}

inline absl::StatusOr<UserRecord> CreateUser(Store& s, const std::string& username) {
  return Call<UserRecord>(
      [&](auto cb) { s.CreateUser(username, absl::AsciiStrToLower(username), "h", 1, std::move(cb)); });
}

// Accounts and credentials (#29).
inline NewAccount UserAccount(const std::string& username, int64_t now_ms = 1) {
  NewAccount a;
  a.username = username;
  a.username_key = absl::AsciiStrToLower(username);
  a.password_hash = "h";
  a.now_ms = now_ms;
  return a;
}

inline NewAccount BotAccount(const std::string& username, const std::string& owner_key, int64_t now_ms = 1) {
  NewAccount a = UserAccount(username, now_ms);
  a.password_hash = "";
  a.kind = AccountKind::kBot;
  a.owner_key = owner_key;
  return a;
}

inline absl::StatusOr<UserRecord> CreateAccount(Store& s, const NewAccount& a) {
  return Call<UserRecord>([&](auto cb) { s.CreateAccount(a, std::move(cb)); });
}

inline absl::StatusOr<UserRecord> FindUser(Store& s, const std::string& key) {
  return Call<UserRecord>([&](auto cb) { s.FindUser(key, std::move(cb)); });
}

// A login session of `user` made at `created` that expires at `expires`.
inline SessionRecord LoginOf(const UserRecord& user, const std::string& hash, int64_t created,
                             int64_t expires = 1'000'000) {
  SessionRecord r;
  r.token_hash = hash;
  r.user_id = user.id;
  r.username = user.username;
  r.created_at_ms = created;
  r.expires_at_ms = expires;
  return r;
}

// An API token of `user` named `name`.
inline SessionRecord TokenOf(const UserRecord& user, const std::string& hash, const std::string& name,
                             int64_t created = 10, int64_t expires = kNeverExpiresMs) {
  SessionRecord r = LoginOf(user, hash, created, expires);
  r.kind = CredentialKind::kApiToken;
  r.name = name;
  r.created_by = user.username;
  return r;
}

inline absl::StatusOr<bool> CreateSession(Store& s, const SessionRecord& r, int64_t now_ms = 100) {
  return Call<bool>([&](auto cb) { s.CreateSession(r, now_ms, std::move(cb)); });
}

inline absl::StatusOr<SessionRecord> FindSession(Store& s, const std::string& hash, int64_t now_ms = 100) {
  return Call<SessionRecord>([&](auto cb) { s.FindSession(hash, now_ms, std::move(cb)); });
}

// The token hashes of `sessions`, in their order.
inline std::vector<std::string> HashesOf(const std::vector<SessionRecord>& sessions) {
  std::vector<std::string> out;
  for (const SessionRecord& r : sessions) out.push_back(r.token_hash);
  return out;
}

// A 32-byte token hash made of `c` (readable in failures).
inline std::string HashOf(char c) { return std::string(32, c); }

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_UTIL_H_
