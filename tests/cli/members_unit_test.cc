// Unit tests for private rooms, DMs, membership and moderation: parsing of the
// new subcommands, the text for rooms, roles and events, tables, the narrator.
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "args.h"
#include "command_util.h"
#include "event_narrator.h"
#include "exit_codes.h"
#include "format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "room_text.h"

namespace chat::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using chat::v1::MembershipEvent;
const std::vector<std::string> kNewCommands = {
    "dm",     "delete",  "topic", "archive", "unarchive", "delete-room", "members", "invite", "invites",
    "accept", "decline", "leave", "kick",    "ban",       "unban",       "role",    "users",  "disable",
    "enable"};

TEST(MembersArgsTest, EveryNewCommandIsListedWithHelp) {
  std::string main_help = MainHelp();
  for (const auto& name : kNewCommands) {
    const CommandSpec* c = FindCommand(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_THAT(main_help, HasSubstr("  " + name + " ")) << name;
    EXPECT_FALSE(c->examples.empty()) << name;
    EXPECT_THAT(CommandHelp(*c), HasSubstr("usage: chat " + name)) << name;
    // A command name is no longer a room for `chat WORD`.
    auto p = ParseArgs({name, "--help"});
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(p->command, name);
    EXPECT_FALSE(p->implied_join);
  }
  EXPECT_THAT(main_help, HasSubstr("not allowed"));
}

TEST(MembersArgsTest, ArgumentCounts) {
  struct Case {
    std::vector<std::string> argv;
    bool ok;
  };
  const std::vector<Case> cases = {
      {{"dm", "bob"}, true},
      {{"dm", "bob", "carol", "dave"}, true},
      {{"dm"}, false},
      {{"create", "secret", "--private"}, true},
      {{"create", "--private", "--topic", "plans", "secret"}, true},
      {{"create", "secret", "--topic"}, false},
      {{"invite", "secret", "bob"}, true},
      {{"invite", "secret"}, false},
      {{"invite", "secret", "bob", "carol"}, false},
      {{"invites"}, true},
      {{"invites", "secret"}, false},
      {{"accept", "secret"}, true},
      {{"accept"}, false},
      {{"decline", "secret"}, true},
      {{"decline", "a", "b"}, false},
      {{"members", "general"}, true},
      {{"members"}, false},
      {{"leave", "secret"}, true},
      {{"leave"}, false},
      {{"kick", "general", "mallory"}, true},
      {{"kick", "general", "mallory", "--reason", "spam"}, true},
      {{"kick", "general"}, false},
      {{"ban", "general", "mallory", "-r", "spam"}, true},
      {{"unban", "general", "mallory"}, true},
      {{"unban", "general", "mallory", "--reason", "x"}, false},
      {{"role", "general", "bob", "moderator"}, true},
      {{"role", "general", "bob"}, false},
      {{"topic", "general"}, true},
      {{"topic", "general", "release", "on", "friday"}, true},
      {{"archive", "general"}, true},
      {{"archive"}, false},
      {{"unarchive", "general"}, true},
      {{"delete-room", "general"}, true},
      {{"delete-room", "general", "--yes"}, true},
      {{"delete-room", "-y", "general"}, true},
      {{"delete-room"}, false},
      {{"delete", "general", "42"}, true},
      {{"delete", "general"}, false},
      {{"delete", "general", "1", "2"}, false},
      {{"users", "al"}, true},
      {{"users", "al", "-n", "5"}, true},
      {{"users"}, false},
      {{"disable", "mallory"}, true},
      {{"disable"}, false},
      {{"enable", "mallory"}, true},
      {{"enable", "a", "b"}, false},
  };
  for (const auto& c : cases) {
    auto p = ParseArgs(c.argv);
    EXPECT_EQ(p.ok(), c.ok) << absl::StrJoin(c.argv, " ") << ": " << p.status();
    if (!p.ok()) {
      EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(ExitCodeFor(p.status()), kExitUsage);
    }
  }
}

TEST(MembersArgsTest, OptionsAndArguments) {
  auto dm = ParseArgs({"dm", "bob", "carol", "-m", "lunch?", "--json"});
  ASSERT_TRUE(dm.ok()) << dm.status();
  EXPECT_THAT(dm->args, ElementsAre("bob", "carol"));
  EXPECT_EQ(dm->Get("message"), "lunch?");
  EXPECT_TRUE(dm->Has("json"));

  auto create = ParseArgs({"create", "--private", "secret", "--topic=Q3 plans"});
  ASSERT_TRUE(create.ok()) << create.status();
  EXPECT_THAT(create->args, ElementsAre("secret"));
  EXPECT_TRUE(create->Has("private"));
  EXPECT_EQ(create->Get("topic"), "Q3 plans");

  auto kick = ParseArgs({"kick", "general", "mallory", "-rspam"});
  ASSERT_TRUE(kick.ok()) << kick.status();
  EXPECT_EQ(kick->Get("reason"), "spam");

  auto topic = ParseArgs({"topic", "general", "--", "-1", "is", "odd"});
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_THAT(topic->args, ElementsAre("general", "-1", "is", "odd"));

  auto clear = ParseArgs({"topic", "general", ""});
  ASSERT_TRUE(clear.ok()) << clear.status();
  EXPECT_THAT(clear->args, ElementsAre("general", ""));

  auto del = ParseArgs({"delete-room", "general", "--yes"});
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->Has("yes"));
  EXPECT_FALSE(ParseArgs({"delete-room", "general", "--yes=no"}).ok());
  EXPECT_FALSE(ParseArgs({"send", "general", "--private"}).ok()) << "--private is create's";
}

