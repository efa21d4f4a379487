// End-to-end tests of the interactive mode: driven through a real pseudo-terminal
// (tmux send-keys / capture-pane), and in line mode through pipes.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "cli_test_util.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class InteractiveTest : public CliTest {
 protected:
  void SetUp() override {
    if (!Tmux::Available()) GTEST_SKIP() << "tmux is not installed";
    CliTest::SetUp();
  }

  // Opens `chat ROOM` for `user` in tmux and waits for the input line.
  void Open(Tmux* tmux, const User& user, const std::string& room,
            std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {chat::testing::BinaryPath("chat"), "--server", ServerFlag(), room};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto env = CliEnv(user);
    env["TERM"] = "xterm";
    ASSERT_TRUE(tmux->Start(argv, env));
    ASSERT_TRUE(tmux->WaitFor([&](const std::string& s) {
      return absl::StrContains(s, "-- talking in #" + room) && LastLine(s) == "#" + room + ">";
    })) << "the interactive mode did not start";
  }

  std::vector<std::string> HistoryTexts(const User& user, const std::string& room) {
    RunResult r = Chat(user, {"history", room, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> texts;
    for (const auto& line : Lines(r.out)) texts.push_back(ParseJson<chat::v1::Message>(line).text());
    return texts;
  }
};

TEST_F(InteractiveTest, IncomingMessagesDoNotTearTheInputLine) {
  User alice("alice");
  User bob("bob");
  Login(alice);
  Login(bob);
  CreateRoom(alice, "general");
  Send(bob, "general", "earlier");
  Tmux tmux;
  Open(&tmux, alice, "general");
  // The backlog is shown above the prompt.
  EXPECT_THAT(tmux.Screen(), HasSubstr("bob: earlier"));

  tmux.Type("half a thought");
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#general> half a thought"; }));
  for (int i = 1; i <= 3; ++i) Send(bob, "general", absl::StrCat("interruption ", i));
  auto screen = tmux.WaitForText("bob: interruption 3");
  ASSERT_TRUE(screen);
  // Each incoming line is whole and above the input line, which is intact.
  EXPECT_EQ(LastLine(*screen), "#general> half a thought") << *screen;
  std::vector<std::string> lines = Lines(*screen);
  int found = 0;
  for (const auto& line : lines) {
    if (absl::StrContains(line, "bob: interruption")) {
      ++found;
      EXPECT_THAT(line, ::testing::MatchesRegex("[0-9:]+ bob: interruption [0-9] *")) << line;
    }
  }
  EXPECT_EQ(found, 3);

  // Finish the line and send it; editing keys work.
  tmux.Type(", finished!!");
  tmux.Keys({"BSpace", "Enter"});
  ASSERT_TRUE(tmux.WaitForText("alice: half a thought, finished!"));
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#general>"; }));
  tmux.Type("/quit");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("[exit 0]"));
  EXPECT_THAT(HistoryTexts(alice, "general"), Contains("half a thought, finished!"));
}

TEST_F(InteractiveTest, SlashCommands) {
  User alice("alice");
  User bob("bob");
  Login(alice);
  Login(bob);
  CreateRoom(alice, "general");
  CreateRoom(alice, "random");
  Tmux tmux;
  Open(&tmux, alice, "general");

  // bob joins (a tail is a live session): alice sees him arrive, and /who lists him.
  auto bob_tail = Start(bob, {"tail", "general"});
  ASSERT_TRUE(tmux.WaitForText("-- bob joined #general"));
  tmux.Type("/who");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("in #general (2): alice, bob"));

  tmux.Type("/rooms");
  tmux.Keys({"Enter"});
  auto rooms = tmux.WaitForText("random");
  ASSERT_TRUE(rooms);
  EXPECT_THAT(*rooms, HasSubstr("ROOM"));
  EXPECT_THAT(*rooms, ::testing::ContainsRegex("\\* +general +public +2"));

  // /join switches rooms; messages from the other room show their room name.
  tmux.Type("/join random");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("-- joined #random"));
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#random>"; }));
  tmux.Type("hello random");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("alice: hello random"));
  Send(bob, "general", "meanwhile in general");
  ASSERT_TRUE(tmux.WaitForText("#general bob: meanwhile in general"));

  tmux.Type("//slash is literal");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("alice: /slash is literal"));
  tmux.Type("/nonsense");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("error: unknown command /nonsense"));

  tmux.Type("/leave");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("-- left #random"));
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#general>"; }));

  // bob leaves: alice is told.
  bob_tail->Signal(SIGINT);
  EXPECT_EQ(bob_tail->Wait(10s), 0);
  ASSERT_TRUE(tmux.WaitForText("-- bob left #general"));

  tmux.Type("/quit");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("[exit 0]"));
  EXPECT_THAT(HistoryTexts(alice, "random"), ElementsAre("hello random", "/slash is literal"));
}

