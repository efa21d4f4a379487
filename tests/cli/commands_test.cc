// End-to-end tests of the one-shot subcommands: the real `chat` binary against a
// real chat-core.
#include <sys/stat.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli_test_util.h"
#include "core_fixture.h"  // RegisterAndLogin, AuthedContext
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// --- Without a server ---------------------------------------------------------

TEST(CliHelpTest, HelpForTheWholeAndEachCommand) {
  User user("nobody");
  RunResult r = RunChat({"--help"}, CliEnv(user));
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command : {"register", "login", "logout", "whoami", "rooms", "create", "send",
                              "history", "tail", "join"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("  ") + command)) << command;
  }
  EXPECT_THAT(r.out, HasSubstr("Exit codes"));
  EXPECT_THAT(r.out, HasSubstr("CHAT_SERVER"));

  for (const char* command : {"register", "login", "logout", "whoami", "rooms", "create", "send",
                              "history", "tail", "join"}) {
    RunResult a = RunChat({command, "--help"}, CliEnv(user));
    EXPECT_EQ(a.exit_code, 0) << command;
    EXPECT_THAT(a.out, StartsWith(std::string("usage: chat ") + command)) << command;
    RunResult b = RunChat({"help", command}, CliEnv(user));
    EXPECT_EQ(b.out, a.out) << command;
  }
  RunResult h = RunChat({"history", "-h"}, CliEnv(user));
  EXPECT_THAT(h.out, AllOf(HasSubstr("--before SEQ"), HasSubstr("--limit N")));
  RunResult v = RunChat({"--version"}, CliEnv(user));
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, StartsWith("chat "));
}

TEST(CliHelpTest, UsageErrorsExitTwoWithOneLine) {
  User user("nobody");
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--bogus"},
      {"send"},
      {"send", "--bogus", "room", "x"},
      {"create"},
      {"create", "a", "b"},
      {"create", "Not A Room"},
      {"history", "room", "--limit", "0"},
      {"history", "room", "--limit", "501"},
      {"history", "room", "--limit", "ten"},
      {"history", "room", "--before", "0"},
      {"history", "room", "--before", "5", "--after", "2"},
      {"history", "room", "--limit"},
      {"tail", "room", "--since", "-1"},
      {"tail", "room", "-n", "x"},
      {"--color=sometimes", "rooms"},
      {"help", "nonsense"},
      // A password is never a plain argument.
      {"login", "alice", "--password", "hunter22"},
      {"whoami", "extra"},
  };
  for (const auto& args : cases) {
    RunResult r = RunChat(args, CliEnv(user));
    std::string what = absl::StrJoin(args, " ");
    EXPECT_EQ(r.exit_code, 2) << what << ": " << r.err;
    ExpectOneLineError(r);
    EXPECT_EQ(r.out, "") << what;
  }
}

TEST(CliHelpTest, PasswordNeedsATerminalOrAnExplicitSource) {
  User user("alice");
  // stdin is /dev/null: no prompt possible, and no CHAT_PASSWORD.
  RunResult r = RunChat({"--server=127.0.0.1:1", "login", "alice"}, CliEnv(user));
  EXPECT_EQ(r.exit_code, 2);
  ExpectOneLineError(r);
  EXPECT_THAT(r.err, HasSubstr("--password-stdin"));
}

// --- Against chat-core -----------------------------------------------------------