TEST(RoomTextTest, KindsAndRoles) {
  EXPECT_EQ(RoomKindName(chat::v1::ROOM_KIND_UNSPECIFIED), "public");
  EXPECT_EQ(RoomKindName(chat::v1::ROOM_KIND_PUBLIC), "public");
  EXPECT_EQ(RoomKindName(chat::v1::ROOM_KIND_PRIVATE), "private");
  EXPECT_EQ(RoomKindName(chat::v1::ROOM_KIND_DIRECT), "direct");
  EXPECT_EQ(RoleName(chat::v1::ROLE_UNSPECIFIED), "");
  EXPECT_EQ(RoleName(chat::v1::ROLE_OWNER), "owner");
  EXPECT_EQ(*ParseRole("member"), chat::v1::ROLE_MEMBER);
  EXPECT_EQ(*ParseRole("Moderator"), chat::v1::ROLE_MODERATOR);
  EXPECT_EQ(*ParseRole("OWNER"), chat::v1::ROLE_OWNER);
  EXPECT_FALSE(ParseRole("").ok());
  auto bad = ParseRole("admin");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("member, moderator or owner, not 'admin'"));
}

TEST(RoomTextTest, DirectUsers) {
  auto users = DirectUsers({"bob", "Carol", "BOB", "alice", "ALICE", "carol"}, "alice");
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_THAT(*users, ElementsAre("bob", "Carol")) << "repeats (any case) and me are dropped";

  auto only_me = DirectUsers({"Alice"}, "alice");
  ASSERT_FALSE(only_me.ok());
  EXPECT_THAT(std::string(only_me.status().message()), HasSubstr("at least one user besides you"));

  std::vector<std::string> nine;
  for (int i = 0; i < 9; ++i) nine.push_back("user" + std::to_string(i));
  auto too_many = DirectUsers(nine, "alice");
  ASSERT_FALSE(too_many.ok());
  EXPECT_THAT(std::string(too_many.status().message()), HasSubstr("at most 9 users"));
  nine.pop_back();
  EXPECT_TRUE(DirectUsers(nine, "alice").ok()) << "8 others is the most";
  nine.push_back("alice");
  EXPECT_TRUE(DirectUsers(nine, "alice").ok()) << "me does not count";

  auto bad = DirectUsers({"bob", "no way"}, "alice");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);

  chat::v1::Room room;
  room.set_kind(chat::v1::ROOM_KIND_DIRECT);
  room.add_direct_users("Alice");
  room.add_direct_users("bob");
  room.add_direct_users("carol");
  EXPECT_EQ(DirectPeers(room, "alice"), "bob, carol");
  EXPECT_EQ(DirectPeers(room, "dave"), "Alice, bob, carol");
}