TEST_F(InteractiveTest, CtrlCQuitsAndRestoresTheTerminal) {
  User alice("alice");
  Login(alice);
  Tmux tmux;
  std::vector<std::string> argv = {"sh", "-c",
                                   absl::StrCat(chat::testing::BinaryPath("chat"), " --server ",
                                                server(), " lobby; stty -a | tr ' ' '\\n' | "
                                                "grep -x -e icanon -e -icanon -e echo -e -echo | "
                                                "tr '\\n' ' '")};
  auto env = CliEnv(alice);
  env["TERM"] = "xterm";
  ASSERT_TRUE(tmux.Start(argv, env));
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) { return LastLine(s) == "#lobby>"; }));
  tmux.Type("never sent");
  tmux.Keys({"C-c"});
  auto screen = tmux.WaitForText("[exit 0]");
  ASSERT_TRUE(screen);
  EXPECT_THAT(*screen, HasSubstr("icanon echo"));
  EXPECT_THAT(HistoryTexts(alice, "lobby"), ElementsAre());
}

TEST_F(InteractiveTest, LongInputScrollsInsteadOfWrapping) {
  User alice("alice");
  Login(alice);
  Tmux tmux;
  Open(&tmux, alice, "lobby");
  tmux.Resize(60, 30);
  std::string text;
  for (int i = 0; i < 12; ++i) absl::StrAppend(&text, "word", i, " ");
  text += "END";
  tmux.Type(text);
  auto screen = tmux.WaitFor([](const std::string& s) { return absl::EndsWith(LastLine(s), "END"); });
  ASSERT_TRUE(screen);
  std::string last = LastLine(*screen);
  EXPECT_THAT(last, StartsWith("#lobby> "));
  EXPECT_LE(last.size(), 60u);
  EXPECT_EQ(screen->find("word0"), std::string::npos) << "the start scrolled out of view:\n" << *screen;
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("alice: word0"));
  EXPECT_THAT(HistoryTexts(alice, "lobby"), ElementsAre(text));
}

// The node dies (kill -9) while alice chats, and a line is typed before any
// node is back. With one node, chat-core restarts on the same address; with
// two (A,B on one database, B started after A died), the session moves to B.
// Either way the input line says where it is reconnecting to, and the line
// typed meanwhile is delivered once.
class OutageTest : public InteractiveTest, public ::testing::WithParamInterface<bool> {
 protected:
  bool two_nodes() const { return GetParam(); }
};

TEST_P(OutageTest, ReconnectsAndSendsWhatWasTypedMeanwhile) {
  if (two_nodes()) UseTwoNodes();
  User alice("alice");
  User bob("bob");
  Login(alice);
  Login(bob);
  Tmux tmux;
  Open(&tmux, alice, "lobby");
  Send(bob, "lobby", "before the outage");
  ASSERT_TRUE(tmux.WaitForText("bob: before the outage"));

  const std::string next = two_nodes() ? second_node() : server();
  const int port = core_->port();
  core_->Kill9();
  ASSERT_TRUE(tmux.WaitForText("-- connection lost"));
  EXPECT_THAT(tmux.Screen(), HasSubstr("reconnecting to " + next + "..."));
  // The input line says what is being tried, and keeps what is typed.
  ASSERT_TRUE(tmux.WaitFor([](const std::string& s) {
    return absl::StartsWith(LastLine(s), "(reconnecting to 127.0.0.1:") &&
           absl::EndsWith(LastLine(s), ") #lobby>");
  }));
  tmux.Type("typed during the outage");
  tmux.Keys({"Enter"});
  if (two_nodes()) {
    StartSecondNode();
  } else {
    core_ = CoreProcess::Start(data_.File("chat.db"), {}, port);
    ASSERT_NE(core_, nullptr);
  }
  ASSERT_TRUE(tmux.WaitForText("-- reconnected to " + next, 20s));
  ASSERT_TRUE(tmux.WaitForText("alice: typed during the outage"));
  Send(bob, "lobby", "after the outage");
  auto screen = tmux.WaitForText("bob: after the outage");
  ASSERT_TRUE(screen);
  EXPECT_EQ(LastLine(*screen), "#lobby>");
  size_t first = screen->find("alice: typed during the outage");
  EXPECT_EQ(screen->find("alice: typed during the outage", first + 1), std::string::npos) << *screen;
  tmux.Keys({"C-d"});
  ASSERT_TRUE(tmux.WaitForText("[exit 0]"));
  EXPECT_THAT(HistoryTexts(alice, "lobby"),
              ElementsAre("before the outage", "typed during the outage", "after the outage"));
}

