// The Gateway stream seen from a bridge: many sessions on one stream, room
// events once per stream, session events addressed, credentials enforced.
#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using chat::v1::GatewayDown;
using chat::v1::GatewayUp;
using ::testing::HasSubstr;

// A raw gateway stream with a reader thread recording every item.
class GatewayClient {
 public:
  // `pieces`: asks for big answers in pieces (x-chat-gateway-chunks), as ws-bridge does.
  explicit GatewayClient(TestCore& core, const std::string& secret = "", bool pieces = false) {
    stub_ = chat::v1::GatewayService::NewStub(core.NewChannel());
    if (!secret.empty()) ctx_.AddMetadata("x-chat-gateway-secret", secret);
    if (pieces) ctx_.AddMetadata("x-chat-gateway-chunks", "1");
    stream_ = stub_->Gateway(&ctx_);
    reader_ = std::thread([this] {
      GatewayDown d;
      while (stream_->Read(&d)) log_.Add(d);
      log_.Finish(stream_->Finish());
    });
  }
  ~GatewayClient() {
    ctx_.TryCancel();
    reader_.join();
  }
  void Open(uint64_t session, const std::string& token) {
    GatewayUp up;
    up.set_session(session);
    up.mutable_open()->set_token(token);
    stream_->Write(up);
  }
  void Event(uint64_t session, const chat::v1::ClientEvent& ev, uint64_t request = 0) {
    GatewayUp up;
    up.set_session(session);
    up.set_request(request);
    *up.mutable_event() = ev;
    stream_->Write(up);
  }
  void Join(uint64_t session, const std::string& room) {
    chat::v1::ClientEvent ev;
    ev.mutable_join()->set_room(room);
    Event(session, ev);
  }
  void Send(uint64_t session, const std::string& room, const std::string& text, const std::string& id) {
    chat::v1::ClientEvent ev;
    ev.mutable_send()->set_room(room);
    ev.mutable_send()->set_text(text);
    ev.mutable_send()->set_client_msg_id(id);
    Event(session, ev);
  }
  void Close(uint64_t session) {
    GatewayUp up;
    up.set_session(session);
    up.mutable_close();
    stream_->Write(up);
  }
  void WritesDone() { stream_->WritesDone(); }

  using Pred = std::function<bool(const GatewayDown&)>;
  std::optional<GatewayDown> WaitFor(const Pred& pred, std::chrono::milliseconds timeout = 10s) {
    return log_.WaitFor(pred, timeout);
  }
  std::vector<GatewayDown> Items() { return log_.Events(); }
  std::optional<grpc::Status> WaitDone(std::chrono::milliseconds timeout = 10s) {
    return log_.WaitDone(timeout);
  }

 private:
  std::unique_ptr<chat::v1::GatewayService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<GatewayUp, GatewayDown>> stream_;
  EventLog<GatewayDown, grpc::Status> log_;
  std::thread reader_;
};

GatewayClient::Pred Opened(uint64_t s) {
  return [s](const GatewayDown& d) { return d.session() == s && d.has_opened(); };
}
GatewayClient::Pred Closed(uint64_t s) {
  return [s](const GatewayDown& d) { return d.session() == s && d.has_closed(); };
}
GatewayClient::Pred SessionJoined(uint64_t s, const std::string& room) {
  return [=](const GatewayDown& d) {
    return d.session() == s && d.has_event() && d.event().has_joined() && d.event().joined().room() == room;
  };
}
GatewayClient::Pred SessionAck(uint64_t s, const std::string& id) {
  return [=](const GatewayDown& d) {
    return d.session() == s && d.has_event() && d.event().has_ack() && d.event().ack().client_msg_id() == id;
  };
}
GatewayClient::Pred RoomMessage(int64_t seq) {
  return [=](const GatewayDown& d) {
    return d.session() == 0 && d.has_event() && d.event().has_message() && d.event().message().seq() == seq;
  };
}

