// Attacks on accounts (issue #27), each performed against real servers: a
// CoreServer on port 0, or the real chat-core and ws-bridge binaries.
//  - a registration flood, from one address and from many;
//  - locking a chosen user out with wrong passwords;
//  - piling up sessions, and sessions that outlive their expiry in the store;
//  - listeners that outlive their token's expiry or logout;
//  - opening a stream while its token is being logged out.
// Addresses: calls from loopback with no gateway secret may name their
// client's address with x-forwarded-for, as ws-bridge does for its browsers.
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
#include "core_fixture.h"
#include "fake_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outbox.h"
#include "process.h"
#include "session.h"
#include "sqlite_db.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::unique_ptr<grpc::ClientContext> From(const std::string& address, const std::string& token = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + 30s);
  if (!address.empty()) ctx->AddMetadata("x-forwarded-for", address);
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

grpc::Status Register(chat::v1::AuthService::Stub* auth, const std::string& user, const std::string& address,
                      const std::string& password = "correct horse") {
  auto ctx = From(address);
  chat::v1::RegisterRequest req;
  req.set_username(user);
  req.set_password(password);
  chat::v1::RegisterResponse resp;
  return auth->Register(ctx.get(), req, &resp);
}

grpc::Status Login(chat::v1::AuthService::Stub* auth, const std::string& user, const std::string& password,
                   const std::string& address, chat::v1::LoginResponse* resp = nullptr) {
  auto ctx = From(address);
  chat::v1::LoginRequest req;
  req.set_username(user);
  req.set_password(password);
  chat::v1::LoginResponse ignored;
  return auth->Login(ctx.get(), req, resp != nullptr ? resp : &ignored);
}

grpc::Status WhoAmI(chat::v1::AuthService::Stub* auth, const std::string& token) {
  auto ctx = From("", token);
  chat::v1::WhoAmIResponse me;
  return auth->WhoAmI(ctx.get(), {}, &me);
}

grpc::Status Logout(chat::v1::AuthService::Stub* auth, const std::string& token) {
  auto ctx = From("", token);
  chat::v1::LogoutResponse out;
  return auth->Logout(ctx.get(), {}, &out);
}

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

