// ws-bridge with a real chat-core behind it and real WebSocket clients (Beast).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"
#include "ws_session.h"

namespace chat::testing {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;
using ::testing::HasSubstr;
namespace net = boost::asio;

void ExpectContiguous(const std::vector<chat::v1::Message>& msgs, int64_t first, int64_t last) {
  ASSERT_EQ(static_cast<int64_t>(msgs.size()), last - first + 1);
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(msgs[i].seq(), first + static_cast<int64_t>(i));
}

TEST(BridgeTest, BrowserAndGrpcClientSeeTheSameMessagesInTheSameOrder) {
  BridgeEnv env;
  auto ws = env.Connect(env.Login("browser"));
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  auto stub = env.core().Chat();
  EventClient native(stub.get(), env.core().Token("native"));
  native.Join("lobby");
  ASSERT_TRUE(native.WaitFor(IsJoined("lobby")));
  for (int i = 0; i < 20; ++i) {
    ws->SendMessage("lobby", absl::StrCat("ws ", i), absl::StrCat("w", i));
    native.SendText("lobby", absl::StrCat("grpc ", i), absl::StrCat("g", i));
  }
  ASSERT_TRUE(ws->WaitForCount(WsAnyMessage("lobby"), 40));
  ASSERT_TRUE(native.WaitForCount(IsAnyMessage("lobby"), 40));
  auto a = ws->Messages("lobby");
  auto b = native.Messages("lobby");
  ExpectContiguous(a, 1, 40);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(a[i].text(), b[i].text());
    EXPECT_EQ(a[i].author(), b[i].author());
  }
  // The browser's own sends are acknowledged with their seq.
  auto ack = ws->WaitFor(WsAck("w19"));
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(a[ack->ack().seq() - 1].client_msg_id(), "w19");
}

TEST(BridgeTest, ManyBrowsersEachGetEveryMessageOnceWhileCoreSendsItOnce) {
  BridgeEnv env;
  constexpr int kBrowsers = 40;
  std::vector<std::unique_ptr<WsClient>> clients;
  std::string cookie = env.Login("crowd");  // one account, many tabs
  for (int i = 0; i < kBrowsers; ++i) {
    clients.push_back(env.Connect(cookie));
    clients.back()->Join("lobby");
  }
  for (auto& c : clients) ASSERT_TRUE(c->WaitFor(WsJoined("lobby")));
  auto stub = env.core().Chat();
  std::string sender = env.core().Token("sender");
  uint64_t frames_before = env.core().hub()->stats().gateway_room_frames;
  constexpr int kMessages = 30;
  for (int i = 0; i < kMessages; ++i) {
    auto ctx = AuthedContext(sender);
    chat::v1::SendMessageRequest req;
    req.set_room("lobby");
    req.set_text(absl::StrCat("m", i));
    chat::v1::SendMessageResponse resp;
    ASSERT_TRUE(stub->SendMessage(ctx.get(), req, &resp).ok());
  }
  for (auto& c : clients) {
    ASSERT_TRUE(c->WaitForCount(WsAnyMessage("lobby"), kMessages));
    ExpectContiguous(c->Messages("lobby"), 1, kMessages);
  }
  // chat-core queued each message to the bridge's gateway stream once.
  EXPECT_EQ(env.core().hub()->stats().gateway_room_frames - frames_before, static_cast<uint64_t>(kMessages));
  auto g = env.bridge().stats().gateway;
  EXPECT_GE(g.room_deliveries, static_cast<uint64_t>(kMessages * kBrowsers));
}

