// HttpSession's /api endpoints for browsers (docs/protocol.md, "HTTP API" and
// "HTTP API for accounts and webhooks"): login, register, logout, me, info and
// /api/account/{Method}. Each is one AuthService call; its completion comes
// on a gRPC thread and is posted back onto the session's strand.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "account_api.h"
#include "chat/json_codec.h"
#include "http_session.h"
#include "http_util.h"

namespace chat::bridge {
namespace {

constexpr absl::string_view kAccountPrefix = "/api/account/";

}  // namespace

void HttpSession::HandleApi(Request req) {
  absl::string_view path = TargetPath(Sv(req.target()));
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto fail = [&](http::status st, absl::string_view code, absl::string_view msg) {
    Send(JsonError(st, version, code, msg), keep_alive);
  };
  const bool is_get_endpoint = path == "/api/me" || path == "/api/info";
  const bool known = is_get_endpoint || path == "/api/login" || path == "/api/register" || path == "/api/logout" ||
                     absl::StartsWith(path, kAccountPrefix);
  if (!known) return fail(http::status::not_found, "NOT_FOUND", "no such endpoint");
  const bool is_post = req.method() == http::verb::post;
  if (is_get_endpoint ? req.method() != http::verb::get : !is_post) {
    return fail(http::status::method_not_allowed, "INVALID_ARGUMENT", is_get_endpoint ? "use GET" : "use POST");
  }
  // No cross-site login, logout, account changes or probing.
  auto origin = req.find(http::field::origin);
  if (origin != req.end() &&
      !OriginAllowed(Sv(origin->value()), Sv(req[http::field::host]), ctx_->options.allowed_origins,
                     ctx_->options.allowed_hosts)) {
    return fail(http::status::forbidden, "PERMISSION_DENIED", "origin not allowed");
  }
  // Only JSON: a cross-site HTML form can POST text/plain or form data without
  // a CORS preflight, never application/json.
  if (is_post && !IsJsonContentType(Sv(req[http::field::content_type]))) {
    return fail(http::status::unsupported_media_type, "INVALID_ARGUMENT",
                "POST /api/* needs Content-Type: application/json");
  }

  auto self = shared_from_this();
  AuthClient::Caller caller{PeerAddress(), ""};

  if (path == "/api/info") {  // needs no credentials, and sends none
    ctx_->auth->ServerInfo(caller, [self, version, keep_alive](const grpc::Status& st,
                                                               const chat::v1::ServerInfoResponse& resp) {
      if (!st.ok()) return self->SendStatusLater(st, version, keep_alive);
      self->SendLater(JsonResponse(http::status::ok, version, ToJson(resp)), keep_alive);
    });
    return;
  }

  if (absl::ConsumePrefix(&path, kAccountPrefix)) return HandleAccount(req, path);

  if (path == "/api/me") {
    auto token = RequestToken(req);
    if (!token) return fail(http::status::unauthorized, "UNAUTHENTICATED", "not logged in");
    caller.token = *token;
    ctx_->auth->WhoAmI(caller, [self, version, keep_alive](const grpc::Status& st,
                                                           const chat::v1::WhoAmIResponse& resp) {
      if (!st.ok()) return self->SendStatusLater(st, version, keep_alive);
      self->SendLater(JsonResponse(http::status::ok, version, ToJson(resp)), keep_alive);
    });
    return;
  }

  if (path == "/api/logout") {
    auto token = RequestToken(req);
    auto done = [self, version, keep_alive] {
      net::post(self->stream_.get_executor(), [self, version, keep_alive] {
        auto res = JsonResponse(http::status::ok, version, "{}");
        self->SetSessionCookie(res, "", 0);
        self->Send(std::move(res), keep_alive);
      });
    };
    if (!token) return done();
    caller.token = *token;
    ctx_->auth->Logout(caller, [self, done, version, keep_alive](const grpc::Status& st,
                                                                 const chat::v1::LogoutResponse&) {
      // An already invalid token: logged out all the same.
      if (!st.ok() && st.error_code() != grpc::StatusCode::UNAUTHENTICATED) {
        return self->SendStatusLater(st, version, keep_alive);
      }
      done();
    });
    return;
  }

  HandleLogin(req, path == "/api/register");
}

void HttpSession::HandleLogin(const Request& req, bool register_first) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  // register: {"username","password","inviteCode"}; login: {"username","password"}.
  chat::v1::RegisterRequest registration;
  chat::v1::LoginRequest creds;
  absl::Status parsed = register_first ? FromJson(req.body(), &registration) : FromJson(req.body(), &creds);
  if (!parsed.ok()) {
    return Send(JsonError(http::status::bad_request, version, "INVALID_ARGUMENT",
                          register_first ? "body must be JSON: {\"username\": \"...\", \"password\": \"...\", "
                                           "\"inviteCode\": \"...\" (when the server asks for one)}"
                                         : "body must be JSON: {\"username\": \"...\", \"password\": \"...\"}"),
                keep_alive);
  }
  if (register_first) {
    creds.set_username(registration.username());
    creds.set_password(registration.password());
  }
  // What logged in, for the session list (ListSessions): the browser says.
  creds.set_client(ClientFromUserAgent(Sv(req[http::field::user_agent])));

