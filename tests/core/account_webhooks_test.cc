// Incoming webhooks in chat-core (#29): made by a bot's owner for a room the
// bot may post in, posted through PostWebhook by a gateway (ws-bridge) only,
// with the secret checked and a rate limit per hook.
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "account_calls.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kGatewaySecret[] = "0123456789abcdef-gateway";

core::CoreOptions WebhookOptions() {
  core::CoreOptions o = TestCoreOptions();
  o.services.gateway_secret = kGatewaySecret;
  o.services.webhook_posts_per_second = 1;
  o.services.webhook_burst = 3;
  return o;
}

grpc::Status CreateHook(chat::v1::AuthService::Stub* auth, const std::string& token, const std::string& room,
                        const std::string& bot, chat::v1::CreateWebhookResponse* out) {
  chat::v1::CreateWebhookRequest req;
  req.set_room(room);
  req.set_bot(bot);
  req.set_name("ci");
  return auth->CreateWebhook(AuthedContext(token).get(), req, out);
}

// As ws-bridge calls it: with the gateway secret (or, `as_gateway` false,
// without it).
grpc::Status Post(chat::v1::AuthService::Stub* auth, const std::string& id, const std::string& secret,
                  const std::string& text, chat::v1::PostWebhookResponse* out = nullptr, bool as_gateway = true) {
  auto ctx = From("");
  if (as_gateway) ctx->AddMetadata("x-chat-gateway-secret", kGatewaySecret);
  chat::v1::PostWebhookRequest req;
  req.set_id(id);
  req.set_secret(secret);
  req.set_text(text);
  chat::v1::PostWebhookResponse ignored;
  return auth->PostWebhook(ctx.get(), req, out != nullptr ? out : &ignored);
}

TEST(AccountWebhooksTest, APostShowsUpInALiveClientAsTheBot) {
  TestCore core(WebhookOptions());
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "ci_bot").ok());
  chat::v1::CreateWebhookResponse hook;
  ASSERT_TRUE(CreateHook(auth.get(), alice, "lobby", "ci_bot", &hook).ok());
  EXPECT_EQ(hook.webhook().id().size(), 16u);
  EXPECT_EQ(hook.webhook().room(), "lobby");
  EXPECT_EQ(hook.webhook().bot(), "ci_bot");
  EXPECT_EQ(hook.webhook().created_by(), "alice");
  EXPECT_EQ(hook.secret().size(), 43u);

  EventClient reader(chat.get(), alice);
  ASSERT_TRUE(reader.Join("lobby"));
  ASSERT_TRUE(reader.WaitFor(IsJoined("lobby")));
  chat::v1::PostWebhookResponse posted;
  ASSERT_TRUE(Post(auth.get(), hook.webhook().id(), hook.secret(), "deploy finished", &posted).ok());
  EXPECT_EQ(posted.room(), "lobby");
  EXPECT_EQ(posted.seq(), 1);
  auto event = reader.WaitFor(IsMessage("lobby", 1));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->message().author(), "ci_bot");
  EXPECT_EQ(event->message().text(), "deploy finished");

  chat::v1::ListWebhooksResponse listed;
  ASSERT_TRUE(auth->ListWebhooks(AuthedContext(alice).get(), {}, &listed).ok());
  ASSERT_EQ(listed.webhooks_size(), 1);
  EXPECT_EQ(listed.webhooks(0).id(), hook.webhook().id());

  // Revoked: gone.
  chat::v1::RevokeWebhookRequest revoke;
  revoke.set_id(hook.webhook().id());
  chat::v1::RevokeWebhookResponse revoked;
  const std::string bob = core.Token("bob");
  EXPECT_EQ(auth->RevokeWebhook(AuthedContext(bob).get(), revoke, &revoked).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(auth->RevokeWebhook(AuthedContext(alice).get(), revoke, &revoked).ok());
  grpc::Status st = Post(auth.get(), hook.webhook().id(), hook.secret(), "again");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no such webhook");
}

TEST(AccountWebhooksTest, BadPostsAreRefusedClearly) {
  TestCore core(WebhookOptions());
  auto auth = core.Auth();
  const std::string alice = core.Token("alice");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "ci_bot").ok());
  chat::v1::CreateWebhookResponse hook;
  ASSERT_TRUE(CreateHook(auth.get(), alice, "lobby", "ci_bot", &hook).ok());
  const std::string id = hook.webhook().id();

  grpc::Status st = Post(auth.get(), id, hook.secret(), "hi", nullptr, /*as_gateway=*/false);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("gateway credentials"));
  st = Post(auth.get(), id, hook.secret() + "x", "hi");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(st.error_message(), "wrong webhook secret");
  st = Post(auth.get(), "0123456789abcdef", hook.secret(), "hi");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no such webhook");
  EXPECT_EQ(Post(auth.get(), "../../etc", hook.secret(), "hi").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Post(auth.get(), id, "", "hi").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Post(auth.get(), id, hook.secret(), "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Post(auth.get(), id, hook.secret(), std::string(5000, 'x')).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // A flood: the burst (3) passes, then RESOURCE_EXHAUSTED says when to retry.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Post(auth.get(), id, hook.secret(), "flood").ok()) << i;
  st = Post(auth.get(), id, hook.secret(), "flood");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr(absl::StrCat("webhook ", id, " is posting too fast; retry in ")));
  // Wrong secrets do not use up the hook's posts (and are not limited by it).
  EXPECT_EQ(Post(auth.get(), id, "guess", "x").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Eventually([&] { return Post(auth.get(), id, hook.secret(), "later").ok(); }, 5s));
}

TEST(AccountWebhooksTest, OnlyABotsOwnerMakesItsHooksWhereItMayPost) {
  TestCore core(WebhookOptions());
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  const std::string bob = core.Token("bob");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "ci_bot").ok());
  ASSERT_TRUE(CreateRoom(chat.get(), alice, "private-ops", chat::v1::ROOM_KIND_PRIVATE).ok());
  ASSERT_TRUE(CreateRoom(chat.get(), bob, "bobs-room", chat::v1::ROOM_KIND_PRIVATE).ok());
  chat::v1::CreateWebhookResponse hook;
  grpc::Status st = CreateHook(auth.get(), bob, "lobby", "ci_bot", &hook);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("no bot 'ci_bot' of yours"));
  // A room the caller may not see is as one that does not exist.
  EXPECT_EQ(CreateHook(auth.get(), alice, "bobs-room", "ci_bot", &hook).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CreateHook(auth.get(), alice, "no-such-room", "ci_bot", &hook).error_code(), grpc::StatusCode::NOT_FOUND);
  // The bot is not a member of alice's private room yet.
  st = CreateHook(auth.get(), alice, "private-ops", "ci_bot", &hook);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(st.error_message(), HasSubstr("invite it"));
  // A login session only.
  std::string api;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "", "t", &api).ok());
  EXPECT_EQ(CreateHook(auth.get(), api, "lobby", "ci_bot", &hook).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace chat::testing
