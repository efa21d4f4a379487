// ws-bridge: flags -> BridgeOptions -> Bridge -> wait for SIGINT/SIGTERM ->
// ordered shutdown (WebSockets get 1001).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "chat/log.h"
#include "chat/metrics.h"
#include "chat/server_main.h"
#include "src/bridge.h"
#include "src/bridge_metrics.h"
#include "src/descriptor_limit.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8080", "Address to serve HTTP and WebSocket on (host:port).");
ABSL_FLAG(std::string, core, "127.0.0.1:50051",
          "chat-core's gRPC address, or several nodes' (host:port,host:port,...): the gateway uses one at a time "
          "and moves to the next when its node fails; the browsers' WebSockets stay open meanwhile.");
ABSL_FLAG(int, threads, 2, "Threads running the event loop.");
ABSL_FLAG(std::string, web_root, "", "Directory of the built web UI (web/dist); empty serves no files.");
ABSL_FLAG(std::string, allowed_origins, "",
          "Comma-separated origins allowed to open /ws and call /api (e.g. https://chat.example.com). "
          "Empty: only the bridge's own origin (one of --allowed_hosts when set). '*' is refused.");
ABSL_FLAG(std::string, allowed_hosts, "",
          "Comma-separated Host header values (host[:port]; without a port any port) the bridge answers to, "
          "e.g. chat.example.com; another Host gets 421 (DNS rebinding). Empty: any Host.");
ABSL_FLAG(std::string, gateway_secret_file, "",
          "File with the secret chat-core expects on the Gateway stream (env CHAT_GATEWAY_SECRET also works).");
ABSL_FLAG(bool, cookie_secure, false, "Mark the session cookie Secure (when TLS terminates in front of the bridge).");
ABSL_FLAG(int, max_message_bytes, 64 * 1024, "Largest WebSocket message accepted from a browser.");
ABSL_FLAG(int, max_connections, 10000,
          "Most open TCP connections; more are closed at once. The soft open-file limit is raised to fit them (1 "
          "descriptor each, 3 with TLS, + 128); if the hard limit is lower, fewer are served and the log says so.");
ABSL_FLAG(int, max_connections_per_ip, 256,
          "Most open TCP connections from one client address (IPv6: one /64); more are closed at once. "
          "--trusted_proxies are exempt. 0: no per-address cap.");
ABSL_FLAG(double, events_per_second, 20, "Sustained events per second per WebSocket.");
ABSL_FLAG(double, event_burst, 120, "Events a WebSocket may send in a burst.");
ABSL_FLAG(absl::Duration, handshake_timeout, absl::Seconds(5),
          "Time allowed for a connection's first request and for the WebSocket handshake.");
ABSL_FLAG(int, max_requests_per_connection, 1000,
          "An HTTP keep-alive connection is closed after this many requests (0: no limit).");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "An HTTP keep-alive connection is closed at its first answer after this age (0: no limit); WebSockets "
          "are not affected.");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(30),
          "A silent WebSocket is pinged after this, and closed if it stays silent as long again.");
ABSL_FLAG(int, webhook_posts_per_10s_per_ip, 60,
          "Webhook posts (POST /api/hooks/) one client address (IPv6: one /64) may make per 10 seconds, in one "
          "burst if it likes; more get 429 with Retry-After. On top of chat-core's per-hook limit. 0: no limit.");
ABSL_FLAG(int, max_queued_events, 2048, "Per WebSocket outbound queue; a browser over it is closed (1008).");
ABSL_FLAG(int, max_queued_bytes, 4 << 20,
          "Per WebSocket outbound queue, in bytes, counting a reply's part the socket has not taken yet.");
ABSL_FLAG(int, replies_in_flight, 4,
          "History and room-list requests at chat-core at once for the whole bridge (their replies share the "
          "gateway stream); more wait their turn, one per WebSocket.");
ABSL_FLAG(double, history_per_user, 500,
          "History messages one user may ask for per second over all of its WebSockets on this bridge "
          "(bursts of two seconds' worth, at least 500); a page beyond it is refused. 0: no limit.");
