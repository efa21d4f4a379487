// Accounts, API tokens and webhooks on a cluster (issue 29): two real
// chat-core processes on one PostgreSQL. A credential ended on one node ends
// on the other within a second (its streams too); a token or a webhook made
// on one node works on the other; a deleted account is deleted everywhere.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "cluster_env.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

class AccountsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(env_.Start("a"), nullptr);
    ASSERT_NE(env_.Start("b"), nullptr);
    for (const char* node : {"a", "b"}) {
      auto channel = NodeChannel(env_.address(node));
      chat_[node] = chat::v1::ChatService::NewStub(channel);
      auth_[node] = chat::v1::AuthService::NewStub(channel);
    }
  }

  // A unary call's context with `token` as its bearer.
  static std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + 10s);
    return ctx;
  }
  std::string Login(const std::string& node, const std::string& user) {
    chat::v1::LoginRequest req;
    req.set_username(user);
    req.set_password("correct horse");
    chat::v1::LoginResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(auth_[node]->Login(&ctx, req, &resp).ok());
    return resp.token();
  }
  grpc::Status Send(const std::string& node, const std::string& token, const std::string& room,
                    const std::string& text) {
    chat::v1::SendMessageRequest req;
    req.set_room(room);
    req.set_text(text);
    chat::v1::SendMessageResponse resp;
    return chat_[node]->SendMessage(As(token).get(), req, &resp);
  }
  grpc::Status WhoAmI(const std::string& node, const std::string& token) {
    chat::v1::WhoAmIResponse resp;
    return auth_[node]->WhoAmI(As(token).get(), {}, &resp);
  }
  // A bot of `owner` and an API token for it; the token's secret and id.
  std::pair<std::string, std::string> BotToken(const std::string& node, const std::string& owner_token,
                                               const std::string& bot) {
    chat::v1::CreateBotRequest create;
    create.set_name(bot);
    chat::v1::UserProfile profile;
    EXPECT_TRUE(auth_[node]->CreateBot(As(owner_token).get(), create, &profile).ok());
    chat::v1::CreateApiTokenRequest req;
    req.set_account(bot);
    req.set_name("t");
    chat::v1::CreateApiTokenResponse resp;
    grpc::Status st = auth_[node]->CreateApiToken(As(owner_token).get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {resp.secret(), resp.token().id()};
  }

  ClusterEnv env_;
  std::map<std::string, std::unique_ptr<chat::v1::ChatService::Stub>> chat_;
  std::map<std::string, std::unique_ptr<chat::v1::AuthService::Stub>> auth_;
};