TEST(GatewayTest, ManySessionsOneStreamRoomEventsOncePerStream) {
  TestCore core;
  GatewayClient gw(core);
  constexpr int kSessions = 20;
  for (int i = 1; i <= kSessions; ++i) {
    gw.Open(i, core.Token(absl::StrCat("web", i)));
    auto opened = gw.WaitFor(Opened(i));
    ASSERT_TRUE(opened.has_value());
    EXPECT_EQ(opened->opened().user(), absl::StrCat("web", i));
    gw.Join(i, "lobby");
    ASSERT_TRUE(gw.WaitFor(SessionJoined(i, "lobby")));
  }
  // A native client in the same room.
  auto stub = core.Chat();
  EventClient native(stub.get(), core.Token("native"));
  native.Join("lobby");
  ASSERT_TRUE(native.WaitFor(IsJoined("lobby")));
  // Its join's member event is counted too (just after its joined reply).
  ASSERT_TRUE(gw.WaitFor([](const chat::v1::GatewayDown& d) {
    return d.session() == 0 && d.event().has_member() && d.event().member().user() == "native";
  }));
  uint64_t frames_before = core.hub()->stats().gateway_room_frames;
  gw.Send(3, "lobby", "from the browser", "b1");
  auto ack = gw.WaitFor(SessionAck(3, "b1"));
  ASSERT_TRUE(ack.has_value());
  native.SendText("lobby", "from grpc", "n1");
  ASSERT_TRUE(gw.WaitFor(RoomMessage(2)));
  // Each message crossed the gateway stream once, not once per session.
  int copies1 = 0, copies2 = 0;
  for (const auto& d : gw.Items()) {
    if (RoomMessage(1)(d)) ++copies1;
    if (RoomMessage(2)(d)) ++copies2;
  }
  EXPECT_EQ(copies1, 1);
  EXPECT_EQ(copies2, 1);
  EXPECT_EQ(core.hub()->stats().gateway_room_frames - frames_before, 2u);
  auto m1 = gw.WaitFor(RoomMessage(1));
  EXPECT_EQ(m1->event().message().author(), "web3");  // the session's own user
  // The native client sees the browser's message in the same order.
  ASSERT_TRUE(native.WaitFor(IsMessage("lobby", 2)));
  auto msgs = native.Messages("lobby");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].text(), "from the browser");
  EXPECT_EQ(msgs[1].text(), "from grpc");
}

TEST(GatewayTest, BadSessionTokensAreRefusedPerSession) {
  TestCore core;
  GatewayClient gw(core);
  gw.Open(1, "bogus");
  auto closed = gw.WaitFor(Closed(1));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->closed().code(), chat::v1::Error::UNAUTHENTICATED);
  gw.Open(2, core.Token("ok-user"));
  ASSERT_TRUE(gw.WaitFor(Opened(2)));
  gw.Open(2, core.Token("ok-user"));
  auto dup = gw.WaitFor(Closed(2));
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(dup->closed().code(), chat::v1::Error::ALREADY_EXISTS);
  // An event for a session that was never opened.
  gw.Join(9, "lobby");
  auto unknown = gw.WaitFor(Closed(9));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->closed().code(), chat::v1::Error::NOT_FOUND);
  EXPECT_FALSE(gw.WaitDone(0ms).has_value());
}

TEST(GatewayTest, ClosingTheStreamEndsItsSessionsAndUpdatesPresence) {
  TestCore core;
  auto stub = core.Chat();
  EventClient watcher(stub.get(), core.Token("watcher"));
  watcher.Join("lobby");
  ASSERT_TRUE(watcher.WaitFor(IsJoined("lobby")));
  {
    GatewayClient gw(core);
    gw.Open(1, core.Token("webber"));
    gw.Join(1, "lobby");
    ASSERT_TRUE(gw.WaitFor(SessionJoined(1, "lobby")));
    ASSERT_TRUE(watcher.WaitFor(IsMember("lobby", "webber", chat::v1::MemberEvent::JOINED)));
  }  // the bridge "crashes" (stream cancelled)
  ASSERT_TRUE(watcher.WaitFor(IsMember("lobby", "webber", chat::v1::MemberEvent::LEFT)));
  ASSERT_TRUE(Eventually([&] { return core.hub()->stats().live_sessions == 1; }));
}

TEST(GatewayTest, LogoutClosesTheBrowserSession) {
  TestCore core;
  std::string token = core.Token("leaver");
  GatewayClient gw(core);
  gw.Open(5, token);
  ASSERT_TRUE(gw.WaitFor(Opened(5)));
  auto auth = core.Auth();
  auto ctx = AuthedContext(token);
  chat::v1::LogoutResponse resp;
  ASSERT_TRUE(auth->Logout(ctx.get(), {}, &resp).ok());
  auto closed = gw.WaitFor(Closed(5), 1s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->closed().code(), chat::v1::Error::UNAUTHENTICATED);
  EXPECT_THAT(closed->closed().reason(), HasSubstr("logged out"));
  // chat-core forgets the session itself: the bridge sends no close for a
  // session it was told is closed, and the stream may live for days.
  ASSERT_TRUE(Eventually([&] { return core.hub()->stats().live_sessions == 0; }));
}

TEST(GatewayTest, AGatewaySecretIsRequiredWhenConfigured) {
  core::CoreOptions options = TestCoreOptions();
  options.services.gateway_secret = "0123456789abcdef-secret";
  TestCore core(options);
  {
    GatewayClient gw(core);
    auto st = gw.WaitDone();
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    GatewayClient gw(core, "wrong-secret-wrong-secret");
    auto st = gw.WaitDone();
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  GatewayClient gw(core, "0123456789abcdef-secret");
  gw.Open(1, core.Token("fine"));
  EXPECT_TRUE(gw.WaitFor(Opened(1)));
}

TEST(GatewayTest, SessionsCannotActForEachOther) {
  TestCore core;
  GatewayClient gw(core);
  gw.Open(1, core.Token("mallory"));
  gw.Open(2, core.Token("victim"));
  ASSERT_TRUE(gw.WaitFor(Opened(2)));
  gw.Join(1, "lobby");
  ASSERT_TRUE(gw.WaitFor(SessionJoined(1, "lobby")));
  // Session 2 never joined: it cannot send, whatever session 1 did.
  gw.Send(2, "lobby", "spoof", "s");
  auto err = gw.WaitFor([](const GatewayDown& d) {
    return d.session() == 2 && d.has_event() && d.event().has_error();
  });
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->event().error().code(), chat::v1::Error::FAILED_PRECONDITION);
  gw.Send(1, "lobby", "mine", "m");
  auto msg = gw.WaitFor(RoomMessage(1));
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->event().message().author(), "mallory");
}