// The real binaries: chat-core with --token_ttl=3s and ws-bridge in front.
class TokenEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core_ = CoreProcess::Start(dir_.File("chat.db"), {"--token_ttl=3s"});
    ASSERT_NE(core_, nullptr);
    bridge_ = BridgeProcess::Start({"--core=" + core_->address()});
    ASSERT_NE(bridge_, nullptr);
    channel_ = grpc::CreateChannel(core_->address(), grpc::InsecureChannelCredentials());
    auth_ = chat::v1::AuthService::NewStub(channel_);
    chat_ = chat::v1::ChatService::NewStub(channel_);
  }
  // A login on chat-core: the token, and when it expires.
  std::pair<std::string, Clock::time_point> NativeLogin(const std::string& user) {
    Register(auth_.get(), user, "");
    chat::v1::LoginResponse resp;
    grpc::Status st = Login(auth_.get(), user, "correct horse", "", &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    auto left = std::chrono::milliseconds(resp.expires_at().seconds() * 1000 + resp.expires_at().nanos() / 1'000'000 -
                                          std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    return {resp.token(), Clock::now() + left};
  }
  std::map<std::string, std::string> Origin() const {
    return {{"Origin", absl::StrCat("http://127.0.0.1:", bridge_->port())}};
  }
  std::unique_ptr<WsClient> Browser(const std::string& cookie) {
    WsClient::Options o;
    o.cookie = cookie;
    int status = 0;
    auto ws = WsClient::Connect(bridge_->port(), o, &status);
    EXPECT_NE(ws, nullptr) << "upgrade refused: " << status;
    if (ws == nullptr) return nullptr;
    ws->Join("lobby");
    EXPECT_TRUE(ws->WaitFor(WsJoined("lobby")));
    return ws;
  }

  TempDir dir_;
  std::unique_ptr<CoreProcess> core_;
  std::unique_ptr<BridgeProcess> bridge_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<chat::v1::AuthService::Stub> auth_;
  std::unique_ptr<chat::v1::ChatService::Stub> chat_;
};

TEST_F(TokenEndTest, AListenerEndsWithinASecondOfItsTokensExpiry) {
  auto [token, expires] = NativeLogin("listener");
  EventClient stream(chat_.get(), token);
  stream.Join("lobby");
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));
  // A browser through the bridge, logged in at about the same time.
  auto login_start = Clock::now();
  std::string cookie = BridgeLogin(bridge_->port(), "webby");
  auto browser_expires = login_start + 3s;  // at least; the cookie's token lives 3 s
  auto ws = Browser(cookie);
  ASSERT_NE(ws, nullptr);
  // Someone keeps talking, so a listener that outlived its token would hear it.
  auto [talker_token, talker_expires] = NativeLogin("talker");
  EventClient talker(chat_.get(), talker_token);
  talker.Join("lobby");
  ASSERT_TRUE(talker.WaitFor(IsJoined("lobby")));
  std::atomic<bool> stop{false};
  std::thread talk([&] {
    for (int i = 0; !stop.load() && !talker.done(); ++i) {
      talker.SendText("lobby", absl::StrCat("m", i), absl::StrCat("m", i));
      std::this_thread::sleep_for(100ms);
    }
  });

  auto ended = stream.WaitDone(6s);
  auto stream_end = Clock::now();
  auto closed = ws->WaitClosed(6s);
  auto ws_end = Clock::now();
  stop = true;
  talk.join();
  ASSERT_TRUE(ended.has_value()) << "the Connect stream outlived its token";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended->error_message(), HasSubstr("expired"));
  auto late = std::chrono::duration_cast<std::chrono::milliseconds>(stream_end - expires);
  EXPECT_LE(late, 1s);
  EXPECT_GE(late, -100ms) << "ended before its token expired";
  ASSERT_TRUE(closed.has_value()) << "the WebSocket outlived its token";
  EXPECT_EQ(closed->code, 1008) << closed->reason;
  auto ws_late = std::chrono::duration_cast<std::chrono::milliseconds>(ws_end - browser_expires);
  EXPECT_LE(ws_late, 1s + std::chrono::duration_cast<std::chrono::milliseconds>(ws_end - stream_end));
  std::printf("token_ttl=3s: Connect stream ended %lld ms after expiry; WebSocket closed %d (%s) %lld ms after "
              "its login + 3 s\n",
              static_cast<long long>(late.count()), closed->code, closed->reason.c_str(),
              static_cast<long long>(ws_late.count()));
}

TEST_F(TokenEndTest, ALogoutFromAnotherConnectionEndsListenersWithinASecond) {
  auto [token, expires] = NativeLogin("quitter");
  EventClient stream(chat_.get(), token);
  stream.Join("lobby");
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));
  std::string cookie = BridgeLogin(bridge_->port(), "webquitter");
  auto ws = Browser(cookie);
  ASSERT_NE(ws, nullptr);

  // The logout on a channel of its own.
  auto other = chat::v1::AuthService::NewStub(grpc::CreateChannel(core_->address(), grpc::InsecureChannelCredentials()));
  auto start = Clock::now();
  ASSERT_TRUE(Logout(other.get(), token).ok());
  auto ended = stream.WaitDone(2s);
  auto took = Clock::now() - start;
  ASSERT_TRUE(ended.has_value()) << "the stream outlived its logout";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_LT(took, 1s);

  // The browser logs out in another tab: a new HTTP connection with the cookie.
  auto headers = Origin();
  headers["Cookie"] = "chat_session=" + cookie;
  start = Clock::now();
  auto r = HttpRequest(bridge_->port(), "POST", "/api/logout", "{}", headers);
  EXPECT_EQ(r.status, 200) << r.body;
  auto closed = ws->WaitClosed(2s);
  auto ws_took = Clock::now() - start;
  ASSERT_TRUE(closed.has_value()) << "the WebSocket outlived its logout";
  EXPECT_EQ(closed->code, 1008) << closed->reason;
  EXPECT_LT(ws_took, 1s);
  std::printf("logout: Connect stream ended after %lld ms, WebSocket closed %d after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
              closed->code,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(ws_took).count()));
}

