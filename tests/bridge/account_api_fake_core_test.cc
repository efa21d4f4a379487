// The bridge's side of the account and webhook endpoints against a stand-in
// AuthService whose answers the test picks: what the bridge sends chat-core
// (the gateway secret and no token for a webhook, the browser's token for an
// account call, the User-Agent as the login's client, the invite code), how
// each of chat-core's statuses reaches the HTTP client, and that these calls
// fail over to the next --core node as the login does. The real chat-core's
// answers are in accounts_http_test.cc.
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge.h"
#include "bridge_fixture.h"
#include "chat/json_codec.h"
#include "chat/v1/chat.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kGatewaySecret[] = "gateway-secret-of-the-test-0123456789";

// AuthService with scripted answers; records what it was sent.
class FakeAuth final : public chat::v1::AuthService::CallbackService {
 public:
  struct Seen {
    std::string method;
    std::string request_json;
    std::map<std::string, std::string> metadata;
  };

  void Script(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(status);
  }
  Seen Last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  grpc::ServerUnaryReactor* PostWebhook(grpc::CallbackServerContext* ctx, const chat::v1::PostWebhookRequest* req,
                                        chat::v1::PostWebhookResponse* resp) override {
    resp->set_room("ops");
    resp->set_seq(42);
    return Answer(ctx, "PostWebhook", *req);
  }
  grpc::ServerUnaryReactor* CreateApiToken(grpc::CallbackServerContext* ctx,
                                           const chat::v1::CreateApiTokenRequest* req,
                                           chat::v1::CreateApiTokenResponse* resp) override {
    resp->mutable_token()->set_id("00112233aabbccdd");
    resp->mutable_token()->set_name(req->name());
    resp->set_secret("chat_secret");
    return Answer(ctx, "CreateApiToken", *req);
  }
  grpc::ServerUnaryReactor* DeleteAccount(grpc::CallbackServerContext* ctx, const chat::v1::DeleteAccountRequest* req,
                                          chat::v1::DeleteAccountResponse*) override {
    return Answer(ctx, "DeleteAccount", *req);
  }
  grpc::ServerUnaryReactor* ServerInfo(grpc::CallbackServerContext* ctx, const chat::v1::ServerInfoRequest* req,
                                       chat::v1::ServerInfoResponse* resp) override {
    resp->set_registration(chat::v1::REGISTRATION_MODE_INVITE);
    return Answer(ctx, "ServerInfo", *req);
  }
  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx, const chat::v1::RegisterRequest* req,
                                     chat::v1::RegisterResponse* resp) override {
    resp->set_username(req->username());
    return Answer(ctx, "Register", *req, /*keep=*/false);
  }
  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* ctx, const chat::v1::LoginRequest* req,
                                  chat::v1::LoginResponse* resp) override {
    resp->set_token("the-token");
    resp->set_username(req->username());
    resp->mutable_expires_at()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
    return Answer(ctx, "Login", *req, /*keep=*/true, /*scripted=*/false);
  }

 private:
  // Records the call (keep: as the last one) and answers the scripted status
  // (or OK when not `scripted`).
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx, const std::string& method,
                                   const google::protobuf::Message& req, bool keep = true, bool scripted = true) {
    Seen seen{method, ToJson(req), {}};
    for (const auto& [k, v] : ctx->client_metadata()) {
      seen.metadata[std::string(k.data(), k.size())] = std::string(v.data(), v.size());
    }
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
      if (keep || last_.method.empty()) last_ = seen;
      if (method == "Register") registered_ = seen;
      if (scripted) status = status_;
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

 public:
  Seen Registered() {
    absl::MutexLock lock(&mu_);
    return registered_;
  }

 private:
  absl::Mutex mu_;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  Seen last_ ABSL_GUARDED_BY(mu_);
  Seen registered_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// The stand-in behind a bridge whose first --core node is down, so that every
// call has to fail over to it.
class FakeCoreEnv {
 public:
  explicit FakeCoreEnv(int webhook_posts_per_10s = 60) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&auth_);
    server_ = builder.BuildAndStart();
    auto o = TestBridgeOptions(absl::StrCat("127.0.0.1:", port));
    o.core.insert(o.core.begin(), absl::StrCat("127.0.0.1:", PortForLater()));
    o.gateway_secret = kGatewaySecret;
    o.webhook_posts_per_10s_per_ip = webhook_posts_per_10s;
    auto b = bridge::Bridge::Start(o);
    if (!b.ok()) {
      ADD_FAILURE() << b.status();
      std::abort();
    }
    bridge_ = std::move(*b);
  }
  ~FakeCoreEnv() {
    bridge_->Shutdown();
    server_->Shutdown();
  }
  FakeAuth& auth() { return auth_; }
  int port() const { return bridge_->port(); }

 private:
  FakeAuth auth_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<bridge::Bridge> bridge_;
};

