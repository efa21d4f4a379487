// Renewal seen by live streams, and bots' messages through tokens and
// webhooks, end to end in one chat-core (#29): needs both the account layer
// (Accounts' renewal hooks, AuthService) and the live-session layer
// (LiveSessions::LiveTokenHashes and RenewToken, author_kind).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "account_calls.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using google::protobuf::util::TimeUtil;

TEST(AccountRenewalStreamTest, AnOpenStreamOutlivesItsFirstExpiryAndHearsOfEachRenewal) {
  core::CoreOptions o = TestCoreOptions();
  o.accounts.token_ttl = absl::Seconds(2);
  o.accounts.session_max_age = absl::Hours(1);
  o.accounts.session_sweep_interval = absl::Milliseconds(200);
  TestCore core(o);
  auto auth = core.Auth();
  auto chat = core.Chat();
  ASSERT_TRUE(Register(auth.get(), "alice", "").ok());
  chat::v1::LoginResponse kept, idle;
  ASSERT_TRUE(Login(auth.get(), "alice", "correct horse", "", &kept).ok());
  ASSERT_TRUE(Login(auth.get(), "alice", "correct horse", "", &idle).ok());
  const int64_t first_expiry = TimeUtil::TimestampToMilliseconds(kept.expires_at());

  // The stream is never used after its join: only the sweep renews it.
  EventClient stream(chat.get(), kept.token());
  ASSERT_TRUE(stream.Join("lobby"));
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));
  auto renewed = stream.WaitFor([](const chat::v1::ServerEvent& e) { return e.has_session_renewed(); }, 3s);
  ASSERT_TRUE(renewed.has_value()) << "no session_renewed";
  EXPECT_GT(TimeUtil::TimestampToMilliseconds(renewed->session_renewed().expires_at()), first_expiry);
  // Past the first expiry (and a margin for the 250 ms expiry check), it lives.
  std::this_thread::sleep_for(std::chrono::milliseconds(
      std::max<int64_t>(0, first_expiry - absl::ToUnixMillis(absl::Now())) + 700));
  EXPECT_FALSE(stream.done()) << stream.WaitDone(0ms)->error_message();
  ASSERT_TRUE(stream.SendText("lobby", "still here", "m1"));
  EXPECT_TRUE(stream.WaitFor(IsAck("m1")));
  // The token left alone expired.
  chat::v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(auth.get(), idle.token(), &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AccountRenewalStreamTest, ABotsMessagesSayBotThroughATokenAndAWebhook) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "ci_bot").ok());
  std::string secret;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "ci_bot", "t", &secret).ok());
  EventClient reader(chat.get(), alice);
  ASSERT_TRUE(reader.Join("lobby"));
  ASSERT_TRUE(reader.WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(SendUnary(chat.get(), secret, "lobby", "by token").ok());
  chat::v1::CreateWebhookRequest hook_req;
  hook_req.set_room("lobby");
  hook_req.set_bot("ci_bot");
  chat::v1::CreateWebhookResponse hook;
  ASSERT_TRUE(auth->CreateWebhook(AuthedContext(alice).get(), hook_req, &hook).ok());
  chat::v1::PostWebhookRequest post;
  post.set_id(hook.webhook().id());
  post.set_secret(hook.secret());
  post.set_text("by webhook");
  chat::v1::PostWebhookResponse posted;
  ASSERT_TRUE(auth->PostWebhook(From("").get(), post, &posted).ok());  // loopback: a gateway here
  ASSERT_TRUE(SendUnary(chat.get(), alice, "lobby", "by alice").ok());
  ASSERT_TRUE(reader.WaitFor(IsMessage("lobby", 3)));
  auto live = reader.Messages("lobby");
  ASSERT_EQ(live.size(), 3u);
  EXPECT_EQ(live[0].author_kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(live[1].author_kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(live[2].author_kind(), chat::v1::ACCOUNT_KIND_UNSPECIFIED);
  auto history = History(chat.get(), alice, "lobby");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[1].author_kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(history[2].author_kind(), chat::v1::ACCOUNT_KIND_UNSPECIFIED);
}

}  // namespace
}  // namespace chat::testing
