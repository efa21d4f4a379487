// Bots and API tokens over real gRPC (#29): a bot made by a user gets a token,
// posts with it through a unary call and a Connect stream, and a revoked token
// is refused and its stream ends within a second.
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "account_calls.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using google::protobuf::util::TimeUtil;

TEST(AccountTokensTest, BotWithTokenPostsByUnaryCallAndStream) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  chat::v1::UserProfile bot;
  ASSERT_TRUE(CreateBot(auth.get(), alice, "ci_bot", &bot).ok());
  EXPECT_EQ(bot.kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(bot.owner(), "alice");

  // A bot has no password and cannot log in.
  grpc::Status st = Login(auth.get(), "ci_bot", "anything at all");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("bots cannot log in"));

  std::string secret;
  chat::v1::ApiToken made;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "ci_bot", "deploy", &secret, &made).ok());
  EXPECT_TRUE(absl::StartsWith(secret, "chat_")) << secret;
  EXPECT_EQ(secret.size(), 5u + 43u);
  EXPECT_EQ(made.account(), "ci_bot");
  EXPECT_EQ(made.name(), "deploy");
  EXPECT_EQ(made.created_by(), "alice");
  EXPECT_EQ(made.id().size(), 16u);
  EXPECT_FALSE(made.has_expires_at());

  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), secret, &me).ok());
  EXPECT_EQ(me.username(), "ci_bot");
  EXPECT_EQ(me.kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(me.api_token().name(), "deploy");
  EXPECT_EQ(me.api_token().id(), made.id());
  EXPECT_FALSE(me.has_expires_at());  // never expires
  EXPECT_FALSE(me.may_invite());

  // Unary.
  chat::v1::SendMessageResponse sent;
  ASSERT_TRUE(SendUnary(chat.get(), secret, "lobby", "build 41 passed", &sent).ok());
  EXPECT_EQ(sent.message().author(), "ci_bot");
  // A Connect stream.
  EventClient stream(chat.get(), secret);
  ASSERT_TRUE(stream.Join("lobby"));
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(stream.SendText("lobby", "build 42 passed", "m42"));
  ASSERT_TRUE(stream.WaitFor(IsAck("m42")));
  auto history = History(chat.get(), alice, "lobby");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].author(), "ci_bot");
  EXPECT_EQ(history[0].text(), "build 41 passed");
  EXPECT_EQ(history[1].text(), "build 42 passed");

  // Its last use is recorded (written at most once a minute).
  chat::v1::ListApiTokensResponse listed;
  ASSERT_TRUE(ListTokens(auth.get(), alice, &listed).ok());
  ASSERT_EQ(listed.tokens_size(), 1);
  EXPECT_EQ(listed.tokens(0).id(), made.id());
  EXPECT_TRUE(listed.tokens(0).has_last_used_at());
}

