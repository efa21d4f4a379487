// The browser-facing HTTP surface of a real bridge (issue #27): security headers
// on every response, JSON-only /api POSTs, a doubled session cookie, "*" as an
// allowed origin, and DNS rebinding (--allowed_hosts). Every attack is sent to
// a real Bridge in front of a real chat-core (or to the real binary).
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge_fixture.h"
#include "bridge_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kLogin = R"({"username":"hank","password":"correct horse"})";

void ExpectSecurityHeaders(const HttpResult& r, const std::string& what) {
  ASSERT_NE(r.status, 0) << what << ": no answer";
  auto header = [&](const std::string& name) {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
  };
  EXPECT_EQ(header("x-content-type-options"), "nosniff") << what;
  EXPECT_EQ(header("referrer-policy"), "no-referrer") << what;
  EXPECT_EQ(header("x-frame-options"), "DENY") << what;
  const std::string csp = header("content-security-policy");
  EXPECT_THAT(csp, HasSubstr("connect-src 'self';")) << what;
  EXPECT_THAT(csp, Not(HasSubstr("ws:"))) << what << ": no other WebSocket host";
  EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'")) << what;
}

TEST(HttpHardeningTest, EveryResponseCarriesTheSecurityHeaders) {
  TempDir web;
  std::ofstream(web.File("index.html")) << "<!doctype html><title>chat</title>";
  std::filesystem::create_directory(web.File("assets"));
  std::ofstream(web.File("assets/app.js")) << "console.log(1)";
  BridgeEnv env([&](bridge::BridgeOptions& o) { o.web_root = web.path(); });
  const int port = env.port();
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/"), "GET /");
  ExpectSecurityHeaders(HttpRequest(port, "HEAD", "/"), "HEAD /");
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/assets/app.js"), "a script");
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/nope.png"), "a 404");
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/healthz"), "/healthz");
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/api/me"), "a 401 from /api/me");
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/ws"), "a 426 from /ws");
  ExpectSecurityHeaders(HttpRequest(port, "POST", "/api/register", kLogin, {{"Origin", env.origin()}}),
                        "a login");
  ExpectSecurityHeaders(HttpRequest(port, "GET", "/%2e%2e/etc/passwd"), "a refused path");
}

