// End-to-end tests of private rooms, direct messages, membership and
// moderation: the real `chat` binary against a real chat-core.
#include <signal.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli_test_util.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class MembersTest : public CliTest {
 protected:
  // Runs a command that must succeed; returns its stdout.
  std::string Ok(const User& user, std::vector<std::string> args,
                 const std::optional<std::string>& stdin_data = std::nullopt) {
    RunResult r = Chat(user, args, stdin_data);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    return r.out;
  }
  // Runs a command that must fail with `exit_code`, as one line on stderr
  // containing `text`, with nothing on stdout.
  void Refused(const User& user, std::vector<std::string> args, int exit_code, const std::string& text) {
    RunResult r = Chat(user, args);
    std::string what = absl::StrJoin(args, " ");
    EXPECT_EQ(r.exit_code, exit_code) << what << ": " << r.err;
    ExpectOneLineError(r);
    EXPECT_THAT(r.err, HasSubstr(text)) << what;
    EXPECT_EQ(r.out, "") << what;
  }
  std::vector<std::string> RoomNames(const User& user) {
    std::vector<std::string> names;
    for (const auto& line : Lines(Ok(user, {"rooms", "--json"}))) {
      names.push_back(ParseJson<chat::v1::Room>(line).name());
    }
    return names;
  }
  // alice owns the private room `secret`; bob is a member of it.
  void SecretWithAliceAndBob(const User& alice, const User& bob) {
    Ok(alice, {"create", "--private", "secret"});
    Ok(alice, {"invite", "secret", "bob"});
    Ok(bob, {"accept", "secret"});
  }
};