// The race's one bad order, made to happen: a stream's open checks its token,
// the whole logout runs (its kill finds nothing yet), then the open registers
// the stream. The registration must refuse it.
TEST(AccountAttacksTest, AStreamCheckedBeforeALogoutAndRegisteredAfterItIsRefused) {
  TestCore core;
  std::string token = core.Token("late");
  absl::StatusOr<core::Identity> who = absl::UnknownError("not checked");
  absl::Notification checked;
  core.server()->accounts()->AuthenticateToken(token, "", [&](absl::StatusOr<core::Identity> r) {
    who = std::move(r);
    checked.Notify();
  });
  checked.WaitForNotification();
  ASSERT_TRUE(who.ok()) << who.status();
  auto auth = core.Auth();
  ASSERT_TRUE(Logout(auth.get(), token).ok());
  FakeWriter writer(FakeWriter::Stream::kConnect, /*auto_complete=*/true);
  auto outbox = std::make_shared<core::Outbox>(core::Outbox::Kind::kConnect, &writer, core::OutboxLimits{}, nullptr,
                                               core.hub()->kicker());
  writer.Attach(outbox.get());
  auto session = std::make_shared<core::Session>(core.hub(), outbox, 0, *who, core::SessionOptions{});
  absl::Status added = core.hub()->live().AddSession(session);
  EXPECT_EQ(added.code(), absl::StatusCode::kUnauthenticated) << added;
  EXPECT_EQ(core.hub()->live().counts().sessions, 0);
  session->Close();
  outbox->Detach();
}

// Opening a stream while its token is being logged out, again and again: no
// stream may outlive the logout.
TEST(AccountAttacksTest, NoStreamOpenedDuringALogoutSurvivesIt) {
  TestCore core;
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "racer", "").ok());
  auto stub = core.Chat();
  constexpr int kRounds = 300;
  int survived = 0, refused_at_open = 0, ended_by_logout = 0;
  for (int round = 0; round < kRounds; ++round) {
    chat::v1::LoginResponse resp;
    ASSERT_TRUE(Login(auth.get(), "racer", "correct horse", "", &resp).ok());
    std::unique_ptr<EventClient> stream;
    absl::Notification go;
    // The open and the logout start together, one of them a little later
    // (0-2 ms, round by round), so that the stream reaches the server before,
    // during and after the logout.
    const auto lag = std::chrono::microseconds((round / 2 * 53) % 2000);
    std::thread opener([&] {
      go.WaitForNotification();
      if (round % 2 == 0) std::this_thread::sleep_for(lag);
      stream = std::make_unique<EventClient>(stub.get(), resp.token());
      stream->Join("lobby");
    });
    go.Notify();
    if (round % 2 == 1) std::this_thread::sleep_for(lag);
    ASSERT_TRUE(Logout(auth.get(), resp.token()).ok());
    opener.join();
    auto done = stream->WaitDone(2s);
    if (!done.has_value()) {
      ++survived;
      continue;
    }
    EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAUTHENTICATED) << done->error_message();
    if (done->error_message().find("logged out") != std::string::npos) {
      ++ended_by_logout;
    } else {
      ++refused_at_open;
    }
  }
  EXPECT_EQ(survived, 0) << "streams outlived their token's logout";
  std::printf("%d rounds of open-stream racing logout: %d survived, %d ended by the logout, %d refused at open\n",
              kRounds, survived, ended_by_logout, refused_at_open);
}

}  // namespace
}  // namespace chat::testing
