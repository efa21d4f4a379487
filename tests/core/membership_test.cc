// Private rooms, direct conversations, membership and moderation through a
// real chat-core (in-process, on SQLite), on the gRPC path: unary calls and
// Connect streams. The WebSocket path is in tests/bridge/membership_ws_test.cc.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "membership_calls.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using chat::v1::MembershipEvent;
using chat::v1::ServerEvent;

class MembershipTest : public ::testing::Test {
 protected:
  static core::CoreOptions Options() {
    core::CoreOptions o = TestCoreOptions();
    o.hub.admins = {"ada"};
    return o;
  }
  void SetUp() override {
    chat_ = core_.Chat();
    auth_ = core_.Auth();
    for (const char* user : {"olga", "mona", "mel", "eve", "ada", "bob"}) tokens_[user] = core_.Token(user);
  }
  Calls As(const std::string& user) { return Calls(chat_.get(), auth_.get(), tokens_.at(user)); }
  std::unique_ptr<EventClient> Stream(const std::string& user) {
    return std::make_unique<EventClient>(chat_.get(), tokens_.at(user));
  }
  // olga's private room "secret" with mona (moderator) and mel (member).
  void MakeSecret() {
    ASSERT_TRUE(As("olga").CreatePrivate("secret").ok());
    for (const char* user : {"mona", "mel"}) {
      ASSERT_TRUE(As("olga").Invite("secret", user).ok());
      ASSERT_TRUE(As(user).Respond("secret", true).ok());
    }
    ASSERT_TRUE(As("olga").SetRole("secret", "mona", chat::v1::ROLE_MODERATOR).ok());
  }

