#include "server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chat/validate.h"
#include "absl/time/clock.h"
#include "chat/log.h"
#include "core_metrics.h"
#include "grpc/health/v1/health.pb.h"

namespace chat::core {

CoreOptions DefaultCoreOptions() {
  CoreOptions o;
  o.services.connect_session.pause_reads_when_busy = true;
  o.services.gateway_session.pause_reads_when_busy = false;
  // A gateway session gets errors instead of backpressure at this limit (one
  // browser must not stall the shared stream); ws-bridge's per-socket rate limit
  // keeps real browsers far below it.
  o.services.gateway_session.max_inflight_sends = 4096;
  o.services.connect_outbox = OutboxLimits{4096, 4u << 20, 256};
  o.services.gateway_outbox = OutboxLimits{1u << 20, 256u << 20, 8192};
  return o;
}

absl::Status ValidateCoreOptions(const CoreOptions& o) {
  size_t colon = o.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(o.listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen must be host:port with a port from 0 to 65535, not '", o.listen, "'"));
  }
  const struct {
    bool ok;
    const char* rule;
  } rules[] = {
      {o.hub.max_text_bytes >= 1 && o.hub.max_text_bytes <= static_cast<size_t>(kMaxReceiveMessageBytes) / 2,
       "max_text_bytes must be between 1 and 32768"},
      {o.hub.fanout_threads >= 0 && o.hub.fanout_threads <= 64,
       "fanout_threads must be between 0 (one per core) and 64"},
      {o.hub.replay_page >= 1, "replay_page must be at least 1"},
      {o.hub.room.presence_limit >= 1, "presence_limit must be at least 1"},
      {o.accounts.token_ttl > absl::ZeroDuration(), "token_ttl must be positive"},
      {o.accounts.session_max_age >= o.accounts.token_ttl, "session_max_age must be at least token_ttl"},
      {o.services.webhook_posts_per_second > 0 && o.services.webhook_posts_per_second <= 1000,
       "webhook_posts_per_second must be more than 0 and at most 1000"},
      {o.services.webhook_burst >= 1 && o.services.webhook_burst <= 10000, "webhook_burst must be between 1 and 10000"},
      {o.accounts.login_limits.window > absl::ZeroDuration(), "login_failure_window must be positive"},
      {o.accounts.hash_threads >= 1 && o.accounts.hash_threads <= 64, "hash_threads must be between 1 and 64"},
      {o.accounts.max_queued_hashes >= 1, "max_queued_hashes must be at least 1"},
      {o.accounts.max_queued_registrations >= 1, "max_queued_registrations must be at least 1"},
      {o.accounts.registration_hash_threads >= 1 && o.accounts.registration_hash_threads <= 64,
       "registration_hash_threads must be between 1 and 64"},
      {o.accounts.max_sessions_per_user >= 0, "max_sessions_per_user must not be negative (0: no cap)"},
      {o.accounts.session_sweep_interval >= absl::ZeroDuration(),
       "session_sweep_interval must not be negative (0: sweep only at start-up)"},
      {o.accounts.login_limits.max_failures_per_pair >= 1 && o.accounts.login_limits.max_failures_per_peer >= 1,
       "max_login_failures_per_user_ip and max_login_failures_per_ip must be at least 1"},
      {o.accounts.login_limits.user_slowdown_after >= 1, "login_slowdown_after must be at least 1"},
      {o.accounts.login_limits.user_slowdown_base > absl::ZeroDuration() &&
           o.accounts.login_limits.user_slowdown_max >= o.accounts.login_limits.user_slowdown_base,
       "login_slowdown_base must be positive and login_slowdown_max at least login_slowdown_base"},
      {o.accounts.login_slowdown_wait >= absl::ZeroDuration() && o.accounts.login_slowdown_wait <= absl::Minutes(1),
       "login_slowdown_wait must be between 0 and 1m"},
      {o.accounts.login_limits.window <= absl::Hours(24) &&
           o.accounts.login_limits.registration_window > absl::ZeroDuration() &&
           o.accounts.login_limits.registration_window <= absl::Hours(24),
       "login_failure_window and the registration window must be at most 24h (a cluster keeps counts that "
       "long)"},
      {o.accounts.login_limits.max_registrations_per_peer >= 0,
       "max_registrations_per_ip_per_hour must not be negative (0: no limit)"},
      {o.services.connect_outbox.max_events >= 16, "stream_queue_events must be at least 16"},
      {o.services.gateway_outbox.max_events >= 16, "gateway_queue_events must be at least 16"},
      {o.services.gateway_secret.empty() || o.services.gateway_secret.size() >= 16,
       "the gateway secret must be empty or at least 16 characters"},
      {o.services.connect_api != ConnectApi::kCore || kConnectOnCoreApi,
       "connect_api core needs gRPC 1.51 (this build has " GRPC_CPP_VERSION_STRING "); use callback"},
      {o.store.path != "" || !o.pg.pg.uri.empty(), "the database path must not be empty"},
      {o.pg.pg.uri.empty() || IsPostgresUri(o.pg.pg.uri), "a PostgreSQL database is named by a postgresql:// URI"},
      {o.min_client_ping_interval >= absl::ZeroDuration(), "min_client_ping_interval must not be negative"},
      {o.cluster.heartbeat_interval > absl::ZeroDuration() && o.cluster.node_timeout > 2 * o.cluster.heartbeat_interval,
       "node_timeout must be more than twice heartbeat_interval"},
  };
  for (const auto& rule : rules) {
    if (!rule.ok) return absl::InvalidArgumentError(rule.rule);
  }
  return absl::OkStatus();
}

namespace {

// Whether something already listens on `listen` (host:port): gRPC says only
// "No address added" after building half a server, so ask the kernel first.
absl::Status CheckListenAddress(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  int port = 0;
  (void)absl::SimpleAtoi(listen.substr(listen.rfind(':') + 1), &port);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot listen on ", listen, ": ", gai_strerror(rc)));
  }
  absl::Status status;
  for (addrinfo* a = found; a != nullptr && port != 0; a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage addr = {};
    std::memcpy(&addr, a->ai_addr, a->ai_addrlen);
    if (a->ai_family == AF_INET) reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
    if (a->ai_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), a->ai_addrlen) != 0) {
      status = absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", std::strerror(errno)));
    }
    close(fd);
    if (!status.ok()) break;
  }
  freeaddrinfo(found);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoreServer>> CoreServer::Start(CoreOptions options) {
  if (absl::Status st = ValidateCoreOptions(options); !st.ok()) return st;
  if (absl::Status st = CheckListenAddress(options.listen); !st.ok()) return st;
  auto credentials = CoreServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<CoreServer> s(new CoreServer());
  s->options_ = std::move(options);
  CoreOptions& o = s->options_;
  if (o.metrics != nullptr) o.metrics->Configure(&o);

  const bool clustered = !o.pg.pg.uri.empty();
  std::unique_ptr<LoginLimiter> limiter;
  if (clustered) {
    // The database may not be there yet: the store connects in the background
    // and the node serves once it has (BringUp).
    o.pg.open_wait = absl::ZeroDuration();
    auto store = OpenPgStore(o.pg);
    if (!store.ok()) return store.status();
    s->pg_store_ = store->get();
    s->store_ = std::move(*store);
    o.cluster.pg = o.pg.pg;
    s->cluster_ = NewPgCluster(o.cluster);
    o.hub.cluster = s->cluster_.get();
    o.accounts.shared_sessions = true;
    limiter = NewClusterLoginLimiter(o.accounts.login_limits, s->cluster_.get());
  } else {
    auto store = OpenSqliteStore(o.store);
    if (!store.ok()) return store.status();
    s->store_ = std::move(*store);
  }
  if (!o.accounts.now_ms && o.hub.now_ms) o.accounts.now_ms = o.hub.now_ms;
  s->accounts_ = std::make_unique<Accounts>(s->store_.get(), o.accounts, std::move(limiter));
  if (!clustered) {
    if (absl::Status st = s->accounts_->Init(); !st.ok()) return st;
  }
  grpc::EnableDefaultHealthCheckService(true);
  // gRPC's health service carries no descriptor: this links grpc.health.v1's
  // (proto/CMakeLists.txt) so that reflection can describe it to grpcurl.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Connect streams live on the fan-out lanes' own queues (see WriteKicker).
  for (int i = 0; i < FanoutLanes(o.hub); ++i) s->queues_.push_back(builder.AddCompletionQueue(/*is_frequently_polled=*/true));
  o.hub.fanout_queues.clear();
  for (auto& q : s->queues_) o.hub.fanout_queues.push_back(q.get());
  s->hub_ = std::make_unique<Hub>(s->store_.get(), o.hub);
  // A stream registered while its token was being logged out ends at once.
  s->hub_->live().SetSessionCheck([accounts = s->accounts_.get()](const Identity& who) {
    return accounts->SessionLive(who);
  });
  // Renewal (docs/protocol.md, "Accounts, bots and tokens"): each sweep renews
  // the tokens of this node's live streams, and a renewal (by the sweep or by
  // a call with the token) moves those streams' expiry and tells them
  // (session_renewed). Each node renews its own streams.
  s->accounts_->SetRenewalHooks([hub = s->hub_.get()] { return hub->live().LiveTokenHashes(); },
                                [hub = s->hub_.get()](const std::string& token_hash, int64_t expires_at_ms) {
                                  hub->live().RenewToken(token_hash, expires_at_ms);
                                });
  if (!clustered) {
    if (absl::Status st = s->hub_->Init(); !st.ok()) return st;
  }

  s->auth_ = std::make_unique<Authenticator>(s->accounts_.get(), &o.services.gateway_secret, &o.tls);
  s->auth_->SetServing(!clustered);
  s->chat_ = std::make_unique<ChatServiceImpl>(s->hub_.get(), s->auth_.get(), &o.services);
  s->gateway_ = std::make_unique<GatewayServiceImpl>(s->hub_.get(), s->auth_.get(), &o.services);
  s->auth_service_ = NewAuthService(s->hub_.get(), s->accounts_.get(), s->auth_.get(), &o.services);

  builder.AddListeningPort(o.listen, *credentials, &s->port_);
  builder.RegisterService(s->chat_.get());
  builder.RegisterService(s->gateway_.get());
  builder.RegisterService(s->auth_service_.get());
  s->unknown_methods_ = std::make_unique<grpc::CallbackGenericService>();
  builder.RegisterCallbackGenericService(s->unknown_methods_.get());
  builder.SetMaxReceiveMessageSize(o.max_receive_message_bytes);
  // Channelz bookkeeping costs on every message and nothing here reads it.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  // Memory per idle connection (chat clients hold a stream open for hours):
  // small first reads that grow with traffic (capped, so a connection that was
  // busy does not keep a huge buffer), no zero-copy send bookkeeping (it is off
  // anyway), no server-side deadline timer per call (clients' deadlines still
  // cancel their calls), no per-message compression filter (nothing here
  // compresses), and no HPACK table for what clients send (headers come once
  // per stream). docs/architecture.md, "Memory per idle connection", says what each saves.
  builder.AddChannelArgument(GRPC_ARG_TCP_READ_CHUNK_SIZE, 512);
  builder.AddChannelArgument(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, 64 * 1024);
  builder.AddChannelArgument(GRPC_ARG_TCP_TX_ZEROCOPY_MAX_SIMULT_SENDS, 0);
  builder.AddChannelArgument(GRPC_ARG_ENABLE_DEADLINE_CHECKS, 0);
  builder.AddChannelArgument("grpc.per_message_compression", 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_DECODER, 0);
  // A second chat-core on the same port must fail, not share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(o.keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(o.keepalive_timeout)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(absl::ToInt64Milliseconds(o.min_client_ping_interval)));
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen,
                                               " (address in use or invalid?)"));
  }
  s->chat_->StartConnectCalls(s->server_.get());
  s->host_ = o.listen.substr(0, o.listen.rfind(':'));
  CHAT_LOG_INFO("core", "chat-core listening on %s (%d fan-out lanes)", s->address(),
                static_cast<int>(s->queues_.size()));
  if (clustered) {
    s->server_->GetHealthCheckService()->SetServingStatus(false);
    s->sync_ = std::make_unique<ClusterSync>(s->hub_.get(), s->accounts_.get());
    s->bring_up_ = std::thread([server = s.get()] { server->BringUp(); });
  }
  if (o.metrics != nullptr) o.metrics->Attach(s.get());
  return s;
}