MembershipEvent Membership(MembershipEvent::Kind kind, const std::string& user, const std::string& by,
                           const std::string& reason = "", chat::v1::Role role = chat::v1::ROLE_UNSPECIFIED) {
  MembershipEvent e;
  e.set_room("general");
  e.set_kind(kind);
  e.set_user(user);
  e.set_by(by);
  e.set_reason(reason);
  e.set_role(role);
  return e;
}

TEST(RoomTextTest, MembershipSentences) {
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::INVITED, "bob", "alice"), "carol"),
            "alice invited bob to #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::INVITED, "bob", "alice"), "bob"),
            "alice invited you to #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::INVITED, "bob", "alice"), "ALICE"),
            "you invited bob to #general") << "names compare in any case";
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::JOINED, "bob", "bob"), "carol"),
            "bob became a member of #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::JOINED, "bob", "alice"), "carol"),
            "alice added bob to #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::DECLINED, "bob", "bob"), "alice"),
            "bob declined the invitation to #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::LEFT, "bob", "bob"), "bob"),
            "you left #general (no longer a member)");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::KICKED, "bob", "alice", "spam"), "bob"),
            "alice kicked you from #general: spam");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::KICKED, "bob", "alice"), "carol"),
            "alice kicked bob from #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::BANNED, "bob", "", "flood"), "bob"),
            "you were banned from #general: flood");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::BANNED, "bob", "alice"), "alice"),
            "you banned bob from #general");
  EXPECT_EQ(DescribeMembership(Membership(MembershipEvent::UNBANNED, "bob", "alice"), "carol"),
            "alice unbanned bob in #general");
  EXPECT_EQ(DescribeMembership(
                Membership(MembershipEvent::ROLE_CHANGED, "bob", "alice", "", chat::v1::ROLE_MODERATOR), "bob"),
            "alice made you a moderator of #general");
  EXPECT_EQ(DescribeMembership(
                Membership(MembershipEvent::ROLE_CHANGED, "alice", "", "", chat::v1::ROLE_MODERATOR), "alice"),
            "you are now a moderator of #general");
  EXPECT_EQ(DescribeMembership(
                Membership(MembershipEvent::ROLE_CHANGED, "bob", "alice", "", chat::v1::ROLE_OWNER), "carol"),
            "alice made bob the owner of #general");
  // Other people's words cannot drive the terminal.
  std::string evil = DescribeMembership(Membership(MembershipEvent::KICKED, "bob", "alice", "\x1b[2Jx\ny"), "bob");
  EXPECT_EQ(evil.find('\x1b'), std::string::npos) << evil;
  EXPECT_EQ(evil.find('\n'), std::string::npos) << evil;
}

TEST(RoomTextTest, RoomChanges) {
  chat::v1::Room before;
  before.set_name("general");
  chat::v1::Room after = before;
  EXPECT_THAT(DescribeRoomUpdate(&before, after), IsEmpty());
  after.set_topic("release on friday");
  EXPECT_THAT(DescribeRoomUpdate(&before, after), ElementsAre("the topic of #general is now: release on friday"));
  EXPECT_THAT(DescribeRoomUpdate(&after, before), ElementsAre("the topic of #general was cleared"));
  chat::v1::Room archived = after;
  archived.set_archived(true);
  EXPECT_THAT(DescribeRoomUpdate(&after, archived), ElementsAre("#general is archived: read-only from now on"));
  EXPECT_THAT(DescribeRoomUpdate(&archived, after), ElementsAre("#general is no longer archived"));
  EXPECT_THAT(DescribeRoomUpdate(nullptr, archived),
              ElementsAre("the topic of #general is now: release on friday", "#general is archived: read-only from now on"));

  chat::v1::Room pub;
  pub.set_name("news");
  pub.set_created_by("bob");
  EXPECT_EQ(DescribeRoomCreated(pub, "alice"), "new room #news (by bob)");
  EXPECT_EQ(DescribeRoomCreated(pub, "bob"), "new room #news (by you)");
  chat::v1::Room priv = pub;
  priv.set_kind(chat::v1::ROOM_KIND_PRIVATE);
  EXPECT_EQ(DescribeRoomCreated(priv, "alice"), "you are now a member of the private room #news");
  chat::v1::Room dm;
  dm.set_name("dm.0123456789abcdef01234567");
  dm.set_kind(chat::v1::ROOM_KIND_DIRECT);
  dm.add_direct_users("alice");
  dm.add_direct_users("bob");
  EXPECT_EQ(DescribeRoomCreated(dm, "alice"), "direct conversation with bob: #dm.0123456789abcdef01234567");
}

