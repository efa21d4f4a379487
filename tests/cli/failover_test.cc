// End-to-end tests of `--server A,B` (issue #25): two chat-core nodes A and B
// on one SQLite file, used one after the other (B starts on A's database only
// after A was killed with SIGKILL), a node that hangs, and bad server lists.
// The interactive mode's failover is in interactive_test.cc.
#include <signal.h>

#include <chrono>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli_test_util.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// `chat --server <servers> args...` as `user`.
RunResult ChatAt(const User& user, const std::string& servers, std::vector<std::string> args) {
  args.insert(args.begin(), "--server=" + servers);
  return RunChat(args, CliEnv(user));
}

// Sends through `servers` and returns the message's seq.
int64_t SendAt(const User& user, const std::string& servers, const std::string& room,
               const std::string& text) {
  RunResult r = ChatAt(user, servers, {"send", "--json", room, text});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return ParseJson<chat::v1::SendMessageResponse>(r.out).message().seq();
}

TEST_F(CliTest, TailMovesToTheNextNodeWhenItsNodeDies) {
  UseTwoNodes();
  User alice("alice");
  Login(alice);
  auto tail = Start(alice, {"tail", "lobby", "--since", "0", "--json"});
  ASSERT_NE(tail, nullptr);
  std::vector<chat::v1::Message> seen;
  EXPECT_EQ(SendAt(alice, first_node(), "lobby", "one via A"), 1);
  EXPECT_EQ(SendAt(alice, first_node(), "lobby", "two via A"), 2);
  ReadUntilSeq(tail.get(), 2, &seen);

  core_->Kill9();
  // No node is up: a send tries both and says so.
  RunResult down = Chat(alice, {"send", "lobby", "lost"});
  EXPECT_EQ(down.exit_code, 5) << down.err;
  ExpectOneLineError(down);
  EXPECT_THAT(down.err, HasSubstr("cannot reach chat-core at " + first_node()));
  EXPECT_THAT(down.err, HasSubstr("cannot reach chat-core at " + second_node()));

  StartSecondNode();
  // Sent at once, most likely before tail found B: it must get them on resume.
  EXPECT_EQ(SendAt(alice, second_node(), "lobby", "three via B"), 3);
  EXPECT_EQ(SendAt(alice, second_node(), "lobby", "four via B"), 4);
  ReadUntilSeq(tail.get(), 4, &seen);
  // Through the list: A refuses, B takes it.
  EXPECT_EQ(SendAt(alice, ServerFlag(), "lobby", "five via the list"), 5);
  ReadUntilSeq(tail.get(), 5, &seen);

  // Every message exactly once, in seq order.
  EXPECT_THAT(Seqs(seen), ElementsAre(1, 2, 3, 4, 5));
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[1].text(), "two via A");
  EXPECT_EQ(seen[2].text(), "three via B");
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);
  // stdout is a clean stream of messages; the notices went to stderr.
  std::vector<std::string> lines = Lines(tail->stdout_text());
  EXPECT_EQ(lines.size(), 5u) << tail->stdout_text();
  for (const auto& line : lines) ParseJson<chat::v1::Message>(line);
  EXPECT_THAT(tail->stderr_text(), HasSubstr("connection lost"));
  EXPECT_THAT(tail->stderr_text(), HasSubstr("reconnecting to " + second_node()));
  EXPECT_THAT(tail->stderr_text(), HasSubstr("reconnected to " + second_node()));
}

