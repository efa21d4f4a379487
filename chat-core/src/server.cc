#include "server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/log.h"

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

absl::StatusOr<std::unique_ptr<CoreServer>> CoreServer::Start(CoreOptions options) {
  std::unique_ptr<CoreServer> s(new CoreServer());
  s->options_ = std::move(options);
  CoreOptions& o = s->options_;

  auto store = OpenSqliteStore(o.store);
  if (!store.ok()) return store.status();
  s->store_ = std::move(*store);
  if (!o.accounts.now_ms && o.hub.now_ms) o.accounts.now_ms = o.hub.now_ms;
  s->accounts_ = std::make_unique<Accounts>(s->store_.get(), o.accounts);
  if (absl::Status st = s->accounts_->Init(); !st.ok()) return st;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Connect streams live on the fan-out lanes' own queues (see WriteKicker).
  for (int i = 0; i < FanoutLanes(o.hub); ++i) s->queues_.push_back(builder.AddCompletionQueue(/*is_frequently_polled=*/true));
  o.hub.fanout_queues.clear();
  for (auto& q : s->queues_) o.hub.fanout_queues.push_back(q.get());
  s->hub_ = std::make_unique<Hub>(s->store_.get(), o.hub);
  if (absl::Status st = s->hub_->Init(); !st.ok()) return st;

  s->auth_ = std::make_unique<Authenticator>(s->accounts_.get(), &o.services.gateway_secret);
  s->chat_ = std::make_unique<ChatServiceImpl>(s->hub_.get(), s->auth_.get(), &o.services);
  s->gateway_ = std::make_unique<GatewayServiceImpl>(s->hub_.get(), s->accounts_.get(),
                                                     s->auth_.get(), &o.services);
  s->auth_service_ = NewAuthService(s->hub_.get(), s->accounts_.get(), s->auth_.get());

  builder.AddListeningPort(o.listen, grpc::InsecureServerCredentials(), &s->port_);
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
  // per stream). See docs/benchmarks.md for what each saves.
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
  return s;
}

std::string CoreServer::address() const { return absl::StrCat(host_, ":", port_); }

void CoreServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) {
    if (auto* health = server_->GetHealthCheckService()) health->Shutdown();
    hub_->Shutdown();
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
