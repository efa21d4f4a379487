// Unit tests for the account and integration commands (issue #29): the
// command table, the parsing of actions, durations, expiry dates, token
// actions and rooms, the tables and lines printed, the bot tag on messages,
// the saved expiry of a renewed session.
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "account_text.h"
#include "args.h"
#include "client.h"
#include "command_util.h"
#include "config.h"
#include "format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kNewCommands = {"passwd", "sessions", "profile", "account",
                                               "invite-code", "bot", "token", "hook"};

ParsedArgs Parse(const std::vector<std::string>& argv) {
  auto p = ParseArgs(argv);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : ParsedArgs();
}

TEST(AccountArgsTest, EveryNewCommandIsListedWithHelp) {
  std::string main_help = MainHelp();
  for (const auto& name : kNewCommands) {
    const CommandSpec* c = FindCommand(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_THAT(main_help, HasSubstr("  " + name + " ")) << name;
    EXPECT_FALSE(c->examples.empty()) << name;
    EXPECT_THAT(CommandHelp(*c), HasSubstr("usage: chat " + name)) << name;
    auto p = ParseArgs({name, "--help"});
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(p->command, name);
    EXPECT_FALSE(p->implied_join) << name << " is a command, not a room";
  }
  EXPECT_THAT(main_help, HasSubstr("CHAT_TOKEN"));
  EXPECT_THAT(main_help, HasSubstr("--token TOKEN"));
  EXPECT_THAT(CommandHelp(*FindCommand("register")), HasSubstr("--invite-code CODE"));
}

TEST(AccountArgsTest, TokenIsAGlobalOptionAndRoomRepeats) {
  ParsedArgs p = Parse({"--token", "chat_abc", "send", "ops", "hi"});
  EXPECT_EQ(p.command, "send");
  EXPECT_EQ(p.Get("token"), "chat_abc");
  ParsedArgs t = Parse({"token", "create", "ci", "--room", "a", "--room=b,c", "--actions", "post"});
  EXPECT_THAT(t.args, ElementsAre("create", "ci"));
  EXPECT_THAT(t.GetAll("room"), ElementsAre("a", "b,c"));
  EXPECT_EQ(t.Get("room"), "b,c") << "Get gives the last";
  EXPECT_TRUE(t.GetAll("account").empty());
  EXPECT_FALSE(ParseArgs({"bot", "create", "x", "--room", "a"}).ok()) << "--room is not an option of bot";
  EXPECT_FALSE(ParseArgs({"bot"}).ok()) << "an action is needed";
  EXPECT_FALSE(ParseArgs({"token", "create", "a", "b"}).ok());
}

TEST(AccountArgsTest, SubActionsAreChecked) {
  const std::vector<SubAction> actions = {
      {"create", "NAME", 1, {"display-name"}},
      {"list", "", 0, {}},
      {"delete", "NAME", 1, {"yes"}},
  };
  auto ok = ParseSubAction(Parse({"bot", "create", "ci", "--display-name", "CI", "--json"}), actions);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->name, "create");
  EXPECT_TRUE(ParseSubAction(Parse({"bot", "list"}), actions).ok());

  auto unknown = ParseSubAction(Parse({"bot", "make", "ci"}), actions);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown action 'make' for 'chat bot'"));
  EXPECT_THAT(unknown.status().message(), HasSubstr("create NAME | list | delete NAME"));

  auto missing = ParseSubAction(Parse({"bot", "delete"}), actions);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing arguments for 'chat bot delete'; usage: chat bot delete NAME"));
  auto extra = ParseSubAction(Parse({"bot", "list", "x"}), actions);
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(extra.status().message(), HasSubstr("too many arguments"));
  auto wrong_option = ParseSubAction(Parse({"bot", "list", "--display-name", "x"}), actions);
  ASSERT_FALSE(wrong_option.ok());
  EXPECT_THAT(wrong_option.status().message(), HasSubstr("--display-name does not go with 'chat bot list'"));
  EXPECT_TRUE(ParseSubAction(Parse({"sessions"}), {{"list", "", 0, {}}}, "list").ok()) << "default action";
}