ABSL_FLAG(int, max_waiting_requests, 16,
          "History and room-list requests a WebSocket may have waiting while its previous reply is unanswered or "
          "not yet written to it; one more closes it (1008).");
ABSL_FLAG(absl::Duration, presence_delay, absl::Milliseconds(50),
          "How long a member-joined/left event may wait to share a write with others (a message writes it at "
          "once); 0 writes presence at once.");
ABSL_FLAG(absl::Duration, presence_max_delay, absl::Milliseconds(800),
          "The longest presence waits while joins keep coming (the wait doubles after each flush that carried "
          "several member events, and falls back to --presence_delay once they stop).");
ABSL_FLAG(int, socket_send_buffer, 0,
          "SO_SNDBUF of each connection in bytes; 0 leaves the kernel's autotuning. Small bounds kernel memory per "
          "slow browser.");
ABSL_FLAG(bool, direct_writes, true,
          "Write a room message straight to an idle socket from the gateway's thread; false hands every write to the "
          "socket's I/O thread.");
ABSL_FLAG(bool, io_uring, true,
          "Send a room message's direct writes with one io_uring submission per up to 256 sockets instead of one "
          "sendmsg each; where io_uring is refused, sendmsg is used and the log says so once.");
ABSL_FLAG(absl::Duration, core_keepalive_time, absl::Seconds(10),
          "Ping chat-core after this long without traffic from it (gRPC keepalive).");
ABSL_FLAG(absl::Duration, core_keepalive_timeout, absl::Seconds(5),
          "A node whose ping answer takes longer counts as dead and the bridge fails over.");
ABSL_FLAG(absl::Duration, failover_timeout, absl::Seconds(30),
          "When the gateway stream to chat-core is lost, how long open WebSockets wait for a node (--core) to "
          "take over before they are closed with 1012; 0 closes them at once.");
ABSL_FLAG(int, failover_queue_events, 64,
          "Events a browser sends while no chat-core node is reachable, kept per WebSocket and sent once a node "
          "takes over; more are answered with an UNAVAILABLE error.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning, error or off.");
ABSL_FLAG(std::string, log_format, "text", "text (one line each) or json (one JSON object a line).");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on (GET /metrics; port 0 picks one). Empty: no metrics.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve HTTPS and WSS (with --tls_key). SIGHUP re-reads it and the key.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(absl::Duration, hsts_max_age, absl::ZeroDuration(),
          "Send Strict-Transport-Security with this max-age to browsers that came over TLS (e.g. 8760h); "
          "0: no HSTS header.");
ABSL_FLAG(std::string, trusted_proxies, "",
          "Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
          "are believed (e.g. 127.0.0.1,10.0.0.0/8); from anyone else they are ignored.");
ABSL_FLAG(bool, core_tls, false, "Reach chat-core over TLS (trusting the system's CAs unless --core_ca).");
ABSL_FLAG(std::string, core_ca, "", "PEM CA bundle to trust for chat-core's certificate (implies --core_tls).");
ABSL_FLAG(std::string, core_cert, "",
          "PEM client certificate for chat-core's mTLS (with --core_key; implies --core_tls); chat-core with "
          "--tls_client_ca then accepts the Gateway stream without the gateway secret.");
ABSL_FLAG(std::string, core_key, "", "PEM private key of --core_cert.");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "How often --core_ca, --core_cert and --core_key are checked for changes (re-read without a restart; "
          "--tls_cert/--tls_key are re-read on SIGHUP).");
ABSL_FLAG(bool, allow_root, false,
          "Run even as root. Off: root is refused; run as an unprivileged user (the Debian package's 'chat').");

