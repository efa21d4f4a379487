#include "chat/metrics.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <prometheus/exposer.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chat::metrics {

uint64_t ShardedCounter::Value() const {
  uint64_t sum = 0;
  for (const Shard& s : shards_) sum += s.value.load(std::memory_order_relaxed);
  return sum;
}

size_t ShardedCounter::ShardIndex() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // A handful of buckets: a linear scan beats a binary search's branches.
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  if (value > 0) sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
}

prometheus::ClientMetric Histogram::Collect() const {
  prometheus::ClientMetric m;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    prometheus::ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) * 1e-6;
  return m;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

std::vector<double> PowersOfTwo(double max) {
  std::vector<double> out;
  for (double b = 1; b <= max; b *= 2) out.push_back(b);
  return out;
}

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

prometheus::MetricFamily& FamilyBuilder::Family(const std::string& name, const std::string& help,
                                                prometheus::MetricType type) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  families_.push_back(prometheus::MetricFamily{name, help, type, {}});
  return families_.back();
}

void FamilyBuilder::Gauge(const std::string& name, const std::string& help, double value, Labels labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  Family(name, help, prometheus::MetricType::Gauge).metric.push_back(std::move(m));
}

void FamilyBuilder::Counter(const std::string& name, const std::string& help, double value, Labels labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  Family(name, help, prometheus::MetricType::Counter).metric.push_back(std::move(m));
}

void FamilyBuilder::Histogram(const std::string& name, const std::string& help,
                              const metrics::Histogram& histogram, Labels labels) {
  prometheus::ClientMetric m = histogram.Collect();
  m.label = std::move(labels);
  Family(name, help, prometheus::MetricType::Histogram).metric.push_back(std::move(m));
}

std::vector<prometheus::MetricFamily> CallbackCollectable::Collect() const {
  absl::MutexLock lock(&mu_);
  if (!fn_) return {};
  FamilyBuilder builder;
  fn_(builder);
  return builder.Take();
}

void CallbackCollectable::Attach(Fn fn) {
  absl::MutexLock lock(&mu_);
  fn_ = std::move(fn);
}

void CallbackCollectable::Detach() {
  absl::MutexLock lock(&mu_);
  fn_ = nullptr;
}

namespace {

// `listen` (host:port) as a numeric IPv4 address and a port; the error is the
// one line main prints.
absl::StatusOr<std::pair<std::string, int>> ResolveListen(const std::string& listen) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("cannot serve metrics on '", listen, "': ", why));
  };
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return bad("must be host:port with a port from 0 to 65535");
  }
  const std::string host = listen.substr(0, colon);
  addrinfo hints = {};
  hints.ai_family = AF_INET;  // civetweb as Debian builds it listens on IPv4 only
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    return bad(absl::StrCat(gai_strerror(rc), " (an IPv4 address or a name that resolves to one)"));
  }
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, text, sizeof text);
  freeaddrinfo(found);
  return std::make_pair(std::string(text), port);
}

// Whether the address can be bound now: the Exposer only says "possible
// problem binding to port", so ask the kernel for the reason first.
absl::Status CheckBind(const std::string& listen, const std::string& ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", std::strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  absl::Status status;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    status = absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", std::strerror(errno)));
  }
  close(fd);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen) {
  auto resolved = ResolveListen(listen);
  if (!resolved.ok()) return resolved.status();
  const auto& [ip, port] = *resolved;
  if (absl::Status st = CheckBind(listen, ip, port); !st.ok()) return st;
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  try {
    // One thread: a scrape every few seconds needs no more.
    s->exposer_ = std::make_unique<prometheus::Exposer>(absl::StrCat(ip, ":", port), 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  std::vector<int> ports = s->exposer_->GetListeningPorts();
  s->port_ = ports.empty() ? port : ports.front();
  s->address_ = absl::StrCat(ip, ":", s->port_);
  return s;
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::Register(const std::shared_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

}  // namespace chat::metrics
