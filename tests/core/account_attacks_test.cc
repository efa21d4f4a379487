// Attacks on accounts (issue #27), each performed against real servers: a
// CoreServer on port 0, or the real chat-core and ws-bridge binaries.
//  - a registration flood, from one address and from many;
//  - locking a chosen user out with wrong passwords;
//  - piling up sessions, and sessions that outlive their expiry in the store.
// Listeners that outlive their token: token_end_test.cc. Addresses: calls
// from loopback with no gateway secret may name their client's address with
// x-forwarded-for, as ws-bridge does for its browsers (auth_calls.h).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bridge_fixture.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"
#include "sqlite_db.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// The seconds in a "retry in N s" message (-1 if there is none).
int RetrySeconds(const grpc::Status& st) {
  const std::string& m = st.error_message();
  size_t at = m.find("retry in ");
  int s = -1;
  if (at == std::string::npos || !absl::SimpleAtoi(m.substr(at + 9, m.find(' ', at + 9) - at - 9), &s)) return -1;
  return s;
}

// One value of a SQLite database file (the first column of the first row).
int64_t QueryInt(const std::string& db, const std::string& sql) {
  core::SqliteConnection conn;
  absl::Status open = conn.Open(db, core::SqliteConnectionOptions{});
  EXPECT_TRUE(open.ok()) << open;
  core::SqliteStmt s;
  absl::Status p = s.Prepare(conn.db(), sql.c_str());
  EXPECT_TRUE(p.ok()) << p;
  return s.Step() == SQLITE_ROW ? s.Int(0) : -1;
}

// Argon2id at its real cost: a hash takes long enough for a flood to queue.
core::CoreOptions RealHashCost() {
  core::CoreOptions o = TestCoreOptions();
  o.accounts.pwhash_opslimit = 2;
  o.accounts.pwhash_memlimit = 19 * 1024 * 1024;
  o.accounts.hash_threads = 2;
  o.accounts.max_queued_hashes = 64;
  o.accounts.max_queued_registrations = 16;
  return o;
}

struct Tally {
  std::atomic<int> ok{0};
  std::atomic<int> rate_limited{0};  // "too many registrations from this address"
  std::atomic<int> queue_full{0};    // "too many registrations in progress"
  std::atomic<int> other{0};
  std::atomic<int> retry_named{0};   // refusals that say when to retry
};

void Count(Tally& t, const grpc::Status& st) {
  if (st.ok()) {
    ++t.ok;
    return;
  }
  if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    if (RetrySeconds(st) >= 1) ++t.retry_named;
    if (st.error_message().find("from this address") != std::string::npos) return void(++t.rate_limited);
    if (st.error_message().find("registrations in progress") != std::string::npos) return void(++t.queue_full);
  }
  ADD_FAILURE() << st.error_code() << ": " << st.error_message();
  ++t.other;
}

// `n` registrations at once, from address(i), while one user logs in again
// and again from elsewhere; every login must succeed.
struct FloodResult {
  int logins = 0;
  std::vector<std::string> failed_logins;
  double worst_login_ms = 0;
};
template <typename AddressOf>
FloodResult FloodRegistrations(TestCore& core, int n, AddressOf address, Tally& tally) {
  std::vector<std::unique_ptr<chat::v1::AuthService::Stub>> stubs;
  for (int i = 0; i < n; ++i) stubs.push_back(core.Auth());
  auto login_stub = core.Auth();
  absl::Notification go;
  std::atomic<int> left{n};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      Count(tally, Register(stubs[i].get(), absl::StrCat("flood", i), address(i)));
      --left;
    });
  }
  FloodResult r;
  go.Notify();
  // Logins for as long as the flood lasts (at least one).
  do {
    auto start = Clock::now();
    grpc::Status st = Login(login_stub.get(), "alice", "alice's password", "192.0.2.1");
    r.worst_login_ms = std::max(r.worst_login_ms, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    ++r.logins;
    if (!st.ok()) r.failed_logins.push_back(absl::StrCat(st.error_code(), ": ", st.error_message()));
  } while (left.load() > 0);
  for (auto& t : threads) t.join();
  return r;
}

