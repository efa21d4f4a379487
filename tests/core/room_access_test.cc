// The permission table of docs/protocol.md ("Who may do what"), one row per
// role and action, on RoomAccess alone (the calls that use it are tested
// with a real chat-core in membership_test.cc).
#include "room_access.h"
#include "room_change.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace chat::core {
namespace {

using Code = absl::StatusCode;

MemberRecord Row(const std::string& user, MemberState state, Role role = Role::kNone) {
  MemberRecord r;
  r.room_id = 1;
  r.user = user;
  r.state = state;
  r.role = role;
  return r;
}

std::unique_ptr<RoomAccess> MakeRoom(RoomKind kind) {
  RoomRecord rec;
  rec.id = 1;
  rec.name = "r";
  rec.kind = kind;
  auto room = std::make_unique<RoomAccess>(rec);
  if (kind == RoomKind::kDirect) {
    room->SetRow(Row("Dora", MemberState::kMember, Role::kMember));
    room->SetRow(Row("dan", MemberState::kMember, Role::kMember));
    return room;
  }
  room->SetRow(Row("Olga", MemberState::kMember, Role::kOwner));
  room->SetRow(Row("mona", MemberState::kMember, Role::kModerator));
  room->SetRow(Row("mel", MemberState::kMember, Role::kMember));
  room->SetRow(Row("ivy", MemberState::kInvited));
  room->SetRow(Row("bob", MemberState::kBanned));
  return room;
}

Actor As(const std::string& user) { return Actor{user, user == "ada"}; }

struct PermissionCase {
  RoomKind kind;
  std::string actor;
  RoomAction action;
  std::string target;
  Code expected;
};

std::string Name(RoomKind kind) {
  return kind == RoomKind::kPublic ? "public" : kind == RoomKind::kPrivate ? "private" : "direct";
}

TEST(RoomAccessTest, EveryRoleAndActionIsAllowedOrRefusedAsTheTableSays) {
  const RoomKind kPriv = RoomKind::kPrivate, kPub = RoomKind::kPublic, kDm = RoomKind::kDirect;
  const Code ok = Code::kOk, denied = Code::kPermissionDenied, precondition = Code::kFailedPrecondition;
  const std::vector<PermissionCase> cases = {
      // Invitations: moderators and up.
      {kPriv, "olga", RoomAction::kInvite, "", ok},
      {kPriv, "mona", RoomAction::kInvite, "", ok},
      {kPriv, "mel", RoomAction::kInvite, "", denied},
      {kPriv, "ada", RoomAction::kInvite, "", ok},
      {kPub, "nina", RoomAction::kInvite, "", denied},
      {kPub, "mona", RoomAction::kInvite, "", ok},
      // Kicks and bans: a role above the target's.
      {kPriv, "olga", RoomAction::kKick, "mel", ok},
      {kPriv, "mona", RoomAction::kKick, "mel", ok},
      {kPriv, "mona", RoomAction::kKick, "MONA", denied},
      {kPriv, "mona", RoomAction::kKick, "olga", denied},
      {kPriv, "mel", RoomAction::kKick, "mel", denied},
      {kPriv, "mel", RoomAction::kKick, "ivy", denied},
      {kPriv, "ada", RoomAction::kKick, "olga", ok},
      {kPriv, "mona", RoomAction::kBan, "mel", ok},
      {kPriv, "mona", RoomAction::kBan, "nina", ok},
      {kPriv, "mel", RoomAction::kBan, "nina", denied},
      {kPriv, "mona", RoomAction::kBan, "olga", denied},
      {kPub, "mona", RoomAction::kKick, "nina", ok},
      {kPub, "nina", RoomAction::kKick, "mel", denied},
      {kPub, "mona", RoomAction::kBan, "nina", ok},
      {kPriv, "mona", RoomAction::kUnban, "bob", ok},
      {kPriv, "mel", RoomAction::kUnban, "bob", denied},
      // Owner only: roles, archive, delete.
      {kPriv, "olga", RoomAction::kSetRole, "mel", ok},
      {kPriv, "mona", RoomAction::kSetRole, "mel", denied},
      {kPriv, "ada", RoomAction::kSetRole, "mel", ok},
      {kPriv, "olga", RoomAction::kArchive, "", ok},
      {kPriv, "mona", RoomAction::kArchive, "", denied},
      {kPriv, "olga", RoomAction::kDeleteRoom, "", ok},
      {kPriv, "mona", RoomAction::kDeleteRoom, "", denied},
      {kPriv, "mel", RoomAction::kDeleteRoom, "", denied},
      {kPriv, "ada", RoomAction::kDeleteRoom, "", ok},
      {kPub, "nina", RoomAction::kDeleteRoom, "", denied},
      // Topic, others' messages, invitation and ban lists: moderators and up.
      {kPriv, "mona", RoomAction::kSetTopic, "", ok},
      {kPriv, "mel", RoomAction::kSetTopic, "", denied},
      {kPriv, "mona", RoomAction::kDeleteOthersMessage, "", ok},
      {kPriv, "mel", RoomAction::kDeleteOthersMessage, "", denied},
      {kPub, "nina", RoomAction::kDeleteOthersMessage, "", denied},
      {kPriv, "mona", RoomAction::kSeeInvitedAndBanned, "", ok},
      {kPriv, "mel", RoomAction::kSeeInvitedAndBanned, "", denied},
      // A direct conversation has no moderation; its members set the topic.
      {kDm, "dora", RoomAction::kInvite, "", precondition},
      {kDm, "dora", RoomAction::kKick, "dan", precondition},
      {kDm, "ada", RoomAction::kBan, "dan", precondition},
      {kDm, "dora", RoomAction::kSetRole, "dan", precondition},
      {kDm, "dora", RoomAction::kArchive, "", precondition},
      {kDm, "dora", RoomAction::kDeleteRoom, "", precondition},
      {kDm, "dora", RoomAction::kSetTopic, "", ok},
      {kDm, "dora", RoomAction::kDeleteOthersMessage, "", denied},
      {kDm, "ada", RoomAction::kDeleteOthersMessage, "", ok},
  };
  for (const PermissionCase& c : cases) {
    auto room = MakeRoom(c.kind);
    absl::Status st = room->Check(As(c.actor), c.action, c.target);
    EXPECT_EQ(st.code(), c.expected) << Name(c.kind) << " room, " << c.actor << ", action "
                                     << static_cast<int>(c.action) << " on '" << c.target << "': " << st;
    if (!st.ok()) EXPECT_FALSE(st.message().empty());
  }
}

TEST(RoomAccessTest, OnlyMembersAndAdminsSeeAPrivateOrDirectRoom) {
  auto priv = MakeRoom(RoomKind::kPrivate);
  EXPECT_TRUE(priv->MaySee(As("mel")));
  EXPECT_TRUE(priv->MaySee(As("MEL")));  // names compare without case
  EXPECT_TRUE(priv->MaySee(As("ada")));
  EXPECT_FALSE(priv->MaySee(As("nina")));
  EXPECT_FALSE(priv->MaySee(As("ivy")));  // invited, not yet in
  EXPECT_FALSE(priv->MaySee(As("bob")));  // banned
  auto dm = MakeRoom(RoomKind::kDirect);
  EXPECT_TRUE(dm->MaySee(As("dora")));
  EXPECT_FALSE(dm->MaySee(As("nina")));
  auto pub = MakeRoom(RoomKind::kPublic);
  EXPECT_TRUE(pub->MaySee(As("nina")));
  EXPECT_TRUE(pub->MaySee(As("bob")));
}

TEST(RoomAccessTest, ABannedUserCannotJoinAPublicRoomAndAnArchivedRoomTakesNoMessages) {
  auto pub = MakeRoom(RoomKind::kPublic);
  EXPECT_TRUE(pub->CheckJoin(As("nina")).ok());
  EXPECT_EQ(pub->CheckJoin(As("bob")).code(), Code::kPermissionDenied);
  EXPECT_TRUE(pub->CheckJoin(As("ada")).ok());
  EXPECT_TRUE(pub->CheckSend("r").ok());
  pub->SetSettings("a topic", true);
  absl::Status st = pub->CheckSend("r");
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("archived"), absl::string_view::npos) << st;
}

