// What chat-bench counts while it runs: messages sent and received per step,
// latency histograms, per-message first and last deliveries, ordering, and the
// clients' joins and failures. Receivers of every protocol feed one Stats
// through Account(); the scenarios read it to print their rows.
//
// A message's text is its own bookkeeping: "b|<step>|<sender>|<counter>|<scheduled
// ns>|xxx..." (MakePayload), so a receiver needs nothing but the text to know
// which step and sender it belongs to, whether it came in order, and how late.
#ifndef CHAT_TESTS_LOAD_BENCH_STATS_H_
#define CHAT_TESTS_LOAD_BENCH_STATS_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace chat::bench {

inline constexpr int kMaxSteps = 64;
inline constexpr int kMaxSenders = 64;

// CLOCK_MONOTONIC (steady_clock) in ns: the clock of every scheduled time.
int64_t NowNs();

// Lock-free running maximum and minimum of a shared value.
void StoreMax(std::atomic<int64_t>& a, int64_t v);
void StoreMin(std::atomic<int64_t>& a, int64_t v);

// Threading: thread-safe (relaxed atomics); Add from any receiver thread.
// Lifetime: owned by Stats, for the whole run.
// Log-linear latency histogram: 1 µs .. ~100 s, ~1% resolution.
class Histogram {
 public:
  Histogram() : buckets_(kBuckets) {}
  static int Bucket(int64_t us);
  void Add(int64_t us);
  // The upper edge (ms) of the bucket holding the p-th share of the values.
  double Percentile(double p) const;
  int64_t count() const { return count_.load(); }
  double max_ms() const { return max_.load() / 1000.0; }

 private:
  static constexpr int kBuckets = 2400;
  std::vector<std::atomic<int64_t>> buckets_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> max_{0};
};

// Threading: Enable before any client starts; then Add from any receiver
// thread (atomics); Summarize and Write once the clients have stopped.
// Lifetime: owned by Stats, for the whole run.
// Per message of the latency scenario: how long its first and its last delivery
// took. The first is the server's own path (the receiver it reached soonest);
// last minus first is the fan-out (the server writing N sockets and the
// generator reading them). Indexed by sender and counter; off (empty) elsewhere.
class MessageLatencies {
 public:
  struct Entry {
    std::atomic<int64_t> sched_ns{0};
    std::atomic<int64_t> first_us{INT64_MAX};
    std::atomic<int64_t> last_us{0};
    std::atomic<int32_t> deliveries{0};
  };
  void Enable(int senders, size_t per_sender);
  void Add(int sender, int64_t counter, int64_t sched_ns, int64_t us);
  // Percentiles (ms) of the first and of the last delivery over measured messages.
  struct Summary {
    double first_p50 = 0, first_p99 = 0, last_p50 = 0, last_p99 = 0;
    int64_t messages = 0;
  };
  Summary Summarize() const;
  // Writes the trace to `f` and closes it; false if that failed.
  bool Write(FILE* f) const;

 private:
  std::vector<Entry> entries_[kMaxSenders];
};

// Threading: thread-safe (atomics); every client thread adds, the scenario's
// thread reads. Lifetime: made by RunBench before any client, outlives them all.
struct Stats {
  Stats();
  std::atomic<int64_t> received[kMaxSteps] = {};
  std::atomic<int64_t> sent[kMaxSteps] = {};
  std::unique_ptr<Histogram> latency[kMaxSteps];
  // From the scheduled send time to the kernel's receive timestamp (ReadTime).
  std::unique_ptr<Histogram> arrival[kMaxSteps];
  // From the scheduled send time to the sender's write returning.
  std::unique_ptr<Histogram> send_lag[kMaxSteps];
  // Reads that returned data, and those of them that came with a receive timestamp.
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> stamped_reads{0};
  std::atomic<int64_t> out_of_order{0};
  std::atomic<int64_t> duplicates{0};
  std::atomic<int64_t> disconnects{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> joined{0};
  // Clients whose connection ended before they joined (refused, reset, bad
  // handshake): every scenario needs all of them, so waits stop at the first.
  std::atomic<int64_t> failed{0};
  // Messages scheduled before this time (ns) are not latency-measured (warm-up).
  std::atomic<int64_t> measure_from_ns{0};
  // The latency scenario's per-message first and last deliveries.
  MessageLatencies messages;
};

// Payload: "b|<step>|<sender>|<counter>|<scheduled ns>|xxxx…" padded to `size`.
std::string MakePayload(int step, int sender, int64_t counter, int64_t sched_ns, int size);

// Threading: belongs to one receiver, used by the thread that reads it.
// Lifetime: a plain value inside its receiver.
// The last counter a receiver saw from each sender.
struct OrderState {
  int64_t last[kMaxSenders];
  OrderState();
};

// Threading: a plain value, made by the thread that read the bytes.
// Lifetime: copied along with the bytes while they are parsed.
// When a read's bytes reached the generator (CLOCK_MONOTONIC ns): `read_ns`
// when the generator's read returned them; `arrival_ns` when the last of them
// reached the socket (the kernel's receive timestamp, SO_TIMESTAMPNS; on
// loopback that is when the server's write handed them over). The difference is
// the generator's own delay: waking up, and reading the sockets ahead of this one.
struct ReadTime {
  int64_t read_ns = 0;
  int64_t arrival_ns = 0;
  static ReadTime Now() {
    int64_t now = NowNs();
    return {now, now};
  }
};

// Finds and accounts every payload in data[0, n) (a frame, possibly of many
// events), received at `now` by the receiver whose ordering state is `order`.
void Account(const char* data, size_t n, OrderState* order, ReadTime now, Stats* stats);

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_BENCH_STATS_H_
