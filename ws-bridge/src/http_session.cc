#include "http_session.h"

#include <boost/beast/websocket.hpp>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chat/json_codec.h"
#include "chat/log.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "http_util.h"
#include "webhook_api.h"
#include "ws_session.h"

namespace chat::bridge {
namespace {

constexpr char kLog[] = "http";
// The session cookie's name. Over TLS it is __Host- prefixed: a browser then
// only accepts it Secure, with Path=/ and no Domain, so a sibling subdomain
// (or a plain-HTTP page on this host) cannot plant one that shadows ours.
constexpr char kCookie[] = "chat_session";
constexpr char kHostCookie[] = "__Host-chat_session";
constexpr size_t kMaxApiBody = 16 * 1024;

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket&& socket, BridgeContext* ctx,
                         std::unique_ptr<ConnectionSlot> slot, ConnectionInfo info)
    : stream_(std::move(socket)),
      ctx_(ctx),
      slot_(std::move(slot)),
      info_(std::move(info)),
      client_{info_.peer, info_.tls} {}

void HttpSession::Run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
}

std::string HttpSession::PeerAddress() const { return client_.address; }

void HttpSession::DoRead() {
  parser_.emplace();
  parser_->body_limit(kMaxApiBody);
  parser_->header_limit(16 * 1024);
  // The first request must arrive within the handshake timeout (slowloris), the
  // next ones on a kept-alive connection within the idle timeout.
  stream_.expires_after(absl::ToChronoNanoseconds(first_request_ ? ctx_->options.handshake_timeout
                                                                  : ctx_->options.idle_timeout));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](const beast::error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void HttpSession::OnRead(const beast::error_code& ec, size_t bytes) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted) {
    return Close();
  }
  if (ec == http::error::body_limit) {
    Send(JsonError(http::status::payload_too_large, 11, "INVALID_ARGUMENT",
                   absl::StrCat("request body too large (at most ", kMaxApiBody / 1024, " KiB)")),
         false);
    return;
  }
  if (ec) {
    if (ec != net::error::connection_reset && ec != net::error::eof) {
      CHAT_LOG_DEBUG(kLog, "read from %s failed: %s", PeerAddress(), ec.message());
    }
    return Close();
  }
  first_request_ = false;
  ++requests_;
  Handle(parser_->release());
}

void HttpSession::Handle(Request req) {
  client_ = ResolveClient(info_.peer, info_.tls, Sv(req["X-Forwarded-For"]), Sv(req["X-Forwarded-Proto"]),
                          ctx_->proxies);
  absl::string_view path = TargetPath(Sv(req.target()));
  // DNS rebinding: a name of the attacker's that resolves to this bridge makes
  // its page same-origin with us; the Host header still carries that name.
  if (!ctx_->options.allowed_hosts.empty() && path != "/healthz" &&
      !HostAllowed(Sv(req[http::field::host]), ctx_->options.allowed_hosts)) {
    CHAT_LOG_DEBUG(kLog, "refused Host '%s' (%s)", std::string(Sv(req[http::field::host])), PeerAddress());
    return Send(JsonError(http::status::misdirected_request, req.version(), "PERMISSION_DENIED",
                          "this bridge does not serve that host name (--allowed_hosts)"),
                false);
  }
  // Two session cookies (one planted by a sibling subdomain, say): which one
  // is meant is unknowable, so the request is refused rather than guessed.
  // Webhooks use no cookie (a sender is a server, not a browser).
  if (path == "/ws" || (absl::StartsWith(path, "/api/") && !absl::StartsWith(path, kWebhookPrefix))) {
    int cookies = 0;
    for (auto [it, end] = req.equal_range(http::field::cookie); it != end; ++it) {
      cookies += CookieCount(Sv(it->value()), CookieName());
    }
    if (cookies > 1) {
      return Send(JsonError(http::status::bad_request, req.version(), "INVALID_ARGUMENT",
                            absl::StrCat("the request carries more than one ", CookieName(),
                                         " cookie; clear this site's cookies and log in again")),
                  false);
    }
  }
  if (beast::websocket::is_upgrade(req)) {
    if (path == "/ws") return HandleUpgrade(std::move(req));
    return Send(JsonError(http::status::not_found, req.version(), "NOT_FOUND", "the WebSocket endpoint is /ws"),
                false);
  }
  if (path == "/ws") {
    return Send(JsonError(http::status::upgrade_required, req.version(), "FAILED_PRECONDITION",
                          "/ws needs a WebSocket upgrade"),
                req.keep_alive());
  }
  if (path == "/healthz") return HandleHealth(req);
  if (absl::StartsWith(path, kWebhookPrefix)) return HandleWebhook(req);
  if (absl::StartsWith(path, "/api/")) return HandleApi(std::move(req));
  HandleStatic(req);
}

