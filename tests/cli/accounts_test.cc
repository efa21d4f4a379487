// End-to-end tests of the account lifecycle and integrations (issue #29): the
// real `chat` binary against a real chat-core. passwd, sessions, bots, API
// tokens (CHAT_TOKEN / --token), webhooks, account deletion, registration by
// invitation, and `tail` living through session renewals.
#include <signal.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli_test_util.h"
#include "config.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kNewPassword[] = "a much better password";

class AccountsTest : public CliTest {
 protected:
  // Runs a command that must succeed; returns its stdout.
  std::string Ok(const User& user, std::vector<std::string> args,
                 const std::optional<std::string>& stdin_data = std::nullopt,
                 std::map<std::string, std::string> env = {}) {
    RunResult r = Chat(user, args, stdin_data, env);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    return r.out;
  }
  // Runs a command that must fail with `exit_code`, as one line on stderr
  // containing `text`, with nothing on stdout.
  void Refused(const User& user, std::vector<std::string> args, int exit_code, const std::string& text,
               std::map<std::string, std::string> env = {}) {
    RunResult r = Chat(user, args, std::nullopt, env);
    std::string what = absl::StrJoin(args, " ");
    EXPECT_EQ(r.exit_code, exit_code) << what << ": " << r.err;
    ExpectOneLineError(r);
    EXPECT_THAT(r.err, HasSubstr(text)) << what;
    EXPECT_EQ(r.out, "") << what;
  }
  // Logs `user` in with `password` (registered already).
  void LoginWith(const User& user, const std::string& password) {
    RunResult r = Chat(user, {"login", user.name}, std::nullopt, {{"CHAT_PASSWORD", password}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<chat::v1::LoginSession> Sessions(const User& user) {
    std::vector<chat::v1::LoginSession> sessions;
    for (const auto& line : Lines(Ok(user, {"sessions", "--json"}))) {
      sessions.push_back(ParseJson<chat::v1::LoginSession>(line));
    }
    return sessions;
  }
  // alice owns bot `ci-bot` and room `ops`; returns the secret of an API token
  // for the bot (made with `extra` options).
  std::string BotWithToken(const User& alice, std::vector<std::string> extra = {}) {
    Login(alice);
    CreateRoom(alice, "ops");
    Ok(alice, {"bot", "create", "ci-bot", "--display-name", "CI"});
    std::vector<std::string> args = {"token", "create", "deploy", "--account", "ci-bot", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto created = ParseJson<chat::v1::CreateApiTokenResponse>(Ok(alice, args));
    EXPECT_THAT(created.secret(), StartsWith("chat_"));
    EXPECT_EQ(created.token().account(), "ci-bot");
    return created.secret();
  }
  // `chat args...` in the background as `user` with extra environment.
  std::unique_ptr<ChildProcess> StartWith(const User& user, std::vector<std::string> args,
                                          std::map<std::string, std::string> env) {
    ChildProcess::Options o;
    o.argv = {chat::testing::BinaryPath("chat"), "--server=" + ServerFlag()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = CliEnv(user);
    for (auto& [k, v] : env) o.env[k] = v;
    o.capture_stderr = true;
    return ChildProcess::Start(o);
  }
  // Restarts chat-core on its port and database with `flags`.
  void RestartWith(std::vector<std::string> flags) {
    int port = core_->port();
    EXPECT_EQ(core_->Stop(), 0);
    core_ = CoreProcess::Start(data_.File("chat.db"), std::move(flags), port);
    ASSERT_NE(core_, nullptr);
  }
};

TEST_F(AccountsTest, PasswdEndsAnotherLoginsTail) {
  User laptop("alice"), phone("alice");
  Login(laptop);
  Login(phone);
  auto tail = Start(phone, {"tail", "lobby", "--json"});
  ASSERT_NE(tail, nullptr);
  Send(laptop, "lobby", "hi");
  ASSERT_TRUE(tail->WaitForLine("{", 10s)) << tail->stderr_text();

  // A wrong current password changes nothing.
  RunResult wrong = Chat(laptop, {"passwd", "--password-stdin"}, std::string("nope nope\n") + kNewPassword + "\n");
  EXPECT_EQ(wrong.exit_code, 3) << wrong.err;
  ExpectOneLineError(wrong);
  RunResult short_one = Chat(laptop, {"passwd", "--password-stdin"}, std::string(kPassword) + "\nshort\n");
  EXPECT_EQ(short_one.exit_code, 2) << short_one.err;

  std::string out = Ok(laptop, {"passwd", "--password-stdin"}, std::string(kPassword) + "\n" + kNewPassword + "\n");
  EXPECT_THAT(out, HasSubstr("password changed for alice; 1 other session ended"));
  EXPECT_EQ(tail->Wait(10s), 3) << "the other login's stream ends";
  ExpectOneLineError(RunResult{3, "", tail->stderr_text()});
  Refused(phone, {"whoami"}, 3, "run 'chat login'");
  Ok(laptop, {"whoami"});  // this login stays

  // The old password is gone, the new one works.
  RunResult old = Chat(phone, {"login", "alice"}, std::nullopt, {{"CHAT_PASSWORD", kPassword}});
  EXPECT_EQ(old.exit_code, 3) << old.err;
  LoginWith(phone, kNewPassword);
  auto changed = ParseJson<chat::v1::ChangePasswordResponse>(
      Ok(phone, {"passwd", "--json"}, std::nullopt, {{"CHAT_PASSWORD", kNewPassword}, {"CHAT_NEW_PASSWORD", kPassword}}));
  EXPECT_EQ(changed.sessions_ended(), 1);
}

TEST_F(AccountsTest, SessionsListAndRevoke) {
  User laptop("alice"), phone("alice"), tablet("alice");
  Login(laptop);
  Login(phone);
  Login(tablet);
  auto sessions = Sessions(laptop);
  ASSERT_EQ(sessions.size(), 3u);
  std::string phone_id;
  int current = 0;
  for (const auto& s : sessions) {
    EXPECT_EQ(s.id().size(), 16u) << s.id();
    EXPECT_THAT(s.client(), StartsWith("chat-cli/"));
    EXPECT_GT(s.expires_at().seconds(), 0);
    current += s.current();
  }
  EXPECT_EQ(current, 1);
  for (const auto& s : Sessions(phone)) {
    if (s.current()) phone_id = s.id();
  }
  ASSERT_FALSE(phone_id.empty());

  std::string table = Ok(laptop, {"sessions"});
  EXPECT_THAT(table, AllOf(HasSubstr("LAST USED"), HasSubstr("EXPIRES"), HasSubstr("CLIENT"), HasSubstr("chat-cli/")));
  EXPECT_THAT(table, HasSubstr("* ")) << "the current one is marked";

  EXPECT_THAT(Ok(laptop, {"sessions", "revoke", phone_id}), HasSubstr("ended session " + phone_id));
  Refused(phone, {"whoami"}, 3, "run 'chat login'");
  EXPECT_EQ(Sessions(laptop).size(), 2u);
  Refused(laptop, {"sessions", "revoke", "0000000000000000"}, 4, "0000000000000000");
  Refused(laptop, {"sessions", "revoke"}, 2, "usage: chat sessions");

  EXPECT_THAT(Ok(laptop, {"sessions", "revoke", "--others"}), HasSubstr("1 other session ended"));
  Refused(tablet, {"whoami"}, 3, "run 'chat login'");
  ASSERT_EQ(Sessions(laptop).size(), 1u);
  EXPECT_TRUE(Sessions(laptop)[0].current());
}

TEST_F(AccountsTest, ProfileShowsAndSetsTheDisplayName) {
  User alice("alice");
  Login(alice);
  std::string shown = Ok(alice, {"profile"});
  EXPECT_THAT(shown, AllOf(HasSubstr("username:     alice"), HasSubstr("(none)"), HasSubstr("kind:         user")));
  auto set = ParseJson<chat::v1::UserProfile>(Ok(alice, {"profile", "--display-name", "Alice Liddell", "--json"}));
  EXPECT_EQ(set.display_name(), "Alice Liddell");
  EXPECT_THAT(Ok(alice, {"profile"}), HasSubstr("display name: Alice Liddell"));
  EXPECT_THAT(Ok(alice, {"whoami"}), HasSubstr("alice (Alice Liddell)"));
  RunResult bad = Chat(alice, {"profile", "--display-name", std::string(65, 'x')});
  EXPECT_EQ(bad.exit_code, 2);
  ExpectOneLineError(bad);
}

TEST_F(AccountsTest, BotTokenPostsAsTheBotAndHistoryShowsTheTag) {
  User alice("alice"), program("ci");
  const std::string secret = BotWithToken(alice);
  std::string bots = Ok(alice, {"bot", "list"});
  EXPECT_THAT(bots, AllOf(HasSubstr("ci-bot"), HasSubstr("CI"), HasSubstr("alice")));
  Refused(alice, {"bot", "create", "ci-bot"}, 6, "ci-bot");
  Refused(alice, {"bot", "frobnicate"}, 2, "unknown action 'frobnicate'");

  // The program has no saved login: only the token.
  Refused(program, {"send", "ops", "hi"}, 3, "not logged in");
  // --since: a message sent before tail asks for the room's newest seq is not lost.
  auto tail = StartWith(program, {"tail", "ops", "--since", "0", "--json"}, {{"CHAT_TOKEN", secret}});
  ASSERT_NE(tail, nullptr);
  RunResult sent = Chat(program, {"send", "ops", "build 42 is green"}, std::nullopt, {{"CHAT_TOKEN", secret}});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_EQ(sent.out, "sent #1 to ops\n");
  auto live = ReadUntilSeq(tail.get(), 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].author(), "ci-bot");
  EXPECT_EQ(live[0].author_kind(), chat::v1::ACCOUNT_KIND_BOT);
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);

  Send(alice, "ops", "thanks");
  std::string history = Ok(alice, {"history", "ops"});
  EXPECT_THAT(history, HasSubstr("ci-bot [bot]  build 42 is green"));
  EXPECT_THAT(history, HasSubstr("alice         thanks")) << "aligned under the tagged name";
  auto json = Lines(Ok(alice, {"history", "ops", "--json"}));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_THAT(json[0], HasSubstr("\"authorKind\":\"ACCOUNT_KIND_BOT\""));
  EXPECT_THAT(json[1], Not(HasSubstr("authorKind")));
  // The interactive mode (plain, in a pipe) tags it too.
  std::string chat = Ok(alice, {"join", "ops", "-n", "5"}, std::string("/quit\n"));
  EXPECT_THAT(chat, HasSubstr("ci-bot [bot]: build 42 is green"));
  EXPECT_THAT(chat, HasSubstr("alice: thanks"));

  // --token works as CHAT_TOKEN does; whoami says which token.
  std::string who = Ok(program, {"--token", secret, "whoami"});
  EXPECT_THAT(who, AllOf(HasSubstr("ci-bot"), HasSubstr("(bot)"), HasSubstr("API token 'deploy'")));
  // A token cannot manage accounts.
  Refused(program, {"bot", "create", "another"}, 3, "API tokens cannot manage accounts", {{"CHAT_TOKEN", secret}});
  Refused(program, {"logout"}, 2, "chat token revoke", {{"CHAT_TOKEN", secret}});
}

TEST_F(AccountsTest, RevokedTokenIsRefused) {
  User alice("alice"), program("ci");
  const std::string secret = BotWithToken(alice, {"--room", "ops", "--actions", "read,post"});
  auto tokens = Lines(Ok(alice, {"token", "list", "--json"}));
  ASSERT_EQ(tokens.size(), 1u);
  auto token = ParseJson<chat::v1::ApiToken>(tokens[0]);
  EXPECT_EQ(token.name(), "deploy");
  EXPECT_THAT(Ok(alice, {"token", "list"}), AllOf(HasSubstr(token.id()), HasSubstr("read,post"), HasSubstr("never")));
  Ok(program, {"send", "ops", "before"}, std::nullopt, {{"CHAT_TOKEN", secret}});
  // Scoped to ops: the lobby is out of bounds.
  Refused(program, {"send", "lobby", "hi"}, 3, "limited to rooms", {{"CHAT_TOKEN", secret}});

  auto tail = StartWith(program, {"tail", "ops", "--since", "1"}, {{"CHAT_TOKEN", secret}});
  ASSERT_NE(tail, nullptr);
  Send(alice, "ops", "to the bot");
  ASSERT_TRUE(tail->WaitForLine("#2", 10s)) << tail->stderr_text();
  EXPECT_THAT(Ok(alice, {"token", "revoke", token.id()}), HasSubstr("revoked API token " + token.id()));
  EXPECT_EQ(tail->Wait(10s), 3) << "its stream ends";
  Refused(program, {"send", "ops", "after"}, 3, "CHAT_TOKEN", {{"CHAT_TOKEN", secret}});
  Refused(alice, {"token", "revoke", token.id()}, 4, token.id());
  EXPECT_EQ(Ok(alice, {"token", "list", "--json"}), "");

  // In a pipe `token create` prints only the secret (the note on stderr), for
  // TOKEN=$(chat token create ...); a token of one's own acts as oneself.
  RunResult mine = Chat(alice, {"token", "create", "laptop-script"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  ASSERT_EQ(Lines(mine.out).size(), 1u) << mine.out;
  EXPECT_THAT(mine.out, StartsWith("chat_"));
  EXPECT_THAT(mine.err, HasSubstr("not shown again"));
  RunResult as_alice = Chat(program, {"send", "lobby", "from alice's script"}, std::nullopt,
                            {{"CHAT_TOKEN", Lines(mine.out)[0]}});
  EXPECT_EQ(as_alice.exit_code, 0) << as_alice.err;
  EXPECT_THAT(Ok(alice, {"history", "lobby"}), AllOf(HasSubstr("alice  from alice's script"), Not(HasSubstr("[bot]"))));
}

TEST_F(AccountsTest, HookCreateListRevoke) {
  User alice("alice");
  Login(alice);
  CreateRoom(alice, "ops");
  Ok(alice, {"bot", "create", "ci-bot"});
  Refused(alice, {"hook", "create", "ops"}, 2, "--bot");
  std::string text = Ok(alice, {"hook", "create", "ops", "--bot", "ci-bot", "--name", "jenkins", "--url",
                                "https://chat.example.com"});
  EXPECT_THAT(text, AllOf(HasSubstr("secret: "), HasSubstr("not shown again"),
                          HasSubstr("https://chat.example.com/api/hooks/"), HasSubstr("curl -X POST")));
  auto created = ParseJson<chat::v1::CreateWebhookResponse>(
      Ok(alice, {"hook", "create", "ops", "--bot", "ci-bot", "--json"}));
  EXPECT_EQ(created.webhook().room(), "ops");
  EXPECT_EQ(created.webhook().bot(), "ci-bot");
  EXPECT_FALSE(created.secret().empty());
  EXPECT_THAT(Ok(alice, {"hook", "create", "ops", "--bot", "ci-bot"}),
              AllOf(HasSubstr("/api/hooks/"), Not(HasSubstr("curl"))));

  auto hooks = Lines(Ok(alice, {"hook", "list", "--json"}));
  EXPECT_EQ(hooks.size(), 3u);
  EXPECT_THAT(Ok(alice, {"hook", "list"}), AllOf(HasSubstr(created.webhook().id()), HasSubstr("jenkins")));
  EXPECT_THAT(Ok(alice, {"hook", "revoke", created.webhook().id()}), HasSubstr("revoked webhook"));
  EXPECT_THAT(Ok(alice, {"hook", "list"}), Not(HasSubstr(created.webhook().id())));
  Refused(alice, {"hook", "revoke", created.webhook().id()}, 4, "");
  Refused(alice, {"hook", "create", "nowhere", "--bot", "ci-bot"}, 4, "nowhere");
}

TEST_F(AccountsTest, DeletedAccountsNameCannotBeRegisteredAgain) {
  User alice("alice"), bob("bob");
  Login(alice);
  Login(bob);
  Send(bob, "lobby", "bob was here");
  // Without a terminal, --yes is needed.
  Refused(bob, {"account", "delete"}, 2, "--yes", {{"CHAT_PASSWORD", kPassword}});
  Refused(bob, {"account", "delete", "--yes"}, 3, "", {{"CHAT_PASSWORD", "wrong password"}});
  std::string out = Ok(bob, {"account", "delete", "--yes"}, std::nullopt, {{"CHAT_PASSWORD", kPassword}});
  EXPECT_THAT(out, HasSubstr("deleted the account bob"));
  Refused(bob, {"whoami"}, 3, "not logged in");  // the saved login is forgotten
  RunResult again = Chat(bob, {"register", "bob", "--password-stdin"}, std::string(kPassword) + "\n");
  EXPECT_EQ(again.exit_code, 6) << again.err;
  ExpectOneLineError(again);
  RunResult login = Chat(bob, {"login", "bob"}, std::nullopt, {{"CHAT_PASSWORD", kPassword}});
  EXPECT_EQ(login.exit_code, 3) << login.err;
  // Its messages stay.
  EXPECT_THAT(Ok(alice, {"history", "lobby"}), HasSubstr("bob was here"));
}

TEST_F(AccountsTest, RegisterWithAnInviteCode) {
  User alice("alice"), carol("carol"), dave("dave");
  Login(alice);
  RestartWith({"--registration=invite", "--admins=alice"});
  RunResult without = Chat(carol, {"register", "carol", "--password-stdin"}, std::string(kPassword) + "\n");
  EXPECT_NE(without.exit_code, 0);
  ExpectOneLineError(without);
  EXPECT_THAT(without.err, HasSubstr("invite code"));

  // In a pipe, only the code.
  std::string code_out = Ok(alice, {"invite-code", "create", "--valid", "2h"});
  ASSERT_EQ(Lines(code_out).size(), 1u) << code_out;
  const std::string code = Lines(code_out)[0];
  RunResult with = Chat(carol, {"register", "carol", "--password-stdin", "--invite-code", code},
                        std::string(kPassword) + "\n");
  EXPECT_EQ(with.exit_code, 0) << with.err;
  LoginWith(carol, kPassword);
  // Single use.
  RunResult reused = Chat(dave, {"register", "dave", "--password-stdin", "--invite-code", code},
                          std::string(kPassword) + "\n");
  EXPECT_NE(reused.exit_code, 0);
  ExpectOneLineError(reused);
  Refused(alice, {"invite-code", "create", "--valid", "90d"}, 2, "--valid must be from 1h to 30d");
  // carol is no admin (and --users_may_invite is off).
  Refused(carol, {"invite-code", "create"}, 3, "");
  auto json = ParseJson<chat::v1::InviteCode>(Ok(alice, {"invite-code", "create", "--json"}));
  EXPECT_FALSE(json.code().empty());
  EXPECT_GT(json.expires_at().seconds(), 0);
}

// Sessions last 3 s unless used; tail keeps its session in use, so it lives on
// past that (SessionRenewed), and so does the saved login.
class RenewalTest : public AccountsTest {
 protected:
  void SetUp() override {
    core_ = CoreProcess::Start(data_.File("chat.db"),
                               {"--token_ttl=3s", "--session_max_age=1h", "--session_sweep_interval=1s"});
    ASSERT_NE(core_, nullptr);
  }
};

TEST_F(RenewalTest, TailSurvivesItsFirstExpiry) {
  User alice("alice"), bob("bob");
  Login(alice);
  CredentialStore before(alice.CredentialsPath());
  ASSERT_TRUE(before.Load().ok());
  const int64_t first_expiry = before.Find({server()})->expires_at_unix;
  ASSERT_GT(first_expiry, 0);

  auto tail = Start(alice, {"tail", "lobby", "--since", "0", "--json"});
  ASSERT_NE(tail, nullptr);
  std::this_thread::sleep_for(7s);  // more than twice the ttl
  Login(bob);
  EXPECT_EQ(Send(bob, "lobby", "still there?"), 1);
  auto seen = ReadUntilSeq(tail.get(), 1);
  ASSERT_EQ(seen.size(), 1u) << tail->stderr_text();
  EXPECT_EQ(seen[0].text(), "still there?");

  // The renewed expiry was saved; later commands work past the first one.
  CredentialStore after(alice.CredentialsPath());
  ASSERT_TRUE(after.Load().ok());
  EXPECT_GT(after.Find({server()})->expires_at_unix, first_expiry);
  auto who = ParseJson<chat::v1::WhoAmIResponse>(Ok(alice, {"whoami", "--json"}));
  EXPECT_GT(who.expires_at().seconds(), first_expiry);

  // A saved expiry that is behind (renewed by use that did not tell this
  // file) is checked with chat-core rather than taken for the end.
  CredentialStore stale(alice.CredentialsPath());
  ASSERT_TRUE(stale.Load().ok());
  const std::string token = stale.Find({server()})->token;
  ASSERT_TRUE(stale.SetExpiry(token, 1));
  ASSERT_TRUE(stale.Save().ok());
  EXPECT_EQ(Send(alice, "lobby", "from a stale file"), 2);
  CredentialStore fixed(alice.CredentialsPath());
  ASSERT_TRUE(fixed.Load().ok());
  EXPECT_GT(fixed.Find({server()})->expires_at_unix, first_expiry);
  ReadUntilSeq(tail.get(), 2);
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);
  EXPECT_EQ(tail->stderr_text(), "");
}

TEST_F(RenewalTest, AnUnusedSessionExpires) {
  User alice("alice");
  Login(alice);
  std::this_thread::sleep_for(5s);
  // The saved expiry has passed and chat-core agrees: log in again.
  Refused(alice, {"rooms"}, 3, "expired");
}

}  // namespace
}  // namespace chat::cli::testing
