// Gap fills: the bridge's own history requests, told apart from the browser's
// by their request id (GatewayUp.request), never by a ref. A scripted core on
// port 0 stands in for chat-core, which never skips a message on its own.
#include <memory>
#include <string>

#include "bridge_fixture.h"
#include "scripted_core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using chat::v1::ServerEvent;
using chat::v1::GatewayUp;
using chat::v1::GatewayDown;

// A bridge in front of a scripted core, and one browser joined to the lobby.
class BridgeGapFillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = bridge::Bridge::Start(TestBridgeOptions(core_.address()));
    ASSERT_TRUE(started.ok()) << started.status();
    bridge_ = std::move(*started);
    ASSERT_TRUE(Eventually([&] { return bridge_->stats().gateway.connected; }));
    browser_ = core_.JoinedBrowser(bridge_->port(), "alice", "lobby", &session_);
    ASSERT_NE(browser_, nullptr);
  }

  GatewayDown ForSession(const ServerEvent& event, uint64_t request = 0) const {
    return ScriptedCore::ForSession(session_, event, request);
  }
  static chat::v1::Message Msg(int64_t seq) { return ScriptedCore::RoomMessage("lobby", seq).event().message(); }
  // A room message as chat-core fans it out (session 0).
  bool Publish(int64_t seq) { return core_.Send(ScriptedCore::RoomMessage("lobby", seq)); }

  // The bridge's fill request (a history event with a request id).
  std::optional<GatewayUp> WaitForFill() {
    return core_.WaitFor([](const GatewayUp& up) { return up.has_event() && up.event().has_history() && up.request() != 0; });
  }

  ScriptedCore core_;
  std::unique_ptr<bridge::Bridge> bridge_;
  std::unique_ptr<WsClient> browser_;
  uint64_t session_ = 0;
};

TEST_F(BridgeGapFillTest, AGapIsFilledByTheBridgesOwnRequestEvenWhenTheBrowserUsesTheOldMarkerAsItsRef) {
  ASSERT_TRUE(Publish(1));
  ASSERT_TRUE(browser_->WaitFor(WsMessage("lobby", 1)));
  ASSERT_TRUE(Publish(3));  // 2 never came: the bridge asks for it
  auto fill = WaitForFill();
  ASSERT_TRUE(fill.has_value());
  EXPECT_EQ(fill->session(), session_);
  EXPECT_EQ(fill->event().ref(), "") << "the bridge's bookkeeping is not in the ref";
  EXPECT_EQ(fill->event().history().room(), "lobby");
  EXPECT_EQ(fill->event().history().after_seq(), 1);

  // Meanwhile the browser asks for history with a ref that once marked the
  // bridge's fills. It is the browser's like any other: sent with request 0,
  // and its answer, which comes first, goes to the browser.
  const std::string old_marker = std::string("\x01") + "fill:lobby";
  chat::v1::ClientEvent history;
  history.set_ref(old_marker);
  history.mutable_history()->set_room("lobby");
  browser_->Send(history);
  auto mine = core_.WaitFor([&](const GatewayUp& up) { return up.has_event() && up.event().ref() == old_marker; });
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->request(), 0u);
  ServerEvent answer;
  answer.set_ref(old_marker);
  answer.mutable_history()->set_room("lobby");
  ASSERT_TRUE(core_.Send(ForSession(answer)));
  auto got = browser_->WaitFor([](const ServerEvent& e) { return e.has_history(); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->ref(), old_marker);

  // The fill's answer: kept by the bridge, 2 and then the held 3 go out.
  ServerEvent filled;
  *filled.mutable_history()->add_messages() = Msg(2);
  filled.mutable_history()->set_room("lobby");
  ASSERT_TRUE(core_.Send(ForSession(filled, fill->request())));
  ASSERT_TRUE(Publish(4));
  ASSERT_TRUE(browser_->WaitForCount(WsAnyMessage("lobby"), 4));
  auto messages = browser_->Messages("lobby");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(messages[i].seq(), i + 1);
  int histories = 0;
  for (const auto& e : browser_->Events()) histories += e.has_history() ? 1 : 0;
  EXPECT_EQ(histories, 1) << "the fill's answer must not reach the browser";
  EXPECT_FALSE(browser_->WaitClosed(std::chrono::milliseconds(0)).has_value());
}

TEST_F(BridgeGapFillTest, AFillThatComesBackEmptyCloses1013) {
  ASSERT_TRUE(Publish(1));
  ASSERT_TRUE(Publish(5));
  auto fill = WaitForFill();
  ASSERT_TRUE(fill.has_value());
  ServerEvent empty;
  empty.mutable_history()->set_room("lobby");
  ASSERT_TRUE(core_.Send(ForSession(empty, fill->request())));
  auto closed = browser_->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1013);
  EXPECT_THAT(closed->reason, HasSubstr("could not recover missed messages"));
  auto messages = browser_->Messages("lobby");
  ASSERT_EQ(messages.size(), 1u) << "nothing out of order went out";
}

TEST_F(BridgeGapFillTest, AFillAnsweredWithAnErrorCloses1013) {
  ASSERT_TRUE(Publish(2));  // 1 is missing
  auto fill = WaitForFill();
  ASSERT_TRUE(fill.has_value());
  EXPECT_EQ(fill->event().history().after_seq(), 0);
  ServerEvent error;
  error.mutable_error()->set_code(chat::v1::Error::UNAVAILABLE);
  error.mutable_error()->set_event("history");
  ASSERT_TRUE(core_.Send(ForSession(error, fill->request())));
  auto closed = browser_->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1013);
  EXPECT_TRUE(browser_->Messages("lobby").empty());
  for (const auto& e : browser_->Events()) EXPECT_FALSE(e.has_error()) << "the fill's error is the bridge's";
}

}  // namespace
}  // namespace chat::testing
