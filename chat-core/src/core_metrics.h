// CoreMetrics: chat-core's Prometheus metrics (chat_core_*; every one is listed
// in docs/operations.md, "Metrics"). Off unless --metrics_listen is set: then
// main builds one and hands it to CoreServer through CoreOptions::metrics, and
// each part that counts something gets the pointer through its own options
// (null: metrics off, and the only cost is that null check).
//
// What it costs when on: the fan-out path adds one uncontended atomic add per
// gRPC write completion (events written, by stream kind) and one histogram
// observation per message (not per delivery); the store one per group commit.
// Everything that is a state rather than an event (open streams and sessions,
// rooms, members, queue depths, messages stored) is read from the Hub when
// Prometheus scrapes, by walking its registries; nothing is updated per event
// for it.
//
// Threading: thread-safe; the counting methods never block. Lifetime: owned by
// main, outlives the CoreServer; CoreServer::Start attaches itself (Attach)
// and Shutdown detaches it, after which scrapes see only the counters.
#ifndef CHAT_CORE_SRC_CORE_METRICS_H_
#define CHAT_CORE_SRC_CORE_METRICS_H_

#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "chat/metrics.h"

namespace chat::core {

class CoreServer;
struct CoreOptions;

// Why a stream (Connect or gateway) ended, from the status it ended with.
enum class StreamEnd {
  kCompleted,     // OK: the client closed its side
  kCancelled,     // the client went away, or a write failed
  kSlowConsumer,  // its outbound queue overflowed (RESOURCE_EXHAUSTED)
  kGap,           // a delivery gap (ABORTED): the client resumes with since_seq
  kAuth,          // its session was logged out, revoked or expired
  kShutdown,      // chat-core is shutting down (UNAVAILABLE)
  kBadRequest,    // the client sent something unreadable (INVALID_ARGUMENT)
  kOther,
};
inline constexpr int kStreamEnds = 8;

// The counters of one stream kind, which every Outbox of that kind adds to.
// Threading: thread-safe, lock-free. Lifetime: the CoreMetrics'.
class StreamMetrics {
 public:
  // Events written in one write (a batch counts its events).
  void Written(size_t events) { events_written_.Add(events); }
  void Ended(grpc::StatusCode code);

 private:
  friend class CoreMetrics;
  metrics::ShardedCounter events_written_;
  std::array<prometheus::Counter*, kStreamEnds> ended_{};
};

class CoreMetrics {
 public:
  CoreMetrics();
  ~CoreMetrics();
  CoreMetrics(const CoreMetrics&) = delete;
  CoreMetrics& operator=(const CoreMetrics&) = delete;

  // Serves these metrics on `server` (holds them weakly: this must outlive
  // the server, or the server must stop first).
  void RegisterWith(metrics::MetricsServer& server);

  // Points the parts of `options` at this (hub, accounts, services, stores).
  // Called by CoreServer::Start before it builds them.
  void Configure(CoreOptions* options);
  // The server whose state scrapes read (CoreServer::Start / Shutdown).
  void Attach(CoreServer* server);
  void Detach();

  // 0: Connect streams, 1: gateway streams (Outbox::Kind's order).
  StreamMetrics* streams(int kind) { return &streams_[kind]; }

  // One group commit of `writes` writes took `nanos`.
  void StoreCommit(int64_t nanos, size_t writes);
  // A message of this node went from committed to queued on every stream.
  void Fanout(int64_t nanos) { fanout_seconds_.ObserveNanos(nanos); }
  // A login's answer; `limited`: refused by the failed-login limit.
  void Login(const absl::Status& result, bool limited);
  void Registration(const absl::Status& result);
  void Logout() { logouts_->Increment(); }
  // A token (or guest name) refused: a call, a Connect stream or a gateway session.
  void TokenRefused() { tokens_refused_->Increment(); }
  // A gateway stream refused: a bad credential, or the node not serving.
  void GatewayStreamRefused(bool credential);
  // chat-core closed (or refused) one browser session on a gateway stream.
  void GatewaySessionClosed(absl::StatusCode code);
  // An error event answered to a client event (a limit, a missing room...).
  void EventError(absl::StatusCode code);
  void SessionsExpired(int n) { sessions_expired_->Increment(n); }

 private:
  void Collect(metrics::FamilyBuilder& out) const;
  prometheus::Counter* Add(prometheus::Family<prometheus::Counter>& family, const prometheus::Labels& labels);

  std::shared_ptr<prometheus::Registry> registry_;
  // The counters and histograms above (always), and the attached server's
  // state (between Attach and Detach).
  std::shared_ptr<metrics::CallbackCollectable> counters_;
  std::shared_ptr<metrics::CallbackCollectable> state_;
  std::array<StreamMetrics, 2> streams_;
  metrics::Histogram store_commit_seconds_;
  metrics::Histogram store_commit_writes_;
  metrics::Histogram fanout_seconds_;
  prometheus::Family<prometheus::Counter>* logins_;
  prometheus::Family<prometheus::Counter>* registrations_;
  prometheus::Family<prometheus::Counter>* gateway_sessions_closed_;
  prometheus::Family<prometheus::Counter>* event_errors_;
  prometheus::Family<prometheus::Counter>* gateway_streams_refused_;
  prometheus::Counter* logouts_;
  prometheus::Counter* tokens_refused_;
  prometheus::Counter* sessions_expired_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CORE_METRICS_H_