TEST(AccountArgsTest, SessionsForms) {
  auto list = ParseSessionsArgs(Parse({"sessions"}));
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->id.empty());
  EXPECT_FALSE(list->others);
  auto one = ParseSessionsArgs(Parse({"sessions", "revoke", "00ff00ff00ff00ff"}));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->id, "00ff00ff00ff00ff");
  EXPECT_FALSE(one->others);
  auto others = ParseSessionsArgs(Parse({"sessions", "revoke", "--others"}));
  ASSERT_TRUE(others.ok());
  EXPECT_TRUE(others->others);
  EXPECT_EQ(ParseSessionsArgs(Parse({"sessions", "--revoke", "abc"}))->id, "abc");
  EXPECT_TRUE(ParseSessionsArgs(Parse({"sessions", "--revoke-others"}))->others);

  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"sessions", "revoke"},
           {"sessions", "revoke", "abc", "--others"},
           {"sessions", "kill", "abc"},
           {"sessions", "--others"},
           {"sessions", "--revoke", "a", "--revoke-others"},
           {"sessions", "revoke", "abc", "--revoke-others"},
           {"sessions", "revoke", ""}}) {
    auto r = ParseSessionsArgs(Parse(bad));
    EXPECT_FALSE(r.ok()) << absl::StrJoin(bad, " ");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(AccountTextTest, Durations) {
  EXPECT_EQ(*ParseDurationText("90m", "--valid"), absl::Minutes(90));
  EXPECT_EQ(*ParseDurationText("12h", "--valid"), absl::Hours(12));
  EXPECT_EQ(*ParseDurationText("7d", "--valid"), absl::Hours(168));
  EXPECT_EQ(*ParseDurationText("2W", "--valid"), absl::Hours(336));
  EXPECT_EQ(*ParseDurationText("30s", "--valid"), absl::Seconds(30));
  for (const char* bad : {"", "d", "7", "0d", "-1d", "7x", "1.5h", "+3d", "99999999999999d"}) {
    auto r = ParseDurationText(bad, "--valid");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr("--valid must be a duration")) << bad;
    }
  }
}

TEST(AccountTextTest, ExpiryIsADurationOrADateInTheFuture) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);  // 2027-01-15
  EXPECT_EQ(*ParseExpiry("30d", now, "--expires"), now + absl::Hours(24 * 30));
  EXPECT_EQ(*ParseExpiry("2028-01-01", now, "--expires"), absl::FromCivil(absl::CivilDay(2028, 1, 1), absl::UTCTimeZone()));
  EXPECT_EQ(*ParseExpiry("2028-01-01T12:30:00Z", now, "--expires"),
            absl::FromCivil(absl::CivilSecond(2028, 1, 1, 12, 30, 0), absl::UTCTimeZone()));
  auto past = ParseExpiry("2027-01-01", now, "--expires");
  ASSERT_FALSE(past.ok());
  EXPECT_THAT(past.status().message(), HasSubstr("not in the future"));
  for (const char* bad : {"tomorrow", "2027-13-01", "30", ""}) {
    auto r = ParseExpiry(bad, now, "--expires");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr("--expires")) << bad;
    }
  }
}

TEST(AccountTextTest, TokenActionsAndRooms) {
  auto a = ParseTokenActions("read, POST,read");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(*a, ElementsAre(chat::v1::TOKEN_ACTION_READ, chat::v1::TOKEN_ACTION_POST));
  auto bad = ParseTokenActions("read,write");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("unknown action 'write'"));
  EXPECT_FALSE(ParseTokenActions(",").ok());
  google::protobuf::RepeatedField<int> none;
  EXPECT_EQ(TokenActionsText(none), "all");
  none.Add(chat::v1::TOKEN_ACTION_MANAGE);
  none.Add(chat::v1::TOKEN_ACTION_READ);
  EXPECT_EQ(TokenActionsText(none), "manage,read");

  auto rooms = ParseRoomList({"ops", "dev, ops", "qa"});
  ASSERT_TRUE(rooms.ok());
  EXPECT_THAT(*rooms, ElementsAre("ops", "dev", "qa"));
  auto bad_room = ParseRoomList({"Not A Room"});
  ASSERT_FALSE(bad_room.ok());
  EXPECT_THAT(bad_room.status().message(), HasSubstr("--room"));
}

