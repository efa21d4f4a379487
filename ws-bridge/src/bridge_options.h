// ws-bridge's settings, as a plain struct (main.cc fills it from flags; tests
// and embedding programs build it directly), and the rules it must follow.
//
// Threading: plain values; read-only once a Bridge has them. Lifetime: the
// Bridge keeps its own copy.
#ifndef CHAT_WS_BRIDGE_SRC_BRIDGE_OPTIONS_H_
#define CHAT_WS_BRIDGE_SRC_BRIDGE_OPTIONS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chat::bridge {

class BridgeMetrics;

struct BridgeOptions {
  // host:port to serve HTTP and WebSocket on; port 0 picks a free one.
  std::string listen = "127.0.0.1:8080";
  // chat-core nodes' gRPC addresses (host:port). The gateway stream uses one
  // at a time and moves to the next when its node fails (docs/architecture.md,
  // "Fail-over between chat-core nodes").
  std::vector<std::string> core = {"127.0.0.1:50051"};
  // Threads running the io_context.
  int threads = 2;
  // The built web UI (index.html and assets); empty: no static files.
  std::string web_root;
  // Origins allowed to open /ws and call /api (scheme://host[:port]). Empty: the
  // bridge's own origin: one of allowed_hosts under http:// or https://, or
  // without allowed_hosts the request's Host. "*" is refused (any site could
  // then use a browser's session cookie).
  std::vector<std::string> allowed_origins;
  // The Host header values (host[:port]; without a port any port) the bridge
  // answers to; another Host gets 421 (DNS rebinding: a name of the attacker's
  // that resolves to the bridge). Empty: any Host. /healthz is exempt.
  std::vector<std::string> allowed_hosts;
  // Presented to chat-core on the Gateway stream (x-chat-gateway-secret).
  std::string gateway_secret;
  // Mark the session cookie Secure even on plain HTTP (TLS terminates in front
  // of a bridge that does not know it). It is Secure anyway whenever the
  // browser reached the bridge over TLS (tls_cert, or a trusted proxy's
  // X-Forwarded-Proto: https).
  bool cookie_secure = false;

  // TLS: serve HTTPS and WSS with this PEM certificate chain and key (both
  // empty: plain HTTP). SIGHUP re-reads them (Bridge::ReloadTls).
  std::string tls_cert;
  std::string tls_key;
  // Strict-Transport-Security max-age sent on responses to browsers that came
  // over TLS; zero: no HSTS header.
  absl::Duration hsts_max_age = absl::ZeroDuration();
  // Addresses or CIDRs (10.0.0.0/8, ::1, 127.0.0.1) of reverse proxies whose
  // X-Forwarded-For and X-Forwarded-Proto are believed; from anyone else they
  // are ignored.
  std::vector<std::string> trusted_proxies;
  // The channel to chat-core: TLS (core_tls), the CAs to trust (core_ca; empty:
  // the system's), and a client certificate for mTLS (core_cert/core_key).
  bool core_tls = false;
  std::string core_ca;
  std::string core_cert;
  std::string core_key;
  // How often core_ca, core_cert and core_key are checked for changes (they
  // are re-read without a restart; tls_cert/tls_key are re-read on SIGHUP).
  absl::Duration tls_reload_interval = absl::Seconds(60);