TEST(RoomTextTest, LeftAndItsStatus) {
  chat::v1::Left left;
  left.set_room("general");
  left.set_reason("kicked by alice: spam");
  EXPECT_EQ(DescribeLeft(left), "you are no longer in #general: kicked by alice: spam");
  EXPECT_EQ(LeftStatus(left).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ExitCodeFor(LeftStatus(left)), kExitUnauthenticated);
  left.set_reason("banned by alice");
  EXPECT_EQ(LeftStatus(left).code(), absl::StatusCode::kPermissionDenied);
  left.set_reason("room deleted");
  EXPECT_EQ(LeftStatus(left).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LeftStatus(left).message(), "you are no longer in #general: room deleted");
  left.set_reason("you left the room");
  EXPECT_TRUE(LeftStatus(left).ok());
  left.set_reason("something new");
  EXPECT_EQ(LeftStatus(left).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RoomTextTest, TombstonesAndDeletions) {
  setenv("TZ", "UTC", 1);
  chat::v1::Message m;
  m.set_room("general");
  m.set_seq(7);
  m.set_author("bob");
  m.set_deleted(true);
  MessageLayout layout;
  layout.seq_width = 3;
  EXPECT_EQ(FormatMessage(m, layout, Style(false)), "#7   00:00:00  bob  (deleted)");
  EXPECT_EQ(FormatChatMessage(m, false, Style(false)), "00:00:00 bob: (deleted)");
  EXPECT_THAT(FormatMessage(m, layout, Style(true)), HasSubstr("\x1b[2m(deleted)\x1b[0m"));

  chat::v1::MessageDeleted d;
  d.set_room("general");
  d.set_seq(7);
  d.set_by("alice");
  EXPECT_EQ(FormatDeletion(d, layout, Style(false)), "#7   (deleted by alice)");
  layout.with_room = true;
  EXPECT_EQ(FormatDeletion(d, layout, Style(false)), "#7   [general] (deleted by alice)");
  EXPECT_EQ(DescribeDeletion(d, "bob"), "alice deleted message #7 in #general");
  EXPECT_EQ(DescribeDeletion(d, "alice"), "you deleted message #7 in #general");
}

TEST(RoomTextTest, Tables) {
  setenv("TZ", "UTC", 1);
  std::vector<chat::v1::Room> rooms(3);
  rooms[0].set_name("dm.0123456789abcdef01234567");
  rooms[0].set_kind(chat::v1::ROOM_KIND_DIRECT);
  rooms[0].add_direct_users("alice");
  rooms[0].add_direct_users("bob");
  rooms[1].set_name("general");
  rooms[1].set_topic("all things");
  rooms[1].set_member_count(2);
  rooms[1].set_last_seq(40);
  rooms[1].set_created_by("alice");
  rooms[2].set_name("secret");
  rooms[2].set_kind(chat::v1::ROOM_KIND_PRIVATE);
  rooms[2].set_archived(true);
  rooms[2].set_topic(std::string(100, 'x'));
  std::string table = FormatRoomsTable(rooms, "alice", Style(false));
  EXPECT_EQ(table,
            "ROOM                         KIND                ONLINE  MESSAGES  CREATED BY  CREATED           TOPIC\n"
            "dm.0123456789abcdef01234567  direct              0       0         -           1970-01-01 00:00  with bob\n"
            "general                      public              2       40        alice       1970-01-01 00:00  all things\n"
            "secret                       private (archived)  0       0         -           1970-01-01 00:00  " +
                std::string(59, 'x') + "\xE2\x80\xA6\n");

  chat::v1::Room lobby;
  lobby.set_name("lobby");
  EXPECT_EQ(FormatRoomsTable({lobby}, "alice", Style(false)),
            "ROOM   KIND    ONLINE  MESSAGES  CREATED BY  CREATED           TOPIC\n"
            "lobby  public  0       0         -           1970-01-01 00:00\n")
      << "no trailing blanks without a topic";

  chat::v1::ListMembersResponse members;
  auto* a = members.add_members();
  a->set_user("alice");
  a->set_role(chat::v1::ROLE_OWNER);
  a->set_online(true);
  auto* b = members.add_members();
  b->set_user("bob");
  b->set_role(chat::v1::ROLE_MEMBER);
  members.add_invited("carol");
  members.add_banned("mallory");
  EXPECT_EQ(FormatMembersTable(members, Style(false)),
            "USER     ROLE     ONLINE\n"
            "alice    owner    yes\n"
            "bob      member   -\n"
            "carol    invited  -\n"
            "mallory  banned   -\n");

  chat::v1::ListInvitesResponse invites;
  auto* i = invites.add_invites();
  i->mutable_room()->set_name("secret");
  i->mutable_room()->set_kind(chat::v1::ROOM_KIND_PRIVATE);
  i->mutable_room()->set_topic("plans");
  i->set_invited_by("alice");
  i->mutable_invited_at()->set_seconds(86400);
  EXPECT_EQ(FormatInvitesTable(invites, Style(false)),
            "ROOM    KIND     INVITED BY  INVITED           TOPIC\n"
            "secret  private  alice       1970-01-02 00:00  plans\n");
  i->clear_invited_at();
  EXPECT_THAT(FormatInvitesTable(invites, Style(false)), HasSubstr("alice       -       ")) << "time unknown";
}

TEST(RoomTextTest, HeadColumns) {
  EXPECT_EQ(HeadColumns("short", 10), "short");
  EXPECT_EQ(HeadColumns("exactly10!", 10), "exactly10!");
  EXPECT_EQ(HeadColumns("a bit longer", 6), "a bit\xE2\x80\xA6");
  EXPECT_EQ(HeadColumns("日本語です", 5), "日本\xE2\x80\xA6") << "wide characters are not split";
}

TEST(CommandUtilTest, ActionErrorsSayWhatFailed) {
  absl::Status denied = ActionError(absl::PermissionDeniedError("only moderators may kick"), "kick bob from general");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "cannot kick bob from general: only moderators may kick");
  EXPECT_EQ(ExitCodeFor(denied), 3);
  EXPECT_EQ(ExitCodeFor(ActionError(absl::NotFoundError("no room 'x'"), "kick bob from x")), 4);
  // Connection and login problems keep their own words (they say what to do).
  absl::Status gone = absl::UnavailableError("cannot reach chat-core at a:1 (Connection refused)");
  EXPECT_EQ(ActionError(gone, "kick bob from x"), gone);
  absl::Status login = absl::UnauthenticatedError("session expired (run 'chat login')");
  EXPECT_EQ(ActionError(login, "kick bob from x"), login);
  absl::Status tls = TlsError("TLS failed");
  EXPECT_TRUE(IsTlsError(ActionError(tls, "kick")));
  EXPECT_TRUE(ActionError(absl::OkStatus(), "kick").ok());

  EXPECT_TRUE(ValidateShortText(std::string(256, 'x'), "the topic").ok());
  absl::Status long_topic = ValidateShortText(std::string(257, 'x'), "the topic");
  EXPECT_EQ(long_topic.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(long_topic.message()), HasSubstr("the topic is too long: 257 bytes"));
  EXPECT_FALSE(ValidateShortText("bad \xFF", "the reason").ok());
}

