#include "bridge.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <malloc.h>

#include <algorithm>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bridge_metrics.h"
#include "chat/log.h"
#include "chat/thread_priority.h"
#include "chat/tls_files.h"
#include "chat/validate.h"
#include "http_session.h"
#include "ws_session.h"

namespace chat::bridge {
namespace {
constexpr char kLog[] = "bridge";
constexpr absl::Duration kTrimInterval = absl::Seconds(2);
// BridgeContext::bulk's thread runs this many nice levels below the io threads.
constexpr int kBulkNice = 10;
// Accepting again after running out of descriptors: the first wait, doubled
// while it lasts, up to the last; and the most waiting connections closed per
// round.
constexpr absl::Duration kAcceptBackoffMin = absl::Milliseconds(10);
constexpr absl::Duration kAcceptBackoffMax = absl::Milliseconds(100);
constexpr int kShedPerRound = 1024;
constexpr absl::Duration kDescriptorWarningInterval = absl::Seconds(10);

bool OutOfResources(const boost::system::error_code& ec) {
  return ec == boost::asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::asio::error::no_buffer_space || ec == boost::asio::error::no_memory;
}
}  // namespace

namespace net = boost::asio;
using tcp = net::ip::tcp;

absl::StatusOr<std::unique_ptr<Bridge>> Bridge::Start(BridgeOptions options) {
  if (absl::Status valid = ValidateBridgeOptions(options); !valid.ok()) return valid;
  // Whole milliseconds, rounded up, so a sub-millisecond delay does not turn the wait off.
  options.presence_delay = absl::Ceil(options.presence_delay, absl::Milliseconds(1));
  options.presence_max_delay = absl::Ceil(options.presence_max_delay, absl::Milliseconds(1));
  if (!options.web_root.empty() && !std::filesystem::is_regular_file(options.web_root + "/index.html")) {
    CHAT_LOG_WARN(kLog, "no index.html in --web_root=%s: build the UI (npm run build)", options.web_root);
  }
  const HostPort listen = *ParseHostPort(options.listen, "--listen");  // valid, checked above
  const auto address = net::ip::make_address(listen.host == "localhost" ? "127.0.0.1" : listen.host);

  // Every member is made here, or Start fails and the destructor has nothing
  // to stop: no thread runs and no stream exists until the very end.
  std::unique_ptr<Bridge> b(new Bridge());
  if (!options.tls_cert.empty()) {
    auto front = TlsFront::Create(options.tls_cert, options.tls_key);
    if (!front.ok()) return front.status();
    b->tls_ = *std::move(front);
  }
  b->host_ = listen.host;
  b->io_ = std::make_unique<net::io_context>(options.threads);
  b->acceptor_ = std::make_unique<tcp::acceptor>(net::make_strand(*b->io_));
  tcp::endpoint ep(address, static_cast<unsigned short>(listen.port));
  boost::system::error_code ec;
  b->acceptor_->open(ep.protocol(), ec);
  if (!ec) b->acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) b->acceptor_->bind(ep, ec);
  if (!ec) b->acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen, ": ", ec.message()));
  b->port_ = b->acceptor_->local_endpoint().port();
  // Non-blocking, so DescriptorReserve::ShedPending's accept4 never waits.
  b->acceptor_->non_blocking(true, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot make the listener non-blocking: ", ec.message()));
  b->accept_timer_ = std::make_unique<net::steady_timer>(b->acceptor_->get_executor());
  b->accept_backoff_ = kAcceptBackoffMin;
  b->reserve_ = std::make_unique<DescriptorReserve>();
  if (!b->reserve_->held()) CHAT_LOG_WARN(kLog, "cannot open /dev/null for the reserve descriptor");

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(absl::ToInt64Milliseconds(options.core_keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.core_keepalive_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC stops pinging after two pings without data sent (its default), so a
  // quiet bridge would never notice a node that vanished: ping on regardless.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(absl::ToInt64Milliseconds(options.reconnect_min)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(absl::ToInt64Milliseconds(options.reconnect_max)));
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: in gRPC 1.51 it is also the connection
  // attempt timeout (grpc/grpc#33423), and a busy chat-core would time out.
  args.SetMaxReceiveMessageSize(-1);  // chat-core's own limits apply
  auto credentials = CoreChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  std::vector<std::shared_ptr<grpc::Channel>> channels;  // one per node
  for (const std::string& node : options.core) {
    channels.push_back(grpc::CreateCustomChannel(node, *credentials, args));
  }
  b->auth_ = std::make_unique<AuthClient>(channels, options.call_timeout, options.gateway_secret);
  b->gateway_ = std::make_unique<Gateway>(*b->io_, channels, options);
  b->ctx_ = std::make_unique<BridgeContext>();
  b->ctx_->event_rate = TokenBucket::Rate{options.events_per_second, options.event_burst};
  // Bursts of two seconds' worth, and never less than one full page.
  b->ctx_->history_rate = TokenBucket::Rate{
      options.history_per_user, std::max(options.history_per_user * 2, static_cast<double>(kMaxHistoryLimit))};
  // Bursts of the whole ten seconds' worth.
  b->ctx_->webhook_posts.SetRate(TokenBucket::Rate{options.webhook_posts_per_10s_per_ip / 10.0,
                                                   static_cast<double>(options.webhook_posts_per_10s_per_ip)});
  b->ctx_->proxies = *ProxyList::Parse(options.trusted_proxies);  // valid, checked above
  b->ctx_->options = std::move(options);
  b->ctx_->gateway = b->gateway_.get();
  b->ctx_->auth = b->auth_.get();
  if (b->ctx_->options.presence_delay > absl::ZeroDuration()) {
    b->deferred_ = std::make_unique<DeferredFlush>(*b->io_, b->ctx_->options.presence_delay);
    b->ctx_->deferred = b->deferred_.get();
  }
  b->trim_timer_ = std::make_unique<net::steady_timer>(*b->io_);
  b->bulk_io_ = std::make_unique<net::io_context>(1);
  b->bulk_guard_ = std::make_unique<net::executor_work_guard<net::io_context::executor_type>>(
      b->bulk_io_->get_executor());
  b->ctx_->bulk = b->bulk_io_.get();

  b->gateway_->Start();
  b->DoAccept();
  b->ScheduleTrim();
  for (int i = 0; i < b->ctx_->options.threads; ++i) {
    b->threads_.emplace_back([io = b->io_.get()] { io->run(); });
  }
  b->bulk_thread_ = std::thread([io = b->bulk_io_.get()] {
    LowerThisThreadsPriority(kBulkNice);
    io->run();
  });
  b->started_ = true;
  if (b->ctx_->options.metrics != nullptr) b->ctx_->options.metrics->Attach(b.get(), b->ctx_.get());
  CHAT_LOG_INFO(kLog, "ws-bridge listening on %s%s (chat-core at %s%s)", b->address(),
                b->tls_ ? absl::StrCat(" with TLS as ", b->tls_->Describe()) : "",
                absl::StrJoin(b->ctx_->options.core, ","), b->ctx_->options.core_tls ? " over TLS" : "");
  return b;
}

std::string Bridge::address() const { return absl::StrCat(host_, ":", port_); }

absl::Status Bridge::ReloadTls() {
  if (tls_ == nullptr) return absl::FailedPreconditionError("TLS is off (no --tls_cert)");
  if (absl::Status st = tls_->Reload(); !st.ok()) {
    CHAT_LOG_ERROR(kLog, "TLS reload failed, keeping the current certificate: %s", st.message());
    return st;
  }
  CHAT_LOG_INFO(kLog, "TLS certificate reloaded: %s (new connections use it)", tls_->Describe());
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CoreChannelCredentials(const BridgeOptions& o) {
  if (!o.core_tls) return grpc::InsecureChannelCredentials();
  // Checked here so a bad file is one line at start-up, not a handshake that
  // fails later.
  if (!o.core_ca.empty()) {
    if (auto ca = LoadPemCaBundle(o.core_ca, "--core_ca"); !ca.ok()) return ca.status();
  }
  if (!o.core_cert.empty()) {
    if (auto id = LoadPemIdentity(o.core_cert, o.core_key, "--core_cert/--core_key"); !id.ok()) return id.status();
  }
  if (o.core_ca.empty() && o.core_cert.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = SystemCaBundle();
    return grpc::SslCredentials(ssl);
  }
  // gRPC re-reads the files when they change (every tls_reload_interval): a
  // renewed client certificate or CA needs no restart, as on chat-core.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      o.core_key, o.core_cert, o.core_ca, static_cast<unsigned>(absl::ToInt64Seconds(o.tls_reload_interval)));
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(provider);
  if (!o.core_ca.empty()) {
    tls.watch_root_certs();
  }
  if (!o.core_cert.empty()) tls.watch_identity_key_cert_pairs();
  tls.set_verify_server_certs(true);
  tls.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(tls);
}

void Bridge::DoAccept() {
  acceptor_->async_accept(net::make_strand(*io_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (OutOfResources(ec)) return BackOffAccepting(ec);
    // Other errors belong to the connection that failed (ECONNABORTED...).
    if (!ec) {
      accept_backoff_ = kAcceptBackoffMin;
      Admit(std::move(socket));
    }
    DoAccept();
  });
}

void Bridge::BackOffAccepting(const boost::system::error_code& ec) {
  // Re-arming at once would find the same waiting connection and fail the
  // same way, a busy loop. Instead close what waits, with the reserve's
  // descriptor (its clients see a closed connection, not a hang), and wait.
  const int shed = reserve_->ShedPending(acceptor_->native_handle(), kShedPerRound);
  if (ctx_->options.metrics != nullptr) {
    for (int i = 0; i < shed; ++i) ctx_->options.metrics->ConnectionRefused();
  }
  const absl::Time now = absl::Now();
  if (now - last_descriptor_warning_ >= kDescriptorWarningInterval) {
    last_descriptor_warning_ = now;
    CHAT_LOG_WARN(kLog,
                  "out of file descriptors or memory (%s): closed %d waiting connections, accepting again in %s; "
                  "raise the open-file limit or lower --max_connections (this is logged every %s at most)",
                  ec.message(), shed, absl::FormatDuration(accept_backoff_),
                  absl::FormatDuration(kDescriptorWarningInterval));
  }
  accept_timer_->expires_after(absl::ToChronoNanoseconds(accept_backoff_));
  accept_backoff_ = std::min(accept_backoff_ * 2, kAcceptBackoffMax);
  accept_timer_->async_wait([this](const boost::system::error_code& wait_ec) {
    if (wait_ec || !acceptor_->is_open()) return;
    DoAccept();
  });
}

void Bridge::Admit(tcp::socket socket) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return;  // gone already (reset before we got to it): the socket closes
  auto slot = ConnectionSlot::Acquire(ctx_.get(), peer.address());
  if (slot == nullptr) {
    // Over --max_connections or --max_connections_per_ip: shed at once,
    // before reading anything.
    if (ctx_->options.metrics != nullptr) ctx_->options.metrics->ConnectionRefused();
    socket.close(ec);
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  if (ctx_->options.socket_send_buffer > 0) {
    socket.set_option(net::socket_base::send_buffer_size(ctx_->options.socket_send_buffer), ec);
    if (ec) CHAT_LOG_WARN(kLog, "cannot set --socket_send_buffer: %s", ec.message());
  }
  ConnectionInfo info;
  info.peer = peer.address().to_string();
  if (tls_ == nullptr) {
    std::make_shared<HttpSession>(std::move(socket), ctx_.get(), std::move(slot), std::move(info))->Run();
    return;
  }
  info.tls = true;
  // The pipe holds the slot: a TLS connection counts (globally and for its
  // address) until its TCP connection is closed, however long after its
  // session that is.
  tls_->Accept(std::move(socket), ctx_->options.handshake_timeout, 2 * ctx_->options.idle_timeout,
               std::shared_ptr<ConnectionSlot>(std::move(slot)),
               [ctx = ctx_.get(), info = std::move(info)](tcp::socket plaintext) mutable {
                 std::make_shared<HttpSession>(std::move(plaintext), ctx, nullptr, std::move(info))->Run();
               });
}

// Connection storms (thousands of joins, each with a burst of events) leave freed
// memory in malloc's arenas; hand it back to the system now and then so the
// resident size follows the live connections.
void Bridge::ScheduleTrim() {
  trim_timer_->expires_after(absl::ToChronoNanoseconds(kTrimInterval));
  trim_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    malloc_trim(0);
    ScheduleTrim();
  });
}

BridgeStats Bridge::stats() const {
  BridgeStats s;
  if (!started_) return s;
  s.gateway = gateway_->stats();
  s.connections = ctx_->connections.load();
  s.ws_opened = ctx_->ws_opened.load();
  s.ws_closed = ctx_->ws_closed.load();
  absl::MutexLock lock(&ctx_->mu);
  s.ws_live = static_cast<int64_t>(ctx_->sessions.size());
  return s;
}

void Bridge::Shutdown() {
  // A Bridge that Start gave up on has no thread, no stream and no session.
  if (!started_ || shut_down_) return;
  shut_down_ = true;
  if (ctx_->options.metrics != nullptr) ctx_->options.metrics->Detach();
  net::post(acceptor_->get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
    accept_timer_->cancel();
    trim_timer_->cancel();
  });
  std::vector<std::shared_ptr<WsSession>> sessions;
  {
    absl::MutexLock lock(&ctx_->mu);
    ctx_->stopping = true;
    for (auto& [ptr, weak] : ctx_->sessions) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  CHAT_LOG_INFO(kLog, "shutting down: closing %d WebSockets", static_cast<int>(sessions.size()));
  if (ctx_->options.metrics != nullptr) {
    ctx_->options.metrics->CountDisconnect(Disconnect::kShutdown, static_cast<int>(sessions.size()));
  }
  for (auto& s : sessions) s->Close(boost::beast::websocket::close_code::going_away, "ws-bridge is shutting down");
  sessions.clear();
  // Give the close frames a moment to leave.
  absl::Time deadline = absl::Now() + absl::Seconds(3);
  while (absl::Now() < deadline) {
    {
      absl::MutexLock lock(&ctx_->mu);
      if (ctx_->sessions.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  gateway_->Stop();
  if (deferred_) deferred_->Stop();
  if (bulk_io_) {
    bulk_io_->stop();
    if (bulk_thread_.joinable()) bulk_thread_.join();
  }
  io_->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  // No handler runs now, so no new call starts; the calls in flight hold
  // sessions (sockets bound to io_, slots counted in ctx_): end them first.
  auth_->Shutdown();
  // Objects bound to the io_context go before it; handlers still queued in it
  // (and the sessions they hold) are destroyed with it, while ctx_ lives on.
  gateway_.reset();
  ctx_->deferred = nullptr;
  deferred_.reset();
  trim_timer_.reset();
  // Its handlers may hold the last reference to a session, whose socket is
  // bound to io_.
  ctx_->bulk = nullptr;
  bulk_guard_.reset();
  bulk_io_.reset();
  accept_timer_.reset();
  acceptor_.reset();
  reserve_.reset();
  tls_.reset();
  io_.reset();
  CHAT_LOG_INFO(kLog, "ws-bridge stopped");
}

Bridge::~Bridge() { Shutdown(); }

}  // namespace chat::bridge