int main(int argc, char** argv) {
  chat::ParseServerFlags(
      argc, argv,
      "ws-bridge: lets browsers into chat-core over WebSocket and serves the web UI.\n"
      "Usage: ws-bridge [--listen=127.0.0.1:8080] [--core=127.0.0.1:50051[,host:port...]] [--web_root=web/dist] "
      "[flags]",
      "ws-bridge/main.cc");
  // Two malloc arenas are plenty for a few event-loop threads, and fewer arenas
  // mean less memory stranded in them (measured: ~0.2 KB less per idle socket).
  mallopt(M_ARENA_MAX, 2);
  if (absl::Status st = chat::PrepareServerProcess(absl::GetFlag(FLAGS_allow_root)); !st.ok()) {
    std::fprintf(stderr, "ws-bridge: %s\n", std::string(st.message()).c_str());
    return 2;
  }

  chat::LogLevel level;
  if (!chat::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "ws-bridge: --log_level must be debug, info, warning, error or off\n");
    return 2;
  }
  chat::SetLogLevel(level);
  chat::LogFormat log_format;
  if (!chat::ParseLogFormat(absl::GetFlag(FLAGS_log_format), &log_format)) {
    std::fprintf(stderr, "ws-bridge: --log_format must be text or json\n");
    return 2;
  }
  chat::SetLogFormat(log_format);

  const sigset_t stop_signals = chat::BlockStopSignals();

  chat::bridge::BridgeOptions o;
  o.listen = absl::GetFlag(FLAGS_listen);
  o.core.clear();
  for (absl::string_view node : absl::StrSplit(absl::GetFlag(FLAGS_core), ',', absl::SkipWhitespace())) {
    o.core.emplace_back(absl::StripAsciiWhitespace(node));
  }
  o.threads = absl::GetFlag(FLAGS_threads);
  o.web_root = absl::GetFlag(FLAGS_web_root);
  for (absl::string_view origin : absl::StrSplit(absl::GetFlag(FLAGS_allowed_origins), ',', absl::SkipWhitespace())) {
    o.allowed_origins.emplace_back(absl::StripAsciiWhitespace(origin));
  }
  for (absl::string_view host : absl::StrSplit(absl::GetFlag(FLAGS_allowed_hosts), ',', absl::SkipWhitespace())) {
    o.allowed_hosts.emplace_back(absl::StripAsciiWhitespace(host));
  }
  o.cookie_secure = absl::GetFlag(FLAGS_cookie_secure);
  o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key = absl::GetFlag(FLAGS_tls_key);
  o.hsts_max_age = absl::GetFlag(FLAGS_hsts_max_age);
  for (absl::string_view proxy : absl::StrSplit(absl::GetFlag(FLAGS_trusted_proxies), ',', absl::SkipWhitespace())) {
    o.trusted_proxies.emplace_back(absl::StripAsciiWhitespace(proxy));
  }
  o.core_ca = absl::GetFlag(FLAGS_core_ca);
  o.core_cert = absl::GetFlag(FLAGS_core_cert);
  o.core_key = absl::GetFlag(FLAGS_core_key);
  o.tls_reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  o.core_tls = absl::GetFlag(FLAGS_core_tls) || !o.core_ca.empty() || !o.core_cert.empty();
  // A negative size would wrap in size_t: it becomes 0, which the rules refuse.
  auto size_flag = [](int value) { return static_cast<size_t>(std::max(0, value)); };
  o.max_message_bytes = size_flag(absl::GetFlag(FLAGS_max_message_bytes));
  o.max_connections = size_flag(absl::GetFlag(FLAGS_max_connections));
  o.max_connections_per_ip = absl::GetFlag(FLAGS_max_connections_per_ip);
  o.events_per_second = absl::GetFlag(FLAGS_events_per_second);
  o.event_burst = absl::GetFlag(FLAGS_event_burst);
  o.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  o.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  o.max_requests_per_connection = absl::GetFlag(FLAGS_max_requests_per_connection);
  o.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  o.webhook_posts_per_10s_per_ip = absl::GetFlag(FLAGS_webhook_posts_per_10s_per_ip);
  o.max_queued_events = size_flag(absl::GetFlag(FLAGS_max_queued_events));
  o.max_queued_bytes = size_flag(absl::GetFlag(FLAGS_max_queued_bytes));
  // Out of range (negative too) is refused by the rules below.
  o.replies_in_flight = static_cast<size_t>(std::clamp(absl::GetFlag(FLAGS_replies_in_flight), 0, 1 << 20));
  o.history_per_user = absl::GetFlag(FLAGS_history_per_user);
  o.max_waiting_requests =
      static_cast<size_t>(std::clamp(absl::GetFlag(FLAGS_max_waiting_requests), -1, 1 << 20));
  o.socket_send_buffer = absl::GetFlag(FLAGS_socket_send_buffer);
  o.direct_writes = absl::GetFlag(FLAGS_direct_writes);
  o.io_uring = absl::GetFlag(FLAGS_io_uring);
  o.presence_delay = absl::GetFlag(FLAGS_presence_delay);
  o.presence_max_delay = absl::GetFlag(FLAGS_presence_max_delay);
  o.core_keepalive_time = absl::GetFlag(FLAGS_core_keepalive_time);
  o.core_keepalive_timeout = absl::GetFlag(FLAGS_core_keepalive_timeout);
  o.failover_timeout = absl::GetFlag(FLAGS_failover_timeout);
  o.failover_queue_events = absl::GetFlag(FLAGS_failover_queue_events);
  auto secret = chat::ReadGatewaySecret(absl::GetFlag(FLAGS_gateway_secret_file));
  if (!secret.ok()) {
    std::fprintf(stderr, "ws-bridge: %s\n", std::string(secret.status().message()).c_str());
    return 2;
  }
  o.gateway_secret = *secret;
  if (absl::Status valid = chat::bridge::ValidateBridgeOptions(o); !valid.ok()) {
    std::fprintf(stderr, "ws-bridge: %s (see --help)\n", std::string(valid.message()).c_str());
    return 2;
  }
  // Enough descriptors for --max_connections, or fewer connections and a
  // warning (docs/operations.md, "Open files").
  auto fitted = chat::bridge::FitDescriptorLimit(&o);
  if (!fitted.ok()) {
    std::fprintf(stderr, "ws-bridge: %s\n", std::string(fitted.status().message()).c_str());
    return 1;
  }
  if (!fitted->empty()) CHAT_LOG_WARN("bridge", "%s", *fitted);

  // Metrics first: a bad --metrics_listen stops the bridge before it listens.
  std::unique_ptr<chat::bridge::BridgeMetrics> metrics;
  std::unique_ptr<chat::metrics::MetricsServer> metrics_server;
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    auto started = chat::metrics::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_listen));
    if (!started.ok()) {
      std::fprintf(stderr, "ws-bridge: --metrics_listen: %s\n", std::string(started.status().message()).c_str());
      return absl::IsInvalidArgument(started.status()) ? 2 : 1;
    }
    metrics_server = std::move(*started);
    metrics = std::make_unique<chat::bridge::BridgeMetrics>();
    metrics->RegisterWith(*metrics_server);
    o.metrics = metrics.get();
    // Machine-readable, for scripts that pick port 0.
    std::printf("ws-bridge metrics on %s\n", metrics_server->address().c_str());
    std::fflush(stdout);
  }
  auto bridge = chat::bridge::Bridge::Start(std::move(o));
  if (!bridge.ok()) {
    std::fprintf(stderr, "ws-bridge: %s\n", std::string(bridge.status().message()).c_str());
    return 1;
  }
  std::printf("ws-bridge listening on %s\n", (*bridge)->address().c_str());
  std::fflush(stdout);

  const char* stop = chat::WaitForStopSignal(stop_signals, [&bridge] {
    CHAT_LOG_INFO("bridge", "received SIGHUP: reloading the TLS certificate");
    (void)(*bridge)->ReloadTls();
  });
  CHAT_LOG_INFO("bridge", "received %s; shutting down", stop);
  (*bridge)->Shutdown();
  return 0;
}
