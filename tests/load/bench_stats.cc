#include "bench_stats.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace chat::bench {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void StoreMax(std::atomic<int64_t>& a, int64_t v) {
  int64_t m = a.load(std::memory_order_relaxed);
  while (v > m && !a.compare_exchange_weak(m, v)) {
  }
}

void StoreMin(std::atomic<int64_t>& a, int64_t v) {
  int64_t m = a.load(std::memory_order_relaxed);
  while (v < m && !a.compare_exchange_weak(m, v)) {
  }
}

int Histogram::Bucket(int64_t us) {
  if (us < 1) us = 1;
  int b = static_cast<int>(std::log(static_cast<double>(us)) / std::log(1.01));
  return std::min(b, kBuckets - 1);
}

void Histogram::Add(int64_t us) {
  buckets_[Bucket(us)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  StoreMax(max_, us);
}

double Histogram::Percentile(double p) const {
  int64_t total = count_.load();
  if (total == 0) return 0;
  int64_t want = static_cast<int64_t>(std::ceil(p * total));
  int64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b].load();
    if (seen >= want) return std::pow(1.01, b + 1) / 1000.0;  // ms
  }
  return max_.load() / 1000.0;
}

void MessageLatencies::Enable(int senders, size_t per_sender) {
  for (int i = 0; i < senders && i < kMaxSenders; ++i) entries_[i] = std::vector<Entry>(per_sender);
}

void MessageLatencies::Add(int sender, int64_t counter, int64_t sched_ns, int64_t us) {
  std::vector<Entry>& v = entries_[sender];
  if (counter < 0 || static_cast<size_t>(counter) >= v.size()) return;
  Entry& e = v[counter];
  if (e.deliveries.fetch_add(1, std::memory_order_relaxed) == 0) e.sched_ns.store(sched_ns, std::memory_order_relaxed);
  StoreMin(e.first_us, us);
  StoreMax(e.last_us, us);
}

MessageLatencies::Summary MessageLatencies::Summarize() const {
  std::vector<int64_t> first, last;
  for (const auto& v : entries_) {
    for (const Entry& e : v) {
      if (e.deliveries.load() == 0) continue;
      first.push_back(e.first_us.load());
      last.push_back(e.last_us.load());
    }
  }
  Summary s;
  s.messages = static_cast<int64_t>(first.size());
  if (first.empty()) return s;
  // The smallest value with at least p of them at or below it (as Histogram).
  auto pct = [](std::vector<int64_t>& v, double p) {
    size_t k = std::min(v.size(), static_cast<size_t>(std::ceil(p * v.size()))) - 1;
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[k] / 1000.0;
  };
  s.first_p50 = pct(first, 0.5);
  s.first_p99 = pct(first, 0.99);
  s.last_p50 = pct(last, 0.5);
  s.last_p99 = pct(last, 0.99);
  return s;
}

bool MessageLatencies::Write(FILE* f) const {
  std::fprintf(f, "# sender counter scheduled_ns first_us last_us deliveries\n");
  for (int s = 0; s < kMaxSenders; ++s) {
    for (size_t c = 0; c < entries_[s].size(); ++c) {
      const Entry& e = entries_[s][c];
      if (e.deliveries.load() == 0) continue;
      std::fprintf(f, "%d %zu %lld %lld %lld %d\n", s, c, static_cast<long long>(e.sched_ns.load()),
                   static_cast<long long>(e.first_us.load()), static_cast<long long>(e.last_us.load()),
                   e.deliveries.load());
    }
  }
  return std::fclose(f) == 0;
}

Stats::Stats() {
  for (auto& h : latency) h = std::make_unique<Histogram>();
  for (auto& h : arrival) h = std::make_unique<Histogram>();
  for (auto& h : send_lag) h = std::make_unique<Histogram>();
}

std::string MakePayload(int step, int sender, int64_t counter, int64_t sched_ns, int size) {
  std::string p = absl::StrCat("b|", step, "|", sender, "|", counter, "|", sched_ns, "|");
  if (static_cast<int>(p.size()) < size) p.append(size - p.size(), 'x');
  return p;
}

OrderState::OrderState() { std::fill(std::begin(last), std::end(last), -1); }

void Account(const char* data, size_t n, OrderState* order, ReadTime now, Stats* stats) {
  const char* end = data + n;
  const char* p = data;
  while (p < end) {
    const char* b = static_cast<const char*>(memmem(p, end - p, "b|", 2));
    if (b == nullptr) break;
    const char* q = b + 2;
    int64_t fields[4] = {0, 0, 0, 0};
    bool ok = true;
    for (int f = 0; f < 4; ++f) {
      int64_t v = 0;
      const char* start = q;
      while (q < end && *q >= '0' && *q <= '9') v = v * 10 + (*q++ - '0');
      if (q == start || q >= end || *q != '|') {
        ok = false;
        break;
      }
      fields[f] = v;
      ++q;
    }
    p = q;
    if (!ok) continue;
    int step = static_cast<int>(fields[0]), sender = static_cast<int>(fields[1]);
    if (step < 0 || step >= kMaxSteps || sender < 0 || sender >= kMaxSenders) continue;
    int64_t counter = fields[2];
    if (counter <= order->last[sender]) {
      (counter == order->last[sender] ? stats->duplicates : stats->out_of_order).fetch_add(1);
    }
    order->last[sender] = std::max(order->last[sender], counter);
    stats->received[step].fetch_add(1, std::memory_order_relaxed);
    if (fields[3] >= stats->measure_from_ns.load(std::memory_order_relaxed)) {
      stats->latency[step]->Add((now.read_ns - fields[3]) / 1000);
      stats->arrival[step]->Add((now.arrival_ns - fields[3]) / 1000);
      stats->messages.Add(sender, counter, fields[3], (now.read_ns - fields[3]) / 1000);
    }
  }
}

}  // namespace chat::bench
