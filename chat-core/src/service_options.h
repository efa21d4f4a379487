// ServiceOptions: the settings of chat-core's gRPC edge (sessions, stream
// queues, the gateway credential). A plain value, filled by CoreOptions.
#ifndef CHAT_CORE_SRC_SERVICE_OPTIONS_H_
#define CHAT_CORE_SRC_SERVICE_OPTIONS_H_

#include <grpcpp/version_info.h>

#include <cstddef>
#include <string>

#include "outbox.h"
#include "session.h"

namespace chat::core {

class CoreMetrics;

// Connect on gRPC core's C API (connect_core_call.h) is compiled only for the
// gRPC release it was written and tested for.
#if GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51
#define CHAT_CONNECT_ON_CORE_API 1
#else
#define CHAT_CONNECT_ON_CORE_API 0
#endif
inline constexpr bool kConnectOnCoreApi = CHAT_CONNECT_ON_CORE_API;

// Which gRPC API serves Connect streams (connect_core_call.h, connect_reactor.h).
enum class ConnectApi {
  // gRPC core's C API: less memory per idle stream; only where
  // kConnectOnCoreApi (the gRPC release it was written for).
  kCore,
  // gRPC's public callback API.
  kCallback,
};

struct ServiceOptions {
  // kCore is refused where it is not compiled in (CoreServer::Start says so).
  ConnectApi connect_api = kConnectOnCoreApi ? ConnectApi::kCore : ConnectApi::kCallback;
  SessionOptions connect_session;
  SessionOptions gateway_session;
  OutboxLimits connect_outbox;
  OutboxLimits gateway_outbox;
  // Empty: gateway streams are accepted from loopback peers only.
  std::string gateway_secret;
  size_t max_sessions_per_gateway = 200000;
  // Posts per webhook (AuthService.PostWebhook) per second on this node, and
  // the burst it may save up (--webhook_posts_per_second, --webhook_burst).
  double webhook_posts_per_second = 1;
  double webhook_burst = 10;
  // Bots one user may own, API tokens one account may hold, webhooks one user
  // may make (each a row an outsider with an account could multiply).
  int max_bots_per_user = 20;
  int max_tokens_per_account = 50;
  int max_webhooks_per_user = 50;
  // Prometheus metrics (core_metrics.h); null: off. Not owned.
  CoreMetrics* metrics = nullptr;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SERVICE_OPTIONS_H_
