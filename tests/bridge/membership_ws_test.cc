// Private rooms and moderation on the WebSocket path: browsers through a real
// ws-bridge to a real chat-core (in-process, port 0). The same rules as the
// gRPC path (tests/core/membership_test.cc), enforced by chat-core alone.
#include <memory>
#include <string>

#include "bridge_fixture.h"
#include "membership_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using chat::v1::MembershipEvent;
using chat::v1::ServerEvent;

WsClient::Pred WsRef(const std::string& ref) {
  return [ref](const ServerEvent& e) { return e.ref() == ref; };
}

class MembershipWsTest : public ::testing::Test {
 protected:
  std::unique_ptr<WsClient> Browser(const std::string& user) {
    WsClient::Options o;
    o.cookie = env_.Login(user);
    auto ws = WsClient::Connect(env_.port(), o);
    EXPECT_NE(ws, nullptr);
    return ws;
  }
  // Sends `event` with `ref` and waits for its answer.
  static std::optional<ServerEvent> Ask(WsClient& ws, chat::v1::ClientEvent event, const std::string& ref) {
    event.set_ref(ref);
    ws.Send(event);
    return ws.WaitFor(WsRef(ref));
  }
  Calls As(const std::string& user) { return Calls(chat_.get(), auth_.get(), env_.core().Token(user)); }

  BridgeEnv env_;
  std::unique_ptr<chat::v1::ChatService::Stub> chat_ = env_.core().Chat();
  std::unique_ptr<chat::v1::AuthService::Stub> auth_ = env_.core().Auth();
};

TEST_F(MembershipWsTest, ABrowserOutsiderGetsNotFoundForEveryEventAndNothingOfTheRooms) {
  auto spy = Browser("eve");  // listens for the whole test
  ASSERT_NE(spy, nullptr);
  spy->Join("lobby");
  ASSERT_TRUE(spy->WaitFor(WsJoined("lobby")));
  auto olga = Browser("olga");
  auto mel = Browser("mel");
  ASSERT_TRUE(olga && mel);
  chat::v1::ClientEvent create;
  create.mutable_create_room()->set_name("secret");
  create.mutable_create_room()->set_kind(chat::v1::ROOM_KIND_PRIVATE);
  auto created = Ask(*olga, create, "create");
  ASSERT_TRUE(created && created->has_room()) << (created ? created->ShortDebugString() : "none");
  EXPECT_EQ(created->room().my_role(), chat::v1::ROLE_OWNER);
  ASSERT_TRUE(As("olga").Invite("secret", "mel").ok());
  ASSERT_TRUE(As("mel").Respond("secret", true).ok());
  chat::v1::ClientEvent open;
  open.mutable_open_direct()->add_users("mel");
  auto dm = Ask(*olga, open, "dm");
  ASSERT_TRUE(dm && dm->has_room());
  const std::string direct = dm->room().name();
  for (const std::string& room : {std::string("secret"), direct}) {
    mel->Join(room);
    ASSERT_TRUE(mel->WaitFor(WsJoined(room)));
    olga->Join(room);
    ASSERT_TRUE(olga->WaitFor(WsJoined(room)));
    olga->SendMessage(room, "members only", "m-" + room);
    ASSERT_TRUE(mel->WaitFor(WsAnyMessage(room)));
    chat::v1::ClientEvent topic;
    topic.mutable_update_room()->set_room(room);
    topic.mutable_update_room()->set_topic("hush");
    ASSERT_TRUE(Ask(*olga, topic, "topic-" + room)->has_room());
  }
  for (const std::string& room : {std::string("secret"), direct}) {
    for (const auto& [name, event] : EveryRoomEvent(room)) {
      spy->Send(event);
      auto answer = spy->WaitFor(WsRef(event.ref()));
      ASSERT_TRUE(answer.has_value()) << name << " on " << room;
      ASSERT_TRUE(answer->has_error()) << name << ": " << answer->ShortDebugString();
      EXPECT_EQ(answer->error().code(), chat::v1::Error::NOT_FOUND) << name << ": " << answer->error().message();
      // Word for word what a room that does not exist answers.
      EXPECT_EQ(answer->error().message(),
                (name == "respondInvite" ? "no invitation to room '" : "room '") + room +
                    (name == "respondInvite" ? "'" : "' does not exist"))
          << name;
    }
  }
  chat::v1::ClientEvent list;
  list.mutable_list_rooms();
  auto rooms = Ask(*spy, list, "rooms");
  ASSERT_TRUE(rooms && rooms->has_rooms());
  for (const auto& r : rooms->rooms().rooms()) EXPECT_THAT(r.name(), ::testing::Not(::testing::StartsWith("dm.")));
  for (const auto& r : rooms->rooms().rooms()) EXPECT_NE(r.name(), "secret");
  // Nothing of either room reached the outsider's socket, in any frame.
  for (const std::string& frame : spy->Frames()) {
    if (frame.find("\"error\"") != std::string::npos) continue;  // its own refused requests
    EXPECT_THAT(frame, ::testing::Not(HasSubstr("secret")));
    EXPECT_THAT(frame, ::testing::Not(HasSubstr(direct)));
    EXPECT_THAT(frame, ::testing::Not(HasSubstr("members only")));
    EXPECT_THAT(frame, ::testing::Not(HasSubstr("hush")));
  }
}