HttpResult Hook(int port, const std::string& target, const std::map<std::string, std::string>& headers) {
  auto h = headers;
  h.emplace("Content-Type", "application/json");
  return HttpRequest(port, "POST", target, R"({"text":"build passed","username":"ci"})", h);
}

TEST(AccountApiFakeCoreTest, AWebhookGoesWithTheGatewaySecretAndNoToken) {
  FakeCoreEnv env;
  auto r = Hook(env.port(), "/api/hooks/0a1b2c3d4e5f6789",
                {{"X-Chat-Webhook-Secret", "hook-secret"}, {"Cookie", "chat_session=browser-token"},
                 {"Authorization", "Bearer some-token"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"ok":true,"room":"ops","seq":42})");
  auto seen = env.auth().Last();
  EXPECT_EQ(seen.method, "PostWebhook");
  EXPECT_EQ(seen.request_json, R"({"id":"0a1b2c3d4e5f6789","secret":"hook-secret","text":"build passed"})");
  EXPECT_EQ(seen.metadata["x-chat-gateway-secret"], kGatewaySecret);
  EXPECT_EQ(seen.metadata["x-forwarded-for"], "127.0.0.1");
  EXPECT_EQ(seen.metadata.count("authorization"), 0u) << "a webhook never carries a browser's token";
  // The secret in the path; the header wins when both are there.
  r = Hook(env.port(), "/api/hooks/0a1b2c3d4e5f6789/path-secret", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(env.auth().Last().request_json, HasSubstr(R"("secret":"path-secret")"));
  r = Hook(env.port(), "/api/hooks/0a1b2c3d4e5f6789/path-secret", {{"X-Chat-Webhook-Secret", "header-secret"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(env.auth().Last().request_json, HasSubstr(R"("secret":"header-secret")"));
}

TEST(AccountApiFakeCoreTest, ChatCoresStatusesBecomeHttpStatuses) {
  FakeCoreEnv env;
  const struct {
    grpc::Status status;
    int http;
    std::string retry_after;  // "" : none
  } cases[] = {
      {grpc::Status(grpc::StatusCode::NOT_FOUND, "no such webhook"), 404, ""},
      {grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "wrong webhook secret"), 403, ""},
      {grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "text is over 4096 bytes"), 400, ""},
      {grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "webhook 0a1b is posting too fast; retry in 250 ms"), 429,
       "1"},
      {grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "webhook 0a1b is posting too fast; retry in 2500 ms"), 429,
       "3"},
      {grpc::Status(grpc::StatusCode::UNAVAILABLE, "node going away"), 503, ""},
  };
  for (const auto& c : cases) {
    env.auth().Script(c.status);
    auto r = Hook(env.port(), "/api/hooks/0a1b2c3d4e5f6789", {{"X-Chat-Webhook-Secret", "s"}});
    EXPECT_EQ(r.status, c.http) << c.status.error_message() << ": " << r.body;
    if (c.status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      EXPECT_THAT(r.body, HasSubstr(c.status.error_message())) << "chat-core's words reach the sender";
    } else {
      EXPECT_THAT(r.body, HasSubstr("the chat backend is unavailable"));
    }
    auto it = r.headers.find("retry-after");
    EXPECT_EQ(it == r.headers.end() ? "" : it->second, c.retry_after) << c.status.error_message();
  }
}

TEST(AccountApiFakeCoreTest, ABridgeBucketStopsAFloodBeforeChatCore) {
  FakeCoreEnv env(/*webhook_posts_per_10s=*/5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Hook(env.port(), "/api/hooks/0a1b", {{"X-Chat-Webhook-Secret", "s"}}).status, 200) << i;
  }
  const int calls = env.auth().calls();
  auto r = Hook(env.port(), "/api/hooks/0a1b", {{"X-Chat-Webhook-Secret", "s"}});
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "2") << "one post every 2 s";
  // Refused posts count too: no secret, wrong type.
  EXPECT_EQ(HttpRequest(env.port(), "POST", "/api/hooks/0a1b", "{}", {{"Content-Type", "text/plain"}}).status, 429);
  EXPECT_EQ(env.auth().calls(), calls) << "chat-core never saw them";
}

