// What every session of the bridge shares: the options, the gateway, the auth
// stub, the registry of live WebSocket sessions (for shutdown) and the
// connection count.
//
// Threading: thread-safe. Lifetime: owned by the Bridge, outlives every session.
#ifndef CHAT_WS_BRIDGE_SRC_BRIDGE_CONTEXT_H_
#define CHAT_WS_BRIDGE_SRC_BRIDGE_CONTEXT_H_

#include <atomic>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "auth_client.h"
#include "bridge_options.h"
#include "client_address.h"
#include "deferred_flush.h"
#include "gateway.h"
#include "token_bucket.h"

namespace chat::bridge {

class WsSession;

struct BridgeContext {
  BridgeOptions options;
  // options.trusted_proxies, parsed.
  ProxyList proxies;
  // The per-WebSocket event rate (options.events_per_second, event_burst).
  TokenBucket::Rate event_rate;
  Gateway* gateway = nullptr;
  AuthClient* auth = nullptr;
  // Null when --presence_delay is 0 (presence is written at once).
  DeferredFlush* deferred = nullptr;

  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> ws_opened{0};
  std::atomic<uint64_t> ws_closed{0};

  absl::Mutex mu;
  absl::flat_hash_map<WsSession*, std::weak_ptr<WsSession>> sessions ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

// Counts one TCP connection for the max-connections limit while alive.
// Threading: any thread (an atomic count). Lifetime: owned by the connection's
// session (HttpSession, then WsSession), released when it ends.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(BridgeContext* ctx) : ctx_(ctx) { ctx_->connections.fetch_add(1); }
  ~ConnectionSlot() { ctx_->connections.fetch_sub(1); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  BridgeContext* ctx_;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_BRIDGE_CONTEXT_H_