  auto self = shared_from_this();
  const AuthClient::Caller caller{PeerAddress(), ""};
  auto login = [self, caller, creds, version, keep_alive] {
    self->ctx_->auth->Login(caller, creds, [self, version, keep_alive](const grpc::Status& st,
                                                                       const chat::v1::LoginResponse& resp) {
      if (!st.ok()) return self->SendStatusLater(st, version, keep_alive);
      net::post(self->stream_.get_executor(), [self, resp, version, keep_alive] {
        chat::v1::LoginResponse shown = resp;
        shown.clear_token();  // the token lives in the HttpOnly cookie only
        auto res = JsonResponse(http::status::ok, version, ToJson(shown));
        int64_t max_age = std::max<int64_t>(0, resp.expires_at().seconds() - absl::ToUnixSeconds(absl::Now()));
        self->SetSessionCookie(res, resp.token(), max_age);
        self->Send(std::move(res), keep_alive);
      });
    });
  };
  if (!register_first) return login();
  ctx_->auth->Register(caller, std::move(registration),
                       [self, login, version, keep_alive](const grpc::Status& st, const chat::v1::RegisterResponse&) {
                         if (!st.ok()) return self->SendStatusLater(st, version, keep_alive);
                         login();
                       });
}

void HttpSession::HandleAccount(const Request& req, absl::string_view method_name) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const google::protobuf::MethodDescriptor* method = AccountMethod(method_name);
  if (method == nullptr) {
    return Send(JsonError(http::status::not_found, version, "NOT_FOUND",
                          absl::StrCat("no such account call: '", method_name, "' (docs/protocol.md)")),
                keep_alive);
  }
  auto token = RequestToken(req);
  if (!token) {
    return Send(JsonError(http::status::unauthorized, version, "UNAUTHENTICATED",
                          "log in first (POST /api/login), or send Authorization: Bearer <token>"),
                keep_alive);
  }
  auto request = AccountRequest(method, req.body());
  if (!request.ok()) {
    return Send(JsonError(http::status::bad_request, version, "INVALID_ARGUMENT", request.status().message()),
                keep_alive);
  }
  // The account is gone, and with it the session the cookie names.
  const bool clears_cookie = method->name() == "DeleteAccount";
  auto self = shared_from_this();
  ctx_->auth->Call(
      AuthClient::Caller{PeerAddress(), *token}, method, *std::move(request),
      [self, version, keep_alive, clears_cookie](const grpc::Status& st,
                                                 std::unique_ptr<google::protobuf::Message> response) {
        if (!st.ok()) return self->SendStatusLater(st, version, keep_alive);
        auto res = JsonResponse(http::status::ok, version, ToJson(*response));
        net::post(self->stream_.get_executor(), [self, res = std::move(res), keep_alive, clears_cookie]() mutable {
          if (clears_cookie) self->SetSessionCookie(res, "", 0);
          self->Send(std::move(res), keep_alive);
        });
      });
}

}  // namespace chat::bridge