TEST(BridgeTest, EventsPassThroughAndSeveralEventsShareAFrame) {
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.events_per_second = 10000;
    o.event_burst = 10000;
    // Small kernel buffers on both ends: the backlog must wait at the bridge
    // (with autotuning, loopback lets the kernel take megabytes, and whether
    // events pile up at all would depend on the machine's speed).
    o.socket_send_buffer = 4096;
  });
  auto alice = env.Connect(env.Login("alice"));
  auto bob = env.Connect(env.Login("bob"), /*start_reading=*/false, /*receive_buffer=*/4096);
  alice->Join("lobby", std::nullopt, "j");
  auto joined = alice->WaitFor(WsJoined("lobby"));
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->ref(), "j");
  bob->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsMember("bob", chat::v1::MemberEvent::JOINED)));
  // While bob is not reading, 200 messages pile up at the bridge...
  // (about 200 KB, far more than the two 4 KB socket buffers hold).
  const std::string padding(1000, 'x');
  for (int i = 0; i < 200; ++i) alice->SendMessage("lobby", absl::StrCat("burst ", i, padding), absl::StrCat("b", i));
  ASSERT_TRUE(alice->WaitFor(WsAck("b199")));
  ClientEvent typing;
  typing.mutable_typing()->set_room("lobby");
  typing.mutable_typing()->set_active(true);
  alice->Send(typing);
  // ...and leave in frames of several events when he reads.
  bob->StartReading();
  ASSERT_TRUE(bob->WaitForCount(WsAnyMessage("lobby"), 200));
  ExpectContiguous(bob->Messages("lobby"), 1, 200);
  size_t multi = 0;
  for (const auto& f : bob->Frames()) multi += f.find('\n') != std::string::npos ? 1 : 0;
  EXPECT_GT(multi, 0u) << "expected batched frames";
  // What the kernel buffers took left one event per frame (a dozen at most);
  // the rest left together.
  EXPECT_LT(bob->Frames().size(), 40u);
  ASSERT_TRUE(bob->WaitFor([](const ServerEvent& e) { return e.has_typing() && e.typing().user() == "alice"; }));
  ClientEvent ping;
  ping.set_ref("p");
  ping.mutable_ping()->set_nonce(9);
  bob->Send(ping);
  auto pong = bob->WaitFor([](const ServerEvent& e) { return e.has_pong(); });
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->ref(), "p");
  ClientEvent leave;
  leave.mutable_leave()->set_room("lobby");
  leave.set_ref("l");
  bob->Send(leave);
  ASSERT_TRUE(bob->WaitFor([](const ServerEvent& e) { return e.has_left(); }));
  ASSERT_TRUE(alice->WaitFor(WsMember("bob", chat::v1::MemberEvent::LEFT)));
}

// Users user0..user<n-1>, each joined to the lobby (its joined reply seen).
std::vector<std::unique_ptr<WsClient>> JoinLobby(BridgeEnv& env, int n) {
  std::vector<std::unique_ptr<WsClient>> users;
  for (int i = 0; i < n; ++i) {
    users.push_back(env.Connect(env.Login(absl::StrCat("user", i))));
    users.back()->Join("lobby");
    // A joiner's own reply is urgent: it never waits for presence_delay.
    EXPECT_TRUE(users.back()->WaitFor(WsJoined("lobby"))) << "user" << i;
  }
  return users;
}

// The users of the member events a client got about others, in order.
std::vector<std::string> OthersAnnounced(const WsClient& c, const std::string& self) {
  std::vector<std::string> users;
  for (const auto& e : c.Events()) {
    if (e.has_member() && e.member().user() != self) users.push_back(e.member().user());
  }
  return users;
}

TEST(BridgeTest, PresenceWaitsForTheNextUrgentWriteAndLeavesWithItInOrder) {
  // The longest wait there is (10 s): only an urgent event writes presence out.
  BridgeEnv env([](bridge::BridgeOptions& o) { o.presence_delay = o.presence_max_delay = absl::Seconds(10); });
  auto alice = env.Connect(env.Login("alice"));
  alice->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsJoined("lobby")));
  // A round trip, so that nothing of alice's own join is still being written.
  ClientEvent ping;
  ping.mutable_ping()->set_nonce(1);
  alice->Send(ping);
  ASSERT_TRUE(alice->WaitFor([](const ServerEvent& e) { return e.has_pong(); }));
  auto others = JoinLobby(env, 5);
  ASSERT_FALSE(::testing::Test::HasFailure());
  alice->SendMessage("lobby", "hello", "m1");
  ASSERT_TRUE(alice->WaitFor(WsAck("m1")));
  ASSERT_TRUE(alice->WaitForCount(WsAnyMessage("lobby"), 1));
  // The five joins reached alice in one frame, behind the urgent event that
  // started its write, in the order they happened and before her message.
  EXPECT_THAT(OthersAnnounced(*alice, "alice"), ::testing::ElementsAre("user0", "user1", "user2", "user3", "user4"));
  int frames_with_joins = 0;
  bool message_seen = false;
  for (const auto& frame : alice->Frames()) {
    std::vector<std::string> lines = absl::StrSplit(frame, '\n');
    size_t joins = 0;
    for (const auto& l : lines) joins += absl::StrContains(l, "\"member\":{") && absl::StrContains(l, "\"user\":\"user");
    if (joins == 0) {
      message_seen |= absl::StrContains(frame, "\"message\":{");
      continue;
    }
    ++frames_with_joins;
    EXPECT_EQ(joins, 5u) << frame;
    EXPECT_FALSE(message_seen) << "presence came after the message";
    // It left with what started the write (alice's message or ack), not on its own.
    EXPECT_FALSE(absl::StrContains(lines.back(), "\"member\":{")) << "presence left without waiting: " << frame;
  }
  EXPECT_EQ(frames_with_joins, 1);
}

