// Unit tests of the CLI's pure parts: argument parsing, the line editor,
// formatting and sanitizing, the credentials file, exit codes.
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "args.h"
#include "config.h"
#include "exit_codes.h"
#include "format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "line_editor.h"
#include "servers.h"
#include "process.h"

namespace chat::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ArgsTest, GlobalOptionsBeforeOrAfterTheCommand) {
  auto p = ParseArgs({"--server", "h:1", "history", "general", "--json", "-n", "5", "--before=9"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->command, "history");
  EXPECT_THAT(p->args, ElementsAre("general"));
  EXPECT_EQ(p->Get("server"), "h:1");
  EXPECT_TRUE(p->Has("json"));
  EXPECT_EQ(p->Get("limit"), "5");
  EXPECT_EQ(p->Get("before"), "9");
  auto q = ParseArgs({"-n5", "tail", "a", "b"});
  EXPECT_FALSE(q.ok()) << "-n is not a global option";
}

TEST(ArgsTest, ImpliedJoinAndDoubleDash) {
  auto p = ParseArgs({"general"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->command, "join");
  EXPECT_TRUE(p->implied_join);
  EXPECT_THAT(p->args, ElementsAre("general"));
  auto s = ParseArgs({"send", "room", "--", "-1", "--json"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->args, ElementsAre("room", "-1", "--json"));
  EXPECT_FALSE(s->Has("json"));
}

TEST(ArgsTest, Errors) {
  EXPECT_FALSE(ParseArgs({"create", "room", "--limit", "3"}).ok()) << "--limit is not an option of create";
  EXPECT_TRUE(ParseArgs({"rooms", "--limit", "3"}).ok()) << "rooms takes --limit (its pages)";
  EXPECT_FALSE(ParseArgs({"rooms", "--json=yes"}).ok());
  EXPECT_FALSE(ParseArgs({"history"}).ok());
  EXPECT_FALSE(ParseArgs({"create", "a", "b"}).ok());
  auto missing = ParseArgs({"history", "r", "--limit"});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--limit needs a value"));
  EXPECT_TRUE(ParseArgs({"history", "--help"}).ok()) << "--help needs no arguments";
}

TEST(ArgsTest, HelpMentionsEveryOption) {
  for (const auto& c : Commands()) {
    std::string help = CommandHelp(c);
    for (const auto& o : c.options) EXPECT_THAT(help, HasSubstr("--" + o.name)) << c.name;
    EXPECT_THAT(help, HasSubstr("--server ADDR"));
  }
}

TEST(LineEditorTest, EditingKeys) {
  LineEditor e;
  for (char c : std::string("héllo wörld")) e.Feed(c);
  EXPECT_EQ(e.buffer(), "héllo wörld");
  EXPECT_EQ(e.Feed(0x7f), LineEditor::Action::kChanged);
  EXPECT_EQ(e.buffer(), "héllo wörl");
  e.Feed(0x17);  // Ctrl-W
  EXPECT_EQ(e.buffer(), "héllo ");
  for (char c : std::string("\x1b[A\x1b[1;5C\x1bOPx")) e.Feed(c);  // arrows, F1: swallowed
  EXPECT_EQ(e.buffer(), "héllo x");
  e.Feed(0x08);
  e.Feed(0x7f);
  e.Feed(0x7f);
  EXPECT_EQ(e.buffer(), "héll");
  e.Feed(0x7f);
  e.Feed(0x7f);
  EXPECT_EQ(e.buffer(), "hé");
  e.Feed(0x7f);
  EXPECT_EQ(e.buffer(), "h");
  EXPECT_EQ(e.Feed(0x04), LineEditor::Action::kNone) << "Ctrl-D ends only an empty line";
  EXPECT_EQ(e.Feed('\r'), LineEditor::Action::kSubmit);
  EXPECT_EQ(e.TakeLine(), "h");
  EXPECT_EQ(e.buffer(), "");
  EXPECT_EQ(e.Feed(0x04), LineEditor::Action::kEof);
  EXPECT_EQ(e.Feed(0x03), LineEditor::Action::kInterrupt);
  e.Feed('a');
  e.Feed(0x15);  // Ctrl-U
  EXPECT_EQ(e.buffer(), "");
  EXPECT_EQ(e.Feed(0x01), LineEditor::Action::kNone);
  EXPECT_EQ(e.buffer(), "");
}

TEST(LineEditorTest, LimitsTheLength) {
  LineEditor e(4);
  for (char c : std::string("abcd")) EXPECT_EQ(e.Feed(c), LineEditor::Action::kChanged);
  EXPECT_EQ(e.Feed('e'), LineEditor::Action::kBell);
  EXPECT_EQ(e.buffer(), "abcd");
}

TEST(FormatTest, SanitizeNeutralizesControls) {
  EXPECT_EQ(Sanitize("plain ünïcode ✓", false), "plain ünïcode ✓");
  EXPECT_EQ(Sanitize("\x1b[31mred\x07", false), "^[[31mred^G");
  EXPECT_EQ(Sanitize("a\nb", true), "a\nb");
  EXPECT_EQ(Sanitize("a\nb", false), "a\xE2\x8F\x8E" "b");
  EXPECT_EQ(Sanitize("\xC2\x9B" "2J", false), "\xEF\xBF\xBD" "2J") << "C1 CSI";
  EXPECT_EQ(Sanitize("bad \xFF byte", false), "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(OneLine("two\nlines"), "two lines");
}

TEST(FormatTest, WidthsAndTails) {
  EXPECT_EQ(DisplayWidth("héllo"), 5u);
  EXPECT_EQ(TailColumns("héllo", 4), "éllo");
  EXPECT_EQ(TailColumns("abc", 10), "abc");
  EXPECT_EQ(PadRight("é", 3), "é  ");
  // Wide characters take two columns, combining marks none.
  EXPECT_EQ(DisplayWidth("日本語"), 6u);
  EXPECT_EQ(DisplayWidth("e\xCC\x81"), 1u);
  EXPECT_EQ(TailColumns("ab日本", 5), "b日本");
  EXPECT_EQ(TailColumns("ab日本", 3), "本");
  EXPECT_EQ(TailColumns("abc", 0), "");
}

TEST(FormatTest, TableColumnsAlign) {
  Style plain(false);
  std::string t = FormatTable({"A", "BB"}, {{"long cell", "1"}, {"x", "22"}}, plain);
  EXPECT_EQ(t, "A          BB\nlong cell  1\nx          22\n");
  Style color(true);
  EXPECT_THAT(FormatTable({"A"}, {}, color), HasSubstr("\x1b[1m"));
}

TEST(FormatTest, MessageLines) {
  chat::v1::Message m;
  m.set_room("general");
  m.set_seq(7);
  m.set_author("bob");
  m.set_text("one\ntwo");
  m.mutable_sent_at()->set_seconds(0);
  setenv("TZ", "UTC", 1);
  MessageLayout layout;
  layout.author_width = 5;
  layout.seq_width = 3;
  EXPECT_EQ(FormatMessage(m, layout, Style(false)),
            "#7   00:00:00  bob    one\n"
            "                      two");
  EXPECT_EQ(FormatChatMessage(m, true, Style(false)), "00:00:00 #general bob: one\n    two");
}

TEST(ConfigTest, CredentialsRoundTripPrivately) {
  chat::testing::TempDir dir;
  std::string path = dir.path() + "/sub/chat/credentials";
  CredentialStore store(path);
  ASSERT_TRUE(store.Load().ok()) << "a missing file is an empty store";
  store.Put({"a:1", "alice", "tok-a", 100});
  store.Put({"b:2", "bob", "tok-b", 0});
  store.Put({"a:1", "alice", "tok-a2", 200});
  umask(0);  // the file must be 0600 whatever the umask
  ASSERT_TRUE(store.Save().ok());
  umask(022);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat((dir.path() + "/sub/chat").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);

  CredentialStore again(path);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.default_server(), "a:1");
  auto a = again.Find({"a:1"});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->token, "tok-a2");
  EXPECT_EQ(a->expires_at_unix, 200);
  EXPECT_EQ(again.Find({"b:2"})->username, "bob");
  EXPECT_TRUE(again.Remove("b:2"));
  EXPECT_FALSE(again.Remove("b:2"));
  EXPECT_FALSE(again.Find({"c:3"}));
}

TEST(ConfigTest, TokensAreFoundByTheAddressesOfTheirList) {
  chat::testing::TempDir dir;
  CredentialStore store(dir.path() + "/credentials");
  store.Put({"a:1", "alice", "tok-a", 0});
  store.Put({"b:2", "bob", "tok-b", 0});
  // A login with a list replaces the tokens of lists it covers (a:1), not others.
  store.Put({"a:1,c:3", "carol", "tok-ac", 0});
  EXPECT_EQ(store.default_server(), "a:1,c:3");
  EXPECT_EQ(store.Find({"a:1"})->token, "tok-ac");
  EXPECT_EQ(store.Find({"c:3", "a:1"})->token, "tok-ac") << "order does not matter";
  EXPECT_EQ(store.Find({"b:2"})->token, "tok-b");
  EXPECT_FALSE(store.Find({"a:1", "b:2"})) << "no token is saved for both";
  EXPECT_FALSE(store.Find({"d:4"}));
  // Two lists with an address in common: the newest login wins.
  store.Put({"b:2,c:3", "dave", "tok-bc", 0});
  EXPECT_EQ(store.Find({"c:3"})->token, "tok-bc");
  EXPECT_EQ(store.Find({"a:1"})->token, "tok-ac");
  ASSERT_TRUE(store.Save().ok());
  CredentialStore again(store.path());
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Find({"c:3"})->token, "tok-bc") << "the file keeps the order";
  EXPECT_FALSE(again.Remove("c:3")) << "Remove takes the exact list";
  EXPECT_TRUE(again.Remove("b:2,c:3"));
  EXPECT_EQ(again.Find({"c:3"})->token, "tok-ac");
}

TEST(ServersTest, ParsesAndChecksTheList) {
  auto one = ParseServerList("localhost:50051", "--server");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(*one, ElementsAre("localhost:50051"));
  auto many = ParseServerList(" a:1, [::1]:2 ,b.example:65535", "--server");
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_THAT(*many, ElementsAre("a:1", "[::1]:2", "b.example:65535"));
  EXPECT_EQ(ServerListText(*many), "a:1,[::1]:2,b.example:65535");
  for (const char* bad : {"", ",", "a:1,", ",a:1", "a:1,,b:2", "a", "a:", ":1", "a:0", "a:65536",
                          "a:1x", "a:-1", "::1:2", "[::1]", "[]:1", "a b:1", "a:1,a:1"}) {
    auto parsed = ParseServerList(bad, "CHAT_SERVER");
    ASSERT_FALSE(parsed.ok()) << "'" << bad << "'";
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), ::testing::StartsWith("CHAT_SERVER"));
  }
  EXPECT_TRUE(ListCovers({"a:1", "b:2"}, {"b:2"}));
  EXPECT_TRUE(ListCovers({"a:1", "b:2"}, {"b:2", "a:1"}));
  EXPECT_FALSE(ListCovers({"a:1"}, {"a:1", "b:2"}));
}

TEST(ExitCodeTest, Mapping) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), 2);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("")), 3);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("")), 3);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), 4);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), 5);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("")), 5);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("")), 6);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("")), 1);
}

}  // namespace
}  // namespace chat::cli
