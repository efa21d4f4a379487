// What both servers' Prometheus metrics share (docs/operations.md, "Metrics"):
// the /metrics HTTP endpoint (prometheus-cpp's Exposer, from Debian's
// prometheus-cpp-dev), counters and histograms that the hot paths can touch
// without a lock, and helpers to build metric families at scrape time.
//
// The hot paths (fan-out to thousands of sockets) only ever add to an atomic:
// values that can be read when Prometheus asks (open streams, queue depths,
// rooms) are computed then, by a Collectable, not updated per event.
#ifndef CHAT_PROTO_SRC_CHAT_METRICS_H_
#define CHAT_PROTO_SRC_CHAT_METRICS_H_

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace chat::metrics {

// A counter that many threads add to at once: each thread adds to its own
// cache line (one of kShards), so adding costs one uncontended atomic add.
// Threading: thread-safe. Lifetime: the owner's.
class ShardedCounter {
 public:
  void Add(uint64_t n = 1) {
    shards_[ShardIndex()].value.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Value() const;

 private:
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  static size_t ShardIndex();
  std::array<Shard, kShards> shards_;
};

// A histogram with fixed bucket bounds whose Observe takes no lock (relaxed
// atomics: a scrape racing an observation may see the count and the sum one
// observation apart, which Prometheus tolerates).
// Threading: thread-safe. Lifetime: the owner's.
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending (+Inf is added).
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);
  // Seconds measured in nanoseconds (saves a division on the caller's side).
  void ObserveNanos(int64_t nanos) { Observe(static_cast<double>(nanos) * 1e-9); }

  // The cumulative buckets, count and sum, as prometheus-cpp serializes them.
  prometheus::ClientMetric Collect() const;

 private:
  const std::vector<double> bounds_;
  // One more than bounds_: the last is +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  // The sum, in millionths of the unit (values are seconds or counts: a
  // microsecond, or a millionth of a count, is fine enough).
  std::atomic<uint64_t> sum_micros_{0};
};

// Bucket bounds for latencies in seconds: 50 µs to 5 s, about 2.5x apart.
std::vector<double> LatencyBuckets();
// Bucket bounds for sizes: 1, 2, 4 ... `max` (a power of two).
std::vector<double> PowersOfTwo(double max);

// Monotonic nanoseconds (CLOCK_MONOTONIC), for latencies.
int64_t NowNanos();

// Label pairs, as prometheus-cpp wants them.
using Labels = std::vector<prometheus::ClientMetric::Label>;

// Builds the families of one scrape.
// Threading: one scrape's. Lifetime: the caller's.
class FamilyBuilder {
 public:
  // A family with one value per label set; calls with the same name add to it
  // (name, help and type are taken from the first).
  void Gauge(const std::string& name, const std::string& help, double value, Labels labels = {});
  void Counter(const std::string& name, const std::string& help, double value, Labels labels = {});
  void Histogram(const std::string& name, const std::string& help, const metrics::Histogram& histogram,
                 Labels labels = {});
  std::vector<prometheus::MetricFamily> Take() { return std::move(families_); }

 private:
  prometheus::MetricFamily& Family(const std::string& name, const std::string& help, prometheus::MetricType type);
  std::vector<prometheus::MetricFamily> families_;
};

// A Collectable whose values come from a function, called once per scrape.
// Threading: the function runs on the HTTP server's thread; it must be
// thread-safe with respect to whatever it reads. Lifetime: shared with the
// server; Detach() (blocking until a scrape in progress is over) stops
// every later call, so what the function reads may be destroyed after it.
class CallbackCollectable : public prometheus::Collectable {
 public:
  using Fn = std::function<void(FamilyBuilder&)>;
  std::vector<prometheus::MetricFamily> Collect() const override;
  void Attach(Fn fn);
  void Detach();

 private:
  mutable absl::Mutex mu_;
  Fn fn_ ABSL_GUARDED_BY(mu_);
};

// The /metrics endpoint: prometheus-cpp's Exposer (civetweb) on `listen`.
// Threading: Start/destructor from one controlling thread; scrapes run on a
// thread of the Exposer. Lifetime: stops serving when destroyed; the
// collectables registered must outlive it or be shared (they are held weakly).
class MetricsServer {
 public:
  // `listen`: host:port (an IPv4 address, or a name that resolves to one;
  // port 0 picks a free port). A bad address or a port in use is an error in
  // one line ("cannot serve metrics on 127.0.0.1:9100: Address already in use").
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen);
  ~MetricsServer();

  void Register(const std::shared_ptr<prometheus::Collectable>& collectable);
  // host:port actually served (the port resolved when 0 was asked for).
  std::string address() const { return address_; }
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
  int port_ = 0;
};

}  // namespace chat::metrics

#endif  // CHAT_PROTO_SRC_CHAT_METRICS_H_