TEST(AccountApiFakeCoreTest, AccountCallsCarryTheBrowsersTokenAndAnswerItsResponse) {
  FakeCoreEnv env;
  auto r = HttpRequest(env.port(), "POST", "/api/account/CreateApiToken", R"({"name":"ci","rooms":["ops"]})",
                       {{"Cookie", "chat_session=browser-token"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"token":{"id":"00112233aabbccdd","name":"ci"},"secret":"chat_secret"})");
  auto seen = env.auth().Last();
  EXPECT_EQ(seen.method, "CreateApiToken");
  EXPECT_EQ(seen.request_json, R"({"name":"ci","rooms":["ops"]})");
  EXPECT_EQ(seen.metadata["authorization"], "Bearer browser-token");
  // A refusal keeps its code and words, and leaves the cookie alone.
  env.auth().Script(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "wrong password"));
  r = HttpRequest(env.port(), "POST", "/api/account/DeleteAccount", R"({"password":"x"})",
                  {{"Authorization", "Bearer api-token"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"code":"PERMISSION_DENIED","message":"wrong password"})");
  EXPECT_TRUE(r.set_cookies.empty());
  EXPECT_EQ(env.auth().Last().metadata["authorization"], "Bearer api-token");
  env.auth().Script(grpc::Status::OK);
  r = HttpRequest(env.port(), "POST", "/api/account/DeleteAccount", R"({"password":"x"})",
                  {{"Cookie", "chat_session=browser-token"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  ASSERT_EQ(r.set_cookies.size(), 1u);
  EXPECT_THAT(r.set_cookies[0], HasSubstr("chat_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
}

TEST(AccountApiFakeCoreTest, LoginNamesTheBrowserAndRegisterPassesTheInviteCode) {
  FakeCoreEnv env;
  auto r = HttpRequest(env.port(), "POST", "/api/register",
                       R"({"username":"newbie","password":"correct horse","inviteCode":"CODE-123"})",
                       {{"User-Agent", "Mozilla/5.0 (X11) Firefox/120.0"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(SessionCookie(r), "the-token");
  EXPECT_EQ(env.auth().Registered().request_json,
            R"({"username":"newbie","password":"correct horse","inviteCode":"CODE-123"})");
  auto login = env.auth().Last();
  EXPECT_EQ(login.method, "Login");
  EXPECT_EQ(login.request_json,
            R"({"username":"newbie","password":"correct horse","client":"Mozilla/5.0 (X11) Firefox/120.0"})");
  // The header names the client, whatever the body says; no header, no client.
  r = HttpRequest(env.port(), "POST", "/api/login",
                  R"({"username":"newbie","password":"correct horse","client":"made up"})",
                  {{"User-Agent", "curl/8.0"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(env.auth().Last().request_json, HasSubstr(R"("client":"curl/8.0")"));
  r = HttpRequest(env.port(), "POST", "/api/login",
                  R"({"username":"newbie","password":"correct horse","client":"made up"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(env.auth().Last().request_json, R"({"username":"newbie","password":"correct horse"})");
  // An invite code is no field of a login.
  r = HttpRequest(env.port(), "POST", "/api/login", R"({"username":"a","password":"b","inviteCode":"c"})");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST(AccountApiFakeCoreTest, InfoSendsNoCredentials) {
  FakeCoreEnv env;
  auto r = HttpRequest(env.port(), "GET", "/api/info", "", {{"Cookie", "chat_session=browser-token"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"registration":"REGISTRATION_MODE_INVITE"})");
  auto seen = env.auth().Last();
  EXPECT_EQ(seen.method, "ServerInfo");
  EXPECT_EQ(seen.metadata.count("authorization"), 0u) << "the browser's cookie stays in the bridge";
}

}  // namespace
}  // namespace chat::testing
