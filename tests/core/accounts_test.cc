// Accounts over real gRPC: registration, login, logout, tokens, guests, rate limits.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "accounts.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

grpc::Status Register(chat::v1::AuthService::Stub* auth, const std::string& user,
                      const std::string& password) {
  grpc::ClientContext ctx;
  chat::v1::RegisterRequest req;
  req.set_username(user);
  req.set_password(password);
  chat::v1::RegisterResponse resp;
  return auth->Register(&ctx, req, &resp);
}

grpc::Status Login(chat::v1::AuthService::Stub* auth, const std::string& user,
                   const std::string& password, chat::v1::LoginResponse* resp) {
  grpc::ClientContext ctx;
  chat::v1::LoginRequest req;
  req.set_username(user);
  req.set_password(password);
  return auth->Login(&ctx, req, resp);
}

grpc::Status WhoAmI(chat::v1::AuthService::Stub* auth, const std::string& token,
                    chat::v1::WhoAmIResponse* resp) {
  auto ctx = AuthedContext(token);
  return auth->WhoAmI(ctx.get(), {}, resp);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AccountsTest, RegisterLoginWhoAmILogoutRoundTrip) {
  TestCore core;
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "Alice", "correct horse").ok());
  chat::v1::LoginResponse login;
  // Usernames are case-insensitive for login; the stored spelling is kept.
  ASSERT_TRUE(Login(auth.get(), "alice", "correct horse", &login).ok());
  EXPECT_EQ(login.username(), "Alice");
  EXPECT_GE(login.token().size(), 43u);  // 256 bits, base64url
  EXPECT_GT(login.expires_at().seconds(), std::time(nullptr) + 6 * 24 * 3600);
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), login.token(), &me).ok());
  EXPECT_EQ(me.username(), "Alice");
  EXPECT_FALSE(me.guest());

  auto ctx = AuthedContext(login.token());
  chat::v1::LogoutResponse out;
  ASSERT_TRUE(auth->Logout(ctx.get(), {}, &out).ok());
  grpc::Status st = WhoAmI(auth.get(), login.token(), &me);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(st.error_message(), HasSubstr("revoked"));
}

TEST(AccountsTest, RulesForUsernamesAndPasswords) {
  TestCore core;
  auto auth = core.Auth();
  for (const std::string& bad :
       std::vector<std::string>{"ab", std::string(33, 'a'), "has space", "semi;colon", ""}) {
    grpc::Status st = Register(auth.get(), bad, "long enough");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(st.error_message(), HasSubstr("3-32"));
  }
  grpc::Status st = Register(auth.get(), "bob", "short");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("at least 8"));
  ASSERT_TRUE(Register(auth.get(), "bob", "long enough").ok());
  st = Register(auth.get(), "BOB", "long enough");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST(AccountsTest, WrongPasswordAndUnknownUserLookTheSame) {
  TestCore core;
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "carol", "right password").ok());
  chat::v1::LoginResponse resp;
  grpc::Status wrong = Login(auth.get(), "carol", "wrong password", &resp);
  grpc::Status unknown = Login(auth.get(), "nobody", "wrong password", &resp);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_message(), unknown.error_message());
}

