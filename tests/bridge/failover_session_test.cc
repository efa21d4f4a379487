// A WebSocket session across a lost gateway stream, step by step, against a
// scripted core on port 0 that ends its stream and refuses new ones on cue:
// what the bridge sends on the new stream and in which order, and what the
// browser sees. (tests/bridge/failover_test.cc does it with real chat-core
// processes.)
#include <memory>
#include <string>
#include <thread>

#include "bridge_fixture.h"
#include "scripted_core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

namespace v1 = chat::v1;
using ::testing::HasSubstr;

class BridgeFailoverSessionTest : public ::testing::Test {
 protected:
  // A bridge, a browser in the lobby, and messages 1 and 2 given to it.
  void Start(std::function<void(bridge::BridgeOptions&)> tweak = nullptr) {
    auto options = TestBridgeOptions(core_.address());
    if (tweak) tweak(options);
    auto started = bridge::Bridge::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    bridge_ = std::move(*started);
    ASSERT_TRUE(Eventually([&] { return bridge_->stats().gateway.connected; }));
    browser_ = core_.JoinedBrowser(bridge_->port(), "alice", "lobby", &session_);
    ASSERT_NE(browser_, nullptr);
    for (int64_t seq : {1, 2}) ASSERT_TRUE(core_.Send(ScriptedCore::RoomMessage("lobby", seq)));
    ASSERT_TRUE(browser_->WaitForCount(WsAnyMessage("lobby"), 2));
  }

  v1::GatewayDown ForSession(const v1::ServerEvent& event, uint64_t request = 0) const {
    return ScriptedCore::ForSession(session_, event, request);
  }

  // The WebSocket closes with `code` and a reason that says `why`.
  void ExpectClosed(int code, const std::string& why) {
    auto closed = browser_->WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, code);
    EXPECT_THAT(closed->reason, HasSubstr(why));
  }

  // The stream goes away and the node stays down until Recover().
  void LoseTheStream() {
    core_.SetAccepting(false);
    core_.EndStream();
    ASSERT_TRUE(Eventually([&] { return !bridge_->stats().gateway.connected; }));
  }

  // The node is back: the session's open on the new stream is accepted, and
  // the items received after it are returned once `count` have come.
  std::vector<v1::GatewayUp> Recover(size_t count) {
    const size_t before = core_.Received().size();
    core_.SetAccepting(true);
    EXPECT_EQ(core_.AcceptNextOpen("alice"), session_) << "the same session id on the new stream";
    std::vector<v1::GatewayUp> after;
    Eventually([&] {
      auto all = core_.Received();
      after.assign(all.begin() + static_cast<long>(before), all.end());
      return after.size() >= count + 1;  // the open, then `count` more
    });
    EXPECT_GE(after.size(), count + 1);
    if (!after.empty()) after.erase(after.begin());
    return after;
  }

  ScriptedCore core_;
  std::unique_ptr<bridge::Bridge> bridge_;
  std::unique_ptr<WsClient> browser_;
  uint64_t session_ = 0;
};