chat::v1::ServerEvent Event(const MembershipEvent& m) {
  chat::v1::ServerEvent e;
  *e.mutable_membership() = m;
  return e;
}

chat::v1::ServerEvent LeftEvent(const std::string& room, const std::string& reason) {
  chat::v1::ServerEvent e;
  e.mutable_left()->set_room(room);
  e.mutable_left()->set_reason(reason);
  return e;
}

TEST(EventNarratorTest, BeingPutOutIsToldOnceWhateverTheOrder) {
  EventNarrator n("bob");
  auto kicked = Event(Membership(MembershipEvent::KICKED, "bob", "alice", "spam"));
  EXPECT_THAT(n.Narrate(kicked), ElementsAre("alice kicked you from #general: spam"));
  EXPECT_THAT(n.Narrate(LeftEvent("general", "kicked by alice: spam")), IsEmpty());
  // The other order, after being let back in.
  chat::v1::Room room;
  room.set_name("general");
  n.TrackRoom(room);
  EXPECT_THAT(n.Narrate(LeftEvent("general", "banned by alice")),
              ElementsAre("you are no longer in #general: banned by alice"));
  EXPECT_THAT(n.Narrate(Event(Membership(MembershipEvent::BANNED, "bob", "alice"))), IsEmpty());
  // A deleted room: `left` and RoomChanged DELETED.
  n.TrackRoom(room);
  chat::v1::ServerEvent deleted;
  deleted.mutable_room_changed()->set_kind(chat::v1::RoomChanged::DELETED);
  deleted.mutable_room_changed()->mutable_room()->set_name("general");
  EXPECT_THAT(n.Narrate(deleted), ElementsAre("#general was deleted"));
  EXPECT_THAT(n.Narrate(LeftEvent("general", "room deleted")), IsEmpty());
  // The answer to our own /leave is not news.
  EXPECT_THAT(n.Narrate(LeftEvent("general", "")), IsEmpty());
}