TEST(AccountsTest, FailedLoginsAreRateLimitedPerUserAndPerPeer) {
  TestCore core;
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "dave", "right password").ok());
  chat::v1::LoginResponse resp;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Login(auth.get(), "dave", "nope nope", &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::Status st = Login(auth.get(), "dave", "right password", &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("retry in"));
  // Per peer: many usernames from one address.
  for (int i = 0; i < 20; ++i) Login(auth.get(), absl::StrCat("ghost", i), "nope nope", &resp);
  ASSERT_TRUE(Register(auth.get(), "erin", "right password").ok());
  st = Login(auth.get(), "erin", "right password", &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(AccountsTest, ExpiredTokensAreRefusedAndEndLiveSessions) {
  std::atomic<int64_t> now{1'800'000'000'000};
  core::CoreOptions options = TestCoreOptions();
  options.hub.now_ms = [&now] { return now.load(); };
  options.accounts.now_ms = options.hub.now_ms;
  options.accounts.token_ttl = absl::Minutes(1);
  TestCore core(options);
  std::string token = core.Token("frank");
  auto auth = core.Auth();
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), token, &me).ok());
  auto stub = core.Chat();
  EventClient c(stub.get(), token);
  c.Join("lobby");
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  now += 61'000;
  grpc::Status st = WhoAmI(auth.get(), token, &me);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(st.error_message(), HasSubstr("expired"));
  // The open stream is ended at its next event.
  c.SendText("lobby", "too late", "x");
  auto done = c.WaitDone();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AccountsTest, LogoutEndsTheTokensLiveStreamsWithinASecond) {
  TestCore core;
  std::string token = core.Token("gina");
  std::string other = core.Token("gina");  // a second login: a different token
  auto stub = core.Chat();
  EventClient c1(stub.get(), token), c2(stub.get(), other);
  c1.Join("lobby");
  c2.Join("lobby");
  ASSERT_TRUE(c1.WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(c2.WaitFor(IsJoined("lobby")));
  auto auth = core.Auth();
  auto ctx = AuthedContext(token);
  chat::v1::LogoutResponse resp;
  ASSERT_TRUE(auth->Logout(ctx.get(), {}, &resp).ok());
  auto done = c1.WaitDone(5s);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(done->error_message(), HasSubstr("logged out"));
  // The other login is untouched.
  c2.SendText("lobby", "still in", "s");
  EXPECT_TRUE(c2.WaitFor(IsAck("s")));
}

TEST(AccountsTest, TheAuthorIsAlwaysTheAuthenticatedUser) {
  TestCore core;
  std::string a = core.Token("henry");
  core.Token("ivy");
  auto stub = core.Chat();
  auto ctx = AuthedContext(a);
  ctx->AddMetadata("x-chat-user", "ivy");  // ignored: identity comes from the token
  chat::v1::SendMessageRequest req;
  req.set_room("lobby");
  req.set_text("who am i");
  chat::v1::SendMessageResponse resp;
  ASSERT_TRUE(stub->SendMessage(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.message().author(), "henry");
}

TEST(AccountsTest, GuestModeIsOffByDefaultAndPrefixesGuestNames) {
  {
    TestCore core;
    auto stub = core.Chat();
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-chat-user", "visitor");
    chat::v1::ListRoomsResponse resp;
    EXPECT_EQ(stub->ListRooms(&ctx, {}, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  core::CoreOptions options = TestCoreOptions();
  options.accounts.allow_guests = true;
  TestCore core(options);
  auto stub = core.Chat();
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-chat-user", "visitor");
  chat::v1::SendMessageRequest req;
  req.set_room("lobby");
  req.set_text("hi as guest");
  chat::v1::SendMessageResponse resp;
  ASSERT_TRUE(stub->SendMessage(&ctx, req, &resp).ok());
  // Guests cannot pass for registered users.
  EXPECT_EQ(resp.message().author(), "~visitor");
}

TEST(AccountsTest, TheDatabaseHoldsNoPasswordOrTokenInClear) {
  TempDir dir;
  core::CoreOptions options = TestCoreOptions();
  options.store.path = dir.File("chat.db");
  // The real default cost.
  options.accounts.pwhash_opslimit = core::AccountsOptions().pwhash_opslimit;
  options.accounts.pwhash_memlimit = core::AccountsOptions().pwhash_memlimit;
  const std::string password = "Sup3r-Secret-Passw0rd";
  std::string token;
  {
    TestCore core(options);
    token = core.Token("judy", password);
  }
  std::string bytes = ReadFile(options.store.path) + ReadFile(options.store.path + "-wal");
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(password), std::string::npos);
  EXPECT_EQ(bytes.find(token), std::string::npos);
  EXPECT_EQ(bytes.find(token.substr(0, 16)), std::string::npos);
  // Argon2id with at least OWASP's minimum cost.
  EXPECT_NE(bytes.find("$argon2id$v=19$m=19456,t=2,p=1$"), std::string::npos);
}

}  // namespace
}  // namespace chat::testing
