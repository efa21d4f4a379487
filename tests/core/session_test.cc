// Session over a real Hub (SQLite in memory) and an Outbox with a fake writer:
// the logic behind every ClientEvent, without gRPC.
#include "session.h"

#include "absl/synchronization/notification.h"
#include "fake_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "memory_store.h"

namespace chat::testing {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;
using core::Session;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// One client session: its writer, outbox and Session.
struct Client {
  Client(core::Hub* hub, const std::string& user, core::SessionOptions options = {})
      : writer(FakeWriter::Stream::kConnect, /*auto_complete=*/true) {
    outbox = std::make_shared<core::Outbox>(core::Outbox::Kind::kConnect, &writer, core::OutboxLimits{}, nullptr,
                                            hub->kicker());
    writer.Attach(outbox.get());
    core::Identity id;
    id.user = user;
    id.expires_at_ms = expires_at_ms;
    session = std::make_shared<Session>(hub, outbox, 0, id, options);
  }
  ~Client() {
    session->Close();
    outbox->Detach();
    writer.Attach(nullptr);
  }

  std::optional<ServerEvent> Wait(const std::function<bool(const ServerEvent&)>& pred) {
    return writer.WaitForEvent(pred);
  }

  int64_t expires_at_ms = 0;
  FakeWriter writer;
  std::shared_ptr<core::Outbox> outbox;
  std::shared_ptr<Session> session;
};

ClientEvent Join(const std::string& room, std::optional<int64_t> since = std::nullopt, const std::string& ref = "") {
  ClientEvent ev;
  ev.set_ref(ref);
  ev.mutable_join()->set_room(room);
  if (since) ev.mutable_join()->set_since_seq(*since);
  return ev;
}

ClientEvent Send(const std::string& room, const std::string& text, const std::string& id) {
  ClientEvent ev;
  ev.set_ref("s-" + id);
  ev.mutable_send()->set_room(room);
  ev.mutable_send()->set_text(text);
  ev.mutable_send()->set_client_msg_id(id);
  return ev;
}

auto Joined(const std::string& room) {
  return [room](const ServerEvent& e) { return e.has_joined() && e.joined().room() == room; };
}
auto Acked(const std::string& id) {
  return [id](const ServerEvent& e) { return e.has_ack() && e.ack().client_msg_id() == id; };
}
auto Failed(const std::string& kind) {
  return [kind](const ServerEvent& e) { return e.has_error() && e.error().event() == kind; };
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    store_ = OpenMemoryStore();
    core::HubOptions options;
    options.fanout_threads = 1;
    options.room.recent_frames = 2;  // so a join a few messages behind pages from the store
    hub_ = std::make_unique<core::Hub>(store_.get(), options);
    EXPECT_TRUE(hub_->Init().ok());
  }
  ~SessionTest() override {
    hub_->StopFanout();
    store_->Close();
  }

  std::unique_ptr<core::Store> store_;
  std::unique_ptr<core::Hub> hub_;
};

TEST_F(SessionTest, ASendComesBackAsTheRoomsMessageBeforeItsAck) {
  Client ann(hub_.get(), "ann");
  ann.session->Handle(Join("lobby", std::nullopt, "j1"));
  auto joined = ann.Wait(Joined("lobby"));
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->ref(), "j1");
  ann.session->Handle(Send("lobby", "hello", "m1"));
  auto ack = ann.Wait(Acked("m1"));
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->ref(), "s-m1");
  EXPECT_EQ(ack->ack().seq(), 1);
  std::vector<std::string> kinds;
  for (const auto& e : ann.writer.Events()) {
    if (e.has_member()) continue;  // her own arrival, announced to the room
    kinds.push_back(e.has_joined() ? "joined" : e.has_message() ? "message" : e.has_ack() ? "ack" : "other");
  }
  EXPECT_THAT(kinds, ElementsAre("joined", "message", "ack"));
  // The same client_msg_id again: the original, not a second message.
  ann.session->Handle(Send("lobby", "hello", "m1"));
  ASSERT_TRUE(ann.writer.WaitForEvent([](const ServerEvent& e) { return e.has_ack() && e.ack().duplicate(); }));
  EXPECT_EQ(hub_->FindRoom("lobby")->last_seq(), 1);
}

