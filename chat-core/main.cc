// chat-core: flags -> CoreOptions -> CoreServer -> wait for SIGINT/SIGTERM ->
// ordered shutdown.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/synchronization/mutex.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "chat/log.h"
#include "chat/metrics.h"
#include "chat/server_main.h"
#include "core_metrics.h"
#include "chat/validate.h"
#include "server.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to serve gRPC on (host:port; port 0 picks a free one).");
ABSL_FLAG(std::string, db, "data/chat.db",
          "SQLite database file (created and migrated on start; ':memory:' keeps nothing), or a PostgreSQL "
          "connection URI (postgresql://user@host:port/dbname): several chat-core nodes on one PostgreSQL share "
          "every room (docs/scaling.md).");
ABSL_FLAG(std::string, node_id, "",
          "On PostgreSQL: this node's name in the cluster (logs, presence). Empty: host-pid-random.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(2),
          "On PostgreSQL: how often this node beats; a node silent for --node_timeout is gone.");
ABSL_FLAG(absl::Duration, node_timeout, absl::Seconds(10),
          "On PostgreSQL: a node that has not beaten for this long is gone (its members leave their rooms).");
ABSL_FLAG(absl::Duration, min_client_ping_interval, absl::Seconds(5),
          "Shortest keepalive ping interval accepted from a client (ws-bridge pings every 10s by default).");
ABSL_FLAG(bool, sync_full, false,
          "synchronous=FULL: survive power loss too, not only a crash of chat-core (slower).");
ABSL_FLAG(int, sqlite_cache_mib, 64,
          "SQLite page cache per connection (the writer and each of the 2 readers), in MiB; "
          "RSS grows with the database up to about 3x this.");
ABSL_FLAG(int, max_text_bytes, 4096, "Largest message text accepted, in bytes.");
ABSL_FLAG(std::string, gateway_secret_file, "",
          "File holding the shared secret ws-bridge presents for the Gateway stream (env "
          "CHAT_GATEWAY_SECRET also works). Unset: gateway streams from loopback only.");
ABSL_FLAG(bool, allow_guests, false,
          "Demo mode: calls without a token may name themselves with x-chat-user. Off by default.");
ABSL_FLAG(absl::Duration, token_ttl, absl::Hours(24 * 7),
          "A login session's idle lifetime: it ends this long after its last use, and is renewed while used "
          "(when less than 3/4 of this remains), up to --session_max_age after the login.");
ABSL_FLAG(absl::Duration, session_max_age, absl::Hours(24 * 30),
          "The longest a login session lives, however much it is used (at least --token_ttl).");
ABSL_FLAG(std::string, registration, "open",
          "Who may register: open (anyone), invite (with an invite code from AuthService.CreateInvite) or "
          "closed (nobody).");
ABSL_FLAG(bool, users_may_invite, false,
          "Users (not only --admins) may create registration invite codes (for --registration=invite).");
ABSL_FLAG(std::string, invite_code_file, "",
          "At start-up, if this file does not exist, make one registration invite code (valid 7 days) and "
          "write it there (mode 0600): how the first account of a server in --registration=invite mode "
          "registers. Delete the file for another code at the next start.");
ABSL_FLAG(double, webhook_posts_per_second, 1,
          "Posts one incoming webhook may make per second on this node (a token bucket with --webhook_burst); "
          "more are refused with RESOURCE_EXHAUSTED (HTTP 429 at ws-bridge) saying when to retry.");
ABSL_FLAG(double, webhook_burst, 10, "Posts one webhook may save up and make at once.");
ABSL_FLAG(int, max_sessions_per_user, 100,
          "Sessions (login tokens) one user may hold; a login past that ends the oldest session and its "
          "live streams. 0: no cap.");
ABSL_FLAG(absl::Duration, session_sweep_interval, absl::Minutes(1),
          "How often expired sessions are deleted from the database and memory while running.");
ABSL_FLAG(int, max_registrations_per_ip_per_hour, 30,
          "Registrations one client address may make in an hour (behind ws-bridge: the browser's address); "
          "more are refused with RESOURCE_EXHAUSTED (HTTP 429) saying when to retry. 0: no limit.");