TEST(RoomAccessTest, RolesAndTheDescriptionFollowTheRows) {
  auto pub = MakeRoom(RoomKind::kPublic);
  EXPECT_EQ(pub->RoleOf(As("nina")), Role::kMember);  // anyone in a public room
  EXPECT_EQ(pub->RoleOf(As("bob")), Role::kNone);
  EXPECT_EQ(pub->RoleOf(As("olga")), Role::kOwner);
  EXPECT_EQ(pub->RoleOf(As("ada")), Role::kOwner);
  pub->SetRow(Row("mel", MemberState::kNone));
  EXPECT_EQ(pub->Row("mel").state, MemberState::kNone);
  EXPECT_EQ(pub->Members(), (std::vector<std::string>{"mona", "Olga"}));
  chat::v1::Room described;
  pub->Describe("OLGA", &described);
  EXPECT_EQ(described.my_role(), chat::v1::ROLE_OWNER);
  EXPECT_EQ(described.kind(), chat::v1::ROOM_KIND_PUBLIC);
  auto dm = MakeRoom(RoomKind::kDirect);
  chat::v1::Room direct;
  dm->Describe("nina", &direct);
  EXPECT_EQ(direct.my_role(), chat::v1::ROLE_UNSPECIFIED);
  EXPECT_EQ(std::vector<std::string>(direct.direct_users().begin(), direct.direct_users().end()),
            (std::vector<std::string>{"dan", "Dora"}));
}

TEST(RoomChangeTest, ANoteDecodesToTheSameChangeAndAnythingElseIsRefused) {
  RoomChange change{NewRoomChangeId(), 42, {}};
  change.event.mutable_membership()->set_room("team");
  change.event.mutable_membership()->set_user("mel");
  change.event.mutable_membership()->set_kind(chat::v1::MembershipEvent::KICKED);
  change.event.mutable_membership()->set_reason("spam: it had a colon");
  auto back = DecodeRoomChange(EncodeRoomChange(change));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, change.id);
  EXPECT_EQ(back->room_id, 42);
  EXPECT_EQ(back->event.SerializeAsString(), change.event.SerializeAsString());
  EXPECT_NE(NewRoomChangeId(), change.id);
  for (const char* bad : {"", "x", "12:3", "zz:1:AA==", "1:x:AA==", "1:2:%%%", "1:2:AA==:extra"}) {
    EXPECT_EQ(DecodeRoomChange(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace chat::core
