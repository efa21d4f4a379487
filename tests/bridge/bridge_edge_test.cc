// ws-bridge at its edges, with a real chat-core behind it: size and rate
// limits, slow and silent browsers, origins, the HTTP API and the web UI,
// chat-core restarts, shutdown, and nothing left behind.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bridge_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

namespace net = boost::asio;
using ::testing::HasSubstr;
using chat::v1::ClientEvent;

TEST(BridgeTest, OversizedMessageIsClosedWith1009) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.max_message_bytes = 1024; });
  // Written before the reader starts: the close the bridge answers with
  // would otherwise meet this write on one Beast stream from two threads
  // (AddressSanitizer caught that as a use-after-free in Beast's buffers).
  auto ws = env.Connect(env.Login("dave"), /*start_reading=*/false);
  ws->SendText(std::string(2000, 'x'));
  ws->StartReading();
  auto closed = ws->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1009) << closed->reason;
}

TEST(BridgeTest, FloodingIsLimitedThenClosed) {
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.events_per_second = 5;
    o.event_burst = 10;
  });
  auto ws = env.Connect(env.Login("erin"));
  ClientEvent ping;
  ping.mutable_ping()->set_nonce(1);
  for (int i = 0; i < 15; ++i) ws->Send(ping);
  ASSERT_TRUE(ws->WaitFor(WsError(chat::v1::Error::RESOURCE_EXHAUSTED)));
  for (int i = 0; i < 40; ++i) ws->Send(ping);
  auto closed = ws->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1008);
  EXPECT_THAT(closed->reason, HasSubstr("too many events"));
}

// A 500-message history page costs ten events of the socket's rate (it is up
// to 2 MB to read, encode and write), a default 50-message page one: of a
// burst of 20 big pages at the default rate (burst 120, the join took one),
// 11 or 12 go and the rest are refused; 15 small ones all go (15: a socket
// may have at most 16 such requests waiting for their turn).
TEST(BridgeTest, BigHistoryPagesCostMoreOfTheEventRate) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.history_per_user = 0; });  // the socket's rate alone
  auto ws = env.Connect(env.Login("pager"));
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  auto history = [&](int limit, int n) {
    for (int i = 0; i < n; ++i) {
      chat::v1::ClientEvent e;
      e.mutable_history()->set_room("lobby");
      e.mutable_history()->set_after_seq(0);
      e.mutable_history()->set_limit(limit);
      ws->Send(e);
    }
  };
  auto count = [&](const WsClient::Pred& pred) {
    size_t n = 0;
    for (const auto& e : ws->Events()) n += pred(e) ? 1 : 0;
    return n;
  };
  auto is_history = [](const chat::v1::ServerEvent& e) { return e.has_history(); };
  history(500, 20);
  ASSERT_TRUE(ws->WaitForCount(is_history, 11));
  ASSERT_TRUE(ws->WaitForCount(WsError(chat::v1::Error::RESOURCE_EXHAUSTED), 8));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t pages = count(is_history);
  EXPECT_GE(pages, 11u);
  EXPECT_LE(pages, 12u);
  EXPECT_EQ(count(WsError(chat::v1::Error::RESOURCE_EXHAUSTED)), 20u - pages);

  auto fresh = env.Connect(env.Login("pager2"));
  ws = std::move(fresh);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  history(0, 15);
  ASSERT_TRUE(ws->WaitForCount(is_history, 15));
  EXPECT_EQ(count(WsError(chat::v1::Error::RESOURCE_EXHAUSTED)), 0u);
}

// Many sockets of one user (or fresh ones for each page) pull no more history
// than one: --history_per_user is shared by all of a user's WebSockets.
TEST(BridgeTest, HistoryIsSharedOutPerUserOverAllItsSockets) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.history_per_user = 50; });  // bursts of 500 (one full page)
  const std::string hog = env.Login("hog");
  auto page = [](WsClient& ws, int limit) {
    chat::v1::ClientEvent e;
    e.mutable_history()->set_room("lobby");
    e.mutable_history()->set_after_seq(0);
    e.mutable_history()->set_limit(limit);
    ws.Send(e);
  };
  auto is_history = [](const chat::v1::ServerEvent& e) { return e.has_history(); };
  auto first = env.Connect(hog);
  page(*first, 500);
  ASSERT_TRUE(first->WaitFor(is_history));
  auto second = env.Connect(hog);
  page(*second, 500);
  auto refused = second->WaitFor(WsError(chat::v1::Error::RESOURCE_EXHAUSTED));
  ASSERT_TRUE(refused.has_value());
  EXPECT_THAT(refused->error().message(), HasSubstr("too many history messages for hog: at most 50 a second"));
  EXPECT_FALSE(second->WaitFor(is_history, std::chrono::milliseconds(200)).has_value());
  // Another user has a share of its own; the hog's comes back with time.
  auto other = env.Connect(env.Login("other"));
  page(*other, 500);
  EXPECT_TRUE(other->WaitFor(is_history).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  page(*second, 50);
  EXPECT_TRUE(second->WaitFor(is_history).has_value());
}

