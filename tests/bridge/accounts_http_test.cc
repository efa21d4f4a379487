// The bridge's HTTP API for accounts and webhooks (issue #29; docs/protocol.md,
// "HTTP API for accounts and webhooks"), each against a real Bridge in front of
// a real chat-core: /api/info, /api/account/{Method}, the login's client from
// the User-Agent, and webhooks posting into a room a live WebSocket is in.
// Registration by invitation runs the real binaries (it needs chat-core's
// --registration flag and a restart).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge_fixture.h"
#include "chat/json_codec.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A POST as the web UI makes it: its own Origin, JSON, the session cookie.
HttpResult Post(BridgeEnv& env, const std::string& path, const std::string& body, const std::string& cookie,
                std::map<std::string, std::string> headers = {}) {
  headers.emplace("Origin", env.origin());
  if (!cookie.empty()) headers.emplace("Cookie", "chat_session=" + cookie);
  if (!headers.count("Content-Type")) headers.emplace("Content-Type", "application/json");
  return HttpRequest(env.port(), "POST", path, body, headers);
}

// /api/account/{method}: the response parsed into `out` (a test failure if
// the call fails or the body does not parse).
template <typename Response>
Response Account(BridgeEnv& env, const std::string& method, const std::string& body, const std::string& cookie) {
  HttpResult r = Post(env, "/api/account/" + method, body, cookie);
  Response out;
  EXPECT_EQ(r.status, 200) << method << ": " << r.body;
  if (r.status == 200) {
    absl::Status st = FromJson(r.body, &out);
    EXPECT_TRUE(st.ok()) << method << " answered " << r.body << ": " << st;
  }
  return out;
}

// A bot of `owner` and a webhook of it into `room` ("lobby" exists from the start).
chat::v1::CreateWebhookResponse MakeHook(BridgeEnv& env, const std::string& cookie, const std::string& bot,
                                         const std::string& room = "lobby") {
  Account<chat::v1::UserProfile>(env, "CreateBot", absl::StrCat(R"({"name":")", bot, R"("})"), cookie);
  auto hook = Account<chat::v1::CreateWebhookResponse>(
      env, "CreateWebhook", absl::StrCat(R"({"room":")", room, R"(","bot":")", bot, R"(","name":"ci"})"), cookie);
  EXPECT_FALSE(hook.webhook().id().empty());
  EXPECT_FALSE(hook.secret().empty());
  return hook;
}

HttpResult Hook(int port, const std::string& target, const std::string& body,
                std::map<std::string, std::string> headers = {}) {
  if (!headers.count("Content-Type")) headers.emplace("Content-Type", "application/json");
  return HttpRequest(port, "POST", target, body, headers);
}

WsClient::Pred WsText(const std::string& room, const std::string& text) {
  return [room, text](const chat::v1::ServerEvent& e) {
    return e.has_message() && e.message().room() == room && e.message().text() == text;
  };
}

TEST(AccountsHttpTest, InfoNeedsNoCredentials) {
  BridgeEnv env;
  auto r = HttpRequest(env.port(), "GET", "/api/info");
  ASSERT_EQ(r.status, 200) << r.body;
  chat::v1::ServerInfoResponse info;
  ASSERT_TRUE(FromJson(r.body, &info).ok()) << r.body;
  EXPECT_EQ(info.registration(), chat::v1::REGISTRATION_MODE_OPEN) << r.body;
  EXPECT_EQ(HttpRequest(env.port(), "POST", "/api/info", "{}").status, 405);
}

