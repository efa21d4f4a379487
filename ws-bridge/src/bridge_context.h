// What every session of the bridge shares: the options, the gateway, the auth
// stub, the registry of live WebSocket sessions (for shutdown) and the
// connection count.
//
// Threading: thread-safe. Lifetime: owned by the Bridge, outlives every session.
#ifndef CHAT_WS_BRIDGE_SRC_BRIDGE_CONTEXT_H_
#define CHAT_WS_BRIDGE_SRC_BRIDGE_CONTEXT_H_

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "auth_client.h"
#include "bridge_options.h"
#include "client_address.h"
#include "deferred_flush.h"
#include "gateway.h"
#include "keyed_buckets.h"
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
  // Bulk work (parsing and encoding big history and room-list replies) on a
  // thread of its own, below the io threads' priority, so it takes no io
  // thread from the sockets; null: done on the calling thread.
  boost::asio::io_context* bulk = nullptr;

  std::atomic<int64_t> connections{0};
  // Open connections per client address (ConnectionSlot::AddressKey), for
  // --max_connections_per_ip; an address leaves the map with its last one.
  absl::Mutex per_address_mu;
  absl::flat_hash_map<std::string, int> per_address ABSL_GUARDED_BY(per_address_mu);
  std::atomic<uint64_t> ws_opened{0};
  std::atomic<uint64_t> ws_closed{0};

  absl::Mutex mu;
  absl::flat_hash_map<WsSession*, std::weak_ptr<WsSession>> sessions ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;

  // --history_per_user: takes `messages` from `user`'s bucket, shared by all
  // of the user's WebSockets here; false if there are not that many.
  bool TakeHistory(const std::string& user, double messages);
  TokenBucket::Rate history_rate;
  absl::Mutex history_mu;
  absl::flat_hash_map<std::string, TokenBucket> history_by_user ABSL_GUARDED_BY(history_mu);

  // --webhook_posts_per_10s_per_ip: POST /api/hooks/ by client address
  // (WebhookAddressKey).
  KeyedBuckets webhook_posts;
};

// Counts one TCP connection for --max_connections and, by its client's
// address, for --max_connections_per_ip while alive.
// Threading: any thread (an atomic count and a mutex-guarded map). Lifetime:
// owned by the connection (HttpSession, then WsSession; for TLS the pipe in
// tls_front.cc, until the TCP connection is closed), released when it ends.
class ConnectionSlot {
 public:
  // A slot for a connection from `peer`, or null when --max_connections or
  // --max_connections_per_ip is reached (then the caller closes it at once).
  // Called from the accept strand only, so the global count cannot overshoot.
  static std::unique_ptr<ConnectionSlot> Acquire(BridgeContext* ctx, const boost::asio::ip::address& peer);
  // The address a client is counted by: IPv4 (also IPv4-mapped IPv6) whole,
  // IPv6 by its /64 (one subscriber's usual allocation), as raw bytes.
  static std::string AddressKey(const boost::asio::ip::address& peer);
  ~ConnectionSlot();
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  ConnectionSlot(BridgeContext* ctx, std::string key) : ctx_(ctx), key_(std::move(key)) {}
  BridgeContext* ctx_;
  std::string key_;  // empty: not counted per address
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_BRIDGE_CONTEXT_H_
