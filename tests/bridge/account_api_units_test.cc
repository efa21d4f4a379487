// The pure parts of the bridge's account and webhook endpoints (account_api.h,
// webhook_api.h, keyed_buckets.h): which AuthService methods /api/account/
// exposes, reading their requests, the login's client from a User-Agent, the
// webhook path and body, and the per-address bucket. Real servers: the
// accounts_http tests.
#include <string>

#include "absl/strings/str_cat.h"
#include "account_api.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_util.h"
#include "keyed_buckets.h"
#include "webhook_api.h"

namespace chat::bridge {
namespace {

using ::testing::HasSubstr;

TEST(AccountApiTest, EveryListedMethodIsAnAuthServiceMethod) {
  for (absl::string_view name : kAccountMethods) {
    const auto* method = AccountMethod(name);
    ASSERT_NE(method, nullptr) << name;
    EXPECT_EQ(method->name(), name);
    EXPECT_EQ(method->service()->full_name(), "chat.v1.AuthService");
  }
  EXPECT_EQ(std::size(kAccountMethods), 16u);
  EXPECT_EQ(AccountMethod("CreateApiToken")->output_type()->full_name(), "chat.v1.CreateApiTokenResponse");
  EXPECT_EQ(AccountMethod("UpdateProfile")->output_type()->full_name(), "chat.v1.UserProfile");
}

TEST(AccountApiTest, OtherMethodsAreNotExposed) {
  // Endpoints of their own, an admin's tool, the bridge's own call, and junk.
  for (absl::string_view name : {"Register", "Login", "Logout", "ServerInfo", "DisableAccount", "PostWebhook",
                                 "whoami", "WhoAmI/", "", "Nope", "ChatService.SendMessage"}) {
    EXPECT_EQ(AccountMethod(name), nullptr) << name;
  }
}

TEST(AccountApiTest, RequestsComeFromProto3Json) {
  const auto* create = AccountMethod("CreateApiToken");
  auto req = AccountRequest(create, R"({"name":"ci","rooms":["ops"],"actions":["TOKEN_ACTION_POST"],
                                        "expiresAt":"2030-01-01T00:00:00Z"})");
  ASSERT_TRUE(req.ok()) << req.status();
  const auto& token = static_cast<const chat::v1::CreateApiTokenRequest&>(**req);
  EXPECT_EQ(token.name(), "ci");
  ASSERT_EQ(token.rooms_size(), 1);
  EXPECT_EQ(token.rooms(0), "ops");
  EXPECT_EQ(token.actions_size(), 1);
  EXPECT_EQ(token.expires_at().seconds(), 1893456000);
  // Original field names work too.
  req = AccountRequest(AccountMethod("ChangePassword"), R"({"old_password":"a","new_password":"b"})");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ((*req)->GetDescriptor()->full_name(), "chat.v1.ChangePasswordRequest");
}

TEST(AccountApiTest, AnEmptyBodyIsTheEmptyRequest) {
  for (absl::string_view body : {"", "  \r\n", "{}"}) {
    auto req = AccountRequest(AccountMethod("ListSessions"), body);
    ASSERT_TRUE(req.ok()) << "'" << body << "': " << req.status();
    EXPECT_EQ((*req)->ByteSizeLong(), 0u);
  }
}

TEST(AccountApiTest, BadJsonNamesTheMethodAndTheMessage) {
  for (absl::string_view body : {"{", "[]", R"({"nmae":"ci"})", R"({"name":5})", "null x"}) {
    auto req = AccountRequest(AccountMethod("CreateBot"), body);
    ASSERT_FALSE(req.ok()) << body;
    EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(req.status().message(), HasSubstr("the body of CreateBot must be a JSON CreateBotRequest")) << body;
  }
}

TEST(AccountApiTest, ClientFromUserAgentKeepsPrintableUtf8Only) {
  EXPECT_EQ(ClientFromUserAgent("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0");
  EXPECT_EQ(ClientFromUserAgent("a\tb\r\nc\x7f" "d\x01"), "abcd");
  EXPECT_EQ(ClientFromUserAgent("caf\xc3\xa9"), "caf\xc3\xa9");            // é stays
  EXPECT_EQ(ClientFromUserAgent("caf\xe9 x"), "caf x");                    // a Latin-1 byte goes
  EXPECT_EQ(ClientFromUserAgent("a\xc2\x85" "b"), "ab");                   // U+0085, a C1 control
  EXPECT_EQ(ClientFromUserAgent(""), "");
}

TEST(AccountApiTest, ClientFromUserAgentIsCutAtACharacterBoundary) {
  EXPECT_EQ(ClientFromUserAgent(std::string(1000, 'x')), std::string(kMaxClientBytes, 'x'));
  // 255 ASCII bytes and then a 2-byte character: it does not fit, and is not split.
  std::string ua = std::string(255, 'y') + "\xc3\xa9" + "zz";
  EXPECT_EQ(ClientFromUserAgent(ua), std::string(255, 'y'));
}

TEST(WebhookApiTest, PathsNameTheHookAndMaybeItsSecret) {
  auto t = ParseWebhookPath("/api/hooks/0123abcd");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, "0123abcd");
  EXPECT_EQ(t->secret, "");
  t = ParseWebhookPath("/api/hooks/0123abcd/s3cr-t_x/");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, "0123abcd");
  EXPECT_EQ(t->secret, "s3cr-t_x");
  EXPECT_TRUE(ParseWebhookPath("/api/hooks/0123abcd/"));
  for (absl::string_view bad : {"/api/hooks/", "/api/hooks//x", "/api/hooks/a/b/c", "/api/hooks/a//", "/api/hook/a"}) {
    EXPECT_FALSE(ParseWebhookPath(bad)) << bad;
  }
}