TEST(BridgeTest, ANonReadingBrowserIsClosedWithoutHoldingOthersBack) {
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.max_queued_events = 512;
    o.max_queued_bytes = 512 * 1024;
    // Without a cap, loopback's autotuned send buffer could absorb the flood.
    o.socket_send_buffer = 16384;
  });
  std::string cookie = env.Login("fast");
  auto fast1 = env.Connect(cookie);
  auto fast2 = env.Connect(cookie);
  auto slow = env.Connect(env.Login("slow"), /*start_reading=*/false, /*receive_buffer=*/4096);
  for (auto* c : {fast1.get(), fast2.get(), slow.get()}) c->Join("lobby");
  ASSERT_TRUE(fast1->WaitFor(WsJoined("lobby")));
  ASSERT_TRUE(fast2->WaitFor(WsJoined("lobby")));
  ASSERT_TRUE(Eventually([&] { return env.core().hub()->FindRoom("lobby")->member_count() == 2; }));
  auto sender = env.Native("pusher");
  constexpr int kMessages = 6000;
  const std::string text(1000, 'q');
  for (int i = 0; i < kMessages; ++i) {
    // The reading browsers stay within 200 messages of the sender, however busy
    // the machine; only the one that does not read falls behind.
    if (i % 100 == 0 && i >= 200) {
      ASSERT_TRUE(fast1->WaitForCount(WsAnyMessage("lobby"), i - 200, 30s));
      ASSERT_TRUE(fast2->WaitForCount(WsAnyMessage("lobby"), i - 200, 30s));
    }
    sender->SendText("lobby", text, absl::StrCat("s", i));
  }
  ASSERT_TRUE(fast1->WaitForCount(WsAnyMessage("lobby"), kMessages, 60s));
  ASSERT_TRUE(fast2->WaitForCount(WsAnyMessage("lobby"), kMessages, 60s));
  ExpectContiguous(fast1->Messages("lobby"), 1, kMessages);
  // The slow one was dropped by the bridge.
  slow->StartReading();
  auto closed = slow->WaitClosed(10s);
  ASSERT_TRUE(closed.has_value());
  if (closed->code != 0) {
    EXPECT_EQ(closed->code, 1008);
  }
  auto got = slow->Messages("lobby");
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].seq(), static_cast<int64_t>(i + 1));
  EXPECT_LT(got.size(), static_cast<size_t>(kMessages));
}

TEST(BridgeTest, ForeignOriginsAreRefused) {
  BridgeEnv env;
  std::string cookie = env.Login("frank");
  for (std::string origin : {std::string("http://evil.example"), std::string("null"),
                             absl::StrCat(env.origin(), ".evil.example"), std::string("http://127.0.0.1"),
                             absl::StrCat("http://127.0.0.1:", env.port() + 1)}) {
    WsClient::Options o;
    o.cookie = cookie;
    o.origin = origin;
    int status = 0;
    auto c = WsClient::Connect(env.port(), o, &status);
    EXPECT_EQ(c, nullptr) << origin;
    EXPECT_EQ(status, 403) << origin;
  }
  // And the API: no cross-site login or logout.
  auto r = HttpRequest(env.port(), "POST", "/api/login", R"({"username":"frank","password":"correct horse"})",
                       {{"Origin", "http://evil.example"}});
  EXPECT_EQ(r.status, 403);
  r = HttpRequest(env.port(), "POST", "/api/logout", "",
                  {{"Origin", "http://evil.example"}, {"Cookie", "chat_session=" + cookie}});
  EXPECT_EQ(r.status, 403);
  // The bridge's own origin works.
  WsClient::Options o;
  o.cookie = cookie;
  int status = 0;
  EXPECT_NE(WsClient::Connect(env.port(), o, &status), nullptr);
  EXPECT_EQ(status, 101);
}