TEST(EventNarratorTest, OthersInvitesUpdatesAndDeletions) {
  EventNarrator n("bob");
  EXPECT_THAT(n.Narrate(Event(Membership(MembershipEvent::KICKED, "mallory", "alice"))),
              ElementsAre("alice kicked mallory from #general"));
  MembershipEvent invited = Membership(MembershipEvent::INVITED, "bob", "alice");
  invited.set_room("secret");
  EXPECT_THAT(n.Narrate(Event(invited)),
              ElementsAre("alice invited you to #secret (/accept secret or /decline secret)"));
  EXPECT_THAT(n.Narrate(Event(Membership(MembershipEvent::JOINED, "bob", "bob"))), IsEmpty())
      << "RoomChanged CREATED tells that";

  chat::v1::ServerEvent update;
  update.mutable_room_changed()->set_kind(chat::v1::RoomChanged::UPDATED);
  update.mutable_room_changed()->mutable_room()->set_name("general");
  update.mutable_room_changed()->mutable_room()->set_topic("new topic");
  EXPECT_THAT(n.Narrate(update), IsEmpty()) << "not in #general";
  chat::v1::Room general;
  general.set_name("general");
  n.TrackRoom(general);
  EXPECT_THAT(n.Narrate(update), ElementsAre("the topic of #general is now: new topic"));
  EXPECT_THAT(n.Narrate(update), IsEmpty()) << "nothing changed since";

  chat::v1::Message m;
  m.set_room("general");
  m.set_seq(3);
  m.set_author("carol");
  m.set_text("a message that is long enough to be cut short in the line");
  n.SawMessage(m);
  chat::v1::ServerEvent del;
  del.mutable_message_deleted()->set_room("general");
  del.mutable_message_deleted()->set_seq(3);
  del.mutable_message_deleted()->set_by("alice");
  EXPECT_THAT(n.Narrate(del),
              ElementsAre("alice deleted carol's message \"a message that is long enough to be cut\xE2\x80\xA6\""));
  del.mutable_message_deleted()->set_by("carol");
  EXPECT_THAT(n.Narrate(del), ElementsAre(HasSubstr("carol deleted their message")));
  del.mutable_message_deleted()->set_seq(4);
  EXPECT_THAT(n.Narrate(del), ElementsAre("carol deleted message #4 in #general")) << "not seen here";
}

TEST(EventNarratorTest, RemembersOnlyRecentMessages) {
  EventNarrator n("bob", 2);
  for (int seq = 1; seq <= 3; ++seq) {
    chat::v1::Message m;
    m.set_room("general");
    m.set_seq(seq);
    m.set_author("carol");
    m.set_text("hi");
    n.SawMessage(m);
  }
  chat::v1::ServerEvent del;
  del.mutable_message_deleted()->set_room("general");
  del.mutable_message_deleted()->set_by("carol");
  del.mutable_message_deleted()->set_seq(1);
  EXPECT_THAT(n.Narrate(del), ElementsAre("carol deleted message #1 in #general"));
  del.mutable_message_deleted()->set_seq(3);
  EXPECT_THAT(n.Narrate(del), ElementsAre("carol deleted their message \"hi\""));
}

}  // namespace
}  // namespace chat::cli
