// API token scopes (token_scope.h): the checks themselves, and every event of
// a live session made with a token limited to read, post, manage or one room,
// over a real Hub on SQLite (in memory) and an Outbox with a fake writer.
// The same table over the unary calls, through a real server, is in
// token_scope_unary_test.cc.
#include "token_scope.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "chat/json_codec.h"
#include "fake_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "membership.h"
#include "memory_store.h"
#include "session.h"
#include "token_scope_table.h"

namespace chat::testing {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;
using core::Identity;

TEST(TokenScopeTest, ALoginSessionOrAGuestMayDoAnything) {
  Identity login;
  login.user = "ann";
  EXPECT_TRUE(core::CheckTokenScope(login, core::kTokenManage, "anywhere").ok());
  EXPECT_TRUE(core::CheckTokenAllRooms(login).ok());
  Identity guest;
  guest.user = "~visitor";
  guest.guest = true;
  EXPECT_TRUE(core::CheckTokenScope(guest, core::kTokenPost, "lobby").ok());
  // Limits on an identity that is not a token's are not its (cannot happen,
  // but a login session must never be narrowed by stray fields).
  login.token_actions = core::kTokenRead;
  login.token_rooms = {"a"};
  EXPECT_TRUE(core::CheckTokenScope(login, core::kTokenPost, "b").ok());
}

TEST(TokenScopeTest, AnUnlimitedTokenMayDoAnything) {
  Identity ci = TokenIdentity("ann", "ci", 0, {});
  for (int action : {core::kTokenRead, core::kTokenPost, core::kTokenManage}) {
    EXPECT_TRUE(core::CheckTokenScope(ci, action, "lobby").ok());
  }
  EXPECT_TRUE(core::CheckTokenAllRooms(ci).ok());
  EXPECT_TRUE(core::TokenReachesRoom(ci, "anything"));
}

TEST(TokenScopeTest, TheMessagesNameTheMissingScopeAndTheRooms) {
  Identity ci = TokenIdentity("ann", "ci", core::kTokenRead | core::kTokenPost, {"a", "b"});
  EXPECT_TRUE(core::CheckTokenScope(ci, core::kTokenRead, "a").ok());
  EXPECT_TRUE(core::CheckTokenScope(ci, core::kTokenPost, "b").ok());
  EXPECT_TRUE(core::CheckTokenScope(ci, core::kTokenRead, "").ok());
  absl::Status manage = core::CheckTokenScope(ci, core::kTokenManage, "a");
  EXPECT_EQ(manage.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(manage.message(), "API token 'ci' lacks the 'manage' scope");
  absl::Status other = core::CheckTokenScope(ci, core::kTokenPost, "c");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(other.message(), "API token 'ci' is limited to rooms: a, b");
  // Room names are exact, as rooms are found by them.
  EXPECT_FALSE(core::CheckTokenScope(ci, core::kTokenRead, "A").ok());
  EXPECT_EQ(core::CheckTokenAllRooms(ci).message(), "API token 'ci' is limited to rooms: a, b");
  EXPECT_TRUE(core::TokenReachesRoom(ci, "b"));
  EXPECT_FALSE(core::TokenReachesRoom(ci, "c"));
}

// One live session of `identity` on a Connect-like outbox.
struct Client {
  Client(core::Hub* hub, const Identity& identity) : writer(FakeWriter::Stream::kConnect, /*auto_complete=*/true) {
    outbox = std::make_shared<core::Outbox>(core::Outbox::Kind::kConnect, &writer, core::OutboxLimits{}, nullptr,
                                            hub->kicker());
    writer.Attach(outbox.get());
    session = std::make_shared<core::Session>(hub, outbox, 0, identity, core::SessionOptions{});
  }
  ~Client() {
    session->Close();
    outbox->Detach();
    writer.Attach(nullptr);
  }
  FakeWriter writer;
  std::shared_ptr<core::Outbox> outbox;
  std::shared_ptr<core::Session> session;
};

class TokenScopeSessionTest : public ::testing::Test {
 protected:
  TokenScopeSessionTest() {
    store_ = OpenMemoryStore();
    core::HubOptions options;
    options.fanout_threads = 1;
    hub_ = std::make_unique<core::Hub>(store_.get(), options);
    EXPECT_TRUE(hub_->Init().ok());
    // Public rooms a and b, owned by olga; bob exists (for invite and kick).
    Identity olga;
    olga.user = "olga";
    for (const char* name : {"a", "b"}) {
      chat::v1::CreateRoomRequest req;
      req.set_name(name);
      absl::Notification made;
      hub_->membership().CreateRoom(olga, req, [&](absl::StatusOr<chat::v1::Room> r) {
        EXPECT_TRUE(r.ok()) << r.status();
        made.Notify();
      });
      made.WaitForNotification();
    }
  }
  ~TokenScopeSessionTest() override {
    hub_->StopFanout();
    store_->Close();
  }

  // Every event of the table, in order, from a session of `token`: each
  // answer is what the table expects of that token.
  void CheckEveryEvent(const TokenCase& token) {
    SCOPED_TRACE(token.name);
    Client client(hub_.get(), token.identity);
    int n = 0;
    for (const ScopedCall& call : ScopedEvents()) {
      SCOPED_TRACE(call.kind);
      ClientEvent ev = call.event();
      const std::string ref = "r" + std::to_string(++n);
      ev.set_ref(ref);
      ASSERT_EQ(ClientEventKind(ev), call.kind);
      client.session->Handle(ev);
      // Every event here has an answer (typing comes before its join, so
      // when allowed it is refused for not being in the room).
      auto answer = client.writer.WaitForEvent([&](const ServerEvent& e) { return e.ref() == ref; });
      ASSERT_TRUE(answer.has_value()) << "no answer to " << call.kind;
      const std::string want = Expected(token, call);
      if (want.empty()) {
        EXPECT_FALSE(answer->has_error() && answer->error().code() == chat::v1::Error::PERMISSION_DENIED &&
                     absl::StartsWith(answer->error().message(), "API token"))
            << answer->DebugString();
      } else {
        ASSERT_TRUE(answer->has_error()) << answer->DebugString();
        EXPECT_EQ(answer->error().code(), chat::v1::Error::PERMISSION_DENIED);
        EXPECT_EQ(answer->error().message(), want);
        EXPECT_EQ(answer->error().event(), call.kind);
        // The hot-path events name their room, as their other errors do.
        if (call.kind == "join" || call.kind == "send" || call.kind == "typing" || call.kind == "leave") {
          EXPECT_EQ(answer->error().room(), call.room);
        }
      }
    }
  }

  std::unique_ptr<core::Store> store_;
  std::unique_ptr<core::Hub> hub_;
};

TEST_F(TokenScopeSessionTest, AReadOnlyTokenReadsAndIsRefusedPostAndManage) { CheckEveryEvent(ReadToken()); }
TEST_F(TokenScopeSessionTest, APostOnlyTokenPostsAndIsRefusedReadAndManage) { CheckEveryEvent(PostToken()); }
TEST_F(TokenScopeSessionTest, AManageOnlyTokenManagesAndIsRefusedReadAndPost) { CheckEveryEvent(ManageToken()); }
TEST_F(TokenScopeSessionTest, ATokenForRoomAReachesOnlyRoomA) { CheckEveryEvent(RoomAToken()); }

TEST_F(TokenScopeSessionTest, ARoomLimitedTokenSendsInItsRoomAndListsOnlyIt) {
  Client client(hub_.get(), RoomAToken().identity);
  ClientEvent list;
  list.set_ref("l");
  list.mutable_list_rooms();
  client.session->Handle(list);
  auto rooms = client.writer.WaitForEvent([](const ServerEvent& e) { return e.has_rooms(); });
  ASSERT_TRUE(rooms.has_value());
  std::vector<std::string> names;
  for (const auto& r : rooms->rooms().rooms()) names.push_back(r.name());
  EXPECT_THAT(names, ::testing::ElementsAre("a"));  // not b, not lobby
  ClientEvent join;
  join.mutable_join()->set_room("a");
  client.session->Handle(join);
  ASSERT_TRUE(client.writer.WaitForEvent([](const ServerEvent& e) { return e.has_joined(); }));
  ClientEvent send;
  send.mutable_send()->set_room("a");
  send.mutable_send()->set_text("deployed");
  send.mutable_send()->set_client_msg_id("m1");
  client.session->Handle(send);
  auto ack = client.writer.WaitForEvent([](const ServerEvent& e) { return e.has_ack() || e.has_error(); });
  ASSERT_TRUE(ack.has_value());
  ASSERT_TRUE(ack->has_ack()) << ack->DebugString();
  EXPECT_EQ(ack->ack().seq(), 1);
}

}  // namespace
}  // namespace chat::testing