TEST(AccountTokensTest, RevokedTokenIsRefusedAndItsStreamEndsWithinASecond) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  std::string secret;
  chat::v1::ApiToken made;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "", "laptop script", &secret, &made).ok());
  EXPECT_EQ(made.account(), "alice");
  EventClient stream(chat.get(), secret);
  ASSERT_TRUE(stream.Join("lobby"));
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));
  EventClient login_stream(chat.get(), alice);
  ASSERT_TRUE(login_stream.Join("lobby"));
  ASSERT_TRUE(login_stream.WaitFor(IsJoined("lobby")));

  const auto start = std::chrono::steady_clock::now();
  chat::v1::RevokeApiTokenResponse revoked;
  ASSERT_TRUE(RevokeToken(auth.get(), alice, made.id(), &revoked).ok());
  EXPECT_EQ(revoked.streams_ended(), 1);
  auto ended = stream.WaitDone(1s);
  ASSERT_TRUE(ended.has_value()) << "the revoked token's stream is still open";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended->error_message(), HasSubstr("revoked"));
  chat::v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(auth.get(), secret, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(SendUnary(chat.get(), secret, "lobby", "still here?").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The owner's login session is untouched.
  EXPECT_FALSE(login_stream.done());
  ASSERT_TRUE(WhoAmI(auth.get(), alice, &me).ok());
  // Revoking it again, or someone else's: NOT_FOUND.
  EXPECT_EQ(RevokeToken(auth.get(), alice, made.id()).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(AccountTokensTest, TokensManageNothingAndSeeOnlyTheirOwnAccount) {
  TestCore core;
  auto auth = core.Auth();
  const std::string alice = core.Token("alice");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "helper").ok());
  std::string own, bots;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "", "mine", &own).ok());
  ASSERT_TRUE(CreateToken(auth.get(), alice, "helper", "its", &bots).ok());

  // Every account call but WhoAmI and ListApiTokens needs a login session.
  std::string ignored;
  for (grpc::Status st : {CreateBot(auth.get(), own, "another"), CreateToken(auth.get(), own, "", "more", &ignored),
                          RevokeToken(auth.get(), own, "0123456789abcdef")}) {
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(st.error_message(), HasSubstr("this call needs a login session (API tokens cannot manage accounts)"));
  }
  {
    auto ctx = AuthedContext(own);
    chat::v1::ChangePasswordRequest req;
    req.set_old_password("correct horse");
    req.set_new_password("battery staple");
    chat::v1::ChangePasswordResponse resp;
    EXPECT_EQ(auth->ChangePassword(ctx.get(), req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // A token lists its own account's tokens only.
  chat::v1::ListApiTokensResponse listed;
  ASSERT_TRUE(ListTokens(auth.get(), bots, &listed).ok());
  ASSERT_EQ(listed.tokens_size(), 1);
  EXPECT_EQ(listed.tokens(0).name(), "its");
  EXPECT_EQ(ListTokens(auth.get(), bots, &listed, "alice").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The owner lists both, the bot's with it.
  listed.Clear();
  ASSERT_TRUE(ListTokens(auth.get(), alice, &listed).ok());
  ASSERT_EQ(listed.tokens_size(), 2);
  EXPECT_EQ(listed.tokens(0).account(), "alice");
  EXPECT_EQ(listed.tokens(1).account(), "helper");
  listed.Clear();
  ASSERT_TRUE(ListTokens(auth.get(), alice, &listed, "helper").ok());
  ASSERT_EQ(listed.tokens_size(), 1);
}

TEST(AccountTokensTest, TokenRules) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  const std::string bob = core.Token("bob");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "alices_bot").ok());
  ASSERT_TRUE(CreateRoom(chat.get(), bob, "bobs-secret", chat::v1::ROOM_KIND_PRIVATE).ok());
  std::string secret;

  grpc::Status st = CreateToken(auth.get(), alice, "", "", &secret);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CreateToken(auth.get(), alice, "", std::string(65, 'n'), &secret).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(CreateToken(auth.get(), alice, "", "ci", &secret).ok());
  st = CreateToken(auth.get(), alice, "", "ci", &secret);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS) << st.error_message();
  // Another account may use the same name.
  EXPECT_TRUE(CreateToken(auth.get(), alice, "alices_bot", "ci", &secret).ok());
  // A room the account may not see is as one that does not exist.
  st = CreateToken(auth.get(), alice, "", "peek", &secret, nullptr, {"bobs-secret"});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CreateToken(auth.get(), alice, "", "peek", &secret, nullptr, {"no-such-room"}).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Someone else's bot, or a user who is not a bot: NOT_FOUND.
  st = CreateToken(auth.get(), bob, "alices_bot", "steal", &secret);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("no bot 'alices_bot' of yours"));
  EXPECT_EQ(CreateToken(auth.get(), alice, "bob", "steal", &secret).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CreateBot(auth.get(), alice, "bob").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(CreateBot(auth.get(), alice, "x").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Scoped: rooms and actions come back as given.
  chat::v1::ApiToken made;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "", "reader", &secret, &made, {"lobby"}, {chat::v1::TOKEN_ACTION_READ})
                  .ok());
  ASSERT_EQ(made.rooms_size(), 1);
  EXPECT_EQ(made.rooms(0), "lobby");
  ASSERT_EQ(made.actions_size(), 1);
  EXPECT_EQ(made.actions(0), chat::v1::TOKEN_ACTION_READ);
  // Expiry: must be in the future; a token that expires is refused after.
  {
    auto ctx = AuthedContext(alice);
    chat::v1::CreateApiTokenRequest req;
    req.set_name("past");
    *req.mutable_expires_at() = TimeUtil::GetCurrentTime() - TimeUtil::SecondsToDuration(1);
    chat::v1::CreateApiTokenResponse resp;
    EXPECT_EQ(auth->CreateApiToken(ctx.get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  auto ctx = AuthedContext(alice);
  chat::v1::CreateApiTokenRequest req;
  req.set_name("brief");
  // (absl::Now: protobuf's GetCurrentTime may be whole seconds.)
  *req.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(absl::Now()) + 800);
  chat::v1::CreateApiTokenResponse brief;
  ASSERT_TRUE(auth->CreateApiToken(ctx.get(), req, &brief).ok());
  EXPECT_TRUE(brief.token().has_expires_at());
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), brief.secret(), &me).ok());
  EXPECT_TRUE(me.has_expires_at());
  EXPECT_TRUE(Eventually([&] {
    chat::v1::WhoAmIResponse later;
    grpc::Status gone = WhoAmI(auth.get(), brief.secret(), &later);
    return gone.error_code() == grpc::StatusCode::UNAUTHENTICATED && absl::StrContains(gone.error_message(), "expired");
  }, 5s));
}

TEST(AccountTokensTest, DeletingABotEndsItsTokens) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  const std::string bob = core.Token("bob");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "doomed").ok());
  std::string secret;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "doomed", "t", &secret).ok());
  EventClient stream(chat.get(), secret);
  ASSERT_TRUE(stream.Join("lobby"));
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));
  chat::v1::DeleteBotRequest req;
  req.set_name("doomed");
  chat::v1::DeleteBotResponse resp;
  // Not bob's to delete.
  EXPECT_EQ(auth->DeleteBot(AuthedContext(bob).get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(auth->DeleteBot(AuthedContext(alice).get(), req, &resp).ok());
  auto ended = stream.WaitDone(1s);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  chat::v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(auth.get(), secret, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  chat::v1::ListBotsResponse bots;
  ASSERT_TRUE(auth->ListBots(AuthedContext(alice).get(), {}, &bots).ok());
  EXPECT_EQ(bots.bots_size(), 0);
  // Its name stays taken.
  EXPECT_EQ(CreateBot(auth.get(), alice, "doomed").error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace chat::testing