TEST_F(CliTest, RegisterLoginWhoAmIAndTheCredentialsFile) {
  User alice("alice");
  RunResult reg = Chat(alice, {"register", "alice", "--password-stdin"}, std::string(kPassword) + "\n");
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_THAT(reg.out, HasSubstr("registered alice"));
  EXPECT_FALSE(std::filesystem::exists(alice.CredentialsPath())) << "register must not log in";

  RunResult login = Chat(alice, {"login", "alice", "--json"}, std::nullopt, {{"CHAT_PASSWORD", kPassword}});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  auto shown = ParseJson<chat::v1::LoginResponse>(login.out);
  EXPECT_EQ(shown.username(), "alice");
  EXPECT_GT(shown.expires_at().seconds(), 0);
  EXPECT_EQ(shown.token(), "") << "the token must not be printed";

  // The token is kept privately, keyed by server.
  struct stat st;
  ASSERT_EQ(stat(alice.CredentialsPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat((alice.config->path() + "/chat").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  std::string file = ReadFile(alice.CredentialsPath());
  EXPECT_THAT(file, HasSubstr("token " + server() + " alice "));

  RunResult who = Chat(alice, {"whoami"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_THAT(who.out, StartsWith("alice on " + server()));
  RunResult who_json = Chat(alice, {"whoami", "--json"});
  EXPECT_EQ(ParseJson<chat::v1::WhoAmIResponse>(who_json.out).username(), "alice");

  // Logging in again (password from stdin) replaces the token.
  RunResult again = Chat(alice, {"login", "--password-stdin", "alice"}, std::string(kPassword) + "\n");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(ReadFile(alice.CredentialsPath()), file);
  EXPECT_EQ(Chat(alice, {"whoami"}).exit_code, 0);
}

TEST_F(CliTest, ConfigDirectoryFallsBackToHomeDotConfig) {
  User alice("alice");
  Login(alice);  // registers; the login below is what we look at
  TempDir home;
  std::map<std::string, std::string> env = CliEnv(alice);
  env["XDG_CONFIG_HOME"] = "";
  env["HOME"] = home.path();
  env["CHAT_PASSWORD"] = kPassword;
  RunResult r = RunChat({"--server", server(), "login", "alice"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat((home.path() + "/.config/chat/credentials").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(RunChat({"--server", server(), "whoami"}, env).exit_code, 0);
}

TEST_F(CliTest, AccountErrorsHaveTheirExitCodes) {
  User alice("alice");
  Login(alice);
  User mallory("mallory");
  // Wrong password: unauthenticated, nothing stored.
  RunResult bad = Chat(mallory, {"login", "alice", "--password-stdin"}, "wrong password\n");
  EXPECT_EQ(bad.exit_code, 3);
  ExpectOneLineError(bad);
  EXPECT_THAT(bad.err, HasSubstr("invalid username or password"));
  EXPECT_FALSE(std::filesystem::exists(mallory.CredentialsPath()));
  // Taken name.
  RunResult taken = Chat(mallory, {"register", "ALICE", "--password-stdin"}, std::string(kPassword) + "\n");
  EXPECT_EQ(taken.exit_code, 6) << taken.err;
  ExpectOneLineError(taken);
  // Checked before asking chat-core.
  RunResult short_pw = Chat(mallory, {"register", "mallory", "--password-stdin"}, "short\n");
  EXPECT_EQ(short_pw.exit_code, 2);
  ExpectOneLineError(short_pw);
  RunResult bad_name = Chat(mallory, {"register", "m!", "--password-stdin"}, std::string(kPassword) + "\n");
  EXPECT_EQ(bad_name.exit_code, 2);
  RunResult empty = Chat(mallory, {"register", "mallory", "--password-stdin"}, "");
  EXPECT_EQ(empty.exit_code, 2);
}

TEST_F(CliTest, CommandsNeedALogin) {
  User nobody("nobody");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"whoami"}, {"rooms"}, {"logout"}, {"create", "x"}, {"send", "lobby", "hi"},
           {"history", "lobby"}, {"tail", "lobby"}, {"join", "lobby"}, {"lobby"}}) {
    RunResult r = Chat(nobody, args);
    EXPECT_EQ(r.exit_code, 3) << absl::StrJoin(args, " ") << ": " << r.err;
    ExpectOneLineError(r);
    EXPECT_THAT(r.err, HasSubstr("chat login"));
  }
}

TEST_F(CliTest, LogoutRevokesTheToken) {
  User alice("alice");
  Login(alice);
  std::string saved = ReadFile(alice.CredentialsPath());
  RunResult out = Chat(alice, {"logout"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.out, HasSubstr("logged out alice"));
  EXPECT_THAT(ReadFile(alice.CredentialsPath()), Not(HasSubstr("token ")));
  RunResult who = Chat(alice, {"whoami"});
  EXPECT_EQ(who.exit_code, 3);
  EXPECT_THAT(who.err, HasSubstr("not logged in"));

  // A copy of the old token no longer works anywhere.
  std::ofstream(alice.CredentialsPath()) << saved;
  RunResult stale = Chat(alice, {"rooms"});
  EXPECT_EQ(stale.exit_code, 3);
  ExpectOneLineError(stale);
  // Logging out with a dead token just forgets it.
  RunResult again = Chat(alice, {"logout"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already ended"));
}

TEST_F(CliTest, CreateAndListRooms) {
  User alice("alice");
  Login(alice);
  RunResult created = Chat(alice, {"create", "general", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto room = ParseJson<chat::v1::Room>(created.out);
  EXPECT_EQ(room.name(), "general");
  EXPECT_EQ(room.created_by(), "alice");
  CreateRoom(alice, "a-much-longer-room-name");

  RunResult dup = Chat(alice, {"create", "general"});
  EXPECT_EQ(dup.exit_code, 6);
  ExpectOneLineError(dup);
  EXPECT_THAT(dup.err, HasSubstr("already exists"));

  RunResult json = Chat(alice, {"rooms", "--json"});
  ASSERT_EQ(json.exit_code, 0);
  std::vector<std::string> names;
  for (const auto& line : Lines(json.out)) names.push_back(ParseJson<chat::v1::Room>(line).name());
  EXPECT_THAT(names, ElementsAre("a-much-longer-room-name", "general", "lobby"));

  // Human output: a header, one row per room, columns aligned.
  RunResult human = Chat(alice, {"rooms"});
  ASSERT_EQ(human.exit_code, 0);
  std::vector<std::string> lines = Lines(human.out);
  ASSERT_EQ(lines.size(), 4u) << human.out;
  EXPECT_THAT(lines[0], StartsWith("ROOM "));
  size_t column = lines[0].find("ONLINE");
  ASSERT_NE(column, std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_NE(lines[i][column], ' ') << lines[i];
    EXPECT_EQ(lines[i][column - 1], ' ') << lines[i];
  }
  EXPECT_EQ(human.out.find('\x1b'), std::string::npos) << "no colours in a pipe";
  RunResult colored = Chat(alice, {"rooms", "--color=always"});
  EXPECT_NE(colored.out.find("\x1b["), std::string::npos);
}

// chat rooms fetches every page (chat-core sends at most 1000 rooms a page),
// or stops at --limit.
TEST_F(CliTest, RoomsFetchesEveryPageOrStopsAtTheLimit) {
  core_->Stop();
  core_ = CoreProcess::Start(data_.File("chat.db"), {"--max_room_creates_per_user_per_hour=0"});
  ASSERT_NE(core_, nullptr);
  auto channel = grpc::CreateChannel(server(), grpc::InsecureChannelCredentials());
  auto auth = chat::v1::AuthService::NewStub(channel);
  auto chat = chat::v1::ChatService::NewStub(channel);
  const std::string token = chat::testing::RegisterAndLogin(auth.get(), "bob");
  for (int i = 0; i < 1004; ++i) {
    auto ctx = chat::testing::AuthedContext(token);
    chat::v1::CreateRoomRequest req;
    req.set_name(absl::StrCat("r", 10000 + i));
    chat::v1::Room room;
    ASSERT_TRUE(chat->CreateRoom(ctx.get(), req, &room).ok());
  }
  User alice("alice");
  Login(alice);
  RunResult all = Chat(alice, {"rooms", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<std::string> names;
  for (const auto& line : Lines(all.out)) names.push_back(ParseJson<chat::v1::Room>(line).name());
  ASSERT_EQ(names.size(), 1005u);  // two pages: 1000 + 5
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.front(), "lobby");
  EXPECT_EQ(names.back(), "r11003");

  RunResult few = Chat(alice, {"rooms", "-n", "3"});
  ASSERT_EQ(few.exit_code, 0) << few.err;
  EXPECT_EQ(Lines(few.out).size(), 4u) << few.out;  // header + 3
  RunResult over_a_page = Chat(alice, {"rooms", "--limit", "1002", "--json"});
  ASSERT_EQ(over_a_page.exit_code, 0) << over_a_page.err;
  EXPECT_EQ(Lines(over_a_page.out).size(), 1002u);
  RunResult bad = Chat(alice, {"rooms", "--limit", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  ExpectOneLineError(bad);
}

// A user creating rooms in a loop is refused after the hourly limit, with a
// one-line error; another user still can.
TEST_F(CliTest, CreatingRoomsPastTheHourlyLimitIsRefused) {
  core_->Stop();
  core_ = CoreProcess::Start(data_.File("chat.db"), {"--max_room_creates_per_user_per_hour=2"});
  ASSERT_NE(core_, nullptr);
  User alice("alice"), bob("bob");
  Login(alice);
  Login(bob);
  CreateRoom(alice, "a1");
  CreateRoom(alice, "a2");
  RunResult refused = Chat(alice, {"create", "a3"});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  ExpectOneLineError(refused);
  EXPECT_THAT(refused.err, HasSubstr("too many rooms created: at most 2 per user every hour"));
  CreateRoom(bob, "b1");
}

TEST_F(CliTest, SendAndHistory) {
  User alice("alice");
  Login(alice);
  CreateRoom(alice, "general");
  RunResult first = Chat(alice, {"send", "general", "hello", "world"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "sent #1 to general\n");
  RunResult piped = Chat(alice, {"send", "general"}, "line one\nline two\n");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  for (int i = 3; i <= 6; ++i) EXPECT_EQ(Send(alice, "general", "message " + std::to_string(i)), i);

  RunResult all = Chat(alice, {"history", "general", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<chat::v1::Message> messages;
  for (const auto& line : Lines(all.out)) messages.push_back(ParseJson<chat::v1::Message>(line));
  ASSERT_EQ(messages.size(), 6u);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].seq(), static_cast<int64_t>(i + 1)) << "oldest first";
    EXPECT_EQ(messages[i].author(), "alice");
    EXPECT_EQ(messages[i].room(), "general");
    EXPECT_FALSE(messages[i].client_msg_id().empty());
  }
  EXPECT_EQ(messages[0].text(), "hello world");
  EXPECT_EQ(messages[1].text(), "line one\nline two");

  auto seqs = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"history", "general", "--json"});
    RunResult r = Chat(alice, args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<int64_t> out;
    for (const auto& line : Lines(r.out)) out.push_back(ParseJson<chat::v1::Message>(line).seq());
    return out;
  };
  EXPECT_THAT(seqs({"--limit", "2"}), ElementsAre(5, 6));
  EXPECT_THAT(seqs({"--before", "4"}), ElementsAre(1, 2, 3));
  EXPECT_THAT(seqs({"--before", "4", "-n", "2"}), ElementsAre(2, 3));
  EXPECT_THAT(seqs({"--after", "4"}), ElementsAre(5, 6));

  // Human: "#SEQ  DATE TIME  AUTHOR  TEXT", continuation lines indented.
  RunResult human = Chat(alice, {"history", "general", "--limit", "5"});
  std::vector<std::string> lines = Lines(human.out);
  ASSERT_EQ(lines.size(), 6u) << human.out;
  EXPECT_THAT(lines[0], AllOf(StartsWith("#2  "), HasSubstr("  alice  line one")));
  EXPECT_EQ(lines[1].find_first_not_of(' '), lines[0].find("line one"));
  EXPECT_THAT(lines[5], AllOf(StartsWith("#6  "), HasSubstr("message 6")));

  // Empty room: no output in a pipe.
  RunResult empty = Chat(alice, {"history", "lobby"});
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_EQ(empty.out, "");
}

TEST_F(CliTest, SendWithTheSameIdIsStoredOnce) {
  User alice("alice");
  Login(alice);
  RunResult a = Chat(alice, {"send", "--id", "deploy-42", "--json", "lobby", "deployed"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  RunResult b = Chat(alice, {"send", "--id", "deploy-42", "--json", "lobby", "deployed"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto ra = ParseJson<chat::v1::SendMessageResponse>(a.out);
  auto rb = ParseJson<chat::v1::SendMessageResponse>(b.out);
  EXPECT_EQ(ra.message().seq(), rb.message().seq());
  EXPECT_FALSE(ra.duplicate());
  EXPECT_TRUE(rb.duplicate());
  EXPECT_EQ(rb.message().client_msg_id(), "deploy-42");
  RunResult human = Chat(alice, {"send", "--id", "deploy-42", "lobby", "deployed"});
  EXPECT_THAT(human.out, HasSubstr("duplicate"));
  EXPECT_EQ(Lines(Chat(alice, {"history", "lobby", "--json"}).out).size(), 1u);
}

TEST_F(CliTest, MissingRoomsAndBadInput) {
  User alice("alice");
  Login(alice);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"send", "nope", "hi"}, {"history", "nope"}, {"tail", "nope"}, {"join", "nope"}}) {
    RunResult r = Chat(alice, args);
    EXPECT_EQ(r.exit_code, 4) << absl::StrJoin(args, " ") << ": " << r.err;
    ExpectOneLineError(r);
    EXPECT_THAT(r.err, HasSubstr("'nope' does not exist"));
  }
  // `chat WORD` is a room if WORD is not a command: a typo is a usage error.
  RunResult typo = Chat(alice, {"histroy"});
  EXPECT_EQ(typo.exit_code, 2);
  ExpectOneLineError(typo);
  EXPECT_THAT(typo.err, HasSubstr("neither a command nor an existing room"));

  RunResult empty = Chat(alice, {"send", "lobby"}, "");
  EXPECT_EQ(empty.exit_code, 2);
  ExpectOneLineError(empty);
  RunResult too_long = Chat(alice, {"send", "lobby", std::string(5000, 'x')});
  EXPECT_EQ(too_long.exit_code, 2) << too_long.err;
  ExpectOneLineError(too_long);
}

TEST_F(CliTest, UnreachableServerExitsFive) {
  User alice("alice");
  Login(alice);
  core_->Kill9();
  auto start = std::chrono::steady_clock::now();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"whoami"}, {"rooms"}, {"send", "lobby", "hi"}, {"history", "lobby"}, {"tail", "lobby"},
           {"lobby"}}) {
    RunResult r = Chat(alice, args);
    EXPECT_EQ(r.exit_code, 5) << absl::StrJoin(args, " ") << ": " << r.err;
    ExpectOneLineError(r);
    EXPECT_THAT(r.err, HasSubstr("cannot reach chat-core at " + server()));
  }
  RunResult reg = RunChat({"--server=127.0.0.1:1", "register", "bob", "--password-stdin"},
                          CliEnv(alice), std::string(kPassword) + "\n");
  EXPECT_EQ(reg.exit_code, 5);
  ExpectOneLineError(reg);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s) << "failing must be quick";
  core_.reset();
}

TEST_F(CliTest, ServerFromFlagEnvironmentOrLastLogin) {
  User alice("alice");
  Login(alice);
  auto env = CliEnv(alice);
  // No flag, no CHAT_SERVER: the server logged in to last.
  RunResult last = RunChat({"whoami"}, env);
  EXPECT_EQ(last.exit_code, 0) << last.err;
  env["CHAT_SERVER"] = server();
  EXPECT_EQ(RunChat({"whoami"}, env).exit_code, 0);
  // The flag wins over the environment.
  env["CHAT_SERVER"] = "127.0.0.1:1";
  EXPECT_EQ(RunChat({"whoami"}, env).exit_code, 3) << "not logged in to 127.0.0.1:1";
  EXPECT_EQ(RunChat({"whoami", "--server", server()}, env).exit_code, 0);
  EXPECT_EQ(RunChat({"-s", server(), "whoami"}, env).exit_code, 0);
}

TEST_F(CliTest, OtherPeoplesTextCannotDriveTheTerminal) {
  User alice("alice");
  Login(alice);
  Send(alice, "lobby", "\x1b[2J\x1b]0;pwned\x07red\r");
  RunResult human = Chat(alice, {"history", "lobby"});
  EXPECT_EQ(human.out.find('\x1b'), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find('\x07'), std::string::npos);
  EXPECT_EQ(human.out.find('\r'), std::string::npos);
  EXPECT_THAT(human.out, HasSubstr("^[[2J"));
  // JSON keeps the text exactly (escaped).
  auto m = ParseJson<chat::v1::Message>(Chat(alice, {"history", "lobby", "--json"}).out);
  EXPECT_EQ(m.text(), "\x1b[2J\x1b]0;pwned\x07red\r");
}

}  // namespace
}  // namespace chat::cli::testing