  // Limits.
  size_t max_message_bytes = 64 * 1024;
  size_t max_connections = 10000;
  // Most open TCP connections from one client address (an IPv6 client: its
  // /64), so one client cannot take all of max_connections; over it a
  // connection is closed at once. Connections from trusted_proxies are not
  // counted (a proxy carries many clients). 0: no per-address cap.
  int max_connections_per_ip = 256;
  // Token bucket per WebSocket: sustained events per second and burst.
  double events_per_second = 20;
  double event_burst = 120;
  absl::Duration handshake_timeout = absl::Seconds(5);
  // An HTTP keep-alive connection is closed (Connection: close on the answer)
  // after this many requests, or the first answer after it is this old; a
  // WebSocket upgrade is not limited by either. 0: no limit.
  int max_requests_per_connection = 1000;
  absl::Duration max_connection_age = absl::Minutes(5);
  // A WebSocket with no traffic for this long is pinged; closed if no answer
  // within another such period.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Webhook posts (POST /api/hooks/) one client address (an IPv6 client: its
  // /64) may make per ten seconds, all of them at once if it likes; more get
  // 429 with Retry-After. On top of chat-core's own limit per hook
  // (--webhook_posts_per_second). 0: no limit here.
  int webhook_posts_per_10s_per_ip = 60;
  // Per WebSocket outbound queue; a browser over it is closed (1008).
  size_t max_queued_events = 2048;
  size_t max_queued_bytes = 4 << 20;
  // A history or room-list reply can be megabytes, and every reply crosses
  // the one gateway stream this bridge shares with all its browsers
  // (docs/architecture.md, "Fair shares of the gateway stream"). At most this
  // many such requests are at chat-core at once, for the whole bridge; more
  // wait their turn in arrival order. Each WebSocket has at most one there: its
  // next waits in the session until the previous reply has been written to the
  // socket.
  size_t replies_in_flight = 4;
  // History and room-list requests one WebSocket may have waiting behind its
  // unanswered or unwritten previous one; one more closes it (1008).
  size_t max_waiting_requests = 16;
  // History messages one user may ask for per second over all of its
  // WebSockets on this bridge (bursts of two seconds' worth, at least one
  // full page of 500); a page asked
  // for beyond it is refused. Each WebSocket's own event rate still applies.
  // 0: no limit.
  double history_per_user = 500;
  // SO_SNDBUF of each accepted connection, in bytes; 0 leaves the kernel's
  // autotuning (on loopback that lets a non-reading peer take megabytes). A
  // small buffer bounds kernel memory per slow browser, and the bridge then
  // holds the backlog itself and packs it into fewer, fuller frames.
  int socket_send_buffer = 0;
  // How long presence (a member joined or left) may wait in a socket's queue
  // before it is written, so that a burst of joins leaves in one frame per
  // member instead of one per join. Anything urgent (a message, a reply) writes
  // the queue at once, presence included. Zero: presence is written at once.
  // Rounded up to whole milliseconds.
  absl::Duration presence_delay = absl::Milliseconds(50);
  // While presence keeps coming (a join storm), a socket's wait doubles after
  // each flush that carried more than one event, up to this; a flush of a
  // single event, or a quiet spell as long as the wait, brings it back to
  // presence_delay. Equal to presence_delay: the wait never grows.
  absl::Duration presence_max_delay = absl::Milliseconds(800);
  // Let the gateway's thread write a room message straight to a socket that has
  // nothing queued (ws-bridge/src/gated_socket.h) instead of handing every
  // write to the socket's strand. false: every write goes through the strand.
  bool direct_writes = true;
  // Send a room message's direct writes with one io_uring submission per up
  // to 256 sockets instead of one sendmsg each. Where io_uring is refused
  // (an old kernel, a seccomp profile), the bridge logs it once and uses
  // sendmsg. false: always sendmsg.
  bool io_uring = true;
  // Most events in one WebSocket frame.
  size_t max_events_per_frame = 256;
  // Deadline of the bridge's unary calls to chat-core, and of a gateway
  // stream's start (a node that does not accept it by then counts as failed).
  absl::Duration call_timeout = absl::Seconds(10);
  // The gateway's gRPC keepalive: a ping after this long without traffic from
  // chat-core, and the connection counts as dead (fail-over starts) if the
  // answer takes longer than core_keepalive_timeout. This is how a node whose
  // machine vanished (no reset ever comes) is found: within the sum of both.
  // chat-core accepts pings every 5 s by default (its --min_client_ping_interval).
  absl::Duration core_keepalive_time = absl::Seconds(10);
  absl::Duration core_keepalive_timeout = absl::Seconds(5);
  // Gateway reconnect backoff, after a whole round of the nodes failed.
  absl::Duration reconnect_min = absl::Milliseconds(200);
  absl::Duration reconnect_max = absl::Seconds(5);
  // How long open WebSockets wait for a chat-core node to take over after the
  // gateway stream is lost; after that they are closed with 1012.
  absl::Duration failover_timeout = absl::Seconds(30);
  // Events a browser sends while no node is reachable, per WebSocket, kept to
  // send once its session is open again; more get an UNAVAILABLE error.
  int failover_queue_events = 64;
  // Prometheus metrics (bridge_metrics.h; --metrics_listen); null: off. Not
  // owned: must outlive the Bridge.
  BridgeMetrics* metrics = nullptr;
};

// OK, or the first rule `options` breaks, in the words main prints (naming the
// flag, e.g. "--threads must be at least 1"). Bridge::Start checks it too.
absl::Status ValidateBridgeOptions(const BridgeOptions& options);

// "host:port" split in two; the error names `flag` ("--listen must be
// host:port, got 'foo'").
// Threading: a value. Lifetime: the caller's.
struct HostPort {
  std::string host;
  int port = 0;
};
absl::StatusOr<HostPort> ParseHostPort(absl::string_view address, absl::string_view flag);

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_BRIDGE_OPTIONS_H_
