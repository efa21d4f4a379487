// Several chat-core nodes on one PostgreSQL: every node serves every room with
// one gap-free order, and what users notice is shared (docs/scaling.md).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bridge_fixture.h"
#include "cluster_env.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"
#include "reflection_client.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

// A browser through a bridge in front of one node.
std::unique_ptr<WsClient> Browser(bridge::Bridge& bridge, const std::string& user) {
  std::string origin = absl::StrCat("http://127.0.0.1:", bridge.port());
  std::string body = absl::StrCat(R"({"username":")", user, R"(","password":"correct horse"})");
  auto r = HttpRequest(bridge.port(), "POST", "/api/login", body, {{"Origin", origin}});
  EXPECT_EQ(r.status, 200) << r.body;
  WsClient::Options o;
  o.cookie = SessionCookie(r);
  int status = 0;
  auto client = WsClient::Connect(bridge.port(), o, &status);
  EXPECT_NE(client, nullptr) << "upgrade refused with HTTP " << status;
  return client;
}

std::unique_ptr<bridge::Bridge> BridgeTo(const std::string& core) {
  auto b = bridge::Bridge::Start(TestBridgeOptions(core));
  EXPECT_TRUE(b.ok()) << b.status();
  if (!b.ok()) return nullptr;
  // Its gateway stream is up once /healthz says so.
  for (int i = 0; i < 200 && HttpRequest((*b)->port(), "GET", "/healthz").status != 200; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  return std::move(*b);
}

// A Connect client of `user` on a node, joined to `room`.
std::unique_ptr<EventClient> JoinedClient(chat::v1::ChatService::Stub* stub, const std::string& token,
                                          const std::string& room = "lobby") {
  auto client = std::make_unique<EventClient>(stub, token);
  client->Join(room);
  EXPECT_TRUE(client->WaitFor(IsJoined(room)));
  return client;
}

TEST(ClusterTest, ThreeNodesAndTwoBridgesSeeOneGapFreeOrder) {
  ClusterEnv env;
  for (const char* n : {"a", "b", "c"}) ASSERT_NE(env.Start(n), nullptr);
  auto bridge_a = BridgeTo(env.address("a"));
  auto bridge_b = BridgeTo(env.address("b"));
  ASSERT_NE(bridge_a, nullptr);
  ASSERT_NE(bridge_b, nullptr);
  // gRPC clients on every node, browsers on both bridges.
  std::vector<std::unique_ptr<chat::v1::ChatService::Stub>> stubs;
  std::vector<std::unique_ptr<EventClient>> grpc_clients;
  for (const char* n : {"a", "b", "c"}) {
    stubs.push_back(chat::v1::ChatService::NewStub(NodeChannel(env.address(n))));
    grpc_clients.push_back(JoinedClient(stubs.back().get(), NodeToken(env.address(n), absl::StrCat("grpc-", n))));
  }
  std::vector<std::unique_ptr<WsClient>> browsers;
  for (int i = 0; i < 2; ++i) {
    NodeToken(env.address("a"), absl::StrCat("web-", i));  // registers
    browsers.push_back(Browser(i == 0 ? *bridge_a : *bridge_b, absl::StrCat("web-", i)));
    ASSERT_NE(browsers.back(), nullptr);
    browsers.back()->Join("lobby");
    ASSERT_TRUE(browsers.back()->WaitFor(WsJoined("lobby")));
  }
  // Everyone sends at once.
  constexpr int kEach = 40;
  std::vector<std::thread> senders;
  for (size_t c = 0; c < grpc_clients.size(); ++c) {
    senders.emplace_back([&, c] {
      for (int i = 0; i < kEach; ++i) grpc_clients[c]->SendText("lobby", absl::StrCat("g", c, "-", i), absl::StrCat("g", c, "-", i));
    });
  }
  for (size_t b = 0; b < browsers.size(); ++b) {
    senders.emplace_back([&, b] {
      for (int i = 0; i < kEach; ++i) browsers[b]->SendMessage("lobby", absl::StrCat("w", b, "-", i), absl::StrCat("w", b, "-", i));
    });
  }
  for (auto& t : senders) t.join();
  const int64_t total = kEach * 5;
  std::vector<std::vector<chat::v1::Message>> seen;
  for (auto& c : grpc_clients) {
    ASSERT_TRUE(c->WaitFor(IsMessage("lobby", total), 30s));
    seen.push_back(c->Messages("lobby"));
  }
  for (auto& b : browsers) {
    ASSERT_TRUE(b->WaitFor(WsMessage("lobby", total), 30s));
    seen.push_back(b->Messages("lobby"));
  }
  // One order, the same for everyone: 1..total, each once, same texts.
  for (size_t k = 0; k < seen.size(); ++k) {
    ASSERT_EQ(seen[k].size(), static_cast<size_t>(total)) << "client " << k;
    for (int64_t i = 0; i < total; ++i) {
      EXPECT_EQ(seen[k][i].seq(), i + 1) << "client " << k;
      EXPECT_EQ(seen[k][i].text(), seen[0][i].text()) << "client " << k << " seq " << i + 1;
    }
  }
  std::set<std::string> texts;
  for (const auto& m : seen[0]) texts.insert(m.text());
  EXPECT_EQ(texts.size(), static_cast<size_t>(total));
}

// Nodes a and b, and a ChatService stub on each.
class TwoNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(env.Start("a"), nullptr);
    ASSERT_NE(env.Start("b"), nullptr);
    stub_a = chat::v1::ChatService::NewStub(NodeChannel(env.address("a")));
    stub_b = chat::v1::ChatService::NewStub(NodeChannel(env.address("b")));
  }

  ClusterEnv env;
  std::unique_ptr<chat::v1::ChatService::Stub> stub_a;
  std::unique_ptr<chat::v1::ChatService::Stub> stub_b;
};

