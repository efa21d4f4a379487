#include "http_util.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chat/json_codec.h"

namespace chat::bridge {
namespace {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(absl::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

http::response<http::string_body> JsonResponse(http::status status, unsigned version,
                                               std::string body) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "chat-ws-bridge");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::optional<int> RetryAfterSeconds(absl::string_view message) {
  constexpr absl::string_view kRetryIn = "retry in ";
  size_t at = message.rfind(kRetryIn);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = message.substr(at + kRetryIn.size());
  size_t digits = 0;
  while (digits < rest.size() && digits < 9 && absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  int n = 0;
  if (digits == 0 || !absl::SimpleAtoi(rest.substr(0, digits), &n)) return std::nullopt;
  absl::string_view unit = rest.substr(digits);
  if (absl::StartsWith(unit, " s")) return n;
  // "retry in 250 ms" (the webhook limit): whole seconds, rounded up, at least 1.
  if (absl::StartsWith(unit, " ms") &&
      (unit.size() == 3 || !absl::ascii_isalpha(static_cast<unsigned char>(unit[3])))) {
    return std::max(1, (n + 999) / 1000);
  }
  return std::nullopt;
}

http::response<http::string_body> JsonError(http::status status, unsigned version,
                                            absl::string_view code, absl::string_view message) {
  auto res = JsonResponse(status, version,
                          absl::StrCat("{\"code\":", JsonString(code), ",\"message\":", JsonString(message), "}"));
  // A refusal that says when to come back says it to HTTP clients too.
  if (status == http::status::too_many_requests || status == http::status::service_unavailable) {
    if (auto seconds = RetryAfterSeconds(message)) res.set(http::field::retry_after, absl::StrCat(*seconds));
  }
  return res;
}

// connect-src 'self' covers the UI's same-origin ws:/wss: URL (CSP Level 3, as
// Chromium and Firefox implement it); a page cannot reach any other host.
constexpr char kCsp[] =
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

void SetSecurityHeaders(http::fields& fields) {
  fields.set(http::field::server, "chat-ws-bridge");
  fields.set("X-Content-Type-Options", "nosniff");
  fields.set("Referrer-Policy", "no-referrer");
  fields.set("X-Frame-Options", "DENY");
  fields.set("Content-Security-Policy", kCsp);
}

http::status HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return http::status::ok;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition: return http::status::bad_request;
    case absl::StatusCode::kUnauthenticated: return http::status::unauthorized;
    case absl::StatusCode::kPermissionDenied: return http::status::forbidden;
    case absl::StatusCode::kNotFound: return http::status::not_found;
    case absl::StatusCode::kAlreadyExists: return http::status::conflict;
    case absl::StatusCode::kResourceExhausted: return http::status::too_many_requests;
    case absl::StatusCode::kUnavailable: return http::status::service_unavailable;
    case absl::StatusCode::kDeadlineExceeded: return http::status::gateway_timeout;
    default: return http::status::internal_server_error;
  }
}

std::optional<std::string> CookieValue(absl::string_view header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) continue;
    if (part.substr(0, eq) == name) {
      absl::string_view v = part.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
  }
  return std::nullopt;
}

int CookieCount(absl::string_view header, absl::string_view name) {
  int n = 0;
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    size_t eq = part.find('=');
    if (eq != absl::string_view::npos && part.substr(0, eq) == name) ++n;
  }
  return n;
}

bool IsJsonContentType(absl::string_view content_type) {
  absl::string_view media = content_type.substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media), "application/json");
}

std::optional<std::string> BearerToken(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.size() <= 7 || !absl::StartsWithIgnoreCase(authorization, "bearer ")) {
    return std::nullopt;
  }
  absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(7));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

absl::string_view TargetPath(absl::string_view target) {
  size_t q = target.find('?');
  return q == absl::string_view::npos ? target : target.substr(0, q);
}

std::optional<std::string> QueryParam(absl::string_view target, absl::string_view name) {
  size_t q = target.find('?');
  if (q == absl::string_view::npos) return std::nullopt;
  for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
    size_t eq = kv.find('=');
    absl::string_view k = kv.substr(0, eq);
    if (k != name) continue;
    if (eq == absl::string_view::npos) return std::string();
    return PercentDecode(kv.substr(eq + 1), true);
  }
  return std::nullopt;
}

namespace {

// "host:port" -> "host"; "[::1]:8080" -> "[::1]"; "host" -> "host".
absl::string_view HostName(absl::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == absl::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  size_t colon = authority.find(':');
  if (colon == absl::string_view::npos || authority.find(':', colon + 1) != absl::string_view::npos) {
    return authority;  // no port, or a bare IPv6 address
  }
  return authority.substr(0, colon);
}

}  // namespace

bool ValidWebSocketKey(absl::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22,
                     [](char c) { return absl::ascii_isalnum(c) || c == '+' || c == '/'; });
}

bool HostAllowed(absl::string_view host, const std::vector<std::string>& allowed_hosts) {
  if (host.empty()) return false;
  for (const auto& entry : allowed_hosts) {
    if (absl::EqualsIgnoreCase(entry, host)) return true;
    if (HostName(entry) == entry && absl::EqualsIgnoreCase(entry, HostName(host))) return true;
  }
  return false;
}

bool OriginAllowed(absl::string_view origin, absl::string_view host,
                   const std::vector<std::string>& allowed,
                   const std::vector<std::string>& allowed_hosts) {
  if (!allowed.empty()) {
    for (const auto& a : allowed) {
      if (absl::EqualsIgnoreCase(a, origin)) return true;
    }
    return false;
  }
  if (!allowed_hosts.empty()) {
    absl::string_view authority;
    if (absl::StartsWithIgnoreCase(origin, "http://")) {
      authority = origin.substr(7);
    } else if (absl::StartsWithIgnoreCase(origin, "https://")) {
      authority = origin.substr(8);
    } else {
      return false;
    }
    if (authority.find_first_of("/?#@ ") != absl::string_view::npos) return false;
    return HostAllowed(authority, allowed_hosts);
  }
  if (host.empty()) return false;
  return absl::EqualsIgnoreCase(origin, absl::StrCat("http://", host)) ||
         absl::EqualsIgnoreCase(origin, absl::StrCat("https://", host));
}

absl::string_view MimeType(absl::string_view path) {
  size_t dot = path.rfind('.');
  absl::string_view ext = dot == absl::string_view::npos ? "" : path.substr(dot);
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".gif") return "image/gif";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".webp") return "image/webp";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".woff") return "font/woff";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  if (ext == ".webmanifest") return "application/manifest+json";
  return "application/octet-stream";
}

std::optional<std::string> SafeRelativePath(absl::string_view url_path) {
  auto decoded = PercentDecode(url_path, false);
  if (!decoded || decoded->empty() || (*decoded)[0] != '/') return std::nullopt;
  std::string out;
  for (absl::string_view seg : absl::StrSplit(absl::string_view(*decoded).substr(1), '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == ".." || seg.find('\0') != absl::string_view::npos || seg.find('\\') != absl::string_view::npos) {
      return std::nullopt;
    }
    if (seg[0] == '.') return std::nullopt;  // no dotfiles
    if (!out.empty()) out += '/';
    out.append(seg.data(), seg.size());
  }
  return out;
}

}  // namespace chat::bridge
