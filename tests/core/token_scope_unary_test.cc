// API token scopes end to end: tokens stored as the store keeps them (a
// session row of kind API token), used as `authorization: Bearer` on every
// unary ChatService call and on a Connect stream of a real server on port 0.
// The table is token_scope_table.h's (docs/protocol.md, "API token scopes").
#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "accounts.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "membership_calls.h"
#include "room_access.h"
#include "token_scope_table.h"

namespace chat::testing {
namespace {

using chat::v1::ChatService;
using chat::v1::ServerEvent;

// One unary call of the table: (stub, token) -> status.
struct UnaryCall {
  ScopedCall scope;
  std::function<grpc::Status(ChatService::Stub*, const std::string&)> call;
};

template <typename Req, typename Resp>
std::function<grpc::Status(ChatService::Stub*, const std::string&)> Unary(
    grpc::Status (ChatService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), Req req) {
  return [method, req](ChatService::Stub* stub, const std::string& token) {
    Resp resp;
    auto ctx = AuthedContext(token);
    return (stub->*method)(ctx.get(), req, &resp);
  };
}

std::vector<UnaryCall> UnaryCalls() {
  const int r = core::kTokenRead, p = core::kTokenPost, m = core::kTokenManage;
  std::vector<UnaryCall> calls;
  auto add = [&](const std::string& kind, int action, const std::string& room, auto fn, bool all_rooms = false) {
    calls.push_back(UnaryCall{ScopedCall{kind, action, room, all_rooms, nullptr}, fn});
  };
  add("ListRooms", r, "", Unary(&ChatService::Stub::ListRooms, chat::v1::ListRoomsRequest()));
  add("ListInvites", r, "", Unary(&ChatService::Stub::ListInvites, chat::v1::ListInvitesRequest()));
  chat::v1::SearchUsersRequest search;
  search.set_prefix("o");
  add("SearchUsers", r, "", Unary(&ChatService::Stub::SearchUsers, search));
  chat::v1::GetUsersRequest users;
  users.add_usernames("olga");
  add("GetUsers", r, "", Unary(&ChatService::Stub::GetUsers, users));
  for (const std::string room : {"a", "b"}) {
    chat::v1::GetRoomRequest get;
    get.set_name(room);
    add("GetRoom", r, room, Unary(&ChatService::Stub::GetRoom, get));
    chat::v1::GetHistoryRequest history;
    history.set_room(room);
    add("GetHistory", r, room, Unary(&ChatService::Stub::GetHistory, history));
    chat::v1::ListMembersRequest members;
    members.set_room(room);
    add("ListMembers", r, room, Unary(&ChatService::Stub::ListMembers, members));
    chat::v1::SendMessageRequest send;
    send.set_room(room);
    send.set_text("from a token");
    add("SendMessage", p, room, Unary(&ChatService::Stub::SendMessage, send));
    chat::v1::DeleteMessageRequest del;
    del.set_room(room);
    del.set_seq(1);
    add("DeleteMessage", p, room, Unary(&ChatService::Stub::DeleteMessage, del));
    chat::v1::UpdateRoomRequest update;
    update.set_room(room);
    update.set_topic("t");
    add("UpdateRoom", m, room, Unary(&ChatService::Stub::UpdateRoom, update));
    chat::v1::InviteRequest invite;
    invite.set_room(room);
    invite.set_user("olga");
    add("Invite", m, room, Unary(&ChatService::Stub::Invite, invite));
    chat::v1::RespondInviteRequest respond;
    respond.set_room(room);
    add("RespondInvite", m, room, Unary(&ChatService::Stub::RespondInvite, respond));
    chat::v1::LeaveRoomRequest leave;
    leave.set_room(room);
    add("LeaveRoom", m, room, Unary(&ChatService::Stub::LeaveRoom, leave));
    chat::v1::KickRequest kick;
    kick.set_room(room);
    kick.set_user("olga");
    add("Kick", m, room, Unary(&ChatService::Stub::Kick, kick));
    chat::v1::BanRequest ban;
    ban.set_room(room);
    ban.set_user("olga");
    add("Ban", m, room, Unary(&ChatService::Stub::Ban, ban));
    chat::v1::UnbanRequest unban;
    unban.set_room(room);
    unban.set_user("olga");
    add("Unban", m, room, Unary(&ChatService::Stub::Unban, unban));
    chat::v1::SetRoleRequest role;
    role.set_room(room);
    role.set_user("olga");
    role.set_role(chat::v1::ROLE_MODERATOR);
    add("SetRole", m, room, Unary(&ChatService::Stub::SetRole, role));
    chat::v1::DeleteRoomRequest drop;
    drop.set_room(room);
    add("DeleteRoom", m, room, Unary(&ChatService::Stub::DeleteRoom, drop));
  }
  chat::v1::CreateRoomRequest create;
  create.set_name("c");
  add("CreateRoom", m, "c", Unary(&ChatService::Stub::CreateRoom, create));
  chat::v1::OpenDirectRequest direct;
  direct.add_users("olga");
  add("OpenDirect", m, "", Unary(&ChatService::Stub::OpenDirect, direct), /*all_rooms=*/true);
  return calls;
}

class TokenScopeUnaryTest : public ::testing::Test {
 protected:
  static core::CoreOptions Options() {
    core::CoreOptions o = TestCoreOptions();
    // Tokens written to the store directly are looked up there.
    o.accounts.shared_sessions = true;
    return o;
  }
  void SetUp() override {
    chat_ = core_.Chat();
    auth_ = core_.Auth();
    olga_ = core_.Token("olga");
    Calls olga(chat_.get(), auth_.get(), olga_);
    for (const char* room : {"a", "b"}) {
      ASSERT_TRUE(olga.CreateRoom(room, chat::v1::ROOM_KIND_PUBLIC).ok());
    }
  }