TEST(AccountAttacksTest, ARegistrationFloodFromOneAddressIsRefusedWhileLoginsGoOn) {
  TempDir dir;
  core::CoreOptions options = RealHashCost();
  options.store.path = dir.File("chat.db");
  options.accounts.login_limits.max_registrations_per_peer = 10;
  TestCore core(options);
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "192.0.2.1", "alice's password").ok());

  Tally tally;
  FloodResult r = FloodRegistrations(core, 60, [](int) { return std::string("203.0.113.9"); }, tally);
  EXPECT_THAT(r.failed_logins, ::testing::IsEmpty());
  // The ten the limit allows (counted from before they hash), and no more.
  EXPECT_EQ(tally.ok.load(), 10);
  EXPECT_EQ(tally.rate_limited.load(), 50);
  EXPECT_EQ(tally.retry_named.load(), tally.rate_limited + tally.queue_full);
  // The users table holds alice and at most the limit.
  EXPECT_LE(QueryInt(options.store.path, "SELECT count(*) FROM users"), 11);
  // And the address stays refused, saying for how long (about an hour).
  grpc::Status again = Register(auth.get(), "latecomer", "203.0.113.9");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(again.error_message(), HasSubstr("too many registrations from this address; retry in"));
  EXPECT_GT(RetrySeconds(again), 3000);
  // Another address registers as usual.
  EXPECT_TRUE(Register(auth.get(), "neighbour", "203.0.113.10").ok());
  std::printf("60 registrations from one address: %d stored, %d refused by the address limit, %d by the queue; "
              "%d logins meanwhile, all ok, slowest %.0f ms\n",
              tally.ok.load(), tally.rate_limited.load(), tally.queue_full.load(), r.logins, r.worst_login_ms);
}

TEST(AccountAttacksTest, ARegistrationFloodFromManyAddressesCannotStarveLogins) {
  core::CoreOptions options = RealHashCost();
  TestCore core(options);
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "192.0.2.1", "alice's password").ok());
  // Each from an address of its own: only the registration queue stops them.
  Tally tally;
  FloodResult r = FloodRegistrations(core, 80, [](int i) { return absl::StrCat("198.51.100.", i); }, tally);
  EXPECT_THAT(r.failed_logins, ::testing::IsEmpty()) << "a login failed during the flood";
  EXPECT_GE(tally.queue_full.load(), 1) << "the flood never filled the registration queue";
  EXPECT_EQ(tally.ok + tally.queue_full, 80);
  std::printf("80 registrations from 80 addresses: %d stored, %d refused (queue full); %d logins meanwhile, "
              "all ok, slowest %.0f ms\n",
              tally.ok.load(), tally.queue_full.load(), r.logins, r.worst_login_ms);
}

// Through the real ws-bridge binary: the bridge hands chat-core the
// browser's address, so the browser sees 429 with the wait.
TEST(AccountAttacksTest, TheBridgePassesTheBrowsersAddressForRegistrations) {
  TempDir dir;
  auto core = CoreProcess::Start(dir.File("chat.db"), {"--max_registrations_per_ip_per_hour=3"});
  ASSERT_NE(core, nullptr);
  auto bridge = BridgeProcess::Start({"--core=" + core->address()});
  ASSERT_NE(bridge, nullptr);
  std::map<std::string, std::string> h = {{"Origin", absl::StrCat("http://127.0.0.1:", bridge->port())}};
  auto body = [](const std::string& user) {
    return absl::StrCat("{\"username\":\"", user, "\",\"password\":\"correct horse\"}");
  };
  for (int i = 0; i < 3; ++i) {
    auto r = HttpRequest(bridge->port(), "POST", "/api/register", body(absl::StrCat("web", i)), h);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  auto refused = HttpRequest(bridge->port(), "POST", "/api/register", body("web3"), h);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("too many registrations from this address; retry in"));
  // The wait in the message is the Retry-After header too (up to an hour here).
  ASSERT_TRUE(refused.headers.count("retry-after")) << refused.body;
  int retry_after = 0;
  ASSERT_TRUE(absl::SimpleAtoi(refused.headers["retry-after"], &retry_after)) << refused.headers["retry-after"];
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 3600);
  EXPECT_THAT(refused.body, HasSubstr(absl::StrCat("retry in ", retry_after, " s")));
  // Logging in is not registering.
  auto login = HttpRequest(bridge->port(), "POST", "/api/login", body("web0"), h);
  EXPECT_EQ(login.status, 200) << login.body;
}