TEST(AccountTextTest, TokenCreateRequest) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto r = TokenCreateRequest(Parse({"token", "create", "deploy", "--account", "ci-bot", "--room", "ops",
                                     "--room", "dev", "--actions", "post", "--expires", "1d"}),
                              now);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name(), "deploy");
  EXPECT_EQ(r->account(), "ci-bot");
  EXPECT_THAT(r->rooms(), ElementsAre("ops", "dev"));
  EXPECT_THAT(r->actions(), ElementsAre(chat::v1::TOKEN_ACTION_POST));
  EXPECT_EQ(r->expires_at().seconds(), 1'800'000'000 + 86400);
  auto plain = TokenCreateRequest(Parse({"token", "create", "mine"}), now);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->account().empty());
  EXPECT_TRUE(plain->rooms().empty());
  EXPECT_TRUE(plain->actions().empty());
  EXPECT_FALSE(plain->has_expires_at()) << "never expires";
  EXPECT_FALSE(TokenCreateRequest(Parse({"token", "create", std::string(65, 'x')}), now).ok());
  EXPECT_FALSE(TokenCreateRequest(Parse({"token", "create", "x", "--account", "a b"}), now).ok());
  EXPECT_FALSE(TokenCreateRequest(Parse({"token", "create", "x", "--expires", "yesterday"}), now).ok());
}

TEST(AccountTextTest, Tables) {
  setenv("TZ", "UTC", 1);
  chat::v1::ListSessionsResponse sessions;
  auto* a = sessions.add_sessions();
  a->set_id("aaaaaaaaaaaaaaaa");
  a->mutable_created_at()->set_seconds(0);
  a->mutable_expires_at()->set_seconds(86400);
  a->set_peer("ipv4:127.0.0.1:5000");
  a->set_client("chat-cli/0.1.0");
  a->set_current(true);
  auto* b = sessions.add_sessions();
  b->set_id("bbbbbbbbbbbbbbbb");
  b->set_client("Mozilla/5.0\x1b[31m");
  std::string table = FormatSessionsTable(sessions, Style(false));
  std::vector<std::string> lines = absl::StrSplit(table, '\n');
  ASSERT_GE(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("ID"));
  EXPECT_THAT(lines[0], HasSubstr("LAST USED"));
  EXPECT_THAT(lines[1], ::testing::StartsWith("* aaaaaaaaaaaaaaaa"));
  EXPECT_THAT(lines[1], HasSubstr("1970-01-02 00:00"));
  EXPECT_THAT(lines[1], HasSubstr("chat-cli/0.1.0"));
  EXPECT_THAT(lines[2], ::testing::StartsWith("  bbbbbbbbbbbbbbbb"));
  EXPECT_THAT(table, Not(HasSubstr("\x1b"))) << "other people's text is sanitized";

  chat::v1::ListApiTokensResponse tokens;
  auto* t = tokens.add_tokens();
  t->set_id("0123456789abcdef");
  t->set_account("ci-bot");
  t->set_name("deploy");
  t->add_rooms("ops");
  t->add_actions(chat::v1::TOKEN_ACTION_POST);
  t->mutable_created_at()->set_seconds(86400);
  std::string tt = FormatTokensTable(tokens, Style(false));
  EXPECT_THAT(tt, HasSubstr("0123456789abcdef  ci-bot   deploy  ops    post     1970-01-02 00:00  never    never\n"))
      << "no expiry, never used";
  tokens.mutable_tokens(0)->clear_rooms();
  tokens.mutable_tokens(0)->clear_actions();
  EXPECT_THAT(FormatTokensTable(tokens, Style(false)), HasSubstr("deploy  all    all")) << "no limits";

  chat::v1::ListBotsResponse bots;
  bots.add_bots()->set_username("ci-bot");
  EXPECT_THAT(FormatBotsTable(bots, Style(false)), HasSubstr("ci-bot  -"));
  chat::v1::ListWebhooksResponse hooks;
  auto* h = hooks.add_webhooks();
  h->set_id("feed");
  h->set_room("ops");
  h->set_bot("ci-bot");
  EXPECT_THAT(FormatWebhooksTable(hooks, Style(false)), HasSubstr("feed  ops   ci-bot"));
}

