// Small HTTP helpers of the bridge: JSON error responses, status mapping,
// cookies, origins, static file types. Stateless, thread-safe.
#ifndef CHAT_WS_BRIDGE_SRC_HTTP_UTIL_H_
#define CHAT_WS_BRIDGE_SRC_HTTP_UTIL_H_

#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chat::bridge {

namespace http = boost::beast::http;

// Beast's string_view to Abseil's.
inline absl::string_view Sv(boost::beast::string_view s) { return absl::string_view(s.data(), s.size()); }
inline boost::beast::string_view Bv(absl::string_view s) { return boost::beast::string_view(s.data(), s.size()); }

// The N of a message's last "retry in N s" (chat-core's refusals say when to
// come back), for a Retry-After header; "retry in N ms" gives N/1000 rounded
// up, at least 1. nullopt if it has neither.
std::optional<int> RetryAfterSeconds(absl::string_view message);

// {"code":"...","message":"..."} with the given status (and a Retry-After
// header on a 429 or 503 whose message says when to retry).
http::response<http::string_body> JsonError(http::status status, unsigned version,
                                            absl::string_view code, absl::string_view message);
http::response<http::string_body> JsonResponse(http::status status, unsigned version,
                                               std::string body);
http::status HttpStatusFor(absl::StatusCode code);
// The headers every response of the bridge carries: X-Content-Type-Options,
// Referrer-Policy, X-Frame-Options and a Content-Security-Policy whose
// connect-src is the page's own origin only.
void SetSecurityHeaders(http::fields& fields);

// The value of cookie `name` in a Cookie header, if present.
std::optional<std::string> CookieValue(absl::string_view header, absl::string_view name);
// How many times cookie `name` occurs in a Cookie header.
int CookieCount(absl::string_view header, absl::string_view name);
// Is a Content-Type header's media type application/json (parameters such as
// "; charset=utf-8" and letter case aside)?
bool IsJsonContentType(absl::string_view content_type);
// "Bearer <token>" -> token.
std::optional<std::string> BearerToken(absl::string_view authorization);
// The value of query parameter `name` in a request target, percent-decoded.
std::optional<std::string> QueryParam(absl::string_view target, absl::string_view name);
// The path of a target (before '?').
absl::string_view TargetPath(absl::string_view target);

// Is the Host header `host` one of `allowed_hosts` (host[:port] values, letter
// case aside)? An entry without a port matches its host name on any port
// ("chat.example.com" matches "chat.example.com:8443").
bool HostAllowed(absl::string_view host, const std::vector<std::string>& allowed_hosts);

// Is `origin` allowed? A non-empty `allowed` list is compared exactly. Else,
// with `allowed_hosts`, the origin must be http:// or https:// followed by one
// of them (HostAllowed); without either, only the bridge's own origin as the
// request's Host header names it (http:// or https:// followed by `host`).
bool OriginAllowed(absl::string_view origin, absl::string_view host,
                   const std::vector<std::string>& allowed,
                   const std::vector<std::string>& allowed_hosts);

// Is `key` a Sec-WebSocket-Key as RFC 6455 4.2.1 requires: base64 of 16 bytes
// (22 base64 characters and "==")? Beast's accept only checks that it is
// there and at most 24 characters long.
bool ValidWebSocketKey(absl::string_view key);

absl::string_view MimeType(absl::string_view path);
// A safe relative path under the web root for a URL path, or nullopt for one
// that tries to leave it.
std::optional<std::string> SafeRelativePath(absl::string_view url_path);

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_HTTP_UTIL_H_