  // The secret of a new API token of `token`'s user, stored as
  // CreateApiToken stores one.
  std::string StoreToken(const TokenCase& token) {
    core_.Token(token.identity.user);  // registers the user
    core::Store* store = core_.hub()->store();
    absl::Notification found;
    core::UserRecord user;
    store->FindUser(core::UserKey(token.identity.user), [&](absl::StatusOr<core::UserRecord> u) {
      EXPECT_TRUE(u.ok()) << u.status();
      if (u.ok()) user = *u;
      found.Notify();
    });
    found.WaitForNotification();
    const std::string secret = "chat_scope-test-" + token.name;
    core::SessionRecord rec;
    rec.token_hash = core::Accounts::HashToken(secret);
    rec.user_id = user.id;
    rec.username = user.username;
    rec.kind = core::CredentialKind::kApiToken;
    rec.expires_at_ms = core::kNeverExpiresMs;
    rec.created_at_ms = core_.hub()->NowMs();
    rec.name = token.name;
    rec.rooms = token.rooms;
    rec.actions = token.actions;
    rec.created_by = user.username;
    absl::Notification stored;
    store->CreateSession(rec, core_.hub()->NowMs(), [&](absl::StatusOr<bool> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      stored.Notify();
    });
    stored.WaitForNotification();
    return secret;
  }

  void CheckEveryCall(const TokenCase& token) {
    SCOPED_TRACE(token.name);
    const std::string secret = StoreToken(token);
    for (const UnaryCall& call : UnaryCalls()) {
      SCOPED_TRACE(call.scope.kind + " " + call.scope.room);
      grpc::Status st = call.call(chat_.get(), secret);
      ASSERT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
      const std::string want = Expected(token, call.scope);
      if (want.empty()) {
        EXPECT_FALSE(st.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
                     absl::StartsWith(st.error_message(), "API token"))
            << st.error_message();
      } else {
        EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_EQ(st.error_message(), want);
      }
    }
  }

  TestCore core_{Options()};
  std::unique_ptr<chat::v1::ChatService::Stub> chat_;
  std::unique_ptr<chat::v1::AuthService::Stub> auth_;
  std::string olga_;
};

TEST_F(TokenScopeUnaryTest, AReadOnlyTokenOnEveryCall) { CheckEveryCall(ReadToken()); }
TEST_F(TokenScopeUnaryTest, APostOnlyTokenOnEveryCall) { CheckEveryCall(PostToken()); }
TEST_F(TokenScopeUnaryTest, AManageOnlyTokenOnEveryCall) { CheckEveryCall(ManageToken()); }
TEST_F(TokenScopeUnaryTest, ARoomLimitedTokenOnEveryCall) { CheckEveryCall(RoomAToken()); }

TEST_F(TokenScopeUnaryTest, ARoomLimitedTokenListsItsRoomsAndPostsThereOnAStream) {
  const std::string secret = StoreToken(RoomAToken());
  Calls ci(chat_.get(), auth_.get(), secret);
  auto rooms = ci.ListRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status().error_message();
  std::vector<std::string> names;
  for (const auto& r : rooms->rooms()) names.push_back(r.name());
  EXPECT_THAT(names, ::testing::ElementsAre("a"));
  auto sent = ci.Send("a", "deployed");
  ASSERT_TRUE(sent.ok()) << sent.status().error_message();

  EventClient stream(chat_.get(), secret);
  ASSERT_TRUE(stream.Join("b", std::nullopt, "jb"));
  auto refused = stream.WaitFor(IsError("join"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->ref(), "jb");
  EXPECT_EQ(refused->error().code(), chat::v1::Error::PERMISSION_DENIED);
  EXPECT_EQ(refused->error().message(), "API token 'ci' is limited to rooms: a");
  EXPECT_EQ(refused->error().room(), "b");
  ASSERT_TRUE(stream.Join("a", 0));
  ASSERT_TRUE(stream.WaitFor(IsJoined("a")));
  ASSERT_TRUE(stream.SendText("a", "again", "m2"));
  ASSERT_TRUE(stream.WaitFor(IsAck("m2")));
  EXPECT_EQ(stream.Messages("a").size(), 2u);
}

}  // namespace
}  // namespace chat::testing