void CoreServer::BringUp() {
  auto stopping = [this] {
    absl::MutexLock lock(&bring_up_mu_);
    return stopping_;
  };
  auto wait = [this](absl::Duration d) {
    absl::MutexLock lock(&bring_up_mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(bring_up_mu_) { return stopping_; };
    bring_up_mu_.AwaitWithTimeout(absl::Condition(&stop), d);
  };
  // Each step again until it works: the database may come and go meanwhile.
  bool logged = false;
  while (!stopping() && !pg_store_->WaitConnected(absl::Seconds(1))) {
    if (!logged) CHAT_LOG_WARN("core", "waiting for PostgreSQL; not serving until it answers");
    logged = true;
  }
  for (absl::Status st = absl::UnavailableError(""); !st.ok() && !stopping(); wait(absl::Milliseconds(200))) {
    st = accounts_->Init();
    if (st.ok()) st = hub_->Init();
    if (!st.ok()) CHAT_LOG_WARN("core", "cannot load from PostgreSQL yet: %s", st.message());
  }
  if (stopping()) return;
  cluster_->Start(sync_.get());
  // Logins and registrations count failures through the cluster listener's
  // connection: serving before it has joined would refuse them.
  while (!stopping() && !cluster_->connected()) wait(absl::Milliseconds(20));
  if (stopping()) return;
  auth_->SetServing(true);
  CHAT_LOG_INFO("core", "node %s serving", cluster_->node_id());
  if (options_.on_serving) options_.on_serving();
  // Health follows the database: a load balancer sends clients elsewhere while
  // this node cannot store anything.
  bool healthy = true;
  server_->GetHealthCheckService()->SetServingStatus(true);
  while (!stopping()) {
    wait(absl::Milliseconds(250));
    bool now = pg_store_->connected() && cluster_->connected();
    if (now != healthy && !stopping()) server_->GetHealthCheckService()->SetServingStatus(now);
    healthy = now;
  }
}

std::string CoreServer::address() const { return absl::StrCat(host_, ":", port_); }

void CoreServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (options_.metrics != nullptr) options_.metrics->Detach();
  {
    absl::MutexLock lock(&bring_up_mu_);
    stopping_ = true;
  }
  if (bring_up_.joinable()) bring_up_.join();
  if (server_ != nullptr) {
    if (auto* health = server_->GetHealthCheckService()) health->Shutdown();
    hub_->Shutdown();
    // Logins waiting for their turn are answered now: gRPC's shutdown waits for every call.
    if (accounts_) accounts_->StopWaitingLogins();
    // Let the ended streams say goodbye (their status reaches the clients), then
    // give calls still running a short while before gRPC cancels them.
    absl::Time deadline = absl::Now() + grace;
    while (hub_->stats().live_streams > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    CHAT_LOG_DEBUG("core", "streams ended; stopping the gRPC server");
    server_->Shutdown(absl::ToChronoTime(std::min(deadline, absl::Now() + absl::Milliseconds(500))));
    CHAT_LOG_DEBUG("core", "gRPC server shut down");
    server_->Wait();
    hub_->StopFanout();
  }
  if (cluster_) cluster_->Stop();
  if (hub_) hub_->Stop();
  if (accounts_) accounts_->Close();
  if (store_) store_->Close();
  CHAT_LOG_DEBUG("core", "store closed");
  CHAT_LOG_INFO("core", "chat-core stopped");
}

void CoreServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

CoreServer::~CoreServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace chat::core