TEST(BridgeTest, PresenceStopsWaitingBeforeItCouldFillTheQueue) {
  // A small queue and the longest delay: a burst of 20 joins must not close
  // alice as "too slow"; past half the queue, presence is written.
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.presence_delay = o.presence_max_delay = absl::Seconds(10);
    o.max_queued_events = 16;
  });
  auto alice = env.Connect(env.Login("alice"));
  alice->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsJoined("lobby")));
  auto others = JoinLobby(env, 20);
  ASSERT_FALSE(::testing::Test::HasFailure());
  // The first eight left on their own, with no urgent event to carry them.
  ASSERT_TRUE(alice->WaitFor(WsMember("user7", chat::v1::MemberEvent::JOINED)));
  alice->SendMessage("lobby", "still here", "m1");
  ASSERT_TRUE(alice->WaitFor(WsAck("m1")));
  std::vector<std::string> users = OthersAnnounced(*alice, "alice");
  ASSERT_EQ(users.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(users[i], absl::StrCat("user", i));
  EXPECT_FALSE(alice->WaitClosed(std::chrono::milliseconds(0)).has_value());
}

// The frames of `c` that announce another user's join, and how many joins each holds.
std::vector<size_t> JoinFrames(const WsClient& c) {
  std::vector<size_t> out;
  for (const auto& frame : c.Frames()) {
    size_t joins = 0;
    for (absl::string_view l : absl::StrSplit(frame, '\n')) {
      joins += absl::StrContains(l, "\"member\":{") && absl::StrContains(l, "\"user\":\"user");
    }
    if (joins > 0) out.push_back(joins);
  }
  return out;
}

TEST(BridgeTest, PresenceWaitsLongerWhileJoinsKeepComingAndShortAgainOnceTheyStop) {
  // 20 ms ticks, up to 1 s: through a storm of 30 joins 20+ ms apart, alice's
  // waits go 1, 2, 4, 8, 16, 32 ticks (flushes near 20, 60, 140, 300, 620 and
  // 1260 ms). A fixed 20 ms wait would write at least one frame per join.
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.presence_delay = absl::Milliseconds(20);
    o.presence_max_delay = absl::Seconds(1);
  });
  auto alice = env.Connect(env.Login("alice"));
  alice->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsJoined("lobby")));
  std::vector<std::unique_ptr<WsClient>> users;
  for (int i = 0; i < 30; ++i) {
    users.push_back(env.Connect(env.Login(absl::StrCat("user", i))));
    users.back()->Join("lobby");
    ASSERT_TRUE(users.back()->WaitFor(WsJoined("lobby"))) << "user" << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(alice->WaitFor(WsMember("user29", chat::v1::MemberEvent::JOINED), std::chrono::seconds(5)));
  std::vector<std::string> announced = OthersAnnounced(*alice, "alice");
  ASSERT_EQ(announced.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(announced[i], absl::StrCat("user", i));
  std::vector<size_t> frames = JoinFrames(*alice);
  EXPECT_LE(frames.size(), 12u) << "presence did not wait longer during the storm";

  // Quiet for longer than the longest wait: the next join waits one tick again,
  // not the second it would wait if the storm's wait had stuck.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto late = env.Connect(env.Login("user30"));
  late->Join("lobby");
  ASSERT_TRUE(late->WaitFor(WsJoined("lobby")));
  const auto joined_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(alice->WaitFor(WsMember("user30", chat::v1::MemberEvent::JOINED), std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - joined_at, std::chrono::milliseconds(500));
  EXPECT_EQ(JoinFrames(*alice).size(), frames.size() + 1);
}

// Presence with nothing else to carry it: written after the delay (or at once).
class PresenceDelayTest : public ::testing::TestWithParam<int> {};

TEST_P(PresenceDelayTest, JoinsAndLeavesReachTheRoomOnTheirOwn) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.presence_delay = absl::Milliseconds(GetParam()); });
  auto alice = env.Connect(env.Login("alice"));
  alice->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsJoined("lobby")));
  auto bob = env.Connect(env.Login("bob"));
  bob->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsMember("bob", chat::v1::MemberEvent::JOINED)));
  ClientEvent leave;
  leave.mutable_leave()->set_room("lobby");
  bob->Send(leave);
  ASSERT_TRUE(alice->WaitFor(WsMember("bob", chat::v1::MemberEvent::LEFT)));
  // A member that disconnects is announced too.
  auto carol = env.Connect(env.Login("carol"));
  carol->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsMember("carol", chat::v1::MemberEvent::JOINED)));
  carol.reset();
  ASSERT_TRUE(alice->WaitFor(WsMember("carol", chat::v1::MemberEvent::LEFT)));
}

