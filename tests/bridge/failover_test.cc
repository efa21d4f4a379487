// Fail-over between chat-core nodes with real processes: two chat-core binaries
// A and B on one SQLite file, used one after the other (B starts on the file
// only after A was killed with SIGKILL: two live nodes on one SQLite file
// would each count seq), a ws-bridge binary with --core=A,B, browsers on real
// WebSockets and a native gRPC client.
#include <boost/asio/ip/tcp.hpp>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.channel_id", std::rand());  // a connection of its own
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// A token for `user` from the node at `address` (registering it if new).
std::string GrpcLogin(const std::string& address, const std::string& user) {
  auto auth = chat::v1::AuthService::NewStub(ChannelTo(address));
  chat::v1::RegisterRequest reg;
  reg.set_username(user);
  reg.set_password("correct horse");
  chat::v1::RegisterResponse registered;
  auth->Register(AuthedContext("").get(), reg, &registered);  // ALREADY_EXISTS is fine
  chat::v1::LoginRequest login;
  login.set_username(user);
  login.set_password("correct horse");
  chat::v1::LoginResponse resp;
  grpc::Status st = auth->Login(AuthedContext("").get(), login, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.token();
}

// The /healthz of the bridge says 503 (no node) or names the node it uses.
bool BridgeUses(const BridgeProcess& bridge, const std::string& node) {
  auto h = bridge.Health();
  return node.empty() ? h.status == 503 : h.status == 200 && h.body.find("\"node\":\"" + node + "\"") != std::string::npos;
}

class BridgeFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.File("chat.db");
    port_b_ = PortForLater();
    a_ = CoreProcess::Start(db_);
    ASSERT_NE(a_, nullptr);
  }
  std::string address_b() const { return absl::StrCat("127.0.0.1:", port_b_); }

  // ws-bridge --core=A,B plus `flags`, its gateway stream up to A.
  void StartBridge(std::vector<std::string> flags) {
    flags.push_back("--core=" + a_->address() + "," + address_b());
    bridge_ = BridgeProcess::Start(flags);
    ASSERT_NE(bridge_, nullptr);
    ASSERT_TRUE(Eventually([&] { return BridgeUses(*bridge_, a_->address()); }));
  }

  // Browsers user0.., logged in through the bridge, joined to the lobby.
  std::vector<std::unique_ptr<WsClient>> Browsers(int n) {
    std::vector<std::unique_ptr<WsClient>> out;
    for (int i = 0; i < n; ++i) {
      WsClient::Options o;
      o.cookie = BridgeLogin(bridge_->port(), absl::StrCat("user", i));
      out.push_back(WsClient::Connect(bridge_->port(), o));
      if (out.back() == nullptr) {
        ADD_FAILURE() << "browser " << i << " could not connect";
        return {};
      }
      out.back()->Join("lobby");
      EXPECT_TRUE(out.back()->WaitFor(WsJoined("lobby"))) << i;
    }
    return out;
  }

  TempDir dir_;
  std::string db_;
  int port_b_ = 0;
  std::unique_ptr<CoreProcess> a_;
  std::unique_ptr<CoreProcess> b_;
  std::unique_ptr<BridgeProcess> bridge_;
};