TEST(BridgeTest, UnauthenticatedUpgradesGet401) {
  BridgeEnv env;
  int status = 0;
  WsClient::Options none;
  EXPECT_EQ(WsClient::Connect(env.port(), none, &status), nullptr);
  EXPECT_EQ(status, 401);
  WsClient::Options bad;
  bad.cookie = "forged-token";
  EXPECT_EQ(WsClient::Connect(env.port(), bad, &status), nullptr);
  EXPECT_EQ(status, 401);
  WsClient::Options guest;
  guest.target = "/ws?user=visitor";  // guest mode is off by default
  EXPECT_EQ(WsClient::Connect(env.port(), guest, &status), nullptr);
  EXPECT_EQ(status, 401);
  // A bearer token from a gRPC login works for non-browser clients.
  WsClient::Options bearer;
  bearer.bearer = env.core().Token("native-ws");
  bearer.origin = "";
  EXPECT_NE(WsClient::Connect(env.port(), bearer, &status), nullptr);
  EXPECT_EQ(status, 101);
}

TEST(BridgeTest, HttpApiRoundTripAndLogoutClosesTheSocket) {
  BridgeEnv env;
  std::map<std::string, std::string> h = {{"Origin", env.origin()}};
  auto r = HttpRequest(env.port(), "POST", "/api/register", R"({"username":"gina","password":"short"})", h);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("INVALID_ARGUMENT"));
  r = HttpRequest(env.port(), "POST", "/api/register", "not json", h);
  EXPECT_EQ(r.status, 400);
  r = HttpRequest(env.port(), "POST", "/api/register", R"({"username":"gina","password":"long enough"})", h);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"username\":\"gina\""));
  EXPECT_EQ(r.body.find("token"), std::string::npos) << "the token stays in the HttpOnly cookie";
  ASSERT_EQ(r.set_cookies.size(), 1u);
  EXPECT_THAT(r.set_cookies[0], HasSubstr("HttpOnly"));
  EXPECT_THAT(r.set_cookies[0], HasSubstr("SameSite=Strict"));
  EXPECT_THAT(r.set_cookies[0], HasSubstr("Path=/"));
  std::string cookie = SessionCookie(r);
  r = HttpRequest(env.port(), "POST", "/api/register", R"({"username":"GINA","password":"long enough"})", h);
  EXPECT_EQ(r.status, 409);
  r = HttpRequest(env.port(), "POST", "/api/login", R"({"username":"gina","password":"wrong password"})", h);
  EXPECT_EQ(r.status, 401);
  r = HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", "chat_session=" + cookie}});
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"username\":\"gina\""));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/me").status, 401);
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/login").status, 405);
  EXPECT_EQ(HttpRequest(env.port(), "POST", "/api/nope", "{}", h).status, 404);

  auto ws = env.Connect(cookie);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, std::string> with_cookie = {{"Origin", env.origin()}, {"Cookie", "chat_session=" + cookie}};
  r = HttpRequest(env.port(), "POST", "/api/logout", "{}", with_cookie);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.set_cookies.size(), 1u);
  EXPECT_THAT(r.set_cookies[0], HasSubstr("Max-Age=0"));
  // At once, not at the next token check; the bound is loose for loaded machines.
  auto closed = ws->WaitClosed(5s);
  ASSERT_TRUE(closed.has_value()) << "the WebSocket should close soon after logout";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(closed->code, 1008);
  EXPECT_THAT(closed->reason, HasSubstr("logged out"));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", "chat_session=" + cookie}}).status, 401);
  int status = 0;
  WsClient::Options o;
  o.cookie = cookie;
  EXPECT_EQ(WsClient::Connect(env.port(), o, &status), nullptr);
  EXPECT_EQ(status, 401);
}

