// HttpSession: one HTTP connection to the bridge. Serves the web UI's static
// files, /healthz, the /api endpoints (translated into AuthService calls:
// http_session_api.cc, and the webhooks in http_session_hooks.cc), and hands a
// /ws upgrade over to a WsSession.
//
// Threading: runs on its connection's strand; gRPC completions of /api calls are
// posted back onto it. Lifetime: shared_ptr kept alive by its pending operation;
// ends when the connection closes or is handed to a WsSession.
#ifndef CHAT_WS_BRIDGE_SRC_HTTP_SESSION_H_
#define CHAT_WS_BRIDGE_SRC_HTTP_SESSION_H_

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge_context.h"
#include "client_address.h"

namespace chat::bridge {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

// The connection as accepted: the TCP peer's address and whether it is TLS
// (the socket an HttpSession gets is then the plaintext end of a TlsFront pipe).
struct ConnectionInfo {
  std::string peer = "unknown";
  bool tls = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(net::ip::tcp::socket&& socket, BridgeContext* ctx, std::unique_ptr<ConnectionSlot> slot,
              ConnectionInfo info);
  void Run();

 private:
  using Request = http::request<http::string_body>;

  void DoRead();
  void OnRead(const beast::error_code& ec, size_t bytes);
  void Handle(Request req);
  void HandleUpgrade(Request req);
  void HandleApi(Request req);
  // /api/login and /api/register.
  void HandleLogin(const Request& req, bool register_first);
  // POST /api/account/{Method}: any of kAccountMethods (account_api.h).
  void HandleAccount(const Request& req, absl::string_view method_name);
  // POST /api/hooks/{id}[/{secret}].
  void HandleWebhook(const Request& req);
  void HandleStatic(const Request& req);
  void HandleHealth(const Request& req);
  // Adds the headers every response gets (HSTS over TLS), then writes it.
  // A connection that has served its share (--max_requests_per_connection,
  // --max_connection_age) is closed after this response, which says so.
  template <class Body>
  void Send(http::response<Body>&& res, bool keep_alive) {
    if (keep_alive && !MayKeepAlive()) {
      keep_alive = false;
      res.keep_alive(false);
    }
    Decorate(res.base());
    SendMessage(http::message_generator(std::move(res)), keep_alive);
  }
  // From a gRPC thread: sends `res` on this session's strand.
  void SendLater(http::response<http::string_body> res, bool keep_alive);
  // From a gRPC thread: the {"code","message"} answer for a failed call.
  void SendStatusLater(const grpc::Status& status, unsigned version, bool keep_alive);
  // The session cookie (token "" and max_age 0: cleared).
  void SetSessionCookie(http::fields& fields, const std::string& token, int64_t max_age) const;
  void Decorate(http::fields& fields) const;
  bool MayKeepAlive() const;
  void SendMessage(http::message_generator msg, bool keep_alive);
  void OnWrite(bool keep_alive, const beast::error_code& ec, size_t bytes);
  void Close();
  std::string PeerAddress() const;
  std::optional<std::string> RequestToken(const Request& req) const;
  // Whether the session cookie is Secure (the browser came over TLS, or
  // --cookie_secure), and its name: __Host-chat_session then, else chat_session.
  bool SecureCookie() const;
  const char* CookieName() const;

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  BridgeContext* const ctx_;
  std::unique_ptr<ConnectionSlot> slot_;
  const ConnectionInfo info_;
  // The browser as of the current request (through trusted proxies).
  ClientView client_;
  bool first_request_ = true;
  int requests_ = 0;
  const absl::Time accepted_ = absl::Now();
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_HTTP_SESSION_H_
