#include "bridge_options.h"

#include "client_address.h"

#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chat::bridge {
namespace {

// gRPC target schemes taken as they are (gRPC's naming: dns:///host:port,
// unix:/path, ipv4:addr:port...); anything else must be host:port.
constexpr absl::string_view kGrpcSchemes[] = {"dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:"};

absl::Status CheckCore(const std::vector<std::string>& core) {
  if (core.empty()) return absl::InvalidArgumentError("--core must name at least one chat-core address (host:port)");
  for (const std::string& node : core) {
    bool uri = false;
    for (absl::string_view scheme : kGrpcSchemes) uri = uri || absl::StartsWith(node, scheme);
    if (uri) continue;
    auto parsed = ParseHostPort(node, "--core");
    if (!parsed.ok()) return parsed.status();
    if (parsed->host.empty() || parsed->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--core must be host:port, got '", node, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckListen(const std::string& listen) {
  auto parsed = ParseHostPort(listen, "--listen");
  if (!parsed.ok()) return parsed.status();
  boost::system::error_code ec;
  boost::asio::ip::make_address(parsed->host == "localhost" ? "127.0.0.1" : parsed->host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen address '", parsed->host, "': ", ec.message()));
  return absl::OkStatus();
}

absl::Status CheckWebRoot(const std::string& web_root) {
  if (web_root.empty()) return absl::OkStatus();
  std::error_code ec;
  const auto status = std::filesystem::status(web_root, ec);
  if (ec || !std::filesystem::exists(status)) {
    return absl::InvalidArgumentError(absl::StrCat("--web_root=", web_root, " does not exist"));
  }
  if (!std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat("--web_root=", web_root, " is not a directory"));
  }
  if (::access(web_root.c_str(), R_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read --web_root=", web_root, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(absl::string_view address, absl::string_view flag) {
  const size_t colon = address.rfind(':');
  HostPort out;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(address.substr(colon + 1), &out.port) ||
      out.port < 0 || out.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " must be host:port, got '", address, "'"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out.host = std::string(host);
  return out;
}

namespace {

// The session cookie authenticates every /ws and /api request, so any origin
// ("*") would let every web site act as a logged-in browser's user.
absl::Status CheckOriginsAndHosts(const BridgeOptions& o) {
  for (const auto& origin : o.allowed_origins) {
    if (origin == "*") {
      return absl::InvalidArgumentError(
          "--allowed_origins=* is refused: the session cookie would let any web site act as its user; "
          "list the origins (https://chat.example.com)");
    }
    if (!absl::StartsWith(origin, "http://") && !absl::StartsWith(origin, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allowed_origins takes http(s)://host[:port] values, got '", origin, "'"));
    }
  }
  for (const auto& host : o.allowed_hosts) {
    if (host.empty() || host.find_first_of("/@ *") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allowed_hosts takes host[:port] values (no scheme), got '", host, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateBridgeOptions(const BridgeOptions& o) {
  if (absl::Status s = CheckListen(o.listen); !s.ok()) return s;
  if (absl::Status s = CheckCore(o.core); !s.ok()) return s;
  const struct {
    bool ok;
    const char* rule;
  } limits[] = {
      {o.threads >= 1, "--threads must be at least 1"},
      {o.max_message_bytes >= 256, "--max_message_bytes must be at least 256"},
      {o.max_connections >= 1, "--max_connections must be at least 1"},
      {o.max_connections_per_ip >= 0, "--max_connections_per_ip must be 0 (no cap) or positive"},
      {o.events_per_second > 0, "--events_per_second must be positive"},
      {o.event_burst >= 1, "--event_burst must be at least 1"},
      {o.handshake_timeout >= absl::Milliseconds(1), "--handshake_timeout must be at least 1ms"},
      {o.idle_timeout >= absl::Milliseconds(1), "--idle_timeout must be at least 1ms"},
      {o.max_requests_per_connection >= 0, "--max_requests_per_connection must not be negative"},
      {o.max_connection_age >= absl::ZeroDuration(), "--max_connection_age must not be negative"},
      {o.webhook_posts_per_10s_per_ip >= 0 && o.webhook_posts_per_10s_per_ip <= 1000000,
       "--webhook_posts_per_10s_per_ip must be between 0 (no limit) and 1000000"},
      {o.max_queued_events >= 16, "--max_queued_events must be at least 16"},
      {o.max_queued_bytes >= 1, "--max_queued_bytes must be positive"},
      {o.replies_in_flight >= 1 && o.replies_in_flight <= 4096, "--replies_in_flight must be between 1 and 4096"},
      {o.max_waiting_requests <= 4096, "--max_waiting_requests must be between 0 and 4096"},
      {o.history_per_user >= 0, "--history_per_user must not be negative"},
      {o.socket_send_buffer >= 0, "--socket_send_buffer must be 0 (the kernel's) or a size in bytes"},
      {o.presence_delay >= absl::ZeroDuration() && o.presence_delay <= absl::Seconds(10),
       "--presence_delay must be between 0 and 10s"},
      {o.presence_max_delay >= o.presence_delay && o.presence_max_delay <= absl::Seconds(10),
       "--presence_max_delay must be between --presence_delay and 10s"},
      {o.max_events_per_frame >= 1, "max_events_per_frame must be at least 1"},
      {o.call_timeout >= absl::Milliseconds(1), "call_timeout must be at least 1ms"},
      {o.reconnect_min >= absl::Milliseconds(1) && o.reconnect_max >= o.reconnect_min,
       "reconnect_min must be at least 1ms and reconnect_max at least reconnect_min"},
      {o.core_keepalive_time >= absl::Seconds(1) && o.core_keepalive_timeout >= absl::Milliseconds(100),
       "--core_keepalive_time must be at least 1s and --core_keepalive_timeout at least 100ms"},
      {o.failover_timeout >= absl::ZeroDuration() && o.failover_timeout <= absl::Hours(1),
       "--failover_timeout must be between 0 and 1h"},
      {o.failover_queue_events >= 0 && o.failover_queue_events <= 4096,
       "--failover_queue_events must be between 0 and 4096"},
  };
  for (const auto& limit : limits) {
    if (!limit.ok) return absl::InvalidArgumentError(limit.rule);
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (o.core_cert.empty() != o.core_key.empty()) {
    return absl::InvalidArgumentError("--core_cert and --core_key go together");
  }
  if (!o.core_tls && (!o.core_ca.empty() || !o.core_cert.empty())) {
    return absl::InvalidArgumentError("--core_ca, --core_cert and --core_key need --core_tls");
  }
  if (o.hsts_max_age < absl::ZeroDuration()) return absl::InvalidArgumentError("--hsts_max_age must not be negative");
  if (o.tls_reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_reload_interval must be at least 1s");
  }
  if (auto proxies = ProxyList::Parse(o.trusted_proxies); !proxies.ok()) return proxies.status();
  if (absl::Status s = CheckOriginsAndHosts(o); !s.ok()) return s;
  return CheckWebRoot(o.web_root);
}

}  // namespace chat::bridge