TEST(AccountsHttpTest, AccountCallsAnswerInProto3Json) {
  BridgeEnv env;
  const std::string cookie = env.Login("alice");
  ASSERT_NE(cookie, "");
  auto me = Account<chat::v1::WhoAmIResponse>(env, "WhoAmI", "", cookie);
  EXPECT_EQ(me.username(), "alice");
  EXPECT_EQ(me.registration(), chat::v1::REGISTRATION_MODE_OPEN);
  auto profile = Account<chat::v1::UserProfile>(env, "UpdateProfile", R"({"displayName":"Alice A."})", cookie);
  EXPECT_EQ(profile.display_name(), "Alice A.");
  Account<chat::v1::UserProfile>(env, "CreateBot", R"({"name":"alicebot","displayName":"Robo"})", cookie);
  auto bots = Account<chat::v1::ListBotsResponse>(env, "ListBots", "{}", cookie);
  ASSERT_EQ(bots.bots_size(), 1);
  EXPECT_EQ(bots.bots(0).username(), "alicebot");
  // An error of chat-core's keeps its code: a taken name.
  auto r = Post(env, "/api/account/CreateBot", R"({"name":"alicebot"})", cookie);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"ALREADY_EXISTS\""));
}

TEST(AccountsHttpTest, AccountCallsAreCheckedLikeTheOtherPosts) {
  BridgeEnv env;
  const std::string cookie = env.Login("alice");
  ASSERT_NE(cookie, "");
  auto r = Post(env, "/api/account/ListSessions", "{}", "");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_THAT(r.body, HasSubstr("UNAUTHENTICATED"));
  r = Post(env, "/api/account/NoSuchCall", "{}", cookie);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("NOT_FOUND"));
  for (const std::string hidden : {"Login", "Register", "PostWebhook", "DisableAccount"}) {
    EXPECT_EQ(Post(env, "/api/account/" + hidden, "{}", cookie).status, 404) << hidden;
  }
  r = HttpRequest(env.port(), "GET", "/api/account/ListSessions", "", {{"Cookie", "chat_session=" + cookie}});
  EXPECT_EQ(r.status, 405) << r.body;
  r = Post(env, "/api/account/ListSessions", "{}", cookie, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(r.status, 403) << r.body;
  r = Post(env, "/api/account/ListSessions", "{}", cookie, {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415) << r.body;
  r = Post(env, "/api/account/CreateBot", R"({"nmae":"x"})", cookie);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("CreateBotRequest"));
  // Bearer works as the cookie does, with no Origin (a script).
  r = HttpRequest(env.port(), "POST", "/api/account/WhoAmI", "",
                  {{"Authorization", "Bearer " + cookie}, {"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"username\":\"alice\""));
}

TEST(AccountsHttpTest, LoginRecordsTheBrowsersUserAgent) {
  BridgeEnv env;
  ASSERT_NE(env.Login("alice"), "");  // registered
  const std::string body = R"({"username":"alice","password":"correct horse"})";
  auto r = HttpRequest(env.port(), "POST", "/api/login", body,
                       {{"Origin", env.origin()}, {"User-Agent", "Test\tBrowser/1.0 " + std::string(400, 'x')}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string cookie = SessionCookie(r);
  auto sessions = Account<chat::v1::ListSessionsResponse>(env, "ListSessions", "", cookie);
  ASSERT_EQ(sessions.sessions_size(), 2);
  int current = 0;
  for (const auto& s : sessions.sessions()) {
    if (!s.current()) continue;
    ++current;
    EXPECT_EQ(s.client().size(), 256u);
    EXPECT_EQ(s.client().substr(0, 16), "TestBrowser/1.0 ") << "the tab is dropped";
    EXPECT_FALSE(s.id().empty());
  }
  EXPECT_EQ(current, 1);
}

TEST(AccountsHttpTest, ChangePasswordEndsTheOtherBrowsersWebSocket) {
  BridgeEnv env;
  const std::string mine = env.Login("alice");
  const std::string other = env.Login("alice");
  ASSERT_NE(mine, "");
  ASSERT_NE(other, "");
  auto ws = env.Connect(other);
  ASSERT_NE(ws, nullptr);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  Account<chat::v1::ChangePasswordResponse>(
      env, "ChangePassword", R"({"oldPassword":"correct horse","newPassword":"battery staple"})", mine);
  EXPECT_TRUE(ws->WaitClosed(std::chrono::seconds(5))) << "the other browser's WebSocket stays open";
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", "chat_session=" + other}}).status, 401);
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", "chat_session=" + mine}}).status, 200)
      << "the caller's own session stays";
  // The old password no longer logs in; the new one does.
  const std::string old_body = R"({"username":"alice","password":"correct horse"})";
  EXPECT_EQ(Post(env, "/api/login", old_body, "").status, 401);
  EXPECT_EQ(Post(env, "/api/login", R"({"username":"alice","password":"battery staple"})", "").status, 200);
  // A wrong old password changes nothing.
  auto r = Post(env, "/api/account/ChangePassword", R"({"oldPassword":"wrong one!","newPassword":"x1234567890"})",
                mine);
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
}

TEST(AccountsHttpTest, ApiTokenOpensAWebSocketAndRevokingItClosesIt) {
  BridgeEnv env;
  const std::string cookie = env.Login("alice");
  ASSERT_NE(cookie, "");
  auto created = Account<chat::v1::CreateApiTokenResponse>(env, "CreateApiToken", R"({"name":"ws"})", cookie);
  ASSERT_THAT(created.secret(), ::testing::StartsWith("chat_"));
  WsClient::Options o;
  o.bearer = created.secret();
  o.origin = "";  // a script, not a browser
  int status = 0;
  auto ws = WsClient::Connect(env.port(), o, &status);
  ASSERT_NE(ws, nullptr) << "upgrade refused with " << status;
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  ws->SendMessage("lobby", "from a token", "t1");
  ASSERT_TRUE(ws->WaitFor(WsAck("t1")));
  // The token may ask who it is over HTTP too.
  auto r = HttpRequest(env.port(), "POST", "/api/account/WhoAmI", "",
                       {{"Authorization", "Bearer " + o.bearer}, {"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"apiToken\""));
  auto revoked = Account<chat::v1::RevokeApiTokenResponse>(
      env, "RevokeApiToken", absl::StrCat(R"({"id":")", created.token().id(), R"("})"), cookie);
  EXPECT_TRUE(ws->WaitClosed(std::chrono::seconds(5))) << "the revoked token's WebSocket stays open";
  EXPECT_EQ(WsClient::Connect(env.port(), o, &status), nullptr);
  EXPECT_EQ(status, 401);
}

TEST(AccountsHttpTest, DeleteAccountClearsTheCookieAndKeepsTheName) {
  BridgeEnv env;
  const std::string cookie = env.Login("dave");
  ASSERT_NE(cookie, "");
  auto r = Post(env, "/api/account/DeleteAccount", R"({"password":"wrong password"})", cookie);
  EXPECT_NE(r.status, 200) << r.body;
  EXPECT_TRUE(r.set_cookies.empty());
  r = Post(env, "/api/account/DeleteAccount", R"({"password":"correct horse"})", cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.set_cookies.size(), 1u);
  EXPECT_THAT(r.set_cookies[0], HasSubstr("chat_session=;"));
  EXPECT_THAT(r.set_cookies[0], HasSubstr("Max-Age=0"));
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", "chat_session=" + cookie}}).status, 401);
  r = Post(env, "/api/register", R"({"username":"dave","password":"correct horse"})", "");
  EXPECT_EQ(r.status, 409) << r.body;
}

TEST(AccountsHttpTest, AWebhookPostShowsUpOnALiveWebSocket) {
  BridgeEnv env;
  const std::string cookie = env.Login("alice");
  ASSERT_NE(cookie, "");
  auto ws = env.Connect(cookie);
  ASSERT_NE(ws, nullptr);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")));
  auto hook = MakeHook(env, cookie, "cibot");
  const std::string id = hook.webhook().id();

  // The secret in the header, with Slack's other fields beside the text.
  auto r = Hook(env.port(), "/api/hooks/" + id, R"({"text":"build 7 passed","username":"ci","blocks":[]})",
                {{"X-Chat-Webhook-Secret", hook.secret()}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"ok\":true"));
  EXPECT_THAT(r.body, HasSubstr("\"room\":\"lobby\""));
  auto seen = ws->WaitFor(WsText("lobby", "build 7 passed"));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->message().author(), "cibot");
  EXPECT_EQ(seen->message().author_kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_THAT(r.body, HasSubstr(absl::StrCat("\"seq\":", seen->message().seq())));

  // The secret in the path; an Origin and a cookie change nothing.
  r = Hook(env.port(), absl::StrCat("/api/hooks/", id, "/", hook.secret()), R"({"text":"deploy done"})",
           {{"Origin", "https://ci.example"}, {"Cookie", "chat_session=a; chat_session=b"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(ws->WaitFor(WsText("lobby", "deploy done")));
}

TEST(AccountsHttpTest, WebhookRefusalsAreClear4xx) {
  BridgeEnv env;
  const std::string cookie = env.Login("alice");
  ASSERT_NE(cookie, "");
  auto hook = MakeHook(env, cookie, "cibot");
  const std::string url = "/api/hooks/" + hook.webhook().id();
  const std::map<std::string, std::string> secret = {{"X-Chat-Webhook-Secret", hook.secret()}};
  const std::string ok = R"({"text":"hello"})";
  struct Case {
    std::string what;
    HttpResult r;
    int status;
    std::string says;
  };
  std::map<std::string, std::string> plain = secret;
  plain["Content-Type"] = "text/plain";
  std::map<std::string, std::string> form = secret;
  form["Content-Type"] = "application/x-www-form-urlencoded";
  const std::vector<Case> cases = {
      {"a wrong secret", Hook(env.port(), url, ok, {{"X-Chat-Webhook-Secret", "not-the-secret"}}), 403,
       "PERMISSION_DENIED"},
      {"a wrong secret in the path", Hook(env.port(), url + "/not-the-secret", ok), 403, "PERMISSION_DENIED"},
      {"an unknown hook", Hook(env.port(), "/api/hooks/00000000deadbeef", ok, secret), 404, "NOT_FOUND"},
      {"no secret", Hook(env.port(), url, ok), 401, "X-Chat-Webhook-Secret"},
      {"bad JSON", Hook(env.port(), url, "{\"text\":", secret), 400, "not valid JSON"},
      {"no text", Hook(env.port(), url, R"({"attachments":[]})", secret), 400, "no \\\"text\\\""},
      {"a text that is no string", Hook(env.port(), url, R"({"text":42})", secret), 400, "not a string"},
      {"an empty text", Hook(env.port(), url, R"({"text":""})", secret), 400, "empty"},
      {"text/plain", Hook(env.port(), url, ok, plain), 415, "Content-Type: application/json"},
      {"a form", Hook(env.port(), url, "payload=%7B%7D", form), 415, "Content-Type: application/json"},
      {"a body over 16 KiB", Hook(env.port(), url, absl::StrCat(R"({"text":")", std::string(17000, 'x'), "\"}"), secret),
       413, "too large"},
      {"a GET", HttpRequest(env.port(), "GET", url, "", secret), 405, "use POST"},
      {"no id", Hook(env.port(), "/api/hooks/", ok, secret), 404, "/api/hooks/{id}"},
      {"too many parts", Hook(env.port(), url + "/a/b", ok, secret), 404, "/api/hooks/{id}"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.r.status, c.status) << c.what << ": " << c.r.body;
    EXPECT_THAT(c.r.body, HasSubstr(c.says)) << c.what;
  }
  // A revoked hook is gone.
  Account<chat::v1::RevokeWebhookResponse>(env, "RevokeWebhook",
                                           absl::StrCat(R"({"id":")", hook.webhook().id(), R"("})"), cookie);
  EXPECT_EQ(Hook(env.port(), url, ok, secret).status, 404);
}

TEST(AccountsHttpTest, AFloodingHookGets429WithRetryAfter) {
  BridgeEnv env;
  const std::string cookie = env.Login("alice");
  ASSERT_NE(cookie, "");
  auto hook = MakeHook(env, cookie, "cibot");
  const std::string url = "/api/hooks/" + hook.webhook().id();
  int accepted = 0;
  HttpResult refused;
  // chat-core's per-hook limit (1 a second, bursts of 10) stops this long
  // before the bridge's per-address one (60 per 10 s).
  for (int i = 0; i < 30 && refused.status == 0; ++i) {
    auto r = Hook(env.port(), url, absl::StrCat(R"({"text":"flood )", i, "\"}"),
                  {{"X-Chat-Webhook-Secret", hook.secret()}});
    if (r.status == 200) {
      ++accepted;
    } else {
      refused = r;
    }
  }
  ASSERT_EQ(refused.status, 429) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_GE(accepted, 10);
  EXPECT_LE(accepted, 15);
  ASSERT_TRUE(refused.headers.count("retry-after")) << refused.body;
  EXPECT_GE(std::stoi(refused.headers["retry-after"]), 1);
}

TEST(AccountsHttpTest, TheBridgeLimitsWebhookPostsPerAddress) {
  BridgeEnv env([](bridge::BridgeOptions& o) { o.webhook_posts_per_10s_per_ip = 3; });
  // Unknown hooks: every post counts, refused by chat-core or not.
  for (int i = 0; i < 3; ++i) {
    auto r = Hook(env.port(), "/api/hooks/00000000deadbeef", R"({"text":"x"})", {{"X-Chat-Webhook-Secret", "s"}});
    EXPECT_EQ(r.status, 404) << r.body;
  }
  auto r = Hook(env.port(), "/api/hooks/00000000deadbeef", R"({"text":"x"})", {{"X-Chat-Webhook-Secret", "s"}});
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_THAT(r.body, HasSubstr("too many webhook posts from this address"));
  ASSERT_TRUE(r.headers.count("retry-after"));
  // One post per 3.33 s: the next in at most 4 s.
  EXPECT_GE(std::stoi(r.headers["retry-after"]), 1);
  EXPECT_LE(std::stoi(r.headers["retry-after"]), 4);
  // Other endpoints are not affected.
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/api/info").status, 200);
}

// chat-core with --registration=invite: registering needs a code an admin made.
TEST(AccountsHttpTest, RegisterWithAnInviteCode) {
  TempDir dir;
  const std::string db = dir.File("chat.db");
  {
    // The admin registers while registration is open.
    auto core = CoreProcess::Start(db, {"--admins=root"});
    auto bridge = BridgeProcess::Start({"--core=" + core->address()});
    ASSERT_NE(bridge, nullptr);
    ASSERT_NE(BridgeLogin(bridge->port(), "root"), "");
  }
  auto core = CoreProcess::Start(db, {"--admins=root", "--registration=invite"});
  auto bridge = BridgeProcess::Start({"--core=" + core->address()});
  ASSERT_NE(bridge, nullptr);
  const int port = bridge->port();
  auto info = HttpRequest(port, "GET", "/api/info");
  EXPECT_EQ(info.status, 200);
  EXPECT_THAT(info.body, HasSubstr("REGISTRATION_MODE_INVITE"));

  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  auto r = HttpRequest(port, "POST", "/api/register", R"({"username":"newbie","password":"correct horse"})",
                       {{"Origin", origin}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("invit"));
  EXPECT_TRUE(r.set_cookies.empty());

  r = HttpRequest(port, "POST", "/api/login", R"({"username":"root","password":"correct horse"})",
                  {{"Origin", origin}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string root = SessionCookie(r);
  r = HttpRequest(port, "POST", "/api/account/CreateInvite", "{}",
                  {{"Origin", origin}, {"Cookie", "chat_session=" + root}});
  ASSERT_EQ(r.status, 200) << r.body;
  chat::v1::InviteCode invite;
  ASSERT_TRUE(FromJson(r.body, &invite).ok()) << r.body;
  ASSERT_FALSE(invite.code().empty()) << r.body;

  const std::string with_code =
      absl::StrCat(R"({"username":"newbie","password":"correct horse","inviteCode":")", invite.code(), R"("})");
  r = HttpRequest(port, "POST", "/api/register", with_code, {{"Origin", origin}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(SessionCookie(r), "") << "registered and logged in";
  // Single use.
  r = HttpRequest(port, "POST", "/api/register",
                  absl::StrCat(R"({"username":"second","password":"correct horse","inviteCode":")", invite.code(),
                               R"("})"),
                  {{"Origin", origin}});
  EXPECT_EQ(r.status, 400) << r.body;
}

}  // namespace
}  // namespace chat::testing