ABSL_FLAG(int, max_queued_registrations, 16,
          "Registrations waiting to be hashed beyond this are refused; they hash on a thread of their own, "
          "so a flood of them never delays logins.");
ABSL_FLAG(int, max_login_failures_per_user_ip, 5,
          "Failed logins per (username, client address) in --login_failure_window; then that address may "
          "not try that username until the oldest failure ages out. Other addresses are not locked.");
ABSL_FLAG(int, max_login_failures_per_ip, 20,
          "Failed logins per client address (all usernames) in --login_failure_window.");
ABSL_FLAG(absl::Duration, login_failure_window, absl::Minutes(5), "The window failed logins are counted in.");
ABSL_FLAG(int, login_slowdown_after, 5,
          "Failed logins of one username (from any address) in --login_failure_window after which every "
          "further attempt waits --login_slowdown_base, doubling with each failure, at most "
          "--login_slowdown_max, after the newest failure (one attempt at a time).");
ABSL_FLAG(absl::Duration, login_slowdown_base, absl::Seconds(1), "The first per-username delay.");
ABSL_FLAG(absl::Duration, login_slowdown_max, absl::Seconds(60), "The longest per-username delay.");
ABSL_FLAG(absl::Duration, login_slowdown_wait, absl::Seconds(3),
          "A login that the per-username delay holds back waits for its turn for up to this long (answered "
          "late) before it is refused with \"retry in N s\"; 0: refused at once.");
ABSL_FLAG(int, fanout_threads, 0,
          "Fan-out lanes: threads that start the writes of room messages and serve Connect streams "
          "(0: one per core, at most 64).");
ABSL_FLAG(int, hash_threads, 2, "Threads that hash passwords (Argon2id) off the gRPC threads.");
ABSL_FLAG(int, pwhash_memlimit_kib, 19456, "Argon2id memory per hash in KiB (OWASP minimum: 19456).");
ABSL_FLAG(int, pwhash_opslimit, 2, "Argon2id passes per hash (OWASP minimum: 2).");
ABSL_FLAG(int, stream_queue_events, 4096,
          "Per Connect stream outbound queue limit; a stream over it is ended with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, gateway_queue_events, 1 << 20, "Per gateway stream outbound queue limit.");
ABSL_FLAG(int, recent_messages, 1024, "Recent messages per room kept in memory for fast resume.");
ABSL_FLAG(int, room_recent_bytes, 64 * 1024,
          "Memory one room's recent messages may take (their encoded events plus about 800 bytes each); "
          "the oldest go first, and older messages come from the database. Nothing is held before a "
          "room's first message.");
ABSL_FLAG(int, max_rooms, 10000,
          "Rooms there may be in all (every node of a cluster counts the same rooms); creating more is "
          "refused with RESOURCE_EXHAUSTED. 0: no cap.");
ABSL_FLAG(int, max_room_creates_per_user_per_hour, 20,
          "Rooms one user may create in an hour (counted in the database, so on every node together); "
          "more are refused with RESOURCE_EXHAUSTED. 0: no limit.");
ABSL_FLAG(std::vector<std::string>, admins, {},
          "Comma-separated usernames of server admins: they moderate every room (as its owner would), "
          "see private rooms, and disable accounts (AuthService.DisableAccount).");
ABSL_FLAG(int, user_searches_per_10s, 20,
          "User searches (SearchUsers: invite and direct-message pickers) one user may make every 10 s.");
ABSL_FLAG(int, presence_limit, 200,
          "Rooms with more users than this send no member events and list this many names.");
ABSL_FLAG(int, max_streams_per_user, 64,
          "Live streams one user may hold on this node: Connect streams and browser WebSockets "
          "together; more are refused with RESOURCE_EXHAUSTED. 0: no cap.");
ABSL_FLAG(std::string, connect_api, "core",
          "The gRPC API serving Connect streams: core (gRPC core's C API; less memory per idle stream) or "
          "callback (gRPC's public callback API).");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning, error or off.");
ABSL_FLAG(std::string, log_format, "text", "text (one line each) or json (one JSON object a line).");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on (GET /metrics; port 0 picks one). Empty: no metrics.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve gRPC over TLS (with --tls_key). Re-read when the file changes.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: clients must present a certificate it signed (mTLS); a bridge with one may open "
          "the Gateway stream without the gateway secret.");