// Logs in as `user` from `address`, retrying while told to wait (as a person
// or the web UI would); how long it took, or a failure.
std::chrono::milliseconds LoginDespiteSlowdown(chat::v1::AuthService::Stub* auth, const std::string& user,
                                               const std::string& password, const std::string& address,
                                               std::chrono::milliseconds give_up, int* refusals) {
  auto start = Clock::now();
  for (;;) {
    grpc::Status st = Login(auth, user, password, address);
    if (st.ok()) return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("for this user; retry in"));
    if (st.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || Clock::now() - start > give_up) {
      ADD_FAILURE() << "no login within " << give_up.count() << " ms: " << st.error_message();
      return give_up;
    }
    ++*refusals;
    std::this_thread::sleep_for(50ms);  // a client that polls; the message says up to when
  }
}

TEST(AccountAttacksTest, WrongPasswordsFromOneAddressLockThatAddressNotTheUser) {
  TestCore core;  // the default limits
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "192.0.2.1", "alice's password").ok());
  int checked = 0, refused = 0;
  for (int i = 0; i < 50; ++i) {
    grpc::Status st = Login(auth.get(), "alice", absl::StrCat("guess ", i), "127.0.0.2");
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++checked;
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  EXPECT_EQ(checked, 5);
  EXPECT_EQ(refused, 45);
  // Alice, from her own address, with her password: in, after at most the
  // first delay (1 s after the newest failure).
  int waits = 0;
  auto took = LoginDespiteSlowdown(auth.get(), "alice", "alice's password", "127.0.0.3", 5s, &waits);
  EXPECT_LE(took, 1500ms);
  // The delay is under --login_slowdown_wait: her login waited for its turn
  // instead of being refused.
  EXPECT_EQ(waits, 0);
  // The attacker's address stays locked out of alice, even with the password.
  grpc::Status st = Login(auth.get(), "alice", "alice's password", "127.0.0.2");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("too many failed logins; retry in"));
  EXPECT_GT(RetrySeconds(st), 200);  // until its oldest failure leaves the 5-minute window
  std::printf("50 wrong logins for alice from one address: %d checked, %d refused; alice got in from another "
              "address after %lld ms (%d waits)\n",
              checked, refused, static_cast<long long>(took.count()), waits);
}