TEST(WebhookApiTest, TheTextOfASlackPayload) {
  auto text = WebhookText(R"({"text":"build 7 passed"})");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "build 7 passed");
  // Slack's other fields are ignored, nested ones too.
  text = WebhookText(R"({"username":"ci","icon_emoji":":ok:","blocks":[{"type":"section","x":[1,null,true]}],
                        "text":"deploy \u00e9 done","mrkdwn":true})");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "deploy \xc3\xa9 done");
}

TEST(WebhookApiTest, BadBodiesSayWhatIsWrong) {
  const struct {
    std::string body;
    std::string says;
  } cases[] = {
      {"", "not valid JSON"},
      {"{\"text\":", "not valid JSON"},
      {"text=hi", "not valid JSON"},
      {"[\"text\"]", "not valid JSON"},
      {"\"hi\"", "not valid JSON"},
      {"{}", "it has no \"text\""},
      {R"({"Text":"hi"})", "it has no \"text\""},
      {R"({"text":5})", "is not a string"},
      {R"({"text":null})", "is not a string"},
      {R"({"text":{"a":1}})", "is not a string"},
      {R"({"text":""})", "the \"text\" is empty"},
  };
  for (const auto& c : cases) {
    auto text = WebhookText(c.body);
    ASSERT_FALSE(text.ok()) << c.body;
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(text.status().message(), HasSubstr(c.says)) << c.body;
  }
}

TEST(WebhookApiTest, AddressesAreCountedByIpv4OrIpv6Slash64) {
  EXPECT_EQ(WebhookAddressKey("203.0.113.9"), WebhookAddressKey("::ffff:203.0.113.9"));
  EXPECT_NE(WebhookAddressKey("203.0.113.9"), WebhookAddressKey("203.0.113.10"));
  EXPECT_EQ(WebhookAddressKey("2001:db8:1:2::1"), WebhookAddressKey("2001:db8:1:2:ffff::9"));
  EXPECT_NE(WebhookAddressKey("2001:db8:1:2::1"), WebhookAddressKey("2001:db8:1:3::1"));
  EXPECT_EQ(WebhookAddressKey("unknown"), "unknown");
}

TEST(WebhookApiTest, RetryAfterReadsMillisecondsRoundedUp) {
  EXPECT_EQ(RetryAfterSeconds("webhook 0a1b is posting too fast; retry in 250 ms"), 1);
  EXPECT_EQ(RetryAfterSeconds("retry in 1000 ms"), 1);
  EXPECT_EQ(RetryAfterSeconds("retry in 1001 ms"), 2);
  EXPECT_EQ(RetryAfterSeconds("retry in 0 ms"), 1);
  EXPECT_EQ(RetryAfterSeconds("retry in 12 s"), 12);
  EXPECT_EQ(RetryAfterSeconds("retry in 5 msecs"), std::nullopt);
  auto res = JsonError(http::status::too_many_requests, 11, "RESOURCE_EXHAUSTED", "too fast; retry in 1500 ms");
  EXPECT_EQ(res[http::field::retry_after], "2");
}

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(KeyedBucketsTest, EachKeyHasItsOwnBucketAndSaysWhenToComeBack) {
  KeyedBuckets buckets(TokenBucket::Rate{/*per_second=*/6, /*burst=*/60});
  for (int i = 0; i < 60; ++i) ASSERT_EQ(buckets.Take("a", kT0), std::nullopt) << i;
  auto wait = buckets.Take("a", kT0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, absl::Milliseconds(167));  // one token at 6 a second, rounded up
  EXPECT_EQ(buckets.Take("b", kT0), std::nullopt) << "another address is not limited";
  EXPECT_TRUE(buckets.Take("a", kT0 + absl::Milliseconds(100)));
  EXPECT_EQ(buckets.Take("a", kT0 + absl::Milliseconds(200)), std::nullopt);
}

TEST(KeyedBucketsTest, ARateOfZeroIsNoLimit) {
  KeyedBuckets buckets(TokenBucket::Rate{0, 0});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(buckets.Take("a", kT0), std::nullopt);
  EXPECT_EQ(buckets.size(), 0u);
}

TEST(KeyedBucketsTest, FullBucketsAreForgottenWhenTheMapGrows) {
  KeyedBuckets buckets(TokenBucket::Rate{1, 2});
  for (int i = 0; i < 5000; ++i) buckets.Take(absl::StrCat("k", i), kT0);
  EXPECT_EQ(buckets.size(), 5000u) << "all busy at first";
  // Two seconds later every bucket is full again: the next sweep drops them.
  const absl::Time later = kT0 + absl::Seconds(2);
  for (int i = 0; i < 5000; ++i) buckets.Take(absl::StrCat("new", i), later);
  EXPECT_LT(buckets.size(), 6000u);
}

}  // namespace
}  // namespace chat::bridge