ABSL_FLAG(bool, tls_client_cert_optional, false,
          "With --tls_client_ca: verify a client certificate when one is given, but let clients without one "
          "in (they log in with tokens as usual).");
ABSL_FLAG(std::vector<std::string>, tls_gateway_names, {},
          "With --tls_client_ca: certificate names (CN or DNS SAN) that count as a gateway; empty: any "
          "certificate the client CA signed.");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "How often the TLS files are checked for changes (a renewed certificate needs no restart).");
ABSL_FLAG(bool, allow_root, false,
          "Run even as root. Off: root is refused; run as an unprivileged user (the Debian package's 'chat').");

int main(int argc, char** argv) {
  // gRPC 1.51's default TCP read path (the "tcp_read_chunks" experiment) keeps
  // an 8 KiB read buffer on every idle connection; the older path, sized by the
  // read-chunk channel arguments (server.cc), does not. Measured: 7 KiB less per
  // idle client. gRPC reads this when it first starts, so before anything else.
  if (std::getenv("GRPC_EXPERIMENTS") == nullptr) setenv("GRPC_EXPERIMENTS", "-tcp_read_chunks", 1);
  chat::ParseServerFlags(
      argc, argv,
      "chat-core: the chat backend's gRPC service (rooms, messages, history, accounts).\n"
      "Usage: chat-core [--listen=127.0.0.1:50051] [--db=data/chat.db] [flags]",
      "chat-core/main.cc");
  mallopt(M_ARENA_MAX, 2);
  if (absl::Status st = chat::PrepareServerProcess(absl::GetFlag(FLAGS_allow_root)); !st.ok()) {
    std::fprintf(stderr, "chat-core: %s\n", std::string(st.message()).c_str());
    return 2;
  }

  chat::LogLevel level;
  if (!chat::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "chat-core: --log_level must be debug, info, warning, error or off\n");
    return 2;
  }
  chat::SetLogLevel(level);
  chat::LogFormat log_format;
  if (!chat::ParseLogFormat(absl::GetFlag(FLAGS_log_format), &log_format)) {
    std::fprintf(stderr, "chat-core: --log_format must be text or json\n");
    return 2;
  }
  chat::SetLogFormat(log_format);

  const sigset_t stop_signals = chat::BlockStopSignals();

  // Sizes are size_t in the options: a negative flag would wrap.
  for (const auto& [name, value] : {std::pair{"--max_text_bytes", absl::GetFlag(FLAGS_max_text_bytes)},
                                    {"--recent_messages", absl::GetFlag(FLAGS_recent_messages)},
                                    {"--room_recent_bytes", absl::GetFlag(FLAGS_room_recent_bytes)},
                                    {"--max_rooms", absl::GetFlag(FLAGS_max_rooms)},
                                    {"--max_room_creates_per_user_per_hour",
                                     absl::GetFlag(FLAGS_max_room_creates_per_user_per_hour)},
                                    {"--presence_limit", absl::GetFlag(FLAGS_presence_limit)},
                                    {"--max_streams_per_user", absl::GetFlag(FLAGS_max_streams_per_user)},
                                    {"--stream_queue_events", absl::GetFlag(FLAGS_stream_queue_events)},
                                    {"--gateway_queue_events", absl::GetFlag(FLAGS_gateway_queue_events)},
                                    {"--pwhash_memlimit_kib", absl::GetFlag(FLAGS_pwhash_memlimit_kib)},
                                    {"--pwhash_opslimit", absl::GetFlag(FLAGS_pwhash_opslimit)},
                                    {"--sqlite_cache_mib", absl::GetFlag(FLAGS_sqlite_cache_mib)}}) {
    if (value < 0) {
      std::fprintf(stderr, "chat-core: %s must not be negative\n", name);
      return 2;
    }
  }
  chat::core::CoreOptions options = chat::core::DefaultCoreOptions();
  options.listen = absl::GetFlag(FLAGS_listen);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls.client_cert_optional = absl::GetFlag(FLAGS_tls_client_cert_optional);
  options.tls.gateway_cert_names = absl::GetFlag(FLAGS_tls_gateway_names);
  options.tls.reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  if (chat::core::IsPostgresUri(absl::GetFlag(FLAGS_db))) {
    options.pg.pg.uri = absl::GetFlag(FLAGS_db);
    options.cluster.node_id = absl::GetFlag(FLAGS_node_id);
    options.cluster.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
    options.cluster.node_timeout = absl::GetFlag(FLAGS_node_timeout);
  } else {
    options.store.path = absl::GetFlag(FLAGS_db);
  }
  options.store.synchronous_full = absl::GetFlag(FLAGS_sync_full);
  options.store.cache_kib = absl::GetFlag(FLAGS_sqlite_cache_mib) * 1024;
  options.min_client_ping_interval = absl::GetFlag(FLAGS_min_client_ping_interval);
  options.hub.max_text_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_text_bytes));
  options.hub.room.recent_frames = static_cast<size_t>(absl::GetFlag(FLAGS_recent_messages));
  options.hub.room.recent_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_room_recent_bytes));
  options.hub.room_quota.max_rooms = absl::GetFlag(FLAGS_max_rooms);
  options.hub.room_quota.per_creator = absl::GetFlag(FLAGS_max_room_creates_per_user_per_hour);
  options.hub.room.presence_limit = static_cast<size_t>(absl::GetFlag(FLAGS_presence_limit));
  for (const std::string& admin : absl::GetFlag(FLAGS_admins)) {
    if (!admin.empty()) options.hub.admins.insert(absl::AsciiStrToLower(admin));
  }
  options.hub.searches_per_10s = std::max(1, absl::GetFlag(FLAGS_user_searches_per_10s));
  options.hub.max_streams_per_user = absl::GetFlag(FLAGS_max_streams_per_user);
  options.accounts.allow_guests = absl::GetFlag(FLAGS_allow_guests);
  options.accounts.token_ttl = absl::GetFlag(FLAGS_token_ttl);
  options.accounts.session_max_age = absl::GetFlag(FLAGS_session_max_age);
  if (absl::GetFlag(FLAGS_registration) == "open") {
    options.accounts.registration = chat::core::RegistrationMode::kOpen;
  } else if (absl::GetFlag(FLAGS_registration) == "invite") {
    options.accounts.registration = chat::core::RegistrationMode::kInvite;
  } else if (absl::GetFlag(FLAGS_registration) == "closed") {
    options.accounts.registration = chat::core::RegistrationMode::kClosed;
  } else {
    std::fprintf(stderr, "chat-core: --registration must be open, invite or closed\n");
    return 2;
  }
  options.accounts.users_may_invite = absl::GetFlag(FLAGS_users_may_invite);
  options.accounts.invite_code_file = absl::GetFlag(FLAGS_invite_code_file);
  options.services.webhook_posts_per_second = absl::GetFlag(FLAGS_webhook_posts_per_second);
  options.services.webhook_burst = absl::GetFlag(FLAGS_webhook_burst);
  options.accounts.max_sessions_per_user = absl::GetFlag(FLAGS_max_sessions_per_user);
  options.accounts.session_sweep_interval = absl::GetFlag(FLAGS_session_sweep_interval);
  options.accounts.max_queued_registrations = absl::GetFlag(FLAGS_max_queued_registrations);
  options.accounts.login_limits.max_registrations_per_peer = absl::GetFlag(FLAGS_max_registrations_per_ip_per_hour);
  options.accounts.login_limits.registration_window = absl::Hours(1);
  options.accounts.login_limits.max_failures_per_pair = absl::GetFlag(FLAGS_max_login_failures_per_user_ip);
  options.accounts.login_limits.max_failures_per_peer = absl::GetFlag(FLAGS_max_login_failures_per_ip);
  options.accounts.login_limits.window = absl::GetFlag(FLAGS_login_failure_window);
  options.accounts.login_limits.user_slowdown_after = absl::GetFlag(FLAGS_login_slowdown_after);
  options.accounts.login_limits.user_slowdown_base = absl::GetFlag(FLAGS_login_slowdown_base);
  options.accounts.login_limits.user_slowdown_max = absl::GetFlag(FLAGS_login_slowdown_max);
  options.accounts.login_slowdown_wait = absl::GetFlag(FLAGS_login_slowdown_wait);
  options.accounts.hash_threads = absl::GetFlag(FLAGS_hash_threads);
  options.hub.fanout_threads = absl::GetFlag(FLAGS_fanout_threads);
  options.accounts.pwhash_memlimit = static_cast<size_t>(absl::GetFlag(FLAGS_pwhash_memlimit_kib)) * 1024;
  options.accounts.pwhash_opslimit = static_cast<uint64_t>(absl::GetFlag(FLAGS_pwhash_opslimit));
  options.services.connect_outbox.max_events = static_cast<size_t>(absl::GetFlag(FLAGS_stream_queue_events));
  options.services.gateway_outbox.max_events = static_cast<size_t>(absl::GetFlag(FLAGS_gateway_queue_events));
  if (absl::GetFlag(FLAGS_connect_api) == "callback") {
    options.services.connect_api = chat::core::ConnectApi::kCallback;
  } else if (absl::GetFlag(FLAGS_connect_api) != "core") {
    std::fprintf(stderr, "chat-core: --connect_api must be core or callback\n");
    return 2;
  }

  auto secret = chat::ReadGatewaySecret(absl::GetFlag(FLAGS_gateway_secret_file));
  if (!secret.ok()) {
    std::fprintf(stderr, "chat-core: %s\n", std::string(secret.status().message()).c_str());
    return 2;
  }
  options.services.gateway_secret = *secret;
  if (absl::Status st = chat::core::ValidateCoreOptions(options); !st.ok()) {
    std::fprintf(stderr, "chat-core: %s (see --help)\n", std::string(st.message()).c_str());
    return 2;
  }
  // Metrics first: a bad --metrics_listen stops chat-core before it listens.
  std::unique_ptr<chat::core::CoreMetrics> metrics;
  std::unique_ptr<chat::metrics::MetricsServer> metrics_server;
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    auto started = chat::metrics::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_listen));
    if (!started.ok()) {
      std::fprintf(stderr, "chat-core: --metrics_listen: %s\n", std::string(started.status().message()).c_str());
      return absl::IsInvalidArgument(started.status()) ? 2 : 1;
    }
    metrics_server = std::move(*started);
    metrics = std::make_unique<chat::core::CoreMetrics>();
    metrics->RegisterWith(*metrics_server);
    options.metrics = metrics.get();
    // Machine-readable, for scripts that pick port 0.
    std::printf("chat-core metrics on %s\n", metrics_server->address().c_str());
    std::fflush(stdout);
  }
  if (options.services.gateway_secret.empty() && options.tls.client_ca_file.empty()) {
    CHAT_LOG_WARN("core", "no gateway secret set: gateway streams are accepted from loopback only");
  }
  if (options.accounts.allow_guests) {
    CHAT_LOG_WARN("core", "--allow_guests is on: anyone can chat without an account");
  }

  // Machine-readable, for scripts that must wait until the node serves (on
  // PostgreSQL that comes later than "listening on"), and always after it.
  static absl::Mutex lines_mu;
  static bool listening_said = false, serving_due = false, serving_said = false;
  auto say_serving = [] {  // under lines_mu
    if (serving_said) return;
    serving_said = true;
    std::printf("chat-core serving\n");
    std::fflush(stdout);
  };
  options.on_serving = [say_serving] {
    absl::MutexLock lock(&lines_mu);
    if (listening_said) {
      say_serving();
    } else {
      serving_due = true;
    }
  };
  auto server = chat::core::CoreServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "chat-core: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  {
    // Machine-readable line for scripts and tests that start us on port 0.
    absl::MutexLock lock(&lines_mu);
    std::printf("chat-core listening on %s\n", (*server)->address().c_str());
    std::fflush(stdout);
    listening_said = true;
    if (serving_due || (*server)->serving()) say_serving();
  }

  const char* stop = chat::WaitForStopSignal(stop_signals, [] {
    CHAT_LOG_INFO("core", "received SIGHUP: nothing to do (TLS files are re-read when they change, every "
                          "--tls_reload_interval)");
  });
  CHAT_LOG_INFO("core", "received %s; shutting down", stop);
  (*server)->Shutdown(absl::Seconds(3));
  return 0;
}