TEST_F(MembershipWsTest, ABrowserInvitesKicksAndTheKickedBrowserIsToldWhyAndHearsNoMore) {
  auto olga = Browser("olga");
  auto mel = Browser("mel");
  ASSERT_TRUE(olga && mel);
  chat::v1::ClientEvent create;
  create.mutable_create_room()->set_name("club");
  create.mutable_create_room()->set_kind(chat::v1::ROOM_KIND_PRIVATE);
  create.mutable_create_room()->set_topic("members");
  ASSERT_TRUE(Ask(*olga, create, "create")->has_room());
  chat::v1::ClientEvent invite;
  invite.mutable_invite()->set_room("club");
  invite.mutable_invite()->set_user("mel");
  auto invited = Ask(*olga, invite, "invite");
  ASSERT_TRUE(invited && invited->has_membership()) << (invited ? invited->ShortDebugString() : "none");
  EXPECT_EQ(invited->membership().kind(), MembershipEvent::INVITED);
  // The invitation reaches mel's browser live, with the room.
  auto heard = mel->WaitFor([](const ServerEvent& e) {
    return e.has_membership() && e.membership().kind() == MembershipEvent::INVITED;
  });
  ASSERT_TRUE(heard.has_value());
  EXPECT_EQ(heard->membership().room_info().topic(), "members");
  chat::v1::ClientEvent accept;
  accept.mutable_respond_invite()->set_room("club");
  accept.mutable_respond_invite()->set_accept(true);
  auto joined = Ask(*mel, accept, "accept");
  ASSERT_TRUE(joined && joined->has_membership());
  EXPECT_EQ(joined->membership().kind(), MembershipEvent::JOINED);
  ASSERT_TRUE(mel->WaitFor([](const ServerEvent& e) {
    return e.has_room_changed() && e.room_changed().room().name() == "club";
  }));
  for (auto* b : {olga.get(), mel.get()}) {
    b->Join("club");
    ASSERT_TRUE(b->WaitFor(WsJoined("club")));
  }
  chat::v1::ClientEvent members;
  members.mutable_list_members()->set_room("club");
  auto listed = Ask(*mel, members, "members");
  ASSERT_TRUE(listed && listed->has_members());
  ASSERT_EQ(listed->members().members_size(), 2);
  // A member may not kick; the owner may.
  chat::v1::ClientEvent kick;
  kick.mutable_kick()->set_room("club");
  kick.mutable_kick()->set_user("olga");
  auto refused = Ask(*mel, kick, "mutiny");
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), chat::v1::Error::PERMISSION_DENIED);
  EXPECT_EQ(refused->error().event(), "kick");
  kick.mutable_kick()->set_user("mel");
  kick.mutable_kick()->set_reason("bye");
  auto kicked = Ask(*olga, kick, "kick");
  ASSERT_TRUE(kicked && kicked->has_membership());
  auto left = mel->WaitFor([](const ServerEvent& e) { return e.has_left() && e.left().room() == "club"; });
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->left().reason(), "kicked by olga: bye");
  const size_t seen = mel->Events().size();
  olga->SendMessage("club", "after mel left", "after");
  ASSERT_TRUE(olga->WaitFor(WsAck("after")));
  mel->Join("lobby");
  ASSERT_TRUE(mel->WaitFor(WsJoined("lobby")));
  auto events = mel->Events();
  for (size_t i = seen; i < events.size(); ++i) {
    EXPECT_THAT(events[i].ShortDebugString(), ::testing::Not(HasSubstr("after mel left")));
  }
  chat::v1::ClientEvent rejoin;
  rejoin.mutable_join()->set_room("club");
  auto gone = Ask(*mel, rejoin, "rejoin");
  ASSERT_TRUE(gone && gone->has_error());
  EXPECT_EQ(gone->error().code(), chat::v1::Error::NOT_FOUND);
}

}  // namespace
}  // namespace chat::testing