TEST(HttpHardeningTest, ApiPostsMustBeJson) {
  BridgeEnv env;
  const int port = env.port();
  ASSERT_NE(env.Login("hank"), "");
  // What a cross-site <form> can send without a CORS preflight, and no type at all.
  for (const std::string type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                 "application/jsonp", ""}) {
    for (const std::string path : {"/api/login", "/api/register", "/api/logout"}) {
      std::map<std::string, std::string> h = {{"Content-Type", type}};
      if (type.empty()) h.clear();
      HttpResult r;
      if (type.empty()) {
        // HttpRequest adds application/json to a body; send a raw one instead.
        r = HttpRequest(port, "POST", path, "", h);
      } else {
        r = HttpRequest(port, "POST", path, kLogin, h);
      }
      EXPECT_EQ(r.status, 415) << path << " as '" << type << "': " << r.body;
      EXPECT_THAT(r.body, HasSubstr("Content-Type: application/json")) << path;
      EXPECT_TRUE(r.set_cookies.empty()) << path << " as '" << type << "' must not log in";
    }
  }
  // JSON, with a charset and in any letter case, still logs in.
  auto r = HttpRequest(port, "POST", "/api/login", kLogin, {{"Content-Type", "Application/JSON; charset=utf-8"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(SessionCookie(r), "");
}

TEST(HttpHardeningTest, TwoSessionCookiesAreRefused) {
  BridgeEnv env;
  const std::string cookie = env.Login("hank");
  ASSERT_NE(cookie, "");
  const std::string planted = "chat_session=planted-by-a-sibling-subdomain";
  // In one Cookie header, either order.
  for (const std::string& header : {absl::StrCat("chat_session=", cookie, "; ", planted),
                                   absl::StrCat(planted, "; chat_session=", cookie)}) {
    auto r = HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", header}});
    EXPECT_EQ(r.status, 400) << header;
    EXPECT_THAT(r.body, HasSubstr("\"code\":\"INVALID_ARGUMENT\""));
    EXPECT_THAT(r.body, HasSubstr("more than one chat_session cookie"));
    r = HttpRequest(env.port(), "POST", "/api/logout", "{}", {{"Cookie", header}, {"Origin", env.origin()}});
    EXPECT_EQ(r.status, 400) << "logout with " << header;
  }
  // The WebSocket upgrade too (the second cookie rides in the same header).
  WsClient::Options o;
  o.cookie = cookie + "; " + planted;
  int status = 0;
  EXPECT_EQ(WsClient::Connect(env.port(), o, &status), nullptr);
  EXPECT_EQ(status, 400);
  // Other cookies beside one session cookie are fine, and the session was not logged out.
  auto r = HttpRequest(env.port(), "GET", "/api/me", "", {{"Cookie", "theme=dark; chat_session=" + cookie}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"username\":\"hank\""));
}

TEST(HttpHardeningTest, AnyOriginIsRefusedAtStart) {
  bridge::BridgeOptions o;
  o.allowed_origins = {"https://chat.example.com", "*"};
  absl::Status st = bridge::ValidateBridgeOptions(o);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("--allowed_origins=* is refused"));
  o.allowed_origins = {"chat.example.com"};
  EXPECT_THAT(std::string(bridge::ValidateBridgeOptions(o).message()),
              HasSubstr("--allowed_origins takes http(s)://host[:port] values, got 'chat.example.com'"));
  o.allowed_origins = {};
  o.allowed_hosts = {"https://chat.example.com"};
  EXPECT_THAT(std::string(bridge::ValidateBridgeOptions(o).message()),
              HasSubstr("--allowed_hosts takes host[:port] values (no scheme), got 'https://chat.example.com'"));

  // The real binary: one clear line and exit code 2, never listening.
  RunResult r = RunCommand({BinaryPath("ws-bridge"), "--listen=127.0.0.1:0", "--allowed_origins=*"},
                           {{"CHAT_GATEWAY_SECRET", ""}}, std::nullopt, std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ws-bridge: --allowed_origins=* is refused"));
  std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(r.out, "");
}

// A page on http://evil.example:PORT whose name the attacker re-points at
// 127.0.0.1 is same-origin with itself: its Origin matches its Host, so only
// the Host check can tell.
TEST(HttpHardeningTest, DnsRebindingIsRefusedWithAllowedHosts) {
  const std::string evil_login = R"({"username":"ivy","password":"correct horse"})";
  {
    // Without --allowed_hosts: the default (own-Host) origin check lets the
    // rebound page in; this is what --allowed_hosts is for.
    BridgeEnv open_env;
    const std::string evil = absl::StrCat("evil.example:", open_env.port());
    auto r = HttpRequest(open_env.port(), "POST", "/api/register", evil_login,
                         {{"Host", evil}, {"Origin", "http://" + evil}});
    EXPECT_EQ(r.status, 200) << "the default trusts the Host header: " << r.body;
  }
  BridgeEnv env([](bridge::BridgeOptions& o) { o.allowed_hosts = {"127.0.0.1", "chat.example.com:8443"}; });
  const int port = env.port();
  const std::string evil = absl::StrCat("evil.example:", port);
  const std::map<std::string, std::string> rebound = {{"Host", evil}, {"Origin", "http://" + evil}};
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/"}, {"GET", "/api/me"}, {"POST", "/api/register"}, {"POST", "/api/login"}, {"GET", "/ws"}}) {
    auto r = HttpRequest(port, method, path, method == "POST" ? evil_login : "", rebound);
    EXPECT_EQ(r.status, 421) << method << " " << path << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("--allowed_hosts")) << path;
    EXPECT_TRUE(r.set_cookies.empty()) << path;
  }
  // A WebSocket upgrade under the rebound name.
  auto r = HttpRequest(port, "GET", "/ws", "",
                       {{"Host", evil}, {"Origin", "http://" + evil}, {"Connection", "Upgrade"},
                        {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"},
                        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
  EXPECT_EQ(r.status, 421);
  // The right port on another allowed name, and a port-less entry on any port, pass.
  EXPECT_EQ(HttpRequest(port, "GET", "/api/me", "", {{"Host", "chat.example.com:8443"}}).status, 401);
  EXPECT_EQ(HttpRequest(port, "GET", "/api/me", "", {{"Host", "chat.example.com:8444"}}).status, 421);
  EXPECT_EQ(HttpRequest(port, "GET", "/api/me", "", {{"Host", "127.0.0.1:1"}}).status, 401);
  EXPECT_EQ(HttpRequest(port, "GET", "/api/me", "", {{"Host", ""}}).status, 421);
  // Health probes by address are not refused.
  EXPECT_EQ(HttpRequest(port, "GET", "/healthz", "", {{"Host", evil}}).status, 200);

  // The default allowed origin now comes from --allowed_hosts, not the Host
  // header: an allowed Host with a foreign Origin is still refused.
  r = HttpRequest(port, "POST", "/api/register", evil_login, {{"Origin", "http://" + evil}});
  EXPECT_EQ(r.status, 403) << r.body;
  r = HttpRequest(port, "POST", "/api/register", evil_login, {{"Origin", "https://chat.example.com:8443"}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = HttpRequest(port, "POST", "/api/login", evil_login, {{"Origin", env.origin()}});
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string cookie = SessionCookie(r);
  WsClient::Options o;
  o.cookie = cookie;
  int status = 0;
  EXPECT_NE(WsClient::Connect(port, o, &status), nullptr);
  EXPECT_EQ(status, 101);
  o.origin = "http://evil.example";
  EXPECT_EQ(WsClient::Connect(port, o, &status), nullptr);
  EXPECT_EQ(status, 403);
}

// User enumeration, decided (docs/security.md, "Accounts and passwords"):
// login never tells an unknown user from a wrong password, by answer or by
// work done; registration must say a name is taken (names are chosen), and
// is rate-limited per address instead.
TEST(HttpHardeningTest, LoginDoesNotTellWhichUsernamesExist) {
  BridgeEnv env;
  ASSERT_NE(env.Login("quinn"), "");
  const std::map<std::string, std::string> json = {{"Origin", env.origin()}};
  HttpResult wrong = HttpRequest(env.port(), "POST", "/api/login",
                                 R"({"username":"quinn","password":"not the password"})", json);
  HttpResult unknown = HttpRequest(env.port(), "POST", "/api/login",
                                   R"({"username":"nobody_here","password":"not the password"})", json);
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(unknown.status, wrong.status);
  EXPECT_EQ(unknown.body, wrong.body);
  EXPECT_THAT(wrong.body, HasSubstr("invalid username or password"));
  HttpResult taken = HttpRequest(env.port(), "POST", "/api/register",
                                 R"({"username":"QUINN","password":"correct horse"})", json);
  EXPECT_EQ(taken.status, 409) << taken.body;
  EXPECT_THAT(taken.body, HasSubstr("is taken"));
}

// One keep-alive connection that asks for /healthz now and then would hold its
// socket (and a --max_connections slot) forever: the real binary closes it
// after --max_requests_per_connection requests, or at the first answer after
// --max_connection_age, and says so with Connection: close.
TEST(HttpHardeningTest, KeepAliveConnectionsHaveARequestAndAgeCap) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  auto bridge = BridgeProcess::Start(
      {"--core=127.0.0.1:1", "--max_requests_per_connection=3", "--max_connection_age=1500ms"});
  ASSERT_NE(bridge, nullptr);
  // Requests on one connection until the server closes it; the answers'
  // Connection headers, and whether the socket ended after the last.
  auto run = [&](int max_requests, std::chrono::milliseconds pause, std::vector<std::string>* connection) {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(bridge->port())});
    beast::flat_buffer buffer;
    for (int i = 0; i < max_requests; ++i) {
      if (i > 0) std::this_thread::sleep_for(pause);
      http::request<http::empty_body> req(http::verb::get, "/healthz", 11);
      req.set(http::field::host, "127.0.0.1");
      req.keep_alive(true);
      beast::error_code ec;
      http::write(stream, req, ec);
      if (ec) return false;
      http::response<http::string_body> res;
      stream.expires_after(std::chrono::seconds(10));
      http::read(stream, buffer, res, ec);
      if (ec) return false;
      connection->push_back(std::string(res[http::field::connection]));
      if (!res.keep_alive()) {
        char byte;
        stream.expires_after(std::chrono::seconds(10));
        stream.read_some(boost::asio::buffer(&byte, 1), ec);
        return ec == boost::asio::error::eof;  // closed by the bridge, not by timing out
      }
    }
    return false;
  };
  std::vector<std::string> by_count;
  EXPECT_TRUE(run(10, std::chrono::milliseconds(0), &by_count)) << "the connection outlived its requests";
  EXPECT_EQ(by_count.size(), 3u);
  EXPECT_EQ(by_count.back(), "close");
  std::vector<std::string> by_age;
  EXPECT_TRUE(run(3, std::chrono::milliseconds(1600), &by_age)) << "the connection outlived its age";
  EXPECT_EQ(by_age.size(), 2u);
  if (!by_age.empty()) EXPECT_EQ(by_age.back(), "close");
}

}  // namespace
}  // namespace chat::testing
