// BridgeMetrics: ws-bridge's Prometheus metrics (chat_bridge_*; every one is
// listed in docs/operations.md, "Metrics"). Off unless --metrics_listen is
// set: then main builds one and passes it in BridgeOptions::metrics (null:
// off, and the only cost anywhere is that null check).
//
// What it costs when on: one histogram observation per room event's fan-out
// (not per socket); counters for rare events (a disconnect, a refused event).
// The deliveries and room events are the gateway's own counters (kept under
// its lock already, once per fan-out); open connections, sessions, rooms and
// queue depths are read when Prometheus scrapes, by walking the registries.
//
// Threading: thread-safe; counting never blocks. Lifetime: owned by main,
// outlives the Bridge; Bridge::Start attaches the bridge, Shutdown detaches it.
#ifndef CHAT_WS_BRIDGE_SRC_BRIDGE_METRICS_H_
#define CHAT_WS_BRIDGE_SRC_BRIDGE_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "chat/metrics.h"

namespace chat::bridge {

class Bridge;
struct BridgeContext;

// Why the bridge closed a browser's WebSocket.
enum class Disconnect {
  kSlowConsumer,        // its outbound queue was full (1008)
  kRateLimit,           // it kept sending over its event rate (1008)
  kMessageTooBig,       // a message over --max_message_bytes (1009)
  kAuth,                // chat-core ended its session: logout, revoked or expired token (1008)
  kBackendUnavailable,  // no chat-core node took over within --failover_timeout (1012)
  kResume,              // missed messages could not be recovered (1013): the browser resumes
  kServerError,         // chat-core ended its session for another reason (1011)
  kShutdown,            // the bridge is stopping (1001)
};
inline constexpr int kDisconnects = 8;

class BridgeMetrics {
 public:
  BridgeMetrics();
  ~BridgeMetrics();
  BridgeMetrics(const BridgeMetrics&) = delete;
  BridgeMetrics& operator=(const BridgeMetrics&) = delete;

  // Serves these metrics on `server` (holds them weakly).
  void RegisterWith(metrics::MetricsServer& server);
  // The bridge whose state scrapes read (Bridge::Start / Shutdown).
  void Attach(const Bridge* bridge, BridgeContext* ctx);
  void Detach();

  void CountDisconnect(Disconnect why, int n = 1) { disconnects_[static_cast<int>(why)]->Increment(n); }
  // A browser's event answered with an error instead of passed on: over its
  // rate, or unreadable.
  void EventRefused(bool rate_limit) { (rate_limit ? events_rate_limited_ : events_unreadable_)->Increment(); }
  // A TCP connection closed at once: --max_connections reached.
  void ConnectionRefused() { connections_refused_->Increment(); }
  // A WebSocket upgrade refused (HTTP error), by the code of its JSON error
  // ("UNAUTHENTICATED", "UNAVAILABLE", "PERMISSION_DENIED"...).
  void UpgradeRefused(const std::string& code);
  // One room event fanned out to this bridge's sockets in `nanos`: from its
  // arrival from chat-core to every socket's write submitted (or handed to
  // the socket's I/O thread).
  void Fanout(int64_t nanos) { fanout_seconds_.ObserveNanos(nanos); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<metrics::CallbackCollectable> histograms_;
  std::shared_ptr<metrics::CallbackCollectable> state_;
  metrics::Histogram fanout_seconds_;
  std::array<prometheus::Counter*, kDisconnects> disconnects_{};
  prometheus::Counter* events_rate_limited_;
  prometheus::Counter* events_unreadable_;
  prometheus::Counter* connections_refused_;
  prometheus::Family<prometheus::Counter>* upgrades_refused_;
};

// The null check every call site makes (metrics off: `m` is null).
inline void CountDisconnect(BridgeMetrics* m, Disconnect why) {
  if (m != nullptr) m->CountDisconnect(why);
}

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_BRIDGE_METRICS_H_