TEST_F(CliTest, CommandsUseTheNextNodeWhenOneIsDown) {
  UseTwoNodes();
  User alice("alice");
  Login(alice);  // A is up, B down: A answers
  CreateRoom(alice, "general");
  // Only UNAVAILABLE moves on: A's "not found" is final, not B's "cannot reach".
  RunResult missing = Chat(alice, {"history", "nope"});
  EXPECT_EQ(missing.exit_code, 4) << missing.err;

  core_->Kill9();
  StartSecondNode();
  RunResult sent = Chat(alice, {"send", "general", "while A is down"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_EQ(sent.out, "sent #1 to general\n");
  RunResult who = Chat(alice, {"whoami"});
  ASSERT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, StartsWith("alice on " + second_node()));
  RunResult history = Chat(alice, {"history", "general", "--json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_EQ(ParseJson<chat::v1::Message>(history.out).text(), "while A is down");
  // Register and login move on too.
  User bob("bob");
  Login(bob);
  EXPECT_EQ(Chat(bob, {"rooms"}).exit_code, 0);
}

TEST_F(CliTest, TokensAreSavedForTheListAndFoundByAnyOfItsAddresses) {
  UseTwoNodes();
  User alice("alice");
  Login(alice);
  std::ifstream in(alice.CredentialsPath());
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(file, HasSubstr("default " + ServerFlag() + "\n"));
  EXPECT_THAT(file, HasSubstr("token " + ServerFlag() + " alice "));

  // The same list, one of its addresses, the list in another order: one token.
  for (const std::string& servers :
       {ServerFlag(), first_node(), absl::StrCat(second_node(), ",", first_node())}) {
    RunResult who = ChatAt(alice, servers, {"whoami"});
    EXPECT_EQ(who.exit_code, 0) << servers << ": " << who.err;
  }
  // Without --server: the list logged in with last.
  EXPECT_EQ(RunChat({"whoami"}, CliEnv(alice)).exit_code, 0);
  // Never sent to an address it was not saved for.
  RunResult other = ChatAt(alice, absl::StrCat(first_node(), ",127.0.0.1:1"), {"whoami"});
  EXPECT_EQ(other.exit_code, 3) << other.err;
  EXPECT_THAT(other.err, HasSubstr("not logged in to " + first_node() + ",127.0.0.1:1"));

  // Logging out through one address forgets the list's token.
  RunResult out = ChatAt(alice, first_node(), {"logout"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "logged out alice from " + ServerFlag() + "\n");
  EXPECT_EQ(Chat(alice, {"whoami"}).exit_code, 3);
}

// A node that accepts connections but never answers costs one connect timeout
// (3 s), then the next node answers.
TEST_F(CliTest, AHangingNodeIsPassedOverAfterTheConnectTimeout) {
  auto hanging = HeldPort::Hanging();
  // Logged in with the working node first; the token is saved for both.
  server_list_ = absl::StrCat(server(), ",", hanging->address());
  User alice("alice");
  Login(alice);
  auto start = std::chrono::steady_clock::now();
  RunResult sent = ChatAt(alice, absl::StrCat(hanging->address(), ",", server()),
                          {"send", "lobby", "past the hanging node"});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_EQ(sent.out, "sent #1 to lobby\n");
  EXPECT_GE(took, 2s) << "the hanging node was not tried first";
  EXPECT_LT(took, 9s) << "the hanging node held the call for its whole deadline";
}

TEST(ServerListTest, BadListsAreUsageErrors) {
  User user("nobody");
  struct Case {
    std::string servers;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{{",", "has an empty address (number 1 of 2)"},
                                         {"a:1,,b:2", "has an empty address (number 2 of 3)"},
                                         {"", "is empty"},
                                         {"a:99999", "'a:99999' has a bad port '99999'"},
                                         {"a:1,b:x", "'b:x' has a bad port 'x'"},
                                         {"a", "'a' has no port"},
                                         {"a:1,a:1", "'a:1' is listed twice"}}) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"whoami"}, {"send", "lobby", "hi"}, {"tail", "lobby"}, {"lobby"}}) {
      std::vector<std::string> argv = {"--server", c.servers};
      argv.insert(argv.end(), args.begin(), args.end());
      RunResult r = RunChat(argv, CliEnv(user));
      EXPECT_EQ(r.exit_code, 2) << c.servers << " " << args[0] << ": " << r.err;
      ExpectOneLineError(r);
      EXPECT_THAT(r.err, HasSubstr(c.says)) << c.servers;
      EXPECT_THAT(r.err, HasSubstr("give HOST:PORT[,HOST:PORT...]"));
    }
  }
  auto env = CliEnv(user);
  env["CHAT_SERVER"] = "a:1,";
  RunResult r = RunChat({"rooms"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, StartsWith("chat: CHAT_SERVER 'a:1,' has an empty address"));
}

}  // namespace
}  // namespace chat::cli::testing
