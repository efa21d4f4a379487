// Attacks on login and logout, against a real CoreServer on port 0: a burst of
// concurrent guesses, oversized usernames, a logout the database refuses, the
// per-username slowdown's wait; and a registration on cores that stay busy.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"
#include "sqlite_db.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

struct BurstResult {
  int guessed = 0;  // answered UNAUTHENTICATED: a password was checked
  int refused = 0;  // RESOURCE_EXHAUSTED: the limiter said no before hashing
  std::vector<std::string> other;
};

// `n` logins at once (each on its own channel, released together), the
// username of login i from `user(i)`.
template <typename UserOf>
BurstResult Burst(const TestCore& core, int n, UserOf user) {
  std::vector<std::unique_ptr<chat::v1::AuthService::Stub>> stubs;
  for (int i = 0; i < n; ++i) stubs.push_back(core.Auth());
  std::vector<grpc::Status> results(n);
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      results[i] = Login(stubs[i].get(), user(i), "wrong password");
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();
  BurstResult r;
  for (const grpc::Status& st : results) {
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      ++r.guessed;
    } else if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
               st.error_message().find("too many failed logins") != std::string::npos) {
      ++r.refused;
    } else {
      r.other.push_back(absl::StrCat(st.error_code(), ": ", st.error_message()));
    }
  }
  return r;
}

// Real Argon2id cost, so that a hash takes long enough for the whole burst to
// arrive while the first guesses are still being checked.
core::CoreOptions RealHashCost() {
  core::CoreOptions o = TestCoreOptions();
  o.accounts.pwhash_opslimit = 2;
  o.accounts.pwhash_memlimit = 19 * 1024 * 1024;
  o.accounts.hash_threads = 2;
  return o;
}

TEST(LoginAbuseTest, ABurstOfConcurrentGuessesGetsAtMostTheLimit) {
  core::CoreOptions options = RealHashCost();
  ASSERT_EQ(options.accounts.login_limits.max_failures_per_pair, 5);
  TestCore core(options);
  core.Token("target", "the right password");
  BurstResult r = Burst(core, 40, [](int) { return std::string("target"); });
  EXPECT_THAT(r.other, ::testing::IsEmpty());
  EXPECT_GE(r.guessed, 1);
  EXPECT_LE(r.guessed, 5) << "guesses checked out of a burst of 40";
  EXPECT_EQ(r.guessed + r.refused, 40);
  std::printf("burst of 40 wrong logins for one user: %d checked, %d refused\n", r.guessed, r.refused);
}

TEST(LoginAbuseTest, ABurstOverManyUsersGetsAtMostThePeerLimit) {
  core::CoreOptions options = RealHashCost();
  ASSERT_EQ(options.accounts.login_limits.max_failures_per_peer, 20);
  TestCore core(options);
  BurstResult r = Burst(core, 40, [](int i) { return absl::StrCat("user", i); });
  EXPECT_THAT(r.other, ::testing::IsEmpty());
  EXPECT_GE(r.guessed, 1);
  EXPECT_LE(r.guessed, 20) << "guesses checked out of a burst of 40 from one address";
  EXPECT_EQ(r.guessed + r.refused, 40);
  std::printf("burst of 40 wrong logins over 40 users: %d checked, %d refused\n", r.guessed, r.refused);
}

TEST(LoginAbuseTest, AnOversizedUsernameIsRefusedBeforeTheLimiter) {
  TestCore core;
  auto auth = core.Auth();
  // Under the 64 KB message cap: it reaches Accounts, which refuses it by its
  // shape before it becomes a limiter key. Far more than the 20 failures one
  // address may have: had any of them been counted, the address would be
  // locked out below.
  for (int i = 0; i < 25; ++i) {
    grpc::Status st = Login(auth.get(), std::string(60 * 1024, static_cast<char>('a' + i % 26)), "wrong password");
    ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("3-32"));
  }
  grpc::Status st = Login(auth.get(), "has space", "wrong password");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // 100 KB is past gRPC's message cap: refused before any handler runs.
  st = Login(auth.get(), std::string(100 * 1024, 'z'), "wrong password");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  // Neither the address nor any user was charged a failure.
  EXPECT_FALSE(core.Token("realuser").empty());
}

// A trigger in the database refuses to delete sessions: the store's delete
// fails the way a full disk or a lost database would make it fail.
void BlockSessionDeletes(const std::string& db, bool block) {
  core::SqliteConnection conn;
  ASSERT_TRUE(conn.Open(db, core::SqliteConnectionOptions{}).ok());
  absl::Status st = conn.Exec(block ? "CREATE TRIGGER keep_sessions BEFORE DELETE ON sessions "
                                      "BEGIN SELECT RAISE(ABORT, 'session deletes are blocked'); END"
                                    : "DROP TRIGGER keep_sessions");
  ASSERT_TRUE(st.ok()) << st;
}

