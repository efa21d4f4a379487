// --trusted_proxies: X-Forwarded-For and X-Forwarded-Proto are believed from
// listed proxies only. Unit rows for the parsing and the right-to-left walk,
// then the attack the option exists for, against a real bridge and chat-core:
// behind a proxy, 20 bad logins from one browser must not lock out the others.
#include "client_address.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge_fixture.h"

namespace chat::bridge {
namespace {

TEST(ProxyListTest, ParsesAddressesAndCidrs) {
  auto list = ProxyList::Parse({"10.0.0.0/8", "192.168.1.7", "fd00::/8", " ::1 "});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->Contains("10.200.3.4"));
  EXPECT_FALSE(list->Contains("11.0.0.1"));
  EXPECT_TRUE(list->Contains("192.168.1.7"));
  EXPECT_FALSE(list->Contains("192.168.1.8"));
  EXPECT_TRUE(list->Contains("fd12::1"));
  EXPECT_TRUE(list->Contains("::1"));
  EXPECT_TRUE(list->Contains("::ffff:10.1.1.1"));  // IPv4-mapped
  EXPECT_FALSE(list->Contains("not an address"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "example.com", "fd00::/129", "1.2.3.4/x"}) {
    auto r = ProxyList::Parse({bad});
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(r.status().message(), "--trusted_proxies")) << r.status();
  }
}

TEST(ResolveClientTest, BelievesHeadersFromTrustedProxiesOnly) {
  auto proxies = *ProxyList::Parse({"127.0.0.1", "10.0.0.0/8"});
  const struct {
    const char* peer;
    bool tls;
    const char* xff;
    const char* proto;
    const char* want_address;
    bool want_tls;
  } rows[] = {
      {"203.0.113.5", false, "198.51.100.1", "https", "203.0.113.5", false},  // untrusted peer: ignored
      {"127.0.0.1", false, "198.51.100.1", "https", "198.51.100.1", true},
      {"127.0.0.1", false, "", "", "127.0.0.1", false},                       // no headers
      {"127.0.0.1", false, "1.1.1.1, 198.51.100.1", "http", "198.51.100.1", false},  // rightmost untrusted
      {"127.0.0.1", false, "198.51.100.1, 10.0.0.3", "https", "198.51.100.1", true},  // skip inner proxies
      {"127.0.0.1", false, "garbage, 198.51.100.1", "", "198.51.100.1", false},
      {"127.0.0.1", true, "198.51.100.1", "", "198.51.100.1", true},  // TLS to us stays TLS
      {"10.1.2.3", false, "[2001:db8::1]:4711", "HTTPS", "2001:db8::1", true},
  };
  for (const auto& r : rows) {
    ClientView v = ResolveClient(r.peer, r.tls, r.xff, r.proto, proxies);
    EXPECT_EQ(v.address, r.want_address) << r.peer << " / " << r.xff;
    EXPECT_EQ(v.tls, r.want_tls) << r.peer << " / " << r.proto;
  }
}

// 21 wrong passwords from one browser behind the proxy (the bridge's peer is
// always 127.0.0.1, the proxy's address).
void FloodBadLogins(int port, const std::string& from) {
  for (int i = 0; i < 21; ++i) {
    testing::HttpRequest(port, "POST", "/api/login",
                         absl::StrCat(R"({"username":"victim)", i, R"(","password":"wrong password"})"),
                         {{"X-Forwarded-For", from}});
  }
}

TEST(TrustedProxiesTest, OneBrowsersBadLoginsDoNotLockOutTheOthers) {
  testing::BridgeEnv env([](BridgeOptions& o) { o.trusted_proxies = {"127.0.0.1"}; });
  env.Login("bystander");  // registered beforehand
  FloodBadLogins(env.port(), "198.51.100.7");
  const std::string good = R"({"username":"bystander","password":"correct horse"})";
  auto attacker = testing::HttpRequest(env.port(), "POST", "/api/login", good, {{"X-Forwarded-For", "198.51.100.7"}});
  EXPECT_EQ(attacker.status, 429) << attacker.body;  // the flooding address is slowed down
  auto other = testing::HttpRequest(env.port(), "POST", "/api/login", good, {{"X-Forwarded-For", "198.51.100.8"}});
  EXPECT_EQ(other.status, 200) << other.body;
  // The proxy said https: the cookie is Secure.
  auto secure = testing::HttpRequest(env.port(), "POST", "/api/login", good,
                                     {{"X-Forwarded-For", "198.51.100.9"}, {"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(secure.status, 200) << secure.body;
  EXPECT_TRUE(absl::StrContains(secure.set_cookies.at(0), "; Secure"));
}

// The control arm: without the option the headers are ignored, so the same
// flood locks every browser behind the proxy out (what the option fixes), and
// a browser cannot pick its own address with the header.
TEST(TrustedProxiesTest, WithoutTheOptionTheHeadersAreIgnored) {
  testing::BridgeEnv env;
  env.Login("bystander");
  FloodBadLogins(env.port(), "198.51.100.7");
  const std::string good = R"({"username":"bystander","password":"correct horse"})";
  auto other = testing::HttpRequest(env.port(), "POST", "/api/login", good, {{"X-Forwarded-For", "198.51.100.8"}});
  EXPECT_EQ(other.status, 429) << other.body;
  auto proto = testing::HttpRequest(env.port(), "POST", "/api/register",
                                    R"({"username":"newbie","password":"correct horse"})",
                                    {{"X-Forwarded-For", "198.51.100.10"}, {"X-Forwarded-Proto", "https"}});
  if (proto.status == 200) EXPECT_FALSE(absl::StrContains(proto.set_cookies.at(0), "Secure"));
}

}  // namespace
}  // namespace chat::bridge