TEST_F(BridgeFailoverSessionTest, TheSessionRejoinsFirstThenSendsWhatWasInFlightAndWhatWaited) {
  Start();
  browser_->SendMessage("lobby", "in flight", "m1");
  v1::ClientEvent no_id;
  no_id.set_ref("s2");
  no_id.mutable_send()->set_room("lobby");
  no_id.mutable_send()->set_text("in flight, no id");
  browser_->Send(no_id);
  ASSERT_TRUE(core_.WaitFor([](const v1::GatewayUp& up) { return up.event().send().text() == "in flight, no id"; }));
  LoseTheStream();

  // While no node is up: a send waits; a ping is answered by the bridge.
  browser_->SendMessage("lobby", "during", "m2");
  browser_->Ping(7, "p");
  auto pong = browser_->WaitFor([](const v1::ServerEvent& e) { return e.has_pong(); });
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->ref(), "p");
  EXPECT_EQ(pong->pong().nonce(), 7);

  auto items = Recover(3);
  ASSERT_EQ(items.size(), 3u);
  // 1. The rejoin, the bridge's own, from the last seq the browser got.
  ASSERT_TRUE(items[0].event().has_join());
  EXPECT_NE(items[0].request(), 0u);
  EXPECT_EQ(items[0].event().ref(), "");
  EXPECT_EQ(items[0].event().join().room(), "lobby");
  EXPECT_EQ(items[0].event().join().since_seq(), 2);
  // 2. The send that was in flight, again (its client_msg_id makes it safe),
  // 3. then the one that waited. The id-less one is not sent twice.
  EXPECT_EQ(items[1].event().send().client_msg_id(), "m1");
  EXPECT_EQ(items[1].request(), 0u);
  EXPECT_EQ(items[2].event().send().client_msg_id(), "m2");
  auto refused = browser_->WaitFor([](const v1::ServerEvent& e) { return e.has_error() && e.ref() == "s2"; });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error().code(), chat::v1::Error::UNAVAILABLE);
  EXPECT_EQ(refused->error().event(), "send");

  // The node answers: the replay of what the browser missed, `joined`, the acks.
  ASSERT_TRUE(core_.Send(ScriptedCore::RoomMessage("lobby", 2, session_)));  // a duplicate: dropped
  ASSERT_TRUE(core_.Send(ScriptedCore::RoomMessage("lobby", 3, session_)));
  v1::ServerEvent joined;
  joined.mutable_joined()->set_room("lobby");
  joined.mutable_joined()->set_latest_seq(3);
  joined.mutable_joined()->add_members("alice");
  ASSERT_TRUE(core_.Send(ForSession(joined, items[0].request())));
  for (const char* id : {"m1", "m2"}) {
    v1::ServerEvent ack;
    ack.mutable_ack()->set_room("lobby");
    ack.mutable_ack()->set_client_msg_id(id);
    ack.mutable_ack()->set_seq(std::string(id) == "m1" ? 4 : 5);
    ASSERT_TRUE(core_.Send(ForSession(ack)));
  }
  for (int64_t seq : {4, 5}) ASSERT_TRUE(core_.Send(ScriptedCore::RoomMessage("lobby", seq)));
  ASSERT_TRUE(browser_->WaitForCount(WsAnyMessage("lobby"), 5));
  ASSERT_TRUE(browser_->WaitFor(WsAck("m2")));
  auto messages = browser_->Messages("lobby");
  ASSERT_EQ(messages.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(messages[i].seq(), i + 1);
  // A fresh `joined` (no ref) puts the member list right; each ack came once.
  auto joins = browser_->Events();
  int joined_events = 0, acks = 0;
  for (const auto& e : joins) {
    joined_events += e.has_joined() ? 1 : 0;
    acks += e.has_ack() ? 1 : 0;
    if (e.has_joined() && joined_events == 2) EXPECT_EQ(e.ref(), "");
  }
  EXPECT_EQ(joined_events, 2);
  EXPECT_EQ(acks, 2);
  EXPECT_FALSE(browser_->WaitClosed(std::chrono::milliseconds(0)).has_value());
}

TEST_F(BridgeFailoverSessionTest, EventsOverTheQueueBoundAreRefusedWithTheirClientMsgId) {
  Start([](bridge::BridgeOptions& o) { o.failover_queue_events = 1; });
  LoseTheStream();
  browser_->SendMessage("lobby", "kept", "k1");
  browser_->SendMessage("lobby", "over", "k2");
  auto refused = browser_->WaitFor(WsError(chat::v1::Error::UNAVAILABLE));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error().client_msg_id(), "k2");
  EXPECT_EQ(refused->error().room(), "lobby");
  auto items = Recover(2);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].event().has_join());
  EXPECT_EQ(items[1].event().send().client_msg_id(), "k1");
}

TEST_F(BridgeFailoverSessionTest, NoNodeWithinTheTimeoutCloses1012) {
  Start([](bridge::BridgeOptions& o) { o.failover_timeout = absl::Milliseconds(300); });
  LoseTheStream();
  ExpectClosed(1012, "chat backend unavailable");
}

TEST_F(BridgeFailoverSessionTest, ARefusedReopenClosesAsChatCoreSays) {
  Start();
  LoseTheStream();
  core_.SetAccepting(true);
  // The second open of the session (the first was at the start), with its token.
  int opens = 0;
  auto open = core_.WaitFor([&](const v1::GatewayUp& up) { return up.has_open() && ++opens == 2; });
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->session(), session_);
  EXPECT_EQ(open->open().token(), "token-of-alice");
  v1::GatewayDown closed;
  closed.set_session(session_);
  closed.mutable_closed()->set_code(chat::v1::Error::UNAUTHENTICATED);
  closed.mutable_closed()->set_reason("session token revoked; log in again");
  ASSERT_TRUE(core_.Send(closed));
  ExpectClosed(1008, "revoked");
}

TEST_F(BridgeFailoverSessionTest, ARejoinTheNewNodeRefusesCloses1013) {
  Start();
  LoseTheStream();
  auto items = Recover(1);
  ASSERT_EQ(items.size(), 1u);
  v1::ServerEvent error;
  error.mutable_error()->set_code(chat::v1::Error::OUT_OF_RANGE);
  error.mutable_error()->set_event("join");
  error.mutable_error()->set_room("lobby");
  ASSERT_TRUE(core_.Send(ForSession(error, items[0].request())));
  ExpectClosed(1013, "could not rejoin 'lobby'");
}

}  // namespace
}  // namespace chat::testing