TEST(LoginAbuseTest, ALogoutTheDatabaseRefusesIsReportedAndCanBeRetried) {
  TempDir dir;
  core::CoreOptions options = TestCoreOptions();
  options.store.path = dir.File("chat.db");
  auto core = std::make_unique<TestCore>(options);
  std::string token = core->Token("kate");
  auto auth = core->Auth();
  auto stub = core->Chat();
  auto stream = std::make_unique<EventClient>(stub.get(), token);
  stream->Join("lobby");
  ASSERT_TRUE(stream->WaitFor(IsJoined("lobby")));

  BlockSessionDeletes(options.store.path, true);
  grpc::Status st = Logout(auth.get(), token);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("retry"));
  // Not logged out, and told so: the token is what the database says, now ...
  EXPECT_TRUE(WhoAmI(auth.get(), token).ok());
  stream->SendText("lobby", "still here", "a");
  EXPECT_TRUE(stream->WaitFor(IsAck("a")));
  stream.reset();
  stub.reset();
  auth.reset();
  // ... and after a restart.
  core.reset();
  core = std::make_unique<TestCore>(options);
  auth = core->Auth();
  EXPECT_TRUE(WhoAmI(auth.get(), token).ok());

  // The retry, once the database deletes again, ends the token everywhere.
  stub = core->Chat();
  stream = std::make_unique<EventClient>(stub.get(), token);
  stream->Join("lobby");
  ASSERT_TRUE(stream->WaitFor(IsJoined("lobby")));
  BlockSessionDeletes(options.store.path, false);
  st = Logout(auth.get(), token);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto done = stream->WaitDone(5s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(WhoAmI(auth.get(), token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  stream.reset();
  stub.reset();
  auth.reset();
  core.reset();
  core = std::make_unique<TestCore>(options);
  auth = core->Auth();
  EXPECT_EQ(WhoAmI(auth.get(), token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// The per-username slowdown makes the owner's login wait for its turn (up to
// --login_slowdown_wait) rather than refuse it; a longer delay is refused at
// once, saying when to retry, and so is every login with the wait at 0.
TEST(LoginAbuseTest, ASlowedDownLoginWaitsForItsTurnUpToTheWaitThenIsRefused) {
  for (absl::Duration delay : {absl::Milliseconds(700), absl::Seconds(5)}) {
    for (absl::Duration wait : {absl::Seconds(3), absl::ZeroDuration()}) {
      SCOPED_TRACE(absl::StrCat("delay ", absl::FormatDuration(delay), ", wait ", absl::FormatDuration(wait)));
      core::CoreOptions options = TestCoreOptions();
      options.accounts.login_limits.user_slowdown_after = 1;
      options.accounts.login_limits.user_slowdown_base = delay;
      options.accounts.login_limits.user_slowdown_max = delay;
      options.accounts.login_slowdown_wait = wait;
      TestCore core(options);
      auto auth = core.Auth();
      core.Token("alice", "alice's password");  // registers her
      ASSERT_EQ(Login(auth.get(), "alice", "a guess", "10.0.0.9").error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
      auto start = std::chrono::steady_clock::now();
      grpc::Status st = Login(auth.get(), "alice", "alice's password", "192.0.2.1");
      auto took = std::chrono::steady_clock::now() - start;
      if (delay < wait) {
        EXPECT_TRUE(st.ok()) << st.error_message();
        EXPECT_GE(took, absl::ToChronoMilliseconds(delay) - 100ms);
        EXPECT_LT(took, 3s);
      } else {
        EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
        EXPECT_THAT(st.error_message(), HasSubstr("too many failed logins for this user; retry in"));
        EXPECT_LT(took, 500ms);  // refused at once, not after waiting
      }
    }
  }
}

// A login waiting for its turn when chat-core stops is answered, not dropped.
TEST(LoginAbuseTest, ALoginWaitingForItsTurnIsAnsweredWhenChatCoreStops) {
  core::CoreOptions options = TestCoreOptions();
  options.accounts.login_limits.user_slowdown_after = 1;
  options.accounts.login_limits.user_slowdown_base = absl::Seconds(20);
  options.accounts.login_limits.user_slowdown_max = absl::Seconds(20);
  options.accounts.login_slowdown_wait = absl::Seconds(30);
  auto core = std::make_unique<TestCore>(options);
  auto auth = core->Auth();
  core->Token("alice", "alice's password");
  ASSERT_EQ(Login(auth.get(), "alice", "a guess", "10.0.0.9").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status st;
  std::thread waiting([&] { st = Login(auth.get(), "alice", "alice's password", "192.0.2.1"); });
  std::this_thread::sleep_for(300ms);  // it is waiting for its turn (20 s away)
  auto start = std::chrono::steady_clock::now();
  core.reset();
  waiting.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << st.error_message();
}

// Registration hashes at nice 19, below everything else, but not SCHED_IDLE:
// on cores that stay busy it still gets its small share and is served.
TEST(LoginAbuseTest, ARegistrationOnCoresThatStayBusyIsStillServed) {
  core::CoreOptions options = TestCoreOptions();
  options.accounts.pwhash_opslimit = 2;  // the real cost (chat-core's defaults)
  options.accounts.pwhash_memlimit = 19 * 1024 * 1024;
  TestCore core(options);
  auto auth = core.Auth();
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  for (unsigned i = 0; i < std::max(2u, std::thread::hardware_concurrency()); ++i) {
    spinners.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  std::vector<std::thread> registrations;
  std::vector<grpc::Status> results(3);
  std::vector<std::chrono::milliseconds> took(3);
  for (int i = 0; i < 3; ++i) {
    registrations.emplace_back([&, i] {
      auto start = std::chrono::steady_clock::now();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 60s);
      chat::v1::RegisterRequest req;
      req.set_username(absl::StrCat("busy", i));
      req.set_password("correct horse");
      chat::v1::RegisterResponse resp;
      results[i] = auth->Register(&ctx, req, &resp);
      took[i] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    });
  }
  for (auto& t : registrations) t.join();
  stop = true;
  for (auto& t : spinners) t.join();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i].error_message();
    // At nice 19 a hash gets about 1.5% of a core here, one registration at a
    // time; SCHED_IDLE would get about 0.15%: over 60 s for the three.
    EXPECT_LT(took[i], 30s) << i;
    std::printf("registration %d on busy cores: %lld ms\n", i, static_cast<long long>(took[i].count()));
  }
}

}  // namespace
}  // namespace chat::testing