TEST_F(MembersTest, DirectMessagesBetweenTwoUsers) {
  User alice("alice"), bob("bob"), carol("carol");
  Login(alice);
  Login(bob);
  Login(carol);
  // In a pipe `chat dm` prints only the room's name, for $(chat dm bob).
  std::string out = Ok(alice, {"dm", "bob"});
  ASSERT_EQ(Lines(out).size(), 1u) << out;
  const std::string room = Lines(out)[0];
  EXPECT_THAT(room, StartsWith("dm."));
  EXPECT_EQ(room.size(), 3u + 24u);
  EXPECT_EQ(Lines(Ok(bob, {"dm", "ALICE", "bob"}))[0], room) << "the same users, the same room";

  EXPECT_EQ(Send(alice, room, "hi bob"), 1);
  RunResult sent = Chat(bob, {"dm", "alice", "-m", "hi alice", "--json"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  auto response = ParseJson<chat::v1::SendMessageResponse>(sent.out);
  EXPECT_EQ(response.message().room(), room);
  EXPECT_EQ(response.message().seq(), 2);
  EXPECT_THAT(Ok(alice, {"dm", "bob", "--message", "third"}), StartsWith("sent #3 to " + room + " (with bob)"));
  std::vector<std::string> texts;
  for (const auto& line : Lines(Ok(bob, {"history", room, "--json"}))) {
    texts.push_back(ParseJson<chat::v1::Message>(line).text());
  }
  EXPECT_THAT(texts, ElementsAre("hi bob", "hi alice", "third"));

  auto info = ParseJson<chat::v1::Room>(Ok(alice, {"dm", "bob", "--json"}));
  EXPECT_EQ(info.name(), room);
  EXPECT_EQ(info.kind(), chat::v1::ROOM_KIND_DIRECT);
  EXPECT_THAT(info.direct_users(), ElementsAre("alice", "bob"));
  EXPECT_THAT(RoomNames(bob), Contains(room));
  std::string table = Ok(bob, {"rooms"});
  EXPECT_THAT(table, HasSubstr("direct"));
  EXPECT_THAT(table, HasSubstr("with alice"));

  // Nobody else sees it, and it reads as if it did not exist.
  EXPECT_THAT(RoomNames(carol), Not(Contains(room)));
  Refused(carol, {"history", room}, 4, "room '" + room + "' does not exist");
  Refused(carol, {"send", room, "let me in"}, 4, "does not exist");
  // Bad users.
  Refused(alice, {"dm", "nobody"}, 4, "no user 'nobody'");
  Refused(alice, {"dm", "alice"}, 2, "at least one user besides you");
  Refused(alice, {"dm", "user1", "user2", "user3", "user4", "user5", "user6", "user7", "user8", "user9"}, 2, "at most 9 users");
  Refused(alice, {"create", "dm.0123456789abcdef01234567"}, 2, "direct rooms");
}

TEST_F(MembersTest, PrivateRoomInviteAcceptAndMembers) {
  User alice("alice"), bob("bob"), carol("carol");
  Login(alice);
  Login(bob);
  Login(carol);
  RunResult created = Chat(alice, {"create", "--private", "secret", "--topic", "Q3 plans", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto room = ParseJson<chat::v1::Room>(created.out);
  EXPECT_EQ(room.kind(), chat::v1::ROOM_KIND_PRIVATE);
  EXPECT_EQ(room.topic(), "Q3 plans");
  EXPECT_EQ(room.my_role(), chat::v1::ROLE_OWNER);
  EXPECT_THAT(RoomNames(bob), Not(Contains("secret"))) << "unlisted";
  Refused(bob, {"history", "secret"}, 4, "room 'secret' does not exist");
  Refused(bob, {"accept", "secret"}, 4, "cannot accept the invitation to secret");

  EXPECT_THAT(Ok(alice, {"invite", "secret", "bob"}), StartsWith("invited bob to secret"));
  Refused(alice, {"invite", "secret", "bob"}, 6, "cannot invite bob to secret");
  Refused(alice, {"invite", "secret", "nobody"}, 4, "nobody");
  auto invite = ParseJson<chat::v1::Invite>(Ok(bob, {"invites", "--json"}));
  EXPECT_EQ(invite.room().name(), "secret");
  EXPECT_EQ(invite.invited_by(), "alice");
  EXPECT_THAT(Ok(bob, {"invites"}), AllOf(HasSubstr("secret"), HasSubstr("private"), HasSubstr("alice")));
  Refused(bob, {"history", "secret"}, 4, "room 'secret' does not exist");  // invited, not yet a member

  EXPECT_THAT(Ok(bob, {"accept", "secret"}), StartsWith("you are now a member of secret"));
  EXPECT_EQ(Ok(bob, {"invites"}), "") << "nothing pending, nothing printed in a pipe";
  EXPECT_THAT(RoomNames(bob), Contains("secret"));
  EXPECT_EQ(Send(bob, "secret", "thanks"), 1);

  auto members = ParseJson<chat::v1::ListMembersResponse>(Ok(alice, {"members", "secret", "--json"}));
  ASSERT_EQ(members.members_size(), 2) << members.DebugString();
  EXPECT_EQ(members.members(0).user(), "alice");
  EXPECT_EQ(members.members(0).role(), chat::v1::ROLE_OWNER);
  EXPECT_EQ(members.members(1).user(), "bob");
  EXPECT_EQ(members.members(1).role(), chat::v1::ROLE_MEMBER);
  std::vector<std::string> lines = Lines(Ok(bob, {"members", "secret"}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], StartsWith("USER"));
  EXPECT_THAT(lines[1], AllOf(StartsWith("alice"), HasSubstr("owner")));
  EXPECT_THAT(lines[2], AllOf(StartsWith("bob"), HasSubstr("member")));

  // carol declines; moderators see who is invited meanwhile.
  Ok(alice, {"invite", "secret", "carol"});
  members = ParseJson<chat::v1::ListMembersResponse>(Ok(alice, {"members", "secret", "--json"}));
  EXPECT_THAT(members.invited(), ElementsAre("carol"));
  EXPECT_THAT(Ok(alice, {"members", "secret"}), HasSubstr("invited"));
  EXPECT_THAT(Ok(carol, {"decline", "secret"}), StartsWith("declined the invitation to secret"));
  Refused(carol, {"members", "secret"}, 4, "room 'secret' does not exist");

  // The owner hands over before leaving; bob leaves.
  Refused(alice, {"leave", "secret"}, 1, "hand over ownership first");
  auto role = ParseJson<chat::v1::MembershipEvent>(Ok(alice, {"role", "secret", "bob", "moderator", "--json"}));
  EXPECT_EQ(role.role(), chat::v1::ROLE_MODERATOR);
  EXPECT_THAT(Ok(bob, {"leave", "secret"}), StartsWith("you are no longer a member of secret"));
  Refused(bob, {"history", "secret"}, 4, "room 'secret' does not exist");
}

TEST_F(MembersTest, ModerationErrorsHaveTheirExitCodes) {
  User alice("alice"), bob("bob"), carol("carol");
  Login(alice);
  Login(bob);
  Login(carol);
  SecretWithAliceAndBob(alice, bob);
  // A member who is not a moderator: PERMISSION_DENIED, exit 3.
  Refused(bob, {"kick", "secret", "alice"}, 3, "cannot kick alice from secret: ");
  Refused(bob, {"ban", "secret", "alice", "--reason", "coup"}, 3, "cannot ban alice from secret: ");
  Refused(bob, {"invite", "secret", "carol"}, 3, "cannot invite carol to secret: ");
  Refused(bob, {"role", "secret", "bob", "owner"}, 3, "cannot make bob owner of secret: ");
  Refused(bob, {"archive", "secret"}, 3, "cannot archive secret: ");
  // Not a member of a private room: NOT_FOUND, exit 4, as if it did not exist.
  Refused(carol, {"kick", "secret", "bob"}, 4, "room 'secret' does not exist");
  Refused(carol, {"ban", "secret", "bob"}, 4, "room 'secret' does not exist");
  Refused(carol, {"members", "secret"}, 4, "room 'secret' does not exist");
  Refused(alice, {"kick", "nope", "bob"}, 4, "room 'nope' does not exist");
  // Bad input never reaches chat-core.
  Refused(alice, {"role", "secret", "bob", "admin"}, 2, "member, moderator or owner");
  Refused(alice, {"kick", "secret", "bob", "--reason", std::string(300, 'x')}, 2, "too long");

  // The owner kicks, with a reason; kicking again is a state error (exit 1).
  RunResult kicked = Chat(alice, {"kick", "secret", "bob", "--reason", "spam", "--json"});
  ASSERT_EQ(kicked.exit_code, 0) << kicked.err;
  auto event = ParseJson<chat::v1::MembershipEvent>(kicked.out);
  EXPECT_EQ(event.kind(), chat::v1::MembershipEvent::KICKED);
  EXPECT_EQ(event.user(), "bob");
  EXPECT_EQ(event.reason(), "spam");
  Refused(bob, {"history", "secret"}, 4, "room 'secret' does not exist");
  Refused(alice, {"kick", "secret", "bob"}, 1, "cannot kick bob from secret: ");

  // Bans in a public room.
  CreateRoom(alice, "general");
  Refused(bob, {"ban", "general", "alice"}, 3, "cannot ban alice from general: ");
  EXPECT_THAT(Ok(alice, {"ban", "general", "carol", "-r", "flood"}), StartsWith("banned carol from general (flood)"));
  // A banned user cannot follow the room (tail joins it).
  Refused(carol, {"tail", "general"}, 3, "banned");
  Refused(alice, {"invite", "general", "carol"}, 1, "unban them first");
  EXPECT_THAT(Ok(alice, {"unban", "general", "carol"}), StartsWith("unbanned carol in general"));
  Refused(alice, {"unban", "general", "carol"}, 1, "cannot unban carol in general: ");
  // Let back in: the interactive mode (line mode, from a pipe) joins and sends.
  Ok(carol, {"general", "-n", "0"}, "back again\n/quit\n");
  EXPECT_THAT(Ok(alice, {"history", "general"}), HasSubstr("carol  back again"));
}

TEST_F(MembersTest, DeletingAMessageLeavesATombstone) {
  User alice("alice"), bob("bob");
  Login(alice);
  Login(bob);
  Send(bob, "lobby", "oops, wrong room");
  Send(alice, "lobby", "hello");
  Refused(alice, {"delete", "lobby", "1"}, 3, "cannot delete #1 in lobby: ");  // bob's; alice is no moderator
  Refused(bob, {"delete", "lobby", "99"}, 4, "cannot delete #99 in lobby: ");
  Refused(bob, {"delete", "lobby", "one"}, 2, "SEQ must be a message number");
  EXPECT_EQ(Ok(bob, {"delete", "lobby", "1"}), "deleted #1 in lobby\n");
  auto deleted = ParseJson<chat::v1::MessageDeleted>(Ok(alice, {"delete", "lobby", "#2", "--json"}));
  EXPECT_EQ(deleted.seq(), 2);
  EXPECT_EQ(deleted.by(), "alice");

  std::vector<std::string> lines = Lines(Ok(alice, {"history", "lobby"}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], AllOf(StartsWith("#1  "), HasSubstr("bob"), HasSubstr("(deleted)")));
  EXPECT_THAT(lines[0], Not(HasSubstr("oops")));
  std::vector<chat::v1::Message> messages;
  for (const auto& line : Lines(Ok(bob, {"history", "lobby", "--json"}))) {
    messages.push_back(ParseJson<chat::v1::Message>(line));
  }
  ASSERT_EQ(messages.size(), 2u);
  for (const auto& m : messages) {
    EXPECT_TRUE(m.deleted()) << m.seq();
    EXPECT_EQ(m.text(), "") << m.seq();
  }
}

TEST_F(MembersTest, TailShowsDeletionsAndEndsWhenKicked) {
  User alice("alice"), bob("bob");
  Login(alice);
  Login(bob);
  CreateRoom(alice, "general");
  auto tail = Start(bob, {"tail", "general", "--since", "0", "--json"});
  ASSERT_NE(tail, nullptr);
  EXPECT_EQ(Send(alice, "general", "one"), 1);
  ASSERT_THAT(Seqs(ReadUntilSeq(tail.get(), 1)), ElementsAre(1));
  Ok(alice, {"delete", "general", "1"});
  auto line = tail->WaitForLine("{", 10s);
  ASSERT_TRUE(line) << tail->stderr_text();
  auto tombstone = ParseJson<chat::v1::Message>(*line);
  EXPECT_EQ(tombstone.seq(), 1);
  EXPECT_TRUE(tombstone.deleted());

  Ok(alice, {"topic", "general", "be nice"});
  Ok(alice, {"kick", "general", "bob", "--reason", "spam"});
  EXPECT_EQ(tail->Wait(10s), 3) << tail->stderr_text();
  EXPECT_THAT(tail->stderr_text(), HasSubstr("the topic of #general is now: be nice"));
  EXPECT_THAT(tail->stderr_text(), HasSubstr("chat: you are no longer in #general: kicked by alice"));
  EXPECT_THAT(tail->stderr_text(), HasSubstr("spam"));
}

TEST_F(MembersTest, TopicArchiveAndDeleteRoom) {
  User alice("alice"), bob("bob");
  Login(alice);
  Login(bob);
  CreateRoom(alice, "general");
  EXPECT_EQ(Ok(alice, {"topic", "general"}), "") << "no topic yet";
  EXPECT_EQ(Ok(alice, {"topic", "general", "release", "on", "friday"}),
            "the topic of general is now: release on friday\n");
  EXPECT_EQ(Ok(bob, {"topic", "general"}), "release on friday\n");
  EXPECT_THAT(Ok(bob, {"rooms"}), HasSubstr("release on friday"));
  Refused(bob, {"topic", "general", "mine now"}, 3, "cannot set the topic of general: ");
  Refused(alice, {"topic", "general", std::string(257, 'x')}, 2, "too long");

  EXPECT_THAT(Ok(alice, {"archive", "general"}), StartsWith("archived general"));
  auto room = ParseJson<chat::v1::Room>(Ok(bob, {"topic", "general", "--json"}));
  EXPECT_TRUE(room.archived());
  EXPECT_THAT(Ok(bob, {"rooms"}), HasSubstr("public (archived)"));
  Refused(bob, {"send", "general", "anyone?"}, 1, "archived");
  Ok(alice, {"unarchive", "general"});
  Send(bob, "general", "anyone?");

  Refused(bob, {"delete-room", "general", "--yes"}, 3, "cannot delete room general: ");
  // stdin is not a terminal: no question, no deletion.
  Refused(alice, {"delete-room", "general"}, 2, "add --yes");
  EXPECT_EQ(Ok(alice, {"delete-room", "general", "--yes"}), "deleted room general\n");
  Refused(alice, {"history", "general"}, 4, "general");
  EXPECT_THAT(RoomNames(bob), Not(Contains("general")));
}

TEST_F(MembersTest, UserSearchAndAccountsDisabledByAnAdmin) {
  core_->Stop();
  core_ = CoreProcess::Start(data_.File("chat.db"), {"--admins=alice"});
  ASSERT_NE(core_, nullptr);
  User alice("alice"), alina("alina"), bob("bob");
  Login(alice);
  Login(alina);
  Login(bob);
  EXPECT_EQ(Ok(bob, {"users", "AL"}), "alice\nalina\n");
  EXPECT_EQ(Ok(bob, {"users", "al", "-n", "1"}), "alice\n");
  auto found = ParseJson<chat::v1::SearchUsersResponse>(Ok(bob, {"users", "b", "--json"}));
  EXPECT_THAT(found.users(), ElementsAre("bob"));
  EXPECT_EQ(Ok(bob, {"users", "zz"}), "");
  Refused(bob, {"users", "al", "-n", "21"}, 2, "--limit");

  EXPECT_THAT(Ok(alice, {"whoami"}), HasSubstr("(server admin)"));
  Refused(bob, {"disable", "alina"}, 3, "cannot disable alina: ");
  auto disabled = ParseJson<chat::v1::DisableAccountResponse>(Ok(alice, {"disable", "bob", "--json"}));
  EXPECT_EQ(disabled.username(), "bob");
  RunResult login = Chat(bob, {"login", "bob"}, std::nullopt, {{"CHAT_PASSWORD", kPassword}});
  EXPECT_EQ(login.exit_code, 3) << login.err;
  EXPECT_THAT(login.err, HasSubstr("account disabled"));
  EXPECT_THAT(Ok(alice, {"enable", "bob"}), StartsWith("enabled bob"));
  Login(bob);
}

// The interactive mode tells what happens to rooms and members as "--" lines,
// being kicked once, and moves on to a room it is still in.
TEST_F(MembersTest, InteractiveModeNarratesInvitesKicksAndDeletions) {
  if (!Tmux::Available()) GTEST_SKIP() << "tmux is not installed";
  User alice("alice"), bob("bob");
  Login(alice);
  Login(bob);
  CreateRoom(alice, "general");
  Ok(alice, {"create", "--private", "secret"});
  Tmux tmux;
  auto env = CliEnv(bob);
  env["TERM"] = "xterm";
  ASSERT_TRUE(tmux.Start({chat::testing::BinaryPath("chat"), "--server", ServerFlag(), "general"}, env));
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#general>"; }));

  Ok(alice, {"invite", "secret", "bob"});
  ASSERT_TRUE(tmux.WaitForText("-- alice invited you to #secret (/accept secret or /decline secret)"));
  tmux.Type("/accept secret");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#secret>"; }));
  tmux.Type("/members");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return absl::StrContains(s, "alice  owner"); }));

  Send(bob, "general", "a message to regret");
  ASSERT_TRUE(tmux.WaitForText("bob: a message to regret"));
  Ok(alice, {"delete", "general", "1"});
  ASSERT_TRUE(tmux.WaitForText("-- alice deleted your message \"a message to regret\""));

  Ok(alice, {"kick", "secret", "bob", "--reason", "spam"});
  Send(alice, "general", "after the kick");
  auto screen = tmux.WaitForText("alice: after the kick");
  ASSERT_TRUE(screen);
  EXPECT_EQ(LastLine(*screen), "#general>") << *screen;
  size_t told = 0;
  for (const auto& line : Lines(*screen)) {
    if (absl::StrContains(line, "kicked you from #secret") || absl::StrContains(line, "no longer in #secret")) ++told;
  }
  EXPECT_EQ(told, 1u) << *screen;
  EXPECT_THAT(*screen, HasSubstr("spam"));
}

}  // namespace
}  // namespace chat::cli::testing