TEST_F(AccountsClusterTest, ATokenMadeOnOneNodeWorksOnTheOtherUntilRevokedThere) {
  const std::string olga = NodeToken(env_.address("a"), "olga");
  auto [secret, id] = BotToken("a", olga, "relay-bot");
  ASSERT_FALSE(secret.empty());
  // b never saw the token: it finds it in the database.
  ASSERT_TRUE(Send("b", secret, "lobby", "from b").ok());
  auto bot = std::make_unique<EventClient>(chat_["b"].get(), secret);
  ASSERT_TRUE(bot->Join("lobby"));
  ASSERT_TRUE(bot->WaitFor(IsJoined("lobby")));
  chat::v1::RevokeApiTokenRequest revoke;
  revoke.set_id(id);
  chat::v1::RevokeApiTokenResponse revoked;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(auth_["a"]->RevokeApiToken(As(olga).get(), revoke, &revoked).ok());
  auto ended = bot->WaitDone(5s);
  ASSERT_TRUE(ended.has_value()) << "the bot's stream on b outlived the revocation on a";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Send("b", secret, "lobby", "still here?").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Send("a", secret, "lobby", "still here?").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AccountsClusterTest, AChangedPasswordEndsTheOtherSessionsOnEveryNode) {
  const std::string first = NodeToken(env_.address("a"), "mel");
  const std::string second = Login("b", "mel");
  auto other = std::make_unique<EventClient>(chat_["b"].get(), second);
  ASSERT_TRUE(other->Join("lobby"));
  ASSERT_TRUE(other->WaitFor(IsJoined("lobby")));
  chat::v1::ChangePasswordRequest req;
  req.set_old_password("correct horse");
  req.set_new_password("battery staple");
  chat::v1::ChangePasswordResponse resp;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(auth_["a"]->ChangePassword(As(first).get(), req, &resp).ok());
  EXPECT_EQ(resp.sessions_ended(), 1);
  auto ended = other->WaitDone(5s);
  ASSERT_TRUE(ended.has_value()) << "mel's other session on b outlived the password change on a";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(WhoAmI("b", second).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The session that changed it goes on, on both nodes; the new password works.
  EXPECT_TRUE(WhoAmI("b", first).ok());
  EXPECT_TRUE(WhoAmI("a", first).ok());
  chat::v1::LoginRequest login;
  login.set_username("mel");
  login.set_password("battery staple");
  chat::v1::LoginResponse logged_in;
  grpc::ClientContext ctx;
  EXPECT_TRUE(auth_["b"]->Login(&ctx, login, &logged_in).ok());
}

TEST_F(AccountsClusterTest, ADeletedAccountIsGoneOnEveryNodeButItsNameStaysTaken) {
  const std::string eve = NodeToken(env_.address("a"), "eve");
  const std::string owner = NodeToken(env_.address("a"), "olga");
  auto [bot_secret, bot_id] = BotToken("a", eve, "eve-bot");
  ASSERT_TRUE(Send("b", eve, "lobby", "eve was here").ok());
  ASSERT_TRUE(Send("b", bot_secret, "lobby", "so was her bot").ok());
  chat::v1::DeleteAccountRequest del;
  del.set_password("correct horse");
  chat::v1::DeleteAccountResponse deleted;
  ASSERT_TRUE(auth_["a"]->DeleteAccount(As(eve).get(), del, &deleted).ok());
  EXPECT_TRUE(Eventually([&] { return WhoAmI("b", eve).error_code() == grpc::StatusCode::UNAUTHENTICATED; }, 2s));
  EXPECT_EQ(Send("b", bot_secret, "lobby", "x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Her messages stay; her profile says deleted, on the other node too.
  chat::v1::GetHistoryRequest history;
  history.set_room("lobby");
  chat::v1::GetHistoryResponse page;
  ASSERT_TRUE(chat_["b"]->GetHistory(As(owner).get(), history, &page).ok());
  int hers = 0;
  for (const auto& m : page.messages()) hers += m.author() == "eve";
  EXPECT_EQ(hers, 1);
  chat::v1::GetUsersRequest users;
  users.add_usernames("eve");
  users.add_usernames("eve-bot");
  chat::v1::GetUsersResponse profiles;
  ASSERT_TRUE(chat_["b"]->GetUsers(As(owner).get(), users, &profiles).ok());
  ASSERT_EQ(profiles.users_size(), 2);
  for (const auto& p : profiles.users()) EXPECT_TRUE(p.deleted()) << p.ShortDebugString();
  chat::v1::RegisterRequest again;
  again.set_username("Eve");
  again.set_password("correct horse");
  chat::v1::RegisterResponse registered;
  grpc::ClientContext ctx;
  EXPECT_EQ(auth_["b"]->Register(&ctx, again, &registered).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(AccountsClusterTest, AWebhookMadeOnOneNodePostsThroughTheOther) {
  const std::string olga = NodeToken(env_.address("a"), "olga");
  BotToken("a", olga, "ci-bot");
  chat::v1::CreateWebhookRequest create;
  create.set_room("lobby");
  create.set_bot("ci-bot");
  create.set_name("jenkins");
  chat::v1::CreateWebhookResponse hook;
  grpc::Status st = auth_["a"]->CreateWebhook(As(olga).get(), create, &hook);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto reader = std::make_unique<EventClient>(chat_["a"].get(), olga);
  ASSERT_TRUE(reader->Join("lobby"));
  ASSERT_TRUE(reader->WaitFor(IsJoined("lobby")));
  // The test calls from loopback, which a node without a gateway secret
  // takes for its gateway (as ws-bridge's calls).
  chat::v1::PostWebhookRequest post;
  post.set_id(hook.webhook().id());
  post.set_secret(hook.secret());
  post.set_text("build 7 passed");
  chat::v1::PostWebhookResponse posted;
  st = auth_["b"]->PostWebhook(As("").get(), post, &posted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto seen = reader->WaitFor(IsMessage("lobby", posted.seq()), 5s);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->message().author(), "ci-bot");
  EXPECT_EQ(seen->message().author_kind(), chat::v1::ACCOUNT_KIND_BOT);
  // Revoked on a: refused on b.
  chat::v1::RevokeWebhookRequest revoke;
  revoke.set_id(hook.webhook().id());
  chat::v1::RevokeWebhookResponse revoked;
  ASSERT_TRUE(auth_["a"]->RevokeWebhook(As(olga).get(), revoke, &revoked).ok());
  st = auth_["b"]->PostWebhook(As("").get(), post, &posted);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  post.set_id("0000000000000000");
  EXPECT_THAT(auth_["b"]->PostWebhook(As("").get(), post, &posted).error_message(), HasSubstr("no such webhook"));
}

}  // namespace
}  // namespace chat::testing