TEST_F(SessionTest, BadEventsGetAnErrorThatEchoesTheirRef) {
  Client ann(hub_.get(), "ann");
  ann.session->Handle(Join("no-such-room", std::nullopt, "r1"));
  auto e1 = ann.Wait(Failed("join"));
  ASSERT_TRUE(e1.has_value());
  EXPECT_EQ(e1->ref(), "r1");
  EXPECT_EQ(e1->error().code(), chat::v1::Error::NOT_FOUND);
  ann.session->Handle(Send("lobby", "early", "m1"));
  auto e2 = ann.Wait(Failed("send"));
  ASSERT_TRUE(e2.has_value());
  EXPECT_EQ(e2->error().code(), chat::v1::Error::FAILED_PRECONDITION);
  EXPECT_EQ(e2->error().client_msg_id(), "m1");  // so the client can retry it
  ann.session->Handle(Join("lobby", -1));
  auto e3 = ann.Wait([](const ServerEvent& e) { return e.has_error() && e.error().code() == chat::v1::Error::INVALID_ARGUMENT; });
  ASSERT_TRUE(e3.has_value());
  EXPECT_THAT(e3->error().message(), HasSubstr("since_seq"));
  ann.session->Handle(Join("lobby", 5));  // ahead of the (empty) room
  ASSERT_TRUE(ann.Wait([](const ServerEvent& e) { return e.has_error() && e.error().code() == chat::v1::Error::OUT_OF_RANGE; }));
  ann.session->Handle(ClientEvent());
  ASSERT_TRUE(ann.Wait([](const ServerEvent& e) { return e.has_error() && e.error().event().empty(); }));
  ClientEvent leave;
  leave.mutable_leave()->set_room("lobby");
  ann.session->Handle(leave);
  ASSERT_TRUE(ann.Wait(Failed("leave")));
}

TEST_F(SessionTest, AJoinFarBehindPagesFromTheStoreAndMissesNothing) {
  Client ann(hub_.get(), "ann");
  ann.session->Handle(Join("lobby"));
  ASSERT_TRUE(ann.Wait(Joined("lobby")));
  for (int i = 1; i <= 7; ++i) ann.session->Handle(Send("lobby", "m" + std::to_string(i), std::to_string(i)));
  ASSERT_TRUE(ann.Wait(Acked("7")));
  Client bob(hub_.get(), "bob");
  bob.session->Handle(Join("lobby", 1));  // the ring holds only the last two
  ASSERT_TRUE(bob.Wait(Joined("lobby")));
  ann.session->Handle(Send("lobby", "live", "8"));
  ASSERT_TRUE(bob.Wait([](const ServerEvent& e) { return e.has_message() && e.message().seq() == 8; }));
  std::vector<int64_t> seqs;
  for (const auto& e : bob.writer.Events()) {
    if (e.has_message()) seqs.push_back(e.message().seq());
  }
  EXPECT_THAT(seqs, ElementsAre(2, 3, 4, 5, 6, 7, 8));
}

TEST_F(SessionTest, OthersSeeMembersComeAndGo) {
  Client ann(hub_.get(), "ann");
  ann.session->Handle(Join("lobby"));
  ASSERT_TRUE(ann.Wait(Joined("lobby")));
  {
    Client bob(hub_.get(), "bob");
    bob.session->Handle(Join("lobby"));
    ASSERT_TRUE(ann.Wait([](const ServerEvent& e) {
      return e.has_member() && e.member().user() == "bob" && e.member().kind() == chat::v1::MemberEvent::JOINED;
    }));
  }  // bob's session closes
  ASSERT_TRUE(ann.Wait([](const ServerEvent& e) {
    return e.has_member() && e.member().user() == "bob" && e.member().kind() == chat::v1::MemberEvent::LEFT;
  }));
}

TEST_F(SessionTest, AnExpiredSessionIsKilledAtItsNextEvent) {
  Client ann(hub_.get(), "ann");
  Client old(hub_.get(), "old");
  absl::Notification killed;
  absl::Status why;
  core::Identity id;
  id.user = "old";
  id.expires_at_ms = hub_->NowMs() - 1;
  auto session = std::make_shared<Session>(hub_.get(), old.outbox, 0, id, core::SessionOptions{});
  session->SetKillHook([&](const absl::Status& st) {
    why = st;
    killed.Notify();
  });
  EXPECT_FALSE(session->Handle(Join("lobby")));
  ASSERT_TRUE(killed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(why.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(why.message(), HasSubstr("expired"));
  session->Close();
}

TEST_F(SessionTest, AHalfClosedClientIsDrainedOnceItsSendsAreAnswered) {
  Client ann(hub_.get(), "ann");
  absl::Notification drained;
  ann.session->SetDrainedHook([&] { drained.Notify(); });
  ann.session->Handle(Join("lobby"));
  ASSERT_TRUE(ann.Wait(Joined("lobby")));
  ann.session->Handle(Send("lobby", "last words", "z"));
  ann.session->ClientDone();
  ASSERT_TRUE(drained.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(ann.Wait(Acked("z")).has_value());
}

}  // namespace
}  // namespace chat::testing
