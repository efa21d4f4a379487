// ws-bridge with a real chat-core behind it and real WebSocket clients (Beast):
// messages, presence, frames, the write paths. (bridge_edge_test.cc: limits,
// the HTTP API, restarts.)
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ws_session.h"

namespace chat::testing {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;
using ::testing::HasSubstr;

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

TEST(BridgeTest, EveryBrowserHearsOfANewRoomWhateverRoomsItIsIn) {
  BridgeEnv env;
  auto in_lobby = env.Connect(env.Login("lobbyist"));
  in_lobby->Join("lobby");
  ASSERT_TRUE(in_lobby->WaitFor(WsJoined("lobby")));
  auto nowhere = env.Connect(env.Login("idler"));  // in no room at all
  auto stub = env.core().Chat();
  auto ctx = AuthedContext(env.core().Token("maker"));
  chat::v1::CreateRoomRequest req;
  req.set_name("brand-new");
  chat::v1::Room room;
  ASSERT_TRUE(stub->CreateRoom(ctx.get(), req, &room).ok());
  for (auto* ws : {in_lobby.get(), nowhere.get()}) {
    auto ev = ws->WaitFor([](const chat::v1::ServerEvent& e) { return e.has_room_changed(); });
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->room_changed().kind(), chat::v1::RoomChanged::CREATED);
    EXPECT_EQ(ev->room_changed().room().name(), "brand-new");
    EXPECT_EQ(ev->room_changed().room().created_by(), "maker");
  }
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

// Fan-outs read a room's member list without the gateway's lock while browsers
// come and go (docs/architecture.md, "Fan-out from a snapshot"): a browser that
// leaves mid-fan-out must not be told after it is gone (a crash, or a report
// from a sanitizer build), and those that stay get every message in order.
TEST(BridgeTest, BrowsersThatLeaveDuringFanOutsAreNeverToldAfterTheyAreGone) {
  BridgeEnv env;
  std::string cookie = env.Login("churn");
  std::vector<std::unique_ptr<WsClient>> stay, go;
  for (int i = 0; i < 60; ++i) {
    (i % 2 == 0 ? stay : go).push_back(env.Connect(cookie));
    (i % 2 == 0 ? stay : go).back()->Join("lobby");
  }
  for (auto* group : {&stay, &go}) {
    for (auto& c : *group) ASSERT_TRUE(c->WaitFor(WsJoined("lobby")));
  }
  auto sender = env.Native("sender");
  constexpr int kMessages = 300;
  std::vector<std::unique_ptr<WsClient>> late;
  for (int i = 0; i < kMessages; ++i) {
    sender->SendText("lobby", absl::StrCat("m", i), absl::StrCat("m", i));
    // Half of them leave while messages fan out, some closing, some just
    // gone, and others join meanwhile (each join replaces the member list).
    if (i % 10 == 5 && !go.empty()) {
      if (i % 20 == 5) go.back()->CloseNormally();
      go.pop_back();
    }
    if (i % 10 == 0) {
      late.push_back(env.Connect(cookie));
      late.back()->Join("lobby");
    }
  }
  for (auto& c : stay) {
    ASSERT_TRUE(c->WaitForCount(WsAnyMessage("lobby"), kMessages, 30s));
    ExpectContiguous(c->Messages("lobby"), 1, kMessages);
  }
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
  // 20 ms ticks, up to 1 s: through 30 joins 10 ms apart, alice's waits double
  // each time one held more than one join (1, 2, 4, 8, 16 ticks), so the storm
  // takes 5 frames in runs here; a fixed 20 ms wait (presence_max_delay =
  // 20 ms) writes one about every second join (14-15).
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.presence_delay = absl::Milliseconds(20);
    o.presence_max_delay = absl::Seconds(1);
  });
  auto alice = env.Connect(env.Login("alice"));
  alice->Join("lobby");
  ASSERT_TRUE(alice->WaitFor(WsJoined("lobby")));
  // Logins first, then joins on a fixed schedule: a login (hashed at nice 19)
  // or a round trip can outlast the storm's gaps on a busy machine, and a
  // slower bridge only bunches the joins more.
  std::vector<std::unique_ptr<WsClient>> users;
  for (int i = 0; i < 30; ++i) users.push_back(env.Connect(env.Login(absl::StrCat("user", i))));
  for (int i = 0; i < 30; ++i) {
    users[i]->Join("lobby");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(users[i]->WaitFor(WsJoined("lobby"))) << "user" << i;
    expected.push_back(absl::StrCat("user", i));
    ASSERT_TRUE(alice->WaitFor(WsMember(expected.back(), chat::v1::MemberEvent::JOINED), std::chrono::seconds(5)));
  }
  // Each join once, in chat-core's order (30 sockets 10 ms apart do not fix it).
  EXPECT_THAT(OthersAnnounced(*alice, "alice"), ::testing::UnorderedElementsAreArray(expected));
  std::vector<size_t> frames = JoinFrames(*alice);
  EXPECT_LE(frames.size(), 10u) << "presence did not wait longer during the storm";

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
  auto sender = env.Native("sender");
  constexpr int kMessages = 400;
  const size_t sizes[] = {1, 100, 125, 126, 4000};
  auto text_of = [&](int i) { return std::string(sizes[i % 5], static_cast<char>('a' + i % 26)); };
  for (int i = 0; i < kMessages; ++i) {
    if (i == kMessages / 2) browsers.back()->StartReading();
    if (i % 50 == 0 && i >= 100) {
      ASSERT_TRUE(browsers[0]->WaitForCount(WsAnyMessage("lobby"), i - 100, 30s));
    }
    sender->SendText("lobby", text_of(i), absl::StrCat("s", i));
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