TEST(GatewayTest, TheBridgesOwnRequestsComeBackWithTheirRequestId) {
  TestCore core;
  GatewayClient gw(core);
  gw.Open(1, core.Token("filler"));
  gw.Join(1, "lobby");
  ASSERT_TRUE(gw.WaitFor(SessionJoined(1, "lobby")));
  gw.Send(1, "lobby", "one", "f1");
  ASSERT_TRUE(gw.WaitFor(SessionAck(1, "f1")));
  // A history request of the bridge's own, with the same ref a browser might use.
  chat::v1::ClientEvent history;
  history.set_ref("r");
  history.mutable_history()->set_room("lobby");
  history.mutable_history()->set_after_seq(0);
  gw.Event(1, history, /*request=*/77);
  auto answer = gw.WaitFor([](const GatewayDown& d) { return d.has_event() && d.event().has_history(); });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->request(), 77u);
  EXPECT_EQ(answer->event().ref(), "r");
  ASSERT_EQ(answer->event().history().messages_size(), 1);
  // Errors and joins carry it too; a browser's own event carries none.
  chat::v1::ClientEvent bad;
  bad.mutable_join()->set_room("no-such-room");
  gw.Event(1, bad, /*request=*/78);
  auto error = gw.WaitFor([](const GatewayDown& d) { return d.has_event() && d.event().has_error(); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->request(), 78u);
  gw.Send(1, "lobby", "two", "f2");
  auto ack = gw.WaitFor(SessionAck(1, "f2"));
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->request(), 0u);
  chat::v1::ClientEvent leave;
  leave.mutable_leave()->set_room("lobby");
  gw.Event(1, leave);
  chat::v1::ClientEvent rejoin;
  rejoin.mutable_join()->set_room("lobby");
  rejoin.mutable_join()->set_since_seq(0);
  gw.Event(1, rejoin, /*request=*/79);
  auto joined = gw.WaitFor([](const GatewayDown& d) { return d.has_event() && d.event().has_joined() && d.request() == 79; });
  ASSERT_TRUE(joined.has_value());
}

// A browser's history answer over 64 KiB comes in pieces to a bridge that asked
// for them, and whole to one that did not (an older bridge).
TEST(GatewayTest, BigAnswersComeInPiecesOnlyToABridgeThatAskedForThem) {
  TestCore core;
  GatewayClient pieces(core, "", /*pieces=*/true);
  GatewayClient whole(core);
  pieces.Open(1, core.Token("reader"));
  whole.Open(1, core.Token("other"));
  pieces.Join(1, "lobby");
  ASSERT_TRUE(pieces.WaitFor(SessionJoined(1, "lobby")));
  const std::string text(3000, 'x');
  for (int i = 1; i <= 40; ++i) pieces.Send(1, "lobby", text, absl::StrCat("m", i));
  ASSERT_TRUE(pieces.WaitFor(SessionAck(1, "m40")));
  chat::v1::ClientEvent history;
  history.set_ref("h");
  history.mutable_history()->set_room("lobby");
  history.mutable_history()->set_limit(100);
  pieces.Event(1, history);
  whole.Event(1, history);

  ASSERT_TRUE(pieces.WaitFor([](const GatewayDown& d) { return d.has_chunk() && d.chunk().last(); }));
  std::string joined;
  int n = 0;
  for (const auto& d : pieces.Items()) {
    if (!d.has_chunk()) continue;
    EXPECT_EQ(d.session(), 1u);
    EXPECT_LE(d.chunk().data().size(), 64u << 10);
    joined += d.chunk().data();
    ++n;
  }
  EXPECT_GE(n, 2);
  chat::v1::ServerEvent answer;
  ASSERT_TRUE(answer.ParseFromString(joined));
  EXPECT_EQ(answer.ref(), "h");
  ASSERT_EQ(answer.history().messages_size(), 40);
  EXPECT_EQ(answer.history().messages(39).text(), text);

  auto item = whole.WaitFor([](const GatewayDown& d) { return d.has_event() && d.event().has_history(); });
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->event().history().messages_size(), 40);
  for (const auto& d : whole.Items()) EXPECT_FALSE(d.has_chunk());
}

}  // namespace
}  // namespace chat::testing
