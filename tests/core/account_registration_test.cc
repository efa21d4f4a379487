// Who may register (#29): --registration=open|invite|closed, invite codes
// (CreateInvite) and ServerInfo, over real gRPC on a real SQLite file.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "account_calls.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using google::protobuf::util::TimeUtil;

chat::v1::RegistrationMode Mode(chat::v1::AuthService::Stub* auth) {
  auto ctx = From("");  // no credentials
  chat::v1::ServerInfoResponse info;
  grpc::Status st = auth->ServerInfo(ctx.get(), {}, &info);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return info.registration();
}

grpc::Status RegisterWith(chat::v1::AuthService::Stub* auth, const std::string& user, const std::string& code) {
  auto ctx = From("");
  chat::v1::RegisterRequest req;
  req.set_username(user);
  req.set_password("correct horse");
  req.set_invite_code(code);
  chat::v1::RegisterResponse resp;
  return auth->Register(ctx.get(), req, &resp);
}

grpc::Status CreateInvite(chat::v1::AuthService::Stub* auth, const std::string& token, chat::v1::InviteCode* out,
                          int64_t valid_seconds = 0) {
  auto ctx = AuthedContext(token);
  chat::v1::CreateInviteRequest req;
  if (valid_seconds > 0) *req.mutable_valid_for() = TimeUtil::SecondsToDuration(valid_seconds);
  return auth->CreateInvite(ctx.get(), req, out);
}

// A login of an account that exists (the fixture's Token registers first,
// which invite mode refuses).
std::string LoginToken(chat::v1::AuthService::Stub* auth, const std::string& user) {
  chat::v1::LoginResponse resp;
  grpc::Status st = Login(auth, user, "correct horse", "", &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.token();
}

core::CoreOptions OnFile(const TempDir& dir, core::RegistrationMode mode, bool users_may_invite = false) {
  core::CoreOptions o = TestCoreOptions();
  o.store.path = dir.File("chat.db");
  o.accounts.registration = mode;
  o.accounts.users_may_invite = users_may_invite;
  o.hub.admins = {"root"};
  return o;
}

TEST(AccountRegistrationTest, OpenByDefault) {
  TestCore core;
  auto auth = core.Auth();
  EXPECT_EQ(Mode(auth.get()), chat::v1::REGISTRATION_MODE_OPEN);
  EXPECT_TRUE(RegisterWith(auth.get(), "anyone", "").ok());
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), core.Token("anyone"), &me).ok());
  EXPECT_EQ(me.registration(), chat::v1::REGISTRATION_MODE_OPEN);
  EXPECT_FALSE(me.may_invite());  // neither an admin nor --users_may_invite
  chat::v1::InviteCode code;
  grpc::Status st = CreateInvite(auth.get(), core.Token("anyone"), &code);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("--users_may_invite"));
}

TEST(AccountRegistrationTest, InviteModeNeedsASingleUseCode) {
  TempDir dir;
  {
    // The first admin registers while the server is open.
    TestCore open(OnFile(dir, core::RegistrationMode::kOpen));
    ASSERT_TRUE(Register(open.Auth().get(), "root", "").ok());
    ASSERT_TRUE(Register(open.Auth().get(), "plain", "").ok());
  }
  TestCore core(OnFile(dir, core::RegistrationMode::kInvite));
  auto auth = core.Auth();
  EXPECT_EQ(Mode(auth.get()), chat::v1::REGISTRATION_MODE_INVITE);
  grpc::Status st = RegisterWith(auth.get(), "newcomer", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "this server registers by invitation: ask an admin for an invite code");
  st = RegisterWith(auth.get(), "newcomer", "made-up-code");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  const std::string root = LoginToken(auth.get(), "root");
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), root, &me).ok());
  EXPECT_TRUE(me.may_invite());
  EXPECT_EQ(me.registration(), chat::v1::REGISTRATION_MODE_INVITE);
  chat::v1::InviteCode code;
  EXPECT_EQ(CreateInvite(auth.get(), root, &code, 60).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CreateInvite(auth.get(), root, &code, 31 * 24 * 3600).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(CreateInvite(auth.get(), root, &code).ok());
  EXPECT_EQ(code.code().size(), 22u);  // 16 bytes, base64url
  EXPECT_GT(code.expires_at().seconds(), TimeUtil::GetCurrentTime().seconds() + 6 * 24 * 3600);
  // Users may not invite here.
  EXPECT_EQ(CreateInvite(auth.get(), LoginToken(auth.get(), "plain"), &code).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  ASSERT_TRUE(RegisterWith(auth.get(), "newcomer", code.code()).ok());
  EXPECT_TRUE(Login(auth.get(), "newcomer", "correct horse").ok());
  // Single use.
  st = RegisterWith(auth.get(), "second", code.code());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// A fresh server in invite mode has no admin to make codes: its first code
// comes from --invite_code_file, once.
TEST(AccountRegistrationTest, TheFirstAccountRegistersWithTheCodeFromTheInviteCodeFile) {
  TempDir dir;
  core::CoreOptions options = OnFile(dir, core::RegistrationMode::kInvite);
  options.accounts.invite_code_file = dir.File("first-invite");
  auto read_code = [&] {
    std::ifstream f(options.accounts.invite_code_file);
    std::string code;
    std::getline(f, code);
    return code;
  };
  std::string code;
  {
    TestCore core(options);
    code = read_code();
    ASSERT_EQ(code.size(), 22u);
    struct stat st;
    ASSERT_EQ(::stat(options.accounts.invite_code_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_TRUE(RegisterWith(core.Auth().get(), "root", code).ok());
    EXPECT_EQ(RegisterWith(core.Auth().get(), "other", code).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    // A restart leaves the file (and makes no new code) while it is there.
    TestCore core(options);
    EXPECT_EQ(read_code(), code);
    EXPECT_EQ(RegisterWith(core.Auth().get(), "other", code).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  ASSERT_EQ(::unlink(options.accounts.invite_code_file.c_str()), 0);
  TestCore core(options);
  const std::string fresh = read_code();
  EXPECT_NE(fresh, code);
  EXPECT_TRUE(RegisterWith(core.Auth().get(), "other", fresh).ok());
}

TEST(AccountRegistrationTest, UsersMayInviteWhenAllowed) {
  TempDir dir;
  {
    TestCore open(OnFile(dir, core::RegistrationMode::kOpen));
    ASSERT_TRUE(Register(open.Auth().get(), "plain", "").ok());
  }
  TestCore core(OnFile(dir, core::RegistrationMode::kInvite, /*users_may_invite=*/true));
  auto auth = core.Auth();
  const std::string plain = LoginToken(auth.get(), "plain");
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), plain, &me).ok());
  EXPECT_TRUE(me.may_invite());
  chat::v1::InviteCode code;
  ASSERT_TRUE(CreateInvite(auth.get(), plain, &code).ok());
  EXPECT_TRUE(RegisterWith(auth.get(), "friend", code.code()).ok());
}

TEST(AccountRegistrationTest, ClosedModeRefusesEveryone) {
  core::CoreOptions options = TestCoreOptions();
  options.accounts.registration = core::RegistrationMode::kClosed;
  TestCore core(options);
  auto auth = core.Auth();
  EXPECT_EQ(Mode(auth.get()), chat::v1::REGISTRATION_MODE_CLOSED);
  for (const std::string& code : {std::string(), std::string("some-code")}) {
    grpc::Status st = RegisterWith(auth.get(), "newcomer", code);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(st.error_message(), "registration is closed on this server");
  }
}

}  // namespace
}  // namespace chat::testing