  TestCore core_{Options()};
  std::unique_ptr<chat::v1::ChatService::Stub> chat_;
  std::unique_ptr<chat::v1::AuthService::Stub> auth_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(MembershipTest, AnOutsiderGetsNotFoundForEveryCallAndNoEventOfAPrivateOrDirectRoom) {
  auto spy = Stream("eve");  // listens for the whole test
  ASSERT_TRUE(spy->Join("lobby"));
  ASSERT_TRUE(spy->WaitFor(IsJoined("lobby")));
  MakeSecret();
  auto dm = As("olga").OpenDirect({"mel"});
  ASSERT_TRUE(dm.ok()) << dm.status().error_message();
  const std::string direct = dm->name();
  auto members = Stream("mel");
  ASSERT_TRUE(members->Join("secret"));
  ASSERT_TRUE(members->Join(direct));
  ASSERT_TRUE(members->WaitFor(IsJoined(direct)));
  // Activity in both rooms while the outsider tries everything.
  for (const std::string& room : {std::string("secret"), direct}) {
    auto sent = As("olga").Send(room, "for members only");
    ASSERT_TRUE(sent.ok()) << sent.status().error_message();
    ASSERT_TRUE(As("olga").UpdateTopic(room, "hush").ok());
    ASSERT_TRUE(As("olga").DeleteMessage(room, sent->seq()).ok());
  }
  ASSERT_TRUE(As("olga").Invite("secret", "bob").ok());
  ASSERT_TRUE(As("olga").Kick("secret", "mel", "just testing").ok());

  Calls eve = As("eve");
  for (const std::string& room : {std::string("secret"), direct}) {
    // Exactly what a room that does not exist answers, word for word.
    const std::string absent = "no-such-room";
    for (const auto& [name, call] : eve.EveryRoomCall()) {
      grpc::Status st = call(room);
      grpc::Status none = call(absent);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << name << " on " << room << ": " << st.error_message();
      EXPECT_EQ(st.error_message(), absl::StrReplaceAll(none.error_message(), {{absent, room}})) << name;
    }
    for (const auto& [name, event] : EveryRoomEvent(room)) {
      ASSERT_TRUE(spy->Write(event));
      const std::string ref = event.ref();  // clang 15 cannot capture a structured binding
      auto error = spy->WaitFor([&](const ServerEvent& e) { return e.ref() == ref; });
      ASSERT_TRUE(error.has_value()) << name;
      ASSERT_TRUE(error->has_error()) << name << ": " << error->ShortDebugString();
      EXPECT_EQ(error->error().code(), chat::v1::Error::NOT_FOUND) << name << ": " << error->error().message();
    }
    auto rooms = eve.ListRooms();
    ASSERT_TRUE(rooms.ok());
    for (const auto& r : rooms->rooms()) EXPECT_NE(r.name(), room);
  }
  // Nothing of either room ever reached the outsider's stream.
  for (const ServerEvent& e : spy->Events()) {
    if (e.has_error()) continue;  // its own refused requests
    const std::string text = e.ShortDebugString();
    EXPECT_THAT(text, ::testing::Not(HasSubstr("secret"))) << text;
    EXPECT_THAT(text, ::testing::Not(HasSubstr(direct))) << text;
    EXPECT_THAT(text, ::testing::Not(HasSubstr("hush"))) << text;
  }
}

TEST_F(MembershipTest, RolesDecideWhoMayDeleteWhichMessageAndChangeTheRoom) {
  MakeSecret();
  auto by_olga = As("olga").Send("secret", "owner's");
  auto by_mel = As("mel").Send("secret", "member's");
  ASSERT_TRUE(by_olga.ok() && by_mel.ok());
  struct Row {
    std::string who;
    std::function<grpc::Status(Calls&)> call;
    grpc::StatusCode expected;
  };
  const int64_t olga_seq = by_olga->seq(), mel_seq = by_mel->seq();
  const std::vector<Row> rows = {
      {"mel", [&](Calls& c) { return c.DeleteMessage("secret", olga_seq); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mel", [&](Calls& c) { return c.UpdateTopic("secret", "mine"); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mel", [&](Calls& c) { return c.Invite("secret", "bob"); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mel", [&](Calls& c) { return c.Kick("secret", "mona", ""); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mona", [&](Calls& c) { return c.Kick("secret", "olga", ""); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mona", [&](Calls& c) { return c.SetRole("secret", "mel", chat::v1::ROLE_MODERATOR); },
       grpc::StatusCode::PERMISSION_DENIED},
      {"mona", [&](Calls& c) { return c.Archive("secret", true); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mona", [&](Calls& c) { return c.DeleteRoom("secret"); }, grpc::StatusCode::PERMISSION_DENIED},
      {"mona", [&](Calls& c) { return c.UpdateTopic("secret", "by a moderator"); }, grpc::StatusCode::OK},
      {"mona", [&](Calls& c) { return c.DeleteMessage("secret", olga_seq); }, grpc::StatusCode::OK},
      {"mel", [&](Calls& c) { return c.DeleteMessage("secret", mel_seq); }, grpc::StatusCode::OK},
      {"mel", [&](Calls& c) { return c.DeleteMessage("secret", 999); }, grpc::StatusCode::NOT_FOUND},
      {"olga", [&](Calls& c) { return c.LeaveRoom("secret"); }, grpc::StatusCode::FAILED_PRECONDITION},
      {"olga", [&](Calls& c) { return c.SetRole("secret", "olga", chat::v1::ROLE_MEMBER); },
       grpc::StatusCode::FAILED_PRECONDITION},
      {"olga", [&](Calls& c) { return c.SetRole("secret", "mel", chat::v1::ROLE_OWNER); }, grpc::StatusCode::OK},
      // mel owns it now; olga is a moderator.
      {"olga", [&](Calls& c) { return c.Archive("secret", true); }, grpc::StatusCode::PERMISSION_DENIED},
      {"olga", [&](Calls& c) { return c.LeaveRoom("secret"); }, grpc::StatusCode::OK},
      {"mel", [&](Calls& c) { return c.Archive("secret", true); }, grpc::StatusCode::OK},
      {"mona", [&](Calls& c) { return c.Send("secret", "late").status(); }, grpc::StatusCode::FAILED_PRECONDITION},
      {"ada", [&](Calls& c) { return c.Archive("secret", false); }, grpc::StatusCode::OK},
      {"ada", [&](Calls& c) { return c.DeleteRoom("secret"); }, grpc::StatusCode::OK},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    Calls calls = As(rows[i].who);
    grpc::Status st = rows[i].call(calls);
    EXPECT_EQ(st.error_code(), rows[i].expected) << "row " << i << " (" << rows[i].who << "): " << st.error_message();
  }
  auto history = As("ada").History("secret");
  EXPECT_EQ(history.status().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(MembershipTest, AKickedUserIsToldWhyAndGetsNothingOfTheRoomAfter) {
  MakeSecret();
  auto mel = Stream("mel");
  ASSERT_TRUE(mel->Join("secret"));
  ASSERT_TRUE(mel->WaitFor(IsJoined("secret")));
  ASSERT_TRUE(As("mona").Kick("secret", "mel", "spam").ok());
  auto left = mel->WaitFor(IsLeft("secret"));
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->left().reason(), "kicked by mona: spam");
  const size_t after_left = mel->Events().size();
  auto kicked = mel->WaitFor([](const ServerEvent& e) {
    return e.has_membership() && e.membership().kind() == MembershipEvent::KICKED;
  });
  ASSERT_TRUE(kicked.has_value());
  EXPECT_EQ(kicked->membership().by(), "mona");
  ASSERT_TRUE(As("olga").Send("secret", "after the kick").ok());
  ASSERT_TRUE(As("olga").UpdateTopic("secret", "new topic").ok());
  EXPECT_EQ(As("mel").Send("secret", "let me back").status().error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(mel->Join("lobby"));
  ASSERT_TRUE(mel->WaitFor(IsJoined("lobby")));  // whatever came meanwhile is in by now
  auto events = mel->Events();
  for (size_t i = after_left; i < events.size(); ++i) {
    EXPECT_THAT(events[i].ShortDebugString(), ::testing::Not(HasSubstr("after the kick")));
    EXPECT_THAT(events[i].ShortDebugString(), ::testing::Not(HasSubstr("new topic")));
  }
}

TEST_F(MembershipTest, ADisabledAccountsStreamsEndAtOnceAndItCannotLogIn) {
  auto bob = Stream("bob");
  ASSERT_TRUE(bob->Join("lobby"));
  ASSERT_TRUE(bob->WaitFor(IsJoined("lobby")));
  EXPECT_EQ(As("olga").Disable("bob", true).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto whoami = As("ada").WhoAmI();
  ASSERT_TRUE(whoami.ok());
  EXPECT_TRUE(whoami->admin());
  EXPECT_FALSE(As("olga").WhoAmI()->admin());
  ASSERT_TRUE(As("ada").Disable("BOB", true).ok());
  auto ended = bob->WaitDone(5s);
  ASSERT_TRUE(ended.has_value()) << "bob's stream is still open";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended->error_message(), HasSubstr("disabled"));
  EXPECT_EQ(As("bob").ListRooms().status().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status login = LoginStatus(auth_.get(), "bob");
  EXPECT_EQ(login.error_code(), grpc::StatusCode::PERMISSION_DENIED) << login.error_message();
  ASSERT_TRUE(As("ada").Disable("bob", false).ok());
  EXPECT_TRUE(LoginStatus(auth_.get(), "bob").ok());
  EXPECT_EQ(As("ada").Disable("nobody", true).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(MembershipTest, TwoUsersOpeningADirectConversationLandInTheSameRoom) {
  auto mel = Stream("mel");
  auto olga = Stream("olga");
  for (auto* live : {mel.get(), olga.get()}) {  // both sessions are live before the room is made
    ASSERT_TRUE(live->Join("lobby"));
    ASSERT_TRUE(live->WaitFor(IsJoined("lobby")));
  }
  auto from_olga = As("olga").OpenDirect({"MEL"});
  ASSERT_TRUE(from_olga.ok()) << from_olga.status().error_message();
  EXPECT_EQ(from_olga->kind(), chat::v1::ROOM_KIND_DIRECT);
  EXPECT_THAT(std::vector<std::string>(from_olga->direct_users().begin(), from_olga->direct_users().end()),
              ::testing::ElementsAre("mel", "olga"));
  // mel's stream hears of it, and mel opens it from the stream.
  auto created = mel->WaitFor([&](const ServerEvent& e) {
    return e.has_room_changed() && e.room_changed().room().name() == from_olga->name();
  });
  ASSERT_TRUE(created.has_value());
  // Each member hears of it with the room's users once each.
  EXPECT_THAT(std::vector<std::string>(created->room_changed().room().direct_users().begin(),
                                       created->room_changed().room().direct_users().end()),
              ::testing::ElementsAre("mel", "olga"));
  EXPECT_EQ(created->room_changed().room().my_role(), chat::v1::ROLE_MEMBER);
  auto also = olga->WaitFor([&](const ServerEvent& e) { return e.has_room_changed(); });
  ASSERT_TRUE(also.has_value());
  EXPECT_EQ(also->room_changed().room().direct_users_size(), 2);
  chat::v1::ClientEvent open;
  open.set_ref("dm");
  open.mutable_open_direct()->add_users("olga");
  open.mutable_open_direct()->add_users("mel");
  ASSERT_TRUE(mel->Write(open));
  auto answer = mel->WaitFor([](const ServerEvent& e) { return e.ref() == "dm"; });
  ASSERT_TRUE(answer.has_value() && answer->has_room()) << (answer ? answer->ShortDebugString() : "none");
  EXPECT_EQ(answer->room().name(), from_olga->name());
  auto three = As("olga").OpenDirect({"mel", "mona"});
  ASSERT_TRUE(three.ok());
  EXPECT_NE(three->name(), from_olga->name());
  EXPECT_EQ(As("olga").OpenDirect({"ghost"}).status().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(As("olga").OpenDirect({"olga"}).status().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(As("olga").OpenDirect({"a", "b", "c", "d", "e", "f", "g", "h", "i"}).status().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(As("olga").Invite(from_olga->name(), "mona").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(As("olga").CreateRoom("dm.mine", chat::v1::ROOM_KIND_PUBLIC).status().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(MembershipTest, AnInvitationArrivesLiveAndAcceptingBringsTheRoom) {
  auto mel = Stream("mel");
  // The stream is live once it answers: an invitation sent before chat-core
  // has taken the stream is not told to it (a clean-clone ASan run, 2026-12-07).
  ASSERT_TRUE(mel->Join("lobby"));
  ASSERT_TRUE(mel->WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(As("olga").CreatePrivate("plans").ok());
  ASSERT_TRUE(As("olga").Invite("plans", "Mel").ok());
  EXPECT_EQ(As("olga").Invite("plans", "mel").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(As("olga").Invite("plans", "ghost").error_code(), grpc::StatusCode::NOT_FOUND);
  auto invited = mel->WaitFor([](const ServerEvent& e) {
    return e.has_membership() && e.membership().kind() == MembershipEvent::INVITED;
  });
  ASSERT_TRUE(invited.has_value());
  EXPECT_EQ(invited->membership().room_info().name(), "plans");
  EXPECT_EQ(invited->membership().by(), "olga");
  auto invites = As("mel").ListInvites();
  ASSERT_TRUE(invites.ok());
  ASSERT_EQ(invites->invites_size(), 1);
  EXPECT_EQ(invites->invites(0).invited_by(), "olga");
  EXPECT_GT(invites->invites(0).invited_at().seconds(), 1'700'000'000);
  // Invited is not in: the room stays hidden until accepted.
  EXPECT_EQ(As("mel").History("plans").status().error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(As("mel").Respond("plans", true).ok());
  EXPECT_EQ(As("mel").Respond("plans", true).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(mel->WaitFor([](const ServerEvent& e) {
    return e.has_room_changed() && e.room_changed().kind() == chat::v1::RoomChanged::CREATED &&
           e.room_changed().room().name() == "plans" && e.room_changed().room().my_role() == chat::v1::ROLE_MEMBER;
  }));
  ASSERT_TRUE(As("mel").History("plans").ok());
  // A decline leaves no trace; a ban keeps the user from being invited.
  ASSERT_TRUE(As("olga").Invite("plans", "bob").ok());
  ASSERT_TRUE(As("bob").Respond("plans", false).ok());
  EXPECT_EQ(As("bob").ListInvites()->invites_size(), 0);
  ASSERT_TRUE(As("olga").Ban("plans", "bob", "no").ok());
  EXPECT_EQ(As("olga").Invite("plans", "bob").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  auto listed = As("olga").ListMembers("plans");
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(std::vector<std::string>(listed->banned().begin(), listed->banned().end()),
              ::testing::ElementsAre("bob"));
  ASSERT_EQ(listed->members_size(), 2);
  EXPECT_EQ(listed->members(0).user(), "mel");
  EXPECT_EQ(listed->members(1).role(), chat::v1::ROLE_OWNER);
  EXPECT_EQ(As("mel").ListMembers("plans")->banned_size(), 0);  // moderators only
}

TEST_F(MembershipTest, ADeletedMessageIsATombstoneLiveInHistoryAndInReplay) {
  auto watcher = Stream("mel");
  ASSERT_TRUE(watcher->Join("lobby"));
  ASSERT_TRUE(watcher->WaitFor(IsJoined("lobby")));
  std::vector<int64_t> seqs;
  for (const char* text : {"one", "two", "three"}) seqs.push_back(As("olga").Send("lobby", text)->seq());
  ASSERT_TRUE(As("olga").DeleteMessage("lobby", seqs[1]).ok());
  ASSERT_TRUE(watcher->WaitFor([&](const ServerEvent& e) {
    return e.has_message_deleted() && e.message_deleted().seq() == seqs[1] && e.message_deleted().by() == "olga";
  }));
  auto history = As("mel").History("lobby");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->messages_size(), 3);
  EXPECT_TRUE(history->messages(1).deleted());
  EXPECT_EQ(history->messages(1).text(), "");
  EXPECT_EQ(history->messages(1).author(), "olga");
  EXPECT_FALSE(history->messages(2).deleted());
  // A resume from memory replays the tombstone too.
  auto late = Stream("mona");
  ASSERT_TRUE(late->Join("lobby", seqs[0] - 1));
  ASSERT_TRUE(late->WaitFor(IsJoined("lobby")));
  auto replayed = late->Messages("lobby");
  ASSERT_EQ(replayed.size(), 3u);
  EXPECT_TRUE(replayed[1].deleted());
  EXPECT_EQ(replayed[1].text(), "");
  EXPECT_EQ(As("mel").DeleteMessage("lobby", seqs[0]).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(MembershipTest, ABanFromAPublicRoomHoldsAcrossARestart) {
  // On a file, so the restart keeps it.
  core::CoreOptions o = Options();
  const std::string path = ::testing::TempDir() + "/membership-restart.db";
  std::remove(path.c_str());
  o.store.path = path;
  auto first = std::make_unique<TestCore>(o);
  auto chat = first->Chat();
  auto auth = first->Auth();
  std::string olga = first->Token("olga"), bob = first->Token("bob");
  Calls owner(chat.get(), auth.get(), olga);
  ASSERT_TRUE(owner.CreateRoom("town", chat::v1::ROOM_KIND_PUBLIC).ok());
  {
    EventClient stream(chat.get(), bob);
    ASSERT_TRUE(stream.Join("town"));
    ASSERT_TRUE(stream.WaitFor(IsJoined("town")));
    ASSERT_TRUE(owner.Ban("town", "bob", "trolling").ok());
    auto left = stream.WaitFor(IsLeft("town"));
    ASSERT_TRUE(left.has_value());
    EXPECT_EQ(left->left().reason(), "banned by olga: trolling");
    ASSERT_TRUE(stream.Join("town", std::nullopt, "again"));
    auto refused = stream.WaitFor([](const ServerEvent& e) { return e.ref() == "again"; });
    ASSERT_TRUE(refused && refused->has_error());
    EXPECT_EQ(refused->error().code(), chat::v1::Error::PERMISSION_DENIED);
    // Nor may a banned user post or read without joining.
    Calls banned(chat.get(), auth.get(), bob);
    EXPECT_EQ(banned.Send("town", "still here").status().error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(banned.History("town").status().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  chat.reset();
  auth.reset();
  first.reset();
  TestCore second(o);
  auto chat2 = second.Chat();
  auto auth2 = second.Auth();
  EventClient stream(chat2.get(), second.Token("bob"));
  ASSERT_TRUE(stream.Join("town", std::nullopt, "after"));
  auto refused = stream.WaitFor([](const ServerEvent& e) { return e.ref() == "after"; });
  ASSERT_TRUE(refused && refused->has_error()) << (refused ? refused->ShortDebugString() : "none");
  EXPECT_EQ(refused->error().code(), chat::v1::Error::PERMISSION_DENIED);
  Calls owner2(chat2.get(), auth2.get(), second.Token("olga"));
  auto town = owner2.GetRoom("town");
  ASSERT_TRUE(town.ok());
  EXPECT_EQ(town->my_role(), chat::v1::ROLE_OWNER);
  ASSERT_TRUE(owner2.Unban("town", "bob").ok());
  ASSERT_TRUE(stream.Join("town"));
  EXPECT_TRUE(stream.WaitFor(IsJoined("town")));
}

}  // namespace
}  // namespace chat::testing