INSTANTIATE_TEST_SUITE_P(Nodes, OutageTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "FailOverToTheNextNode" : "RestartOnTheSameAddress";
                         });

TEST_F(InteractiveTest, PasswordPromptsDoNotEcho) {
  User carol("carol");
  Tmux tmux;
  auto env = CliEnv(carol);
  env["TERM"] = "xterm";
  ASSERT_TRUE(tmux.Start({chat::testing::BinaryPath("chat"), "--server", server(), "register"}, env));
  ASSERT_TRUE(tmux.WaitForText("Username:"));
  tmux.Type("carol");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("Password:"));
  tmux.Type("s3cret-passw0rd");
  tmux.Keys({"Enter"});
  ASSERT_TRUE(tmux.WaitForText("Repeat password:"));
  tmux.Type("s3cret-passw0rd");
  tmux.Keys({"Enter"});
  auto screen = tmux.WaitForText("[exit 0]");
  ASSERT_TRUE(screen);
  EXPECT_THAT(*screen, HasSubstr("registered carol"));
  EXPECT_EQ(screen->find("s3cret"), std::string::npos) << *screen;

  Tmux login;
  ASSERT_TRUE(login.Start({chat::testing::BinaryPath("chat"), "--server", server(), "login", "carol"}, env));
  ASSERT_TRUE(login.WaitForText("Password:"));
  login.Type("s3cret-passw0rd");
  login.Keys({"Enter"});
  screen = login.WaitForText("[exit 0]");
  ASSERT_TRUE(screen);
  EXPECT_THAT(*screen, HasSubstr("logged in as carol"));
  EXPECT_EQ(screen->find("s3cret"), std::string::npos) << *screen;
}

// Without a terminal the same mode reads lines and prints plain lines.
TEST_F(CliTest, InteractiveModeWorksInAPipe) {
  User alice("alice");
  User bob("bob");
  Login(alice);
  Login(bob);
  Send(bob, "lobby", "before");
  auto bob_tail = Start(bob, {"tail", "lobby", "--since", "1"});
  // bob's tail is live (and bob a member) once it prints #2.
  Send(bob, "lobby", "sync");
  ASSERT_TRUE(bob_tail->WaitForLine("#2", 10s));

  RunResult r = Chat(alice, {"lobby", "-n", "1"}, "hello from a script\n/who\n/quit\nnot sent\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_THAT(r.out, HasSubstr("bob: sync"));
  EXPECT_EQ(r.out.find("before"), std::string::npos) << "-n 1 shows one message of backlog";
  EXPECT_THAT(r.out, HasSubstr("in #lobby (2): alice, bob"));
  auto history = Chat(alice, {"history", "lobby", "--json"});
  std::vector<std::string> texts;
  for (const auto& line : Lines(history.out)) texts.push_back(ParseJson<chat::v1::Message>(line).text());
  EXPECT_THAT(texts, ElementsAre("before", "sync", "hello from a script"));

  // End of input also ends the session, after the last send is acknowledged.
  RunResult eof = Chat(alice, {"join", "lobby"}, "last words\n");
  EXPECT_EQ(eof.exit_code, 0) << eof.err;
  EXPECT_THAT(eof.out, HasSubstr("alice: last words"));

  // Errors go to stderr and set the exit code.
  RunResult err = Chat(alice, {"lobby"}, std::string(5000, 'x') + "\n");
  EXPECT_EQ(err.exit_code, 2);
  EXPECT_THAT(err.err, HasSubstr("message not sent"));

  // --json: every event from chat-core as one JSON object a line.
  RunResult json = Chat(alice, {"lobby", "--json", "-n", "0"}, "as json\n");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  bool joined = false, message = false, ack = false;
  for (const auto& line : Lines(json.out)) {
    auto event = ParseJson<chat::v1::ServerEvent>(line);
    joined |= event.has_joined();
    message |= event.has_message() && event.message().text() == "as json";
    ack |= event.has_ack();
  }
  EXPECT_TRUE(joined && message && ack) << json.out;
  bob_tail->Signal(SIGINT);
  bob_tail->Wait(10s);
}

}  // namespace
}  // namespace chat::cli::testing