void HttpSession::HandleHealth(const Request& req) {
  GatewayStats g = ctx_->gateway->stats();
  std::string body = absl::StrCat(
      "{\"status\":\"", g.connected ? "ok" : "unavailable", "\",\"core\":\"",
      g.connected ? "reachable" : "unreachable", "\",\"node\":\"", g.node, "\",\"sessions\":", g.sessions,
      ",\"connections\":", ctx_->connections.load(), "}");
  auto res = JsonResponse(g.connected ? http::status::ok : http::status::service_unavailable,
                          req.version(), std::move(body));
  res.keep_alive(req.keep_alive());
  Send(std::move(res), req.keep_alive());
}

bool HttpSession::SecureCookie() const { return ctx_->options.cookie_secure || client_.tls; }

const char* HttpSession::CookieName() const { return SecureCookie() ? kHostCookie : kCookie; }

void HttpSession::SetSessionCookie(http::fields& fields, const std::string& token, int64_t max_age) const {
  fields.set(http::field::set_cookie, absl::StrCat(CookieName(), "=", token, "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                                                   max_age, SecureCookie() ? "; Secure" : ""));
}

void HttpSession::SendLater(http::response<http::string_body> res, bool keep_alive) {
  net::post(stream_.get_executor(), [self = shared_from_this(), res = std::move(res), keep_alive]() mutable {
    self->Send(std::move(res), keep_alive);
  });
}

void HttpSession::SendStatusLater(const grpc::Status& status, unsigned version, bool keep_alive) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string message = status.error_message();
  if (code == absl::StatusCode::kUnavailable) message = "the chat backend is unavailable; retry shortly";
  SendLater(JsonError(HttpStatusFor(code), version, StatusCodeName(code), message), keep_alive);
}

// Tokens are printable ASCII (chat-core/src/tokens.h). Anything else names no session, and
// must not go on: a proto3 string that is not UTF-8 makes chat-core refuse the
// whole gateway stream (every browser's session on it), and gRPC refuses
// metadata values with control bytes. Found by tests/fuzz (fuzz_bridge_http).
namespace {
bool IsTokenText(absl::string_view token) {
  if (token.empty()) return false;
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}
}  // namespace

std::optional<std::string> HttpSession::RequestToken(const Request& req) const {
  auto auth = req.find(http::field::authorization);
  if (auth != req.end()) {
    if (auto t = BearerToken(Sv(auth->value())); t && IsTokenText(*t)) return t;
  }
  auto cookie = req.find(http::field::cookie);
  if (cookie != req.end()) {
    if (auto t = CookieValue(Sv(cookie->value()), CookieName()); t && IsTokenText(*t)) return t;
  }
  return std::nullopt;
}

void HttpSession::HandleUpgrade(Request req) {
  // RFC 6455 4.2.1: a handshake whose key is not base64 of 16 bytes must be
  // refused with 400; Beast would accept any key of up to 24 characters.
  if (!ValidWebSocketKey(Sv(req[http::field::sec_websocket_key]))) {
    return Send(JsonError(http::status::bad_request, req.version(), "INVALID_ARGUMENT",
                          "Sec-WebSocket-Key must be base64 of 16 bytes (RFC 6455 4.2.1)"),
                false);
  }
  auto origin = req.find(http::field::origin);
  // Browsers always send Origin on a WebSocket upgrade; a page of another site
  // (cross-site WebSocket hijacking) gets 403. Non-browser clients send none.
  if (origin != req.end() &&
      !OriginAllowed(Sv(origin->value()), Sv(req[http::field::host]), ctx_->options.allowed_origins,
                     ctx_->options.allowed_hosts)) {
    CHAT_LOG_WARN(kLog, "refused a WebSocket from origin '%s' (%s)", std::string(Sv(origin->value())),
                  PeerAddress());
    return Send(JsonError(http::status::forbidden, req.version(), "PERMISSION_DENIED",
                          "origin not allowed"),
                false);
  }
  Credentials creds;
  creds.peer = PeerAddress();
  if (auto token = RequestToken(req)) {
    creds.token = *token;
  } else if (auto user = QueryParam(Sv(req.target()), "user"); user && !user->empty()) {
    // The name goes to chat-core in a proto3 string: UTF-8 only (see IsTokenText).
    if (!IsValidUtf8(*user)) {
      return Send(JsonError(http::status::bad_request, req.version(), "INVALID_ARGUMENT",
                            "the guest name (?user=) must be UTF-8 text"),
                  false);
    }
    creds.guest_name = *user;  // only honoured when chat-core runs with --allow_guests
  } else {
    return Send(JsonError(http::status::unauthorized, req.version(), "UNAUTHENTICATED",
                          "log in first (POST /api/login), or send Authorization: Bearer <token>"),
                false);
  }
  if (!ctx_->gateway->connected()) {
    return Send(JsonError(http::status::service_unavailable, req.version(), "UNAVAILABLE",
                          "the chat backend is unavailable; retry shortly"),
                false);
  }
  stream_.expires_never();
  auto ws = std::make_shared<WsSession>(stream_.release_socket(), std::move(req), std::move(creds), ctx_,
                                        std::move(slot_));
  ws->Start();
}

void HttpSession::HandleStatic(const Request& req) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return Send(JsonError(http::status::method_not_allowed, version, "INVALID_ARGUMENT", "use GET"),
                keep_alive);
  }
  if (ctx_->options.web_root.empty()) {
    return Send(JsonError(http::status::not_found, version, "NOT_FOUND", "no web UI configured (--web_root)"),
                keep_alive);
  }
  auto rel = SafeRelativePath(TargetPath(Sv(req.target())));
  if (!rel) return Send(JsonError(http::status::bad_request, version, "INVALID_ARGUMENT", "bad path"), keep_alive);
  namespace fs = std::filesystem;
  std::string file = rel->empty() ? "index.html" : *rel;
  fs::path full = fs::path(ctx_->options.web_root) / file;
  std::error_code ec;
  if (!fs::is_regular_file(full, ec)) {
    // Paths without an extension belong to the single-page app.
    if (file.find('.') == std::string::npos) {
      file = "index.html";
      full = fs::path(ctx_->options.web_root) / file;
    }
    if (!fs::is_regular_file(full, ec)) {
      return Send(JsonError(http::status::not_found, version, "NOT_FOUND", "not found"), keep_alive);
    }
  }
  std::string cache = absl::StartsWith(file, "assets/") ? "public, max-age=31536000, immutable"
                      : file == "index.html"             ? "no-cache"
                                                         : "public, max-age=3600";
  beast::error_code bec;
  http::file_body::value_type body;
  body.open(full.string().c_str(), beast::file_mode::scan, bec);
  if (bec) return Send(JsonError(http::status::not_found, version, "NOT_FOUND", "not found"), keep_alive);
  const auto size = body.size();
  if (req.method() == http::verb::head) {
    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::content_type, Bv(MimeType(file)));
    res.set(http::field::cache_control, cache);
    res.content_length(size);
    res.keep_alive(keep_alive);
    return Send(std::move(res), keep_alive);
  }
  http::response<http::file_body> res{std::piecewise_construct, std::make_tuple(std::move(body)),
                                      std::make_tuple(http::status::ok, version)};
  res.set(http::field::content_type, Bv(MimeType(file)));
  res.set(http::field::cache_control, cache);
  res.content_length(size);
  res.keep_alive(keep_alive);
  Send(std::move(res), keep_alive);
}