TEST(AccountTextTest, NewWebhookShowsThePathAndWithAUrlACurlCommand) {
  chat::v1::CreateWebhookResponse created;
  created.mutable_webhook()->set_id("0a0b0c0d0e0f0102");
  created.mutable_webhook()->set_room("ops");
  created.mutable_webhook()->set_bot("ci-bot");
  created.set_secret("s3cr3t");
  EXPECT_EQ(WebhookPath("0a0b0c0d0e0f0102", "s3cr3t"), "/api/hooks/0a0b0c0d0e0f0102/s3cr3t");
  std::string bare = DescribeNewWebhook(created, "");
  EXPECT_THAT(bare, HasSubstr("secret: s3cr3t"));
  EXPECT_THAT(bare, HasSubstr("not shown again"));
  EXPECT_THAT(bare, HasSubstr("/api/hooks/0a0b0c0d0e0f0102/s3cr3t"));
  EXPECT_THAT(bare, Not(HasSubstr("curl")));
  std::string full = DescribeNewWebhook(created, "https://chat.example.com/");
  EXPECT_THAT(full, HasSubstr("https://chat.example.com/api/hooks/0a0b0c0d0e0f0102/s3cr3t"));
  EXPECT_THAT(full, HasSubstr("curl -X POST -H 'Content-Type: application/json'"));
}

TEST(AccountTextTest, ConfirmationAndKinds) {
  EXPECT_TRUE(ConfirmsUsername(" Alice \n", "alice"));
  EXPECT_FALSE(ConfirmsUsername("alic", "alice"));
  EXPECT_FALSE(ConfirmsUsername("", ""));
  EXPECT_EQ(AccountKindName(chat::v1::ACCOUNT_KIND_BOT), "bot");
  EXPECT_EQ(AccountKindName(chat::v1::ACCOUNT_KIND_UNSPECIFIED), "user");
}

TEST(BotTagTest, MessagesOfBotsAreTagged) {
  setenv("TZ", "UTC", 1);
  chat::v1::Message bot;
  bot.set_room("ops");
  bot.set_seq(3);
  bot.set_author("ci");
  bot.set_text("build green");
  bot.set_author_kind(chat::v1::ACCOUNT_KIND_BOT);
  chat::v1::Message user = bot;
  user.set_author("alice");
  user.clear_author_kind();
  EXPECT_EQ(AuthorWidth(bot), 8u);
  EXPECT_EQ(AuthorWidth(user), 5u);
  MessageLayout layout;
  layout.author_width = std::max(AuthorWidth(bot), AuthorWidth(user));
  EXPECT_EQ(FormatMessage(bot, layout, Style(false)), "#3  00:00:00  ci [bot]  build green");
  EXPECT_EQ(FormatMessage(user, layout, Style(false)), "#3  00:00:00  alice     build green");
  EXPECT_EQ(FormatChatMessage(bot, false, Style(false)), "00:00:00 ci [bot]: build green");
  EXPECT_EQ(FormatChatMessage(user, false, Style(false)), "00:00:00 alice: build green");
}

TEST(SavedExpiryTest, FollowsTheToken) {
  chat::testing::TempDir dir;
  CredentialStore store(dir.path() + "/credentials");
  store.Put({"a:1", "alice", "tok-a", 100});
  store.Put({"b:2", "bob", "tok-b", 200});
  EXPECT_TRUE(store.SetExpiry("tok-a", 500));
  EXPECT_FALSE(store.SetExpiry("tok-unknown", 900));
  ASSERT_TRUE(store.Save().ok());
  CredentialStore again(store.path());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Find({"a:1"})->expires_at_unix, 500);
  EXPECT_EQ(again.Find({"b:2"})->expires_at_unix, 200);
}

TEST(TokenHintTest, UnauthenticatedSaysWhatToDo) {
  grpc::Status bad(grpc::StatusCode::UNAUTHENTICATED, "invalid token");
  EXPECT_EQ(CallError(bad, "h:1").message(), "invalid token (run 'chat login')");
  EXPECT_EQ(CallError(bad, "h:1", true, "check CHAT_TOKEN").message(), "invalid token (check CHAT_TOKEN)");
  EXPECT_EQ(CallError(bad, "h:1", false).message(), "invalid token");
}

}  // namespace
}  // namespace chat::cli