TEST(BridgeTest, ServesTheWebUiWithTypesAndCaching) {
  TempDir root;
  std::filesystem::create_directories(root.File("assets"));
  std::ofstream(root.File("index.html")) << "<!doctype html><title>chat</title>";
  std::ofstream(root.File("assets/app-1234.js")) << "console.log(1)";
  std::ofstream(root.File("assets/app-1234.css")) << "body{}";
  std::ofstream(root.File("favicon.svg")) << "<svg/>";
  std::ofstream(root.File(".secret")) << "no";
  BridgeEnv env([&](bridge::BridgeOptions& o) { o.web_root = root.path(); });
  auto r = HttpRequest(env.port(), "GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers["content-type"], HasSubstr("text/html"));
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  EXPECT_THAT(r.headers["content-security-policy"], HasSubstr("default-src 'self'"));
  r = HttpRequest(env.port(), "GET", "/assets/app-1234.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers["content-type"], HasSubstr("text/javascript"));
  EXPECT_THAT(r.headers["cache-control"], HasSubstr("immutable"));
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_THAT(HttpRequest(env.port(), "GET", "/assets/app-1234.css").headers["content-type"], HasSubstr("text/css"));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/favicon.svg").headers["content-type"], "image/svg+xml");
  EXPECT_EQ(HttpRequest(env.port(), "HEAD", "/").status, 200);
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/rooms/lobby").status, 200);  // app route -> index.html
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/missing.js").status, 404);
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/../../etc/passwd").status, 400);
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/assets/%2e%2e/%2e%2e/etc/passwd").status, 400);
  EXPECT_NE(HttpRequest(env.port(), "GET", "/.secret").status, 200);
  EXPECT_EQ(HttpRequest(env.port(), "POST", "/index.html", "x").status, 405);
}

TEST(BridgeTest, SlowlorisIsShedWhileHealthzKeepsAnswering) {
  // All 300 come from 127.0.0.1, as the health check does: the per-address
  // cap (connection_flood_test.cc) is off so the handshake timeout is what
  // sheds them here.
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.handshake_timeout = absl::Milliseconds(800);
    o.max_connections_per_ip = 0;
  });
  net::io_context io;
  std::vector<std::unique_ptr<net::ip::tcp::socket>> half_open;
  for (int i = 0; i < 300; ++i) {
    auto s = std::make_unique<net::ip::tcp::socket>(io);
    boost::system::error_code ec;
    s->connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(env.port())), ec);
    ASSERT_FALSE(ec) << ec.message();
    std::string partial = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    net::write(*s, net::buffer(partial), ec);
    half_open.push_back(std::move(s));
  }
  auto start = std::chrono::steady_clock::now();
  auto health = HttpRequest(env.port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_THAT(health.body, HasSubstr("\"core\":\"reachable\""));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  // They are cut off after the handshake timeout.
  ASSERT_TRUE(Eventually([&] { return env.bridge().stats().connections == 0; }, 10s))
      << env.bridge().stats().connections << " connections left";
}

TEST(BridgeTest, ConnectionLimitShedsExtraConnections) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.max_connections = 3; });
  std::string cookie = env.Login("henry");
  ASSERT_TRUE(Eventually([&] { return env.bridge().stats().connections == 0; }));
  auto a = env.Connect(cookie), b = env.Connect(cookie), c = env.Connect(cookie);
  int status = 0;
  WsClient::Options o;
  o.cookie = cookie;
  EXPECT_EQ(WsClient::Connect(env.port(), o, &status), nullptr);
  c.reset();
  ASSERT_TRUE(Eventually([&] { return env.bridge().stats().connections == 2; }));
  EXPECT_NE(WsClient::Connect(env.port(), o, &status), nullptr);
}

TEST(BridgeTest, IdleTimeoutClosesASilentPeer) {
  // Long enough that the live client's pong never misses it on a loaded machine.
  BridgeEnv env([](bridge::BridgeOptions& o) { o.idle_timeout = absl::Milliseconds(1000); });
  auto quiet = env.Connect(env.Login("ivan"), /*start_reading=*/false);  // never answers pings
  auto live = env.Connect(env.Login("judy"));                             // answers pings while reading
  ASSERT_TRUE(Eventually([&] { return env.bridge().stats().ws_live == 1; }, 15s));
  live->Join("lobby");
  EXPECT_TRUE(live->WaitFor(WsJoined("lobby")));
}

