// A live session learns that its token was renewed (LiveSessions::RenewToken):
// ServerEvent.session_renewed reaches a Connect stream through a real server,
// and one browser session on a gateway stream (GatewayDown with its session
// id); the new expiry is what KillExpired and the session's own check use.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "accounts.h"
#include "core_fixture.h"
#include "fake_writer.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "memory_store.h"
#include "session.h"

namespace chat::testing {
namespace {

using chat::v1::ServerEvent;
using google::protobuf::util::TimeUtil;
using ::testing::Contains;

TEST(SessionRenewalTest, RenewTokenTellsTheConnectStreamAndMovesItsExpiry) {
  TestCore core;
  auto chat = core.Chat();
  const std::string token = core.Token("ann");
  const std::string other = core.Token("bob");
  EventClient ann(chat.get(), token);
  EventClient bob(chat.get(), other);
  ASSERT_TRUE(ann.Join("lobby"));
  ASSERT_TRUE(bob.Join("lobby"));
  ASSERT_TRUE(ann.WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(bob.WaitFor(IsJoined("lobby")));

  core::LiveSessions& live = core.hub()->live();
  const std::string hash = core::Accounts::HashToken(token);
  EXPECT_THAT(live.LiveTokenHashes(), Contains(hash));
  EXPECT_THAT(live.LiveTokenHashes(), Contains(core::Accounts::HashToken(other)));
  auto sessions = live.SessionsOf("ann");
  ASSERT_EQ(sessions.size(), 1u);
  auto bobs = live.SessionsOf("bob");
  ASSERT_EQ(bobs.size(), 1u);
  // The later of the two logins' expiries.
  const int64_t old_expiry = std::max(sessions[0]->expires_at_ms(), bobs[0]->expires_at_ms());
  ASSERT_GT(sessions[0]->expires_at_ms(), 0);

  const int64_t renewed = old_expiry + 3'600'000;
  EXPECT_EQ(live.RenewToken(hash, renewed), 1);
  auto ev = ann.WaitFor([](const ServerEvent& e) { return e.has_session_renewed(); });
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(TimeUtil::TimestampToMilliseconds(ev->session_renewed().expires_at()), renewed);
  EXPECT_TRUE(ev->ref().empty());  // answers nothing
  EXPECT_EQ(sessions[0]->expires_at_ms(), renewed);

  // Past the old expiry, before the new one: ann's stream lives, bob's
  // (not renewed) ends.
  EXPECT_EQ(live.KillExpired(old_expiry + 1), 1);
  auto bob_end = bob.WaitDone();
  ASSERT_TRUE(bob_end.has_value());
  EXPECT_EQ(bob_end->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(ann.done());
  chat::v1::ClientEvent ping;
  ping.set_ref("still-here");
  ping.mutable_ping()->set_nonce(1);
  ASSERT_TRUE(ann.Write(ping));
  ASSERT_TRUE(ann.WaitFor([](const ServerEvent& e) { return e.has_pong(); }));
  EXPECT_FALSE(bob.Events().empty());
  for (const auto& e : bob.Events()) EXPECT_FALSE(e.has_session_renewed());

  // Then past the new one.
  EXPECT_EQ(live.KillExpired(renewed), 1);
  auto ann_end = ann.WaitDone();
  ASSERT_TRUE(ann_end.has_value());
  EXPECT_EQ(ann_end->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ann_end->error_message(), ::testing::HasSubstr("expired"));
  // A token with no live session here: nothing to renew.
  EXPECT_EQ(live.RenewToken(core::Accounts::HashToken("nobody's"), renewed), 0);
  EXPECT_TRUE(Eventually([&] { return live.LiveTokenHashes().empty(); }));
}

// A Session over a real Hub (SQLite in memory) with a clock the test moves,
// on a gateway stream's outbox with a fake writer.
class GatewaySessionRenewalTest : public ::testing::Test {
 protected:
  GatewaySessionRenewalTest() : writer_(FakeWriter::Stream::kGateway, /*auto_complete=*/true) {
    store_ = OpenMemoryStore();
    core::HubOptions options;
    options.fanout_threads = 1;
    options.now_ms = [this] { return now_.load(); };
    hub_ = std::make_unique<core::Hub>(store_.get(), options);
    EXPECT_TRUE(hub_->Init().ok());
    outbox_ = std::make_shared<core::Outbox>(core::Outbox::Kind::kGateway, &writer_, core::OutboxLimits{}, nullptr,
                                             hub_->kicker());
    writer_.Attach(outbox_.get());
  }
  ~GatewaySessionRenewalTest() override {
    outbox_->Detach();
    writer_.Attach(nullptr);
    hub_->StopFanout();
    store_->Close();
  }

  std::shared_ptr<core::Session> NewSession(uint64_t id, const std::string& user, const std::string& hash,
                                            int64_t expires_at_ms) {
    core::Identity who;
    who.user = user;
    who.token_hash = hash;
    who.expires_at_ms = expires_at_ms;
    auto s = std::make_shared<core::Session>(hub_.get(), outbox_, id, who, core::SessionOptions{});
    EXPECT_TRUE(hub_->live().AddSession(s).ok());
    return s;
  }

  std::atomic<int64_t> now_{1'700'000'000'000};
  FakeWriter writer_;
  std::unique_ptr<core::Store> store_;
  std::unique_ptr<core::Hub> hub_;
  std::shared_ptr<core::Outbox> outbox_;
};

TEST_F(GatewaySessionRenewalTest, OnlyTheBrowserSessionOfTheTokenIsTold) {
  const int64_t t0 = now_.load();
  auto ann = NewSession(41, "ann", "hash-a", t0 + 1000);
  auto bob = NewSession(42, "bob", "hash-b", t0 + 1000);
  EXPECT_EQ(hub_->live().RenewToken("hash-a", t0 + 60'000), 1);
  ASSERT_TRUE(writer_.WaitForEvent([](const ServerEvent& e) { return e.has_session_renewed(); }));
  int renewals = 0;
  for (const chat::v1::GatewayDown& down : writer_.GatewayItems()) {
    if (!down.has_event() || !down.event().has_session_renewed()) continue;
    ++renewals;
    EXPECT_EQ(down.session(), 41u);  // to ann's browser alone, never fanned out
    EXPECT_EQ(TimeUtil::TimestampToMilliseconds(down.event().session_renewed().expires_at()), t0 + 60'000);
  }
  EXPECT_EQ(renewals, 1);

  // The session's own check at its next event uses the renewed expiry.
  absl::Notification bob_killed;
  ann->SetKillHook([](const absl::Status&) { ADD_FAILURE() << "ann's renewed session was killed"; });
  bob->SetKillHook([&](const absl::Status&) { bob_killed.Notify(); });
  now_ = t0 + 2000;
  chat::v1::ClientEvent ping;
  ping.set_ref("p");
  ping.mutable_ping()->set_nonce(3);
  EXPECT_TRUE(ann->Handle(ping));
  ASSERT_TRUE(writer_.WaitForEvent([](const ServerEvent& e) { return e.has_pong(); }));
  EXPECT_FALSE(bob->Handle(ping));
  EXPECT_TRUE(bob_killed.HasBeenNotified());
  ann->SetKillHook(nullptr);
  for (auto& s : {ann, bob}) {
    hub_->live().RemoveSession(s.get());
    s->Close();
  }
}

}  // namespace
}  // namespace chat::testing