INSTANTIATE_TEST_SUITE_P(BridgeTest, PresenceDelayTest, ::testing::Values(0, 20),
                         [](const auto& info) { return absl::StrCat(info.param, "ms"); });

TEST(BridgeTest, BadFramesGetErrorEventsAndTheConnectionStaysUsable) {
  BridgeEnv env;
  auto ws = env.Connect(env.Login("carol"));
  ws->SendText("{not json");
  ws->SendBinary(std::string("\x00\x01\x02", 3));
  ws->SendText(R"({"bogus":{}})");
  ws->SendText(R"({})");
  ws->SendText(R"({"send":{"room":"lobby","text":"hi","clientMsgId":"x"}})");  // not joined
  ws->SendText(R"({"join":{"room":"no-such-room"}})");
  ASSERT_TRUE(ws->WaitForCount([](const ServerEvent& e) { return e.has_error(); }, 6));
  auto events = ws->Events();
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events[0].error().code(), chat::v1::Error::INVALID_ARGUMENT);
  EXPECT_THAT(events[0].error().message(), HasSubstr("malformed JSON"));
  EXPECT_THAT(events[1].error().message(), HasSubstr("binary frames"));
  EXPECT_EQ(events[2].error().code(), chat::v1::Error::INVALID_ARGUMENT);
  EXPECT_EQ(events[3].error().code(), chat::v1::Error::INVALID_ARGUMENT);
  EXPECT_EQ(events[4].error().code(), chat::v1::Error::FAILED_PRECONDITION);
  EXPECT_EQ(events[4].error().client_msg_id(), "x");
  EXPECT_EQ(events[5].error().code(), chat::v1::Error::NOT_FOUND);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  ws->SendMessage("lobby", "still works", "ok");
  EXPECT_TRUE(ws->WaitFor(WsAck("ok")));
}

// The bridge reads a WebSocket message in small pieces (so an idle socket holds
// no buffer): a message of many pieces, multi-byte characters split across
// them, still arrives whole.
TEST(BridgeTest, AnEventOfManyReadPiecesArrivesWhole) {
  BridgeEnv env;
  auto ws = env.Connect(env.Login("erin"));
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  std::string text;
  for (int i = 0; i < 700; ++i) text += "\xc3\xa9\xe2\x82\xac";  // "é€", 3,500 bytes
  ws->SendMessage("lobby", text, "big");
  ASSERT_TRUE(ws->WaitFor(WsAck("big")));
  auto msgs = ws->Messages("lobby");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].text(), text);
}