TEST_F(BridgeFailoverTest, BrowsersStayConnectedAndSeeEveryMessageOnceInOrderAcrossAKill9) {
  ASSERT_NO_FATAL_FAILURE(StartBridge({"--log_level=info"}));
  auto browsers = Browsers(3);
  ASSERT_EQ(browsers.size(), 3u);
  auto stub_a = chat::v1::ChatService::NewStub(ChannelTo(a_->address()));
  auto native_a = std::make_unique<EventClient>(stub_a.get(), GrpcLogin(a_->address(), "native"));
  native_a->Join("lobby");
  ASSERT_TRUE(native_a->WaitFor(IsJoined("lobby")));

  // Before: 3 messages from each browser and 3 from the gRPC client.
  for (int k = 0; k < 3; ++k) {
    for (size_t i = 0; i < browsers.size(); ++i) {
      browsers[i]->SendMessage("lobby", absl::StrCat("before ", i, "/", k), absl::StrCat("b", i, "-", k));
    }
    native_a->SendText("lobby", absl::StrCat("native before ", k), absl::StrCat("n-", k));
  }
  for (auto& b : browsers) ASSERT_TRUE(b->WaitForCount(WsAnyMessage("lobby"), 12));

  a_->Kill9();
  native_a.reset();
  ASSERT_TRUE(Eventually([&] { return BridgeUses(*bridge_, ""); }));
  // During the outage: a send waits in the bridge; a ping is answered by it.
  browsers[0]->SendMessage("lobby", "sent while no node was up", "during");
  chat::v1::ClientEvent ping;
  ping.set_ref("alive?");
  ping.mutable_ping()->set_nonce(1);
  browsers[1]->Send(ping);
  ASSERT_TRUE(browsers[1]->WaitFor([](const chat::v1::ServerEvent& e) { return e.has_pong(); }));

  b_ = CoreProcess::Start(db_, {}, port_b_);
  ASSERT_NE(b_, nullptr);
  ASSERT_TRUE(Eventually([&] { return BridgeUses(*bridge_, b_->address()); }, 30s));
  ASSERT_TRUE(browsers[0]->WaitFor(WsAck("during"), 20s));
  // After: the gRPC client through B, and 2 more from each browser.
  auto stub_b = chat::v1::ChatService::NewStub(ChannelTo(b_->address()));
  EventClient native_b(stub_b.get(), GrpcLogin(b_->address(), "native"));
  native_b.Join("lobby", 13);
  ASSERT_TRUE(native_b.WaitFor(IsJoined("lobby")));
  for (int k = 0; k < 3; ++k) native_b.SendText("lobby", absl::StrCat("native after ", k), absl::StrCat("m-", k));
  for (int k = 0; k < 2; ++k) {
    for (size_t i = 0; i < browsers.size(); ++i) {
      browsers[i]->SendMessage("lobby", absl::StrCat("after ", i, "/", k), absl::StrCat("a", i, "-", k));
    }
  }
  constexpr int kTotal = 12 + 1 + 3 + 6;
  ASSERT_TRUE(native_b.WaitForCount(IsAnyMessage("lobby"), kTotal - 13, 20s));
  for (size_t i = 0; i < browsers.size(); ++i) {
    auto& b = browsers[i];
    ASSERT_TRUE(b->WaitForCount(WsAnyMessage("lobby"), kTotal, 20s)) << "browser " << i;
    auto got = b->Messages("lobby");
    ExpectContiguous(got, 1, kTotal);
    std::set<std::string> ids;
    for (const auto& m : got) EXPECT_TRUE(ids.insert(m.client_msg_id()).second) << "twice: " << m.client_msg_id();
    EXPECT_TRUE(ids.contains("during"));
    EXPECT_FALSE(b->WaitClosed(0ms).has_value()) << "browser " << i << "'s WebSocket closed";
    // Its rejoin's fresh `joined`, with the members as B sees them.
    ASSERT_TRUE(b->WaitForCount(WsJoined("lobby"), 2));
  }
}