// chat-core restarts on the same address: the WebSocket stays open, and once
// chat-core is back the session is open again, in its rooms, with what the
// browser sent meanwhile delivered once.
TEST(BridgeTest, AChatCoreRestartKeepsTheWebSocketAndTheSessionResumes) {
  TempDir dir;
  core::CoreOptions co = TestCoreOptions();
  co.store.path = dir.File("chat.db");
  BridgeEnv env(nullptr, co);
  auto ws = env.Connect(env.Login("kate"));
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  ws->SendMessage("lobby", "before", "b");
  ASSERT_TRUE(ws->WaitFor(WsAck("b")));

  env.StopCore();
  ASSERT_TRUE(Eventually([&] { return !env.bridge().stats().gateway.connected; }));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/healthz").status, 503);
  ws->SendMessage("lobby", "during", "d");
  env.RestartCore();
  ASSERT_TRUE(ws->WaitFor(WsAck("d"), 20s));
  ASSERT_TRUE(ws->WaitForCount(WsJoined("lobby"), 2)) << "a fresh joined after the rejoin";
  auto native = env.Native("native");
  native->SendText("lobby", "after", "a");
  ASSERT_TRUE(ws->WaitForCount(WsAnyMessage("lobby"), 3));
  auto got = ws->Messages("lobby");
  ExpectContiguous(got, 1, 3);
  EXPECT_EQ(got[1].text(), "during");
  EXPECT_FALSE(ws->WaitClosed(0ms).has_value());
}

// With --failover_timeout=0 the WebSockets close with 1012 at once, as before
// fail-over existed, and the browsers come back and resume by seq.
TEST(BridgeTest, WithoutAFailoverWaitAChatCoreRestartClosesWith1012) {
  TempDir dir;
  core::CoreOptions co = TestCoreOptions();
  co.store.path = dir.File("chat.db");
  BridgeEnv env([](bridge::BridgeOptions& o) { o.failover_timeout = absl::ZeroDuration(); }, co);
  std::string cookie = env.Login("kate");
  auto ws = env.Connect(cookie);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  ws->SendMessage("lobby", "before", "b");
  ASSERT_TRUE(ws->WaitFor(WsAck("b")));

  env.StopCore();
  auto closed = ws->WaitClosed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->code == 1012 || closed->code == 1011) << closed->code;
  ASSERT_TRUE(Eventually([&] { return !env.bridge().stats().gateway.connected; }));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/healthz").status, 503);
  int status = 0;
  WsClient::Options o;
  o.cookie = cookie;
  EXPECT_EQ(WsClient::Connect(env.port(), o, &status), nullptr);
  EXPECT_EQ(status, 503);

  env.RestartCore();
  ASSERT_TRUE(Eventually([&] { return env.bridge().stats().gateway.connected; }, 10s));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/healthz").status, 200);
  // The same login works again (sessions are stored) and resume gets what was missed.
  auto again = env.Connect(cookie);
  ASSERT_NE(again, nullptr);
  again->Join("lobby", 0);
  ASSERT_TRUE(again->WaitFor(WsJoined("lobby")));
  ASSERT_EQ(again->Messages("lobby").size(), 1u);
  EXPECT_EQ(again->Messages("lobby")[0].text(), "before");
}

TEST(BridgeTest, ShutdownSendsGoingAway) {
  BridgeEnv env;
  auto ws = env.Connect(env.Login("leo"));
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  env.StopBridge();
  auto closed = ws->WaitClosed(5s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1001);
}

TEST(BridgeTest, NoStateIsLeftAfterManyConnectsAndDisconnects) {
  BridgeEnv env;
  std::string cookie = env.Login("mona");
  for (int i = 0; i < 100; ++i) {
    auto ws = env.Connect(cookie);
    ASSERT_NE(ws, nullptr);
    ws->Join("lobby");
    if (i % 2 == 0) {
      ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
    }
    if (i % 3 == 0) ws->CloseNormally();
  }
  ASSERT_TRUE(Eventually([&] {
    auto s = env.bridge().stats();
    return s.ws_live == 0 && s.gateway.sessions == 0 && s.connections == 0;
  }));
  ASSERT_TRUE(Eventually([&] {
    auto h = env.core().hub()->stats();
    return h.live_sessions == 0 && env.core().hub()->FindRoom("lobby")->member_count() == 0;
  }));
  EXPECT_EQ(env.core().hub()->stats().live_streams, 1);  // just the gateway stream
}

}  // namespace
}  // namespace chat::testing