TEST(BridgeTest, OversizedMessageIsClosedWith1009) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.max_message_bytes = 1024; });
  auto ws = env.Connect(env.Login("dave"));
  ws->SendText(std::string(2000, 'x'));
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
  auto stub = env.core().Chat();
  EventClient sender(stub.get(), env.core().Token("pusher"));
  sender.Join("lobby");
  ASSERT_TRUE(sender.WaitFor(IsJoined("lobby")));
  constexpr int kMessages = 6000;
  const std::string text(1000, 'q');
  for (int i = 0; i < kMessages; ++i) {
    // The reading browsers stay within 200 messages of the sender, however busy
    // the machine; only the one that does not read falls behind.
    if (i % 100 == 0 && i >= 200) {
      ASSERT_TRUE(fast1->WaitForCount(WsAnyMessage("lobby"), i - 200, 30s));
      ASSERT_TRUE(fast2->WaitForCount(WsAnyMessage("lobby"), i - 200, 30s));
    }
    sender.SendText("lobby", text, absl::StrCat("s", i));
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
  r = HttpRequest(env.port(), "POST", "/api/logout", "", with_cookie);
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
  BridgeEnv env([](bridge::BridgeOptions& o) { o.handshake_timeout = absl::Milliseconds(800); });
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

TEST(BridgeTest, ChatCoreRestartClosesWith1012AndTheBridgeReconnects) {
  TempDir dir;
  core::CoreOptions co = TestCoreOptions();
  co.store.path = dir.File("chat.db");
  BridgeEnv env(nullptr, co);
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

// Every write path: with --direct_writes the gateway's thread writes a frame to
// an idle socket itself (GatedSocket), in one io_uring batch per room message
// (--io_uring) or with a sendmsg each, and falls back to the strand for a
// socket with a backlog; without it every write goes through the strand. With
// texts of every WebSocket length form and a browser that reads late (a small
// buffer, so direct writes go out in part or not at all), every browser gets
// every message once, whole and in order.
enum class WritePath { kStrand, kDirectSendmsg, kDirectIoUring };

class WritePathTest : public ::testing::TestWithParam<WritePath> {};

TEST_P(WritePathTest, EveryBrowserGetsEveryMessageWholeAndInOrder) {
  const WritePath path = GetParam();
  if (path == WritePath::kDirectIoUring && bridge::SendBatch::ForThisThread() == nullptr) {
    GTEST_SKIP() << "io_uring is not available on this machine";
  }
  BridgeEnv env([path](bridge::BridgeOptions& o) {
    o.direct_writes = path != WritePath::kStrand;
    o.io_uring = path == WritePath::kDirectIoUring;
    o.socket_send_buffer = 8192;
  });
  std::string cookie = env.Login("reader");
  std::vector<std::unique_ptr<WsClient>> browsers;
  for (int i = 0; i < 6; ++i) browsers.push_back(env.Connect(cookie));
  browsers.push_back(env.Connect(env.Login("late"), /*start_reading=*/false, /*receive_buffer=*/4096));
  for (auto& b : browsers) b->Join("lobby");
  for (size_t i = 0; i + 1 < browsers.size(); ++i) ASSERT_TRUE(browsers[i]->WaitFor(WsJoined("lobby")));
  ASSERT_TRUE(Eventually([&] { return env.core().hub()->FindRoom("lobby")->member_count() == 2; }));
  auto stub = env.core().Chat();
  EventClient sender(stub.get(), env.core().Token("sender"));
  sender.Join("lobby");
  ASSERT_TRUE(sender.WaitFor(IsJoined("lobby")));
  constexpr int kMessages = 400;
  const size_t sizes[] = {1, 100, 125, 126, 4000};
  auto text_of = [&](int i) { return std::string(sizes[i % 5], static_cast<char>('a' + i % 26)); };
  for (int i = 0; i < kMessages; ++i) {
    if (i == kMessages / 2) browsers.back()->StartReading();
    if (i % 50 == 0 && i >= 100) {
      ASSERT_TRUE(browsers[0]->WaitForCount(WsAnyMessage("lobby"), i - 100, 30s));
    }
    sender.SendText("lobby", text_of(i), absl::StrCat("s", i));
  }
  for (auto& b : browsers) {
    ASSERT_TRUE(b->WaitForCount(WsAnyMessage("lobby"), kMessages, 60s));
    auto got = b->Messages("lobby");
    ExpectContiguous(got, 1, kMessages);
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(got[i].text(), text_of(i)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(BridgeTest, WritePathTest,
                         ::testing::Values(WritePath::kStrand, WritePath::kDirectSendmsg, WritePath::kDirectIoUring),
                         [](const ::testing::TestParamInfo<WritePath>& p) {
                           switch (p.param) {
                             case WritePath::kStrand:
                               return "Strand";
                             case WritePath::kDirectSendmsg:
                               return "DirectSendmsg";
                             case WritePath::kDirectIoUring:
                               return "DirectIoUring";
                           }
                           return "?";
                         });

TEST(CompactQueueTest, StaysFifoAndBoundedWhenItNeverEmpties) {
  bridge::CompactQueue<int> q;
  q.push_back(0);
  q.push_back(1);
  int next_in = 2;
  for (int expect = 0; expect < 10000; ++expect) {
    ASSERT_EQ(q.front(), expect);
    q.pop_front();
    q.push_back(next_in++);
    ASSERT_EQ(q.size(), 2u);
    ASSERT_LE(q.slots(), 130u);  // consumed slots are dropped, not kept
  }
  q.pop_front();
  q.pop_front();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.slots(), 0u);
}

TEST(CompactQueueTest, AnEmptiedQueueKeepsAtMostItsKeptSlots) {
  // chat-core's outboxes keep none (idle streams hold no storage); the default keeps 64.
  bridge::CompactQueue<int, 0> none;
  bridge::CompactQueue<int> some;
  for (int i = 0; i < 50; ++i) {
    none.push_back(i);
    some.push_back(i);
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(none.front(), i);
    ASSERT_EQ(some.front(), i);
    none.pop_front();
    some.pop_front();
  }
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.capacity(), 0u);
  EXPECT_GE(some.capacity(), 50u);  // kept for the next burst
  for (int i = 0; i < 200; ++i) some.push_back(i);
  while (!some.empty()) some.pop_front();
  EXPECT_EQ(some.capacity(), 0u);  // more than 64: given back
}

}  // namespace
}  // namespace chat::testing
