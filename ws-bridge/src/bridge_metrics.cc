#include "bridge_metrics.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "bridge.h"
#include "bridge_context.h"
#include "ws_session.h"

namespace chat::bridge {
namespace {

constexpr const char* kDisconnectNames[kDisconnects] = {
    "slow_consumer", "rate_limit", "message_too_big", "auth", "backend_unavailable", "resume", "server_error",
    "shutdown"};

// The sockets' outbound queues, summed, and the longest (a scrape's walk).
struct QueueTotals {
  uint64_t events = 0;
  uint64_t bytes = 0;
  uint64_t max_events = 0;
};

QueueTotals CountQueues(BridgeContext* ctx) {
  std::vector<std::shared_ptr<WsSession>> sessions;
  {
    absl::MutexLock lock(&ctx->mu);
    sessions.reserve(ctx->sessions.size());
    for (auto& [ptr, weak] : ctx->sessions) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  QueueTotals t;
  for (const auto& s : sessions) {  // one session's lock at a time, none under ctx->mu
    const WsSession::QueueDepth q = s->queue_depth();
    t.events += q.events;
    t.bytes += q.bytes;
    t.max_events = std::max<uint64_t>(t.max_events, q.events);
  }
  return t;
}

}  // namespace

BridgeMetrics::BridgeMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      histograms_(std::make_shared<metrics::CallbackCollectable>()),
      state_(std::make_shared<metrics::CallbackCollectable>()),
      fanout_seconds_(metrics::LatencyBuckets()) {
  auto& disconnects = prometheus::BuildCounter()
                          .Name("chat_bridge_disconnects_total")
                          .Help("WebSockets the bridge closed, by reason (slow_consumer, rate_limit, "
                                "message_too_big, auth, backend_unavailable, resume, server_error, shutdown)")
                          .Register(*registry_);
  for (int i = 0; i < kDisconnects; ++i) disconnects_[i] = &disconnects.Add({{"reason", kDisconnectNames[i]}});
  auto& refused = prometheus::BuildCounter()
                      .Name("chat_bridge_events_refused_total")
                      .Help("Browser events answered with an error instead of passed to chat-core, by reason "
                            "(rate_limit: over --events_per_second; unreadable: not a ClientEvent)")
                      .Register(*registry_);
  events_rate_limited_ = &refused.Add({{"reason", "rate_limit"}});
  events_unreadable_ = &refused.Add({{"reason", "unreadable"}});
  connections_refused_ = &prometheus::BuildCounter()
                              .Name("chat_bridge_connections_refused_total")
                              .Help("TCP connections closed on arrival: --max_connections reached")
                              .Register(*registry_)
                              .Add({});
  upgrades_refused_ = &prometheus::BuildCounter()
                           .Name("chat_bridge_upgrades_refused_total")
                           .Help("WebSocket upgrades refused with an HTTP error, by the error's code "
                                 "(unauthenticated, unavailable, permission_denied, deadline_exceeded...)")
                           .Register(*registry_);
  for (const char* code : {"unauthenticated", "unavailable", "permission_denied", "deadline_exceeded"}) {
    upgrades_refused_->Add({{"code", code}});
  }
  histograms_->Attach([this](metrics::FamilyBuilder& out) {
    out.Histogram("chat_bridge_fanout_seconds",
                  "From a room event's arrival from chat-core to every local socket's write submitted (or handed "
                  "to its I/O thread)",
                  fanout_seconds_);
  });
}

BridgeMetrics::~BridgeMetrics() {
  Detach();
  histograms_->Detach();
}

void BridgeMetrics::RegisterWith(metrics::MetricsServer& server) {
  server.Register(registry_);
  server.Register(histograms_);
  server.Register(state_);
}

void BridgeMetrics::UpgradeRefused(const std::string& code) {
  upgrades_refused_->Add({{"code", absl::AsciiStrToLower(code)}}).Increment();
}

void BridgeMetrics::Attach(const Bridge* bridge, BridgeContext* ctx) {
  state_->Attach([bridge, ctx](metrics::FamilyBuilder& out) {
    const BridgeStats s = bridge->stats();
    const GatewayStats& g = s.gateway;
    out.Gauge("chat_bridge_connections_open", "Open TCP connections (HTTP and WebSocket)",
              static_cast<double>(s.connections));
    out.Gauge("chat_bridge_websockets_open", "Open WebSockets", static_cast<double>(s.ws_live));
    out.Counter("chat_bridge_websockets_opened_total", "WebSockets opened (upgrade accepted)",
                static_cast<double>(s.ws_opened));
    out.Counter("chat_bridge_websockets_closed_total", "WebSockets closed, for any reason",
                static_cast<double>(s.ws_closed));
    out.Gauge("chat_bridge_sessions", "Browser sessions on the gateway stream (opened at chat-core or waiting for it)",
              static_cast<double>(g.sessions));
    out.Gauge("chat_bridge_rooms", "Rooms with at least one session of this bridge in them",
              static_cast<double>(g.rooms));
    out.Gauge("chat_bridge_room_sessions", "Sessions of this bridge joined to a room, summed over rooms",
              static_cast<double>(g.room_sessions));
    out.Gauge("chat_bridge_gateway_up", "1 while the gateway stream to chat-core is up, else 0",
              g.connected ? 1 : 0);
    if (g.connected) {
      out.Gauge("chat_bridge_gateway_node", "The chat-core node the gateway stream uses (value 1)", 1,
                {{"node", g.node}});
    }
    out.Counter("chat_bridge_gateway_connects_total",
                "Gateway streams established (the first, and one per fail-over or reconnect)",
                static_cast<double>(g.connects));
    out.Counter("chat_bridge_room_events_total", "Room events (messages, presence, typing) fanned out",
                static_cast<double>(g.room_frames));
    out.Counter("chat_bridge_deliveries_total", "Room events handed to sockets (one per socket per room event)",
                static_cast<double>(g.room_deliveries));
    const QueueTotals q = CountQueues(ctx);
    out.Gauge("chat_bridge_queue_events", "Events waiting in the sockets' outbound queues, summed",
              static_cast<double>(q.events));
    out.Gauge("chat_bridge_queue_bytes", "Bytes waiting in the sockets' outbound queues, summed",
              static_cast<double>(q.bytes));
    out.Gauge("chat_bridge_queue_events_max", "The longest socket outbound queue, in events",
              static_cast<double>(q.max_events));
  });
}

void BridgeMetrics::Detach() { state_->Detach(); }

}  // namespace chat::bridge