TEST_F(TwoNodesTest, TheSameClientMsgIdSentToTwoNodesIsStoredOnce) {
  std::string token = NodeToken(env.address("a"), "retrier");
  auto send = [&](const std::string& node, const std::string& id) {
    auto* stub = node == "a" ? stub_a.get() : stub_b.get();
    auto ctx = AuthedContext(token);
    chat::v1::SendMessageRequest req;
    req.set_room("lobby");
    req.set_text("only once");
    req.set_client_msg_id(id);
    chat::v1::SendMessageResponse resp;
    grpc::Status st = stub->SendMessage(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  auto first = send("a", "k-1");
  auto retry = send("b", "k-1");  // the retry goes to another node
  EXPECT_FALSE(first.duplicate());
  EXPECT_TRUE(retry.duplicate());
  EXPECT_EQ(retry.message().seq(), first.message().seq());
  // Both at once, on both nodes, many times: one each.
  for (int i = 0; i < 20; ++i) {
    std::string id = absl::StrCat("race-", i);
    chat::v1::SendMessageResponse ra, rb;
    std::thread ta([&] { ra = send("a", id); });
    std::thread tb([&] { rb = send("b", id); });
    ta.join();
    tb.join();
    EXPECT_EQ(ra.message().seq(), rb.message().seq()) << id;
    EXPECT_NE(ra.duplicate(), rb.duplicate()) << id;
  }
  auto rows = env.Query("SELECT count(*), count(DISTINCT client_msg_id), max(seq) FROM messages");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "21");
  EXPECT_EQ(rows[0][1], "21");
  EXPECT_EQ(rows[0][2], "21");
}

TEST_F(TwoNodesTest, LogoutOnOneNodeEndsAStreamOnAnotherWithinASecond) {
  std::string token = NodeToken(env.address("a"), "leaver");  // logged in on a
  EventClient on_b(stub_b.get(), token);  // a token node b never saw issued
  on_b.Join("lobby");
  ASSERT_TRUE(on_b.WaitFor(IsJoined("lobby")));
  auto auth_a = chat::v1::AuthService::NewStub(NodeChannel(env.address("a")));
  auto ctx = AuthedContext(token);
  chat::v1::LogoutResponse resp;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(auth_a->Logout(ctx.get(), {}, &resp).ok());
  auto ended = on_b.WaitDone(1s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(ended.has_value()) << "the stream on b is still open after a second";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended->error_message(), HasSubstr("logged out"));
  EXPECT_LT(took, 1s);
  // And the token is dead on b too.
  EventClient again(stub_b.get(), token);
  auto refused = again.WaitDone(5s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(TwoNodesTest, FailedLoginsCountOnEveryNode) {
  ASSERT_FALSE(NodeToken(env.address("a"), "guessed").empty());  // registered
  auto auth_a = chat::v1::AuthService::NewStub(NodeChannel(env.address("a")));
  auto auth_b = chat::v1::AuthService::NewStub(NodeChannel(env.address("b")));
  auto login = [](chat::v1::AuthService::Stub* auth, const std::string& password) {
    grpc::ClientContext ctx;
    chat::v1::LoginRequest req;
    req.set_username("guessed");
    req.set_password(password);
    chat::v1::LoginResponse resp;
    return auth->Login(&ctx, req, &resp);
  };
  // Five wrong passwords, spread over both nodes (the limit is 5 per user and
  // address).
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(login(i % 2 == 0 ? auth_a.get() : auth_b.get(), "wrong guess").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // Each node saw fewer than five, yet both refuse this address now, even the
  // right password.
  for (auto* auth : {auth_a.get(), auth_b.get()}) {
    grpc::Status st = login(auth, "correct horse");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("retry in"));
  }
}

// Someone else's wrong passwords lock their address out of the account, not
// its owner: the pair is locked on every node, the user only slowed down.
TEST_F(TwoNodesTest, WrongPasswordsFromOneAddressLockThatAddressOnEveryNodeNotTheUser) {
  ASSERT_FALSE(NodeToken(env.address("a"), "alice").empty());  // registered, password "correct horse"
  auto auth_a = chat::v1::AuthService::NewStub(NodeChannel(env.address("a")));
  auto auth_b = chat::v1::AuthService::NewStub(NodeChannel(env.address("b")));
  auto login = [](chat::v1::AuthService::Stub* auth, const std::string& password, const std::string& address) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    ctx.AddMetadata("x-forwarded-for", address);  // as ws-bridge names its browsers
    chat::v1::LoginRequest req;
    req.set_username("alice");
    req.set_password(password);
    chat::v1::LoginResponse resp;
    return auth->Login(&ctx, req, &resp);
  };
  int checked = 0, refused = 0;
  for (int i = 0; i < 50; ++i) {
    grpc::Status st = login(i % 2 == 0 ? auth_a.get() : auth_b.get(), "wrong guess", "127.0.0.2");
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++checked;
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  EXPECT_EQ(checked, 5);
  EXPECT_EQ(refused, 45);
  // Alice, from another address, on either node: in after at most the first
  // delay (1 s after the newest failure).
  auto start = std::chrono::steady_clock::now();
  grpc::Status st;
  int waits = 0;
  while (!(st = login(auth_b.get(), "correct horse", "127.0.0.3")).ok() &&
         std::chrono::steady_clock::now() - start < 5s) {
    EXPECT_THAT(st.error_message(), HasSubstr("for this user; retry in"));
    ++waits;
    std::this_thread::sleep_for(50ms);
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_LT(took, 1500ms);
  for (auto* auth : {auth_a.get(), auth_b.get()}) {
    st = login(auth, "correct horse", "127.0.0.2");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("too many failed logins; retry in"));
  }
  std::printf("cluster: 50 wrong logins for alice from one address: %d checked; alice got in from another after "
              "%lld ms (%d waits)\n",
              checked,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()), waits);
}

// A login past --max_sessions_per_user on one node ends the oldest session
// everywhere: its stream on another node too.
TEST(ClusterTest, ALoginPastTheSessionCapEndsTheOldestSessionOnEveryNode) {
  ClusterEnv env;
  ASSERT_NE(env.Start("a", {"--max_sessions_per_user=2"}), nullptr);
  ASSERT_NE(env.Start("b", {"--max_sessions_per_user=2"}), nullptr);
  std::string first = NodeToken(env.address("a"), "hoarder");
  std::this_thread::sleep_for(5ms);  // distinct creation times
  std::string second = NodeToken(env.address("a"), "hoarder");
  auto stub_b = chat::v1::ChatService::NewStub(NodeChannel(env.address("b")));
  EventClient on_b(stub_b.get(), first);
  on_b.Join("lobby");
  ASSERT_TRUE(on_b.WaitFor(IsJoined("lobby")));
  auto start = std::chrono::steady_clock::now();
  std::string third = NodeToken(env.address("a"), "hoarder");
  ASSERT_FALSE(third.empty());
  auto ended = on_b.WaitDone(2s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(ended.has_value()) << "the oldest session's stream on b is still open";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_LT(took, 1s);
  auto rows = env.Query("SELECT count(*) FROM sessions");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "2");
  auto auth_b = chat::v1::AuthService::NewStub(NodeChannel(env.address("b")));
  for (const auto& [token, ok] : {std::pair{first, false}, {second, true}, {third, true}}) {
    auto ctx = AuthedContext(token);
    chat::v1::WhoAmIResponse me;
    EXPECT_EQ(auth_b->WhoAmI(ctx.get(), {}, &me).ok(), ok);
  }
}

// The limiter's count and the attempts in flight: 40 wrong logins at once on
// one node get at most the limit checked (the rest RESOURCE_EXHAUSTED).
TEST_F(TwoNodesTest, ABurstOfConcurrentGuessesGetsAtMostTheLimit) {
  ASSERT_FALSE(NodeToken(env.address("a"), "bursted").empty());
  constexpr int kBurst = 40;
  std::vector<std::unique_ptr<chat::v1::AuthService::Stub>> stubs;
  for (int i = 0; i < kBurst; ++i) stubs.push_back(chat::v1::AuthService::NewStub(NodeChannel(env.address("a"))));
  std::vector<grpc::Status> results(kBurst);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kBurst; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 30s);
      chat::v1::LoginRequest req;
      req.set_username("bursted");
      req.set_password("wrong guess");
      chat::v1::LoginResponse resp;
      results[i] = stubs[i]->Login(&ctx, req, &resp);
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  int guessed = 0, refused = 0;
  for (const grpc::Status& st : results) {
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++guessed;
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  EXPECT_GE(guessed, 1);
  EXPECT_LE(guessed, 5);
  EXPECT_EQ(guessed + refused, kBurst);
}

TEST_F(TwoNodesTest, ARoomCreatedOnOneNodeReachesLiveClientsOnAnother) {
  auto on_b = JoinedClient(stub_b.get(), NodeToken(env.address("b"), "watcher"));
  auto ctx = AuthedContext(NodeToken(env.address("a"), "maker"));
  chat::v1::CreateRoomRequest req;
  req.set_name("made-on-a");
  chat::v1::Room room;
  ASSERT_TRUE(stub_a->CreateRoom(ctx.get(), req, &room).ok());
  auto event = on_b->WaitFor([](const chat::v1::ServerEvent& e) {
    return e.has_room_changed() && e.room_changed().room().name() == "made-on-a";
  }, 5s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->room_changed().kind(), chat::v1::RoomChanged::CREATED);
  EXPECT_EQ(event->room_changed().room().created_by(), "maker");
  // And b serves the room at once.
  on_b->Join("made-on-a");
  EXPECT_TRUE(on_b->WaitFor(IsJoined("made-on-a")));
}

TEST_F(TwoNodesTest, PresenceAndTypingCoverEveryNodeAndADeadNodesMembersLeaveWithin15Seconds) {
  auto watcher_client = JoinedClient(stub_a.get(), NodeToken(env.address("a"), "watcher"));
  EventClient& watcher = *watcher_client;
  EventClient ghost(stub_b.get(), NodeToken(env.address("b"), "ghost"));
  ghost.Join("lobby");
  auto joined = ghost.WaitFor(IsJoined("lobby"));
  ASSERT_TRUE(joined.has_value());
  EXPECT_THAT(joined->joined().members(), ::testing::Contains("watcher"));  // a's member, listed on b
  ASSERT_TRUE(watcher.WaitFor(IsMember("lobby", "ghost", chat::v1::MemberEvent::JOINED), 5s));
  chat::v1::ClientEvent typing;
  typing.mutable_typing()->set_room("lobby");
  typing.mutable_typing()->set_active(true);
  ghost.Write(typing);
  ASSERT_TRUE(watcher.WaitFor([](const chat::v1::ServerEvent& e) {
    return e.has_typing() && e.typing().user() == "ghost" && e.typing().active();
  }, 5s));
  auto stub_room = [&] {
    auto ctx = AuthedContext(NodeToken(env.address("a"), "counter"));
    chat::v1::GetRoomRequest req;
    req.set_name("lobby");
    chat::v1::Room room;
    EXPECT_TRUE(stub_a->GetRoom(ctx.get(), req, &room).ok());
    return room.member_count();
  };
  EXPECT_EQ(stub_room(), 2);
  auto start = std::chrono::steady_clock::now();
  env.Kill("b");  // no goodbye
  ASSERT_TRUE(watcher.WaitFor(IsMember("lobby", "ghost", chat::v1::MemberEvent::LEFT), 15s))
      << "ghost is still listed 15 s after its node died";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  EXPECT_EQ(stub_room(), 1);
}

TEST(ClusterTest, ANodeWaitsForPostgresNotServingAndServesOnceItIsThere) {
  auto pg = PgCluster::Create();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto db = (*pg)->NewDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*pg)->Stop().ok());
  ClusterEnv env(*db);
  CoreProcess* node = env.Launch("patient");
  ASSERT_NE(node, nullptr);
  auto channel = NodeChannel(node->address());
  auto health = HealthCheck(channel);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "NOT_SERVING");
  auto auth = chat::v1::AuthService::NewStub(channel);
  grpc::ClientContext ctx;
  chat::v1::LoginRequest req;
  req.set_username("early");
  req.set_password("correct horse");
  chat::v1::LoginResponse resp;
  grpc::Status st = auth->Login(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  ASSERT_TRUE((*pg)->Start().ok());
  EXPECT_TRUE(WaitServing(node->address(), 30s)) << "the node did not come up by itself";
  EXPECT_FALSE(NodeToken(node->address(), "late").empty());
}

}  // namespace
}  // namespace chat::testing