TEST(AccountAttacksTest, WrongPasswordsFromManyAddressesSlowTheUserDownWithinTheCap) {
  core::CoreOptions options = TestCoreOptions();
  options.accounts.login_limits.user_slowdown_base = absl::Milliseconds(100);
  options.accounts.login_limits.user_slowdown_max = absl::Milliseconds(800);
  TestCore core(options);
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "192.0.2.1", "alice's password").ok());
  // 20 addresses, each guessing whenever allowed, for 3 seconds.
  std::atomic<int> checked{0}, refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> attackers;
  for (int a = 0; a < 20; ++a) {
    attackers.emplace_back([&, a] {
      auto stub = core.Auth();
      for (int i = 0; !stop.load(); ++i) {
        grpc::Status st = Login(stub.get(), "alice", absl::StrCat("guess ", a, "/", i), absl::StrCat("10.0.0.", a));
        if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++checked;
        if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  std::this_thread::sleep_for(3s);
  // Counted now: attempts waiting for their turn (--login_slowdown_wait) may
  // still be checked after the 3 s, while the attackers stop.
  const int checked_in_3s = checked.load();
  stop = true;
  for (auto& t : attackers) t.join();
  // Without the slowdown: 20 addresses x 5 each = 100 guesses at once. With
  // it: 5 before it starts, then one per delay (100, 200, 400, 800, 800 ms).
  EXPECT_LE(checked_in_3s, 5 + 8);
  EXPECT_GE(checked_in_3s, 5);
  // Alice, from her own address: in within the cap of the newest failure.
  int waits = 0;
  auto took = LoginDespiteSlowdown(auth.get(), "alice", "alice's password", "192.0.2.1", 5s, &waits);
  EXPECT_LE(took, 800ms + 300ms);
  std::printf("20 addresses guessing alice's password for 3 s: %d checked, %d refused; alice got in after %lld ms "
              "(%d waits)\n",
              checked_in_3s, refused.load(), static_cast<long long>(took.count()), waits);
}

TEST(AccountAttacksTest, ALoginPastTheSessionCapEndsTheOldestSessionAndItsStream) {
  TempDir dir;
  core::CoreOptions options = TestCoreOptions();
  options.store.path = dir.File("chat.db");
  options.accounts.max_sessions_per_user = 3;
  auto core = std::make_unique<TestCore>(options);
  auto auth = core->Auth();
  ASSERT_TRUE(Register(auth.get(), "hoarder", "").ok());
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    chat::v1::LoginResponse resp;
    ASSERT_TRUE(Login(auth.get(), "hoarder", "correct horse", "", &resp).ok());
    tokens.push_back(resp.token());
    std::this_thread::sleep_for(5ms);  // distinct creation times
  }
  auto stub = core->Chat();
  auto first = std::make_unique<EventClient>(stub.get(), tokens[0]);
  first->Join("lobby");
  ASSERT_TRUE(first->WaitFor(IsJoined("lobby")));
  chat::v1::LoginResponse fourth;
  ASSERT_TRUE(Login(auth.get(), "hoarder", "correct horse", "", &fourth).ok());
  auto ended = first->WaitDone(2s);
  ASSERT_TRUE(ended.has_value()) << "the oldest session's stream is still open";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended->error_message(), HasSubstr("the oldest session ends first"));
  EXPECT_EQ(WhoAmI(auth.get(), tokens[0]).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  for (const std::string& t : {tokens[1], tokens[2], fourth.token()}) EXPECT_TRUE(WhoAmI(auth.get(), t).ok());
  EXPECT_EQ(QueryInt(options.store.path, "SELECT count(*) FROM sessions"), 3);
  // 50 more logins: still 3 rows, the newest three.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Login(auth.get(), "hoarder", "correct horse", "", &fourth).ok());
  }
  EXPECT_EQ(QueryInt(options.store.path, "SELECT count(*) FROM sessions"), 3);
  EXPECT_TRUE(WhoAmI(auth.get(), fourth.token()).ok());
  EXPECT_EQ(WhoAmI(auth.get(), tokens[1]).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // And after a restart.
  first.reset();
  stub.reset();
  auth.reset();
  core.reset();
  core = std::make_unique<TestCore>(options);
  auth = core->Auth();
  EXPECT_EQ(WhoAmI(auth.get(), tokens[0]).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(WhoAmI(auth.get(), fourth.token()).ok());
}

TEST(AccountAttacksTest, ExpiredSessionsLeaveTheDatabaseWhileTheServerRuns) {
  TempDir dir;
  core::CoreOptions options = TestCoreOptions();
  options.store.path = dir.File("chat.db");
  options.accounts.token_ttl = absl::Seconds(1);
  options.accounts.session_sweep_interval = absl::Milliseconds(200);
  TestCore core(options);
  std::string token = core.Token("fleeting");
  ASSERT_EQ(QueryInt(options.store.path, "SELECT count(*) FROM sessions"), 1);
  auto start = Clock::now();
  EXPECT_TRUE(Eventually([&] { return QueryInt(options.store.path, "SELECT count(*) FROM sessions") == 0; }, 5s));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_LT(took, 2s);
  auto auth = core.Auth();
  EXPECT_EQ(WhoAmI(auth.get(), token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::printf("a session with a 1 s lifetime left the database %lld ms after login\n",
              static_cast<long long>(took.count()));
}

}  // namespace
}  // namespace chat::testing
