// The account lifecycle over real gRPC (#29): password change, the session
// list and its revocations, profiles, and account deletion.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>

#include "absl/strings/match.h"
#include "account_calls.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

std::string LoginAs(chat::v1::AuthService::Stub* auth, const std::string& user, const std::string& password,
                    const std::string& client = "") {
  auto ctx = From("");
  chat::v1::LoginRequest req;
  req.set_username(user);
  req.set_password(password);
  req.set_client(client);
  chat::v1::LoginResponse resp;
  grpc::Status st = auth->Login(ctx.get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.token();
}

grpc::Status ChangePassword(chat::v1::AuthService::Stub* auth, const std::string& token, const std::string& old_pw,
                            const std::string& new_pw, int* ended = nullptr) {
  auto ctx = AuthedContext(token);
  chat::v1::ChangePasswordRequest req;
  req.set_old_password(old_pw);
  req.set_new_password(new_pw);
  chat::v1::ChangePasswordResponse resp;
  grpc::Status st = auth->ChangePassword(ctx.get(), req, &resp);
  if (ended != nullptr) *ended = resp.sessions_ended();
  return st;
}

TEST(AccountLifecycleTest, ChangingThePasswordEndsTheOtherSessionsButNotTheCallers) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  ASSERT_TRUE(Register(auth.get(), "alice", "").ok());
  const std::string here = LoginAs(auth.get(), "alice", "correct horse", "laptop");
  const std::string there = LoginAs(auth.get(), "alice", "correct horse", "phone");
  std::string api;
  ASSERT_TRUE(CreateToken(auth.get(), here, "", "script", &api).ok());
  EventClient mine(chat.get(), here), other(chat.get(), there), scripted(chat.get(), api);
  for (EventClient* c : {&mine, &other, &scripted}) {
    ASSERT_TRUE(c->Join("lobby"));
    ASSERT_TRUE(c->WaitFor(IsJoined("lobby")));
  }

  grpc::Status st = ChangePassword(auth.get(), here, "not the password", "battery staple");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("wrong password"));
  EXPECT_EQ(ChangePassword(auth.get(), here, "correct horse", "short").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  int ended = -1;
  ASSERT_TRUE(ChangePassword(auth.get(), here, "correct horse", "battery staple", &ended).ok());
  EXPECT_EQ(ended, 1);

  auto done = other.WaitDone(1s);
  ASSERT_TRUE(done.has_value()) << "the other session's stream is still open";
  EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(done->error_message(), HasSubstr("password was changed"));
  chat::v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(auth.get(), there, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The caller's stream and the API token's go on.
  ASSERT_TRUE(mine.SendText("lobby", "still here", "m1"));
  EXPECT_TRUE(mine.WaitFor(IsAck("m1")));
  ASSERT_TRUE(scripted.SendText("lobby", "me too", "m2"));
  EXPECT_TRUE(scripted.WaitFor(IsAck("m2")));
  EXPECT_TRUE(WhoAmI(auth.get(), here, &me).ok());
  EXPECT_EQ(Login(auth.get(), "alice", "correct horse").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Login(auth.get(), "alice", "battery staple").ok());
}

TEST(AccountLifecycleTest, SessionsAreListedAndRevoked) {
  TestCore core;
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "").ok());
  const std::string a = LoginAs(auth.get(), "alice", "correct horse", "chat-cli");
  const std::string b = LoginAs(auth.get(), "alice", "correct horse", "Mozilla/5.0 (X11)");
  const std::string c = LoginAs(auth.get(), "alice", "correct horse", std::string("bad\x01name", 8));
  std::string api;
  ASSERT_TRUE(CreateToken(auth.get(), a, "", "not a session", &api).ok());

  chat::v1::ListSessionsResponse listed;
  ASSERT_TRUE(ListSessions(auth.get(), a, &listed).ok());
  ASSERT_EQ(listed.sessions_size(), 3);  // API tokens are not login sessions
  std::string b_id;
  int current = 0;
  for (const auto& s : listed.sessions()) {
    EXPECT_EQ(s.id().size(), 16u);
    EXPECT_TRUE(s.has_created_at());
    EXPECT_TRUE(s.has_expires_at());
    EXPECT_TRUE(s.has_max_expires_at());
    EXPECT_FALSE(s.peer().empty());
    if (s.current()) {
      ++current;
      EXPECT_EQ(s.client(), "chat-cli");
    }
    if (s.client() == "Mozilla/5.0 (X11)") b_id = s.id();
    EXPECT_EQ(s.client().find('\x01'), std::string::npos);  // control characters are not kept
  }
  EXPECT_EQ(current, 1);
  ASSERT_FALSE(b_id.empty());

  chat::v1::RevokeSessionResponse revoked;
  chat::v1::RevokeSessionRequest req;
  EXPECT_EQ(auth->RevokeSession(AuthedContext(a).get(), req, &revoked).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_id("0000000000000000");
  EXPECT_EQ(auth->RevokeSession(AuthedContext(a).get(), req, &revoked).error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_id(b_id);
  ASSERT_TRUE(auth->RevokeSession(AuthedContext(a).get(), req, &revoked).ok());
  EXPECT_EQ(revoked.sessions_ended(), 1);
  chat::v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(auth.get(), b, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(WhoAmI(auth.get(), c, &me).ok());

  req.Clear();
  req.set_all_others(true);
  ASSERT_TRUE(auth->RevokeSession(AuthedContext(a).get(), req, &revoked).ok());
  EXPECT_EQ(revoked.sessions_ended(), 1);
  EXPECT_EQ(WhoAmI(auth.get(), c, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(WhoAmI(auth.get(), a, &me).ok());
  EXPECT_TRUE(WhoAmI(auth.get(), api, &me).ok());  // tokens are revoked with RevokeApiToken
  listed.Clear();
  ASSERT_TRUE(ListSessions(auth.get(), a, &listed).ok());
  EXPECT_EQ(listed.sessions_size(), 1);
}

TEST(AccountLifecycleTest, DisplayNames) {
  TestCore core;
  auto auth = core.Auth();
  const std::string alice = core.Token("alice");
  const std::string bob = core.Token("bob");
  ASSERT_TRUE(CreateBot(auth.get(), alice, "alices_bot").ok());
  auto update = [&](const std::string& token, const std::string& name, const std::string& user,
                    chat::v1::UserProfile* out) {
    chat::v1::UpdateProfileRequest req;
    req.set_display_name(name);
    req.set_username(user);
    return auth->UpdateProfile(AuthedContext(token).get(), req, out);
  };
  chat::v1::UserProfile profile;
  ASSERT_TRUE(update(alice, "Alice Liddell ✨", "", &profile).ok());
  EXPECT_EQ(profile.username(), "alice");
  EXPECT_EQ(profile.display_name(), "Alice Liddell ✨");
  chat::v1::WhoAmIResponse me;
  ASSERT_TRUE(WhoAmI(auth.get(), alice, &me).ok());
  EXPECT_EQ(me.display_name(), "Alice Liddell ✨");
  EXPECT_EQ(me.kind(), chat::v1::ACCOUNT_KIND_USER);
  EXPECT_EQ(update(alice, std::string(65, 'a'), "", &profile).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update(alice, "tab\there", "", &profile).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The owner names their bot; nobody else may.
  ASSERT_TRUE(update(alice, "Build Bot", "alices_bot", &profile).ok());
  EXPECT_EQ(profile.display_name(), "Build Bot");
  EXPECT_EQ(profile.kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(update(bob, "Mine Now", "alices_bot", &profile).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(update(bob, "Alice", "alice", &profile).error_code(), grpc::StatusCode::NOT_FOUND);
  // Clearing it.
  ASSERT_TRUE(update(alice, "", "", &profile).ok());
  EXPECT_EQ(profile.display_name(), "");
}

TEST(AccountLifecycleTest, DeletedAccountKeepsItsMessagesAndItsName) {
  TestCore core;
  auto auth = core.Auth();
  auto chat = core.Chat();
  const std::string alice = core.Token("alice");
  const std::string bob = core.Token("bob");
  ASSERT_TRUE(UpdateDisplayName(auth.get(), alice, "Alice L.").ok());
  ASSERT_TRUE(SendUnary(chat.get(), alice, "lobby", "goodbye, all").ok());
  ASSERT_TRUE(CreateBot(auth.get(), alice, "alices_bot").ok());
  std::string bot_token;
  ASSERT_TRUE(CreateToken(auth.get(), alice, "alices_bot", "t", &bot_token).ok());
  EventClient stream(chat.get(), alice);
  ASSERT_TRUE(stream.Join("lobby"));
  ASSERT_TRUE(stream.WaitFor(IsJoined("lobby")));

  chat::v1::DeleteAccountRequest req;
  req.set_password("wrong password");
  chat::v1::DeleteAccountResponse resp;
  EXPECT_EQ(auth->DeleteAccount(AuthedContext(alice).get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  req.set_password("correct horse");
  ASSERT_TRUE(auth->DeleteAccount(AuthedContext(alice).get(), req, &resp).ok());

  auto ended = stream.WaitDone(1s);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  chat::v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(auth.get(), alice, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(WhoAmI(auth.get(), bot_token, &me).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Logging in to it fails as a wrong password does.
  grpc::Status deleted = Login(auth.get(), "alice", "correct horse");
  grpc::Status wrong = Login(auth.get(), "bob", "not bobs password", "10.0.0.9");
  EXPECT_EQ(deleted.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(deleted.error_message(), wrong.error_message());
  // The name stays taken, in any case.
  EXPECT_EQ(Register(auth.get(), "alice", "").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Register(auth.get(), "ALICE", "").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Its messages stay, under its name.
  auto history = History(chat.get(), bob, "lobby");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].author(), "alice");
  EXPECT_EQ(history[0].text(), "goodbye, all");
  // What is erased (the store says; GetUsers shows `deleted`).
  std::promise<absl::StatusOr<std::vector<core::UserRecord>>> found;
  core.hub()->store()->FindUsers({"alice", "alices_bot"}, [&](auto users) { found.set_value(std::move(users)); });
  auto users = found.get_future().get();
  ASSERT_TRUE(users.ok()) << users.status();
  ASSERT_EQ(users->size(), 2u);
  for (const core::UserRecord& u : *users) {
    EXPECT_TRUE(u.deleted) << u.username;
    EXPECT_TRUE(u.password_hash.empty()) << u.username;
    EXPECT_TRUE(u.display_name.empty()) << u.username;
  }
}

}  // namespace
}  // namespace chat::testing