void HttpSession::Decorate(http::fields& fields) const {
  // On every response (JSON errors too: a sniffing browser or a frame must not
  // turn one into a page).
  SetSecurityHeaders(fields);
  if (client_.tls && ctx_->options.hsts_max_age > absl::ZeroDuration()) {
    fields.set(http::field::strict_transport_security,
               absl::StrCat("max-age=", absl::ToInt64Seconds(ctx_->options.hsts_max_age)));
  }
}

// Idle keep-alive connections that send a cheap request now and then would
// otherwise hold their sockets (and --max_connections slots) forever.
bool HttpSession::MayKeepAlive() const {
  const BridgeOptions& o = ctx_->options;
  if (o.max_requests_per_connection > 0 && requests_ >= o.max_requests_per_connection) return false;
  if (o.max_connection_age > absl::ZeroDuration() && absl::Now() - accepted_ >= o.max_connection_age) return false;
  return true;
}

void HttpSession::SendMessage(http::message_generator msg, bool keep_alive) {
  stream_.expires_after(absl::ToChronoNanoseconds(ctx_->options.idle_timeout));
  beast::async_write(stream_, std::move(msg),
                     [self = shared_from_this(), keep_alive](const beast::error_code& ec, size_t n) {
                       self->OnWrite(keep_alive, ec, n);
                     });
}

void HttpSession::OnWrite(bool keep_alive, const beast::error_code& ec, size_t bytes) {
  if (ec || !keep_alive) return Close();
  DoRead();
}

void HttpSession::Close() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace chat::bridge