TEST_F(BridgeFailoverTest, ANodeThatStopsAnsweringIsLeftWithinTheKeepalive) {
  // A frozen node is what a vanished machine looks like from the bridge: the
  // connection stays up (no reset) and nothing answers. SIGSTOP makes one.
  a_.reset();  // SetUp's A, for one that takes a ping every second
  a_ = CoreProcess::Start(db_, {"--min_client_ping_interval=0s"});
  ASSERT_NE(a_, nullptr);
  ASSERT_NO_FATAL_FAILURE(StartBridge({"--core_keepalive_time=1s", "--core_keepalive_timeout=1s"}));
  auto browsers = Browsers(2);
  ASSERT_EQ(browsers.size(), 2u);
  browsers[0]->SendMessage("lobby", "before", "before");
  for (auto& b : browsers) ASSERT_TRUE(b->WaitForCount(WsAnyMessage("lobby"), 1));
  // Quiet for several keepalive periods: pings go on without data too.
  std::this_thread::sleep_for(4s);

  a_->process()->Signal(SIGSTOP);
  auto frozen_at = std::chrono::steady_clock::now();
  // A frozen chat-core still holds its database (one process per SQLite
  // file), as a vanished machine would hold its disk: B takes a copy of the
  // quiet database, as a replica would be.
  const std::string copy = dir_.File("replica.db");
  for (const std::string suffix : {"", "-wal"}) {
    if (std::filesystem::exists(db_ + suffix)) std::filesystem::copy_file(db_ + suffix, copy + suffix);
  }
  b_ = CoreProcess::Start(copy, {"--min_client_ping_interval=0s"}, port_b_);
  ASSERT_NE(b_, nullptr);
  // Keepalive: a ping unanswered for 1 s ends the stream; without it the
  // bridge would wait for TCP to give up (many minutes).
  ASSERT_TRUE(Eventually([&] { return BridgeUses(*bridge_, b_->address()); }, 15s));
  auto took = std::chrono::steady_clock::now() - frozen_at;
  EXPECT_LT(took, 8s) << "the bridge took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms to leave the frozen node";
  browsers[1]->SendMessage("lobby", "after", "after");
  for (size_t i = 0; i < browsers.size(); ++i) {
    ASSERT_TRUE(browsers[i]->WaitForCount(WsAnyMessage("lobby"), 2, 20s)) << "browser " << i;
    ExpectContiguous(browsers[i]->Messages("lobby"), 1, 2);
    EXPECT_FALSE(browsers[i]->WaitClosed(0ms).has_value()) << "browser " << i << "'s WebSocket closed";
  }
  a_->Kill9();  // a stopped process takes only SIGKILL
}

TEST_F(BridgeFailoverTest, NoNodeForLongerThanTheTimeoutCloses1012AndTheBridgeKeepsTrying) {
  ASSERT_NO_FATAL_FAILURE(StartBridge({"--failover_timeout=1s"}));
  auto browsers = Browsers(1);
  ASSERT_EQ(browsers.size(), 1u);
  a_->Kill9();
  auto closed = browsers[0]->WaitClosed(15s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1012);
  EXPECT_THAT(closed->reason, HasSubstr("chat backend unavailable"));
  // The bridge itself lives on and takes the next node that comes.
  b_ = CoreProcess::Start(db_, {}, port_b_);
  ASSERT_NE(b_, nullptr);
  ASSERT_TRUE(Eventually([&] { return BridgeUses(*bridge_, b_->address()); }, 30s));
  auto again = Browsers(1);
  ASSERT_EQ(again.size(), 1u);
}

TEST_F(BridgeFailoverTest, ATokenRevokedWhileNoNodeWasUpCloses1008) {
  ASSERT_NO_FATAL_FAILURE(StartBridge({}));
  WsClient::Options o;
  o.cookie = BridgeLogin(bridge_->port(), "revoked");
  auto browser = WsClient::Connect(bridge_->port(), o);
  ASSERT_NE(browser, nullptr);
  a_->Kill9();
  // A node the bridge does not know of logs the token out meanwhile (one node
  // on the file at a time), and is gone before B comes.
  auto other = CoreProcess::Start(db_);
  ASSERT_NE(other, nullptr);
  {
    auto auth = chat::v1::AuthService::NewStub(ChannelTo(other->address()));
    chat::v1::LogoutResponse out;
    ASSERT_TRUE(auth->Logout(AuthedContext(o.cookie).get(), chat::v1::LogoutRequest(), &out).ok());
  }
  other->Kill9();
  b_ = CoreProcess::Start(db_, {}, port_b_);
  ASSERT_NE(b_, nullptr);
  auto closed = browser->WaitClosed(30s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1008) << closed->reason;
}

}  // namespace
}  // namespace chat::testing
