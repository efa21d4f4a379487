#include "slow_consumer.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace chat::bench {
namespace {

constexpr absl::Duration kScrapeEvery = absl::Milliseconds(50);

// One arm's figures for the measured readers.
struct Arm {
  double p50 = 0, p99 = 0, max = 0;
  int64_t sent = 0, expected = 0, lost = 0, disconnects = 0, out_of_order = 0, duplicates = 0;
  double deliveries_per_s = 0;
};

// What the server's /metrics said while the reader was stopped.
struct CutOff {
  double closes_before = 0;  // slow-consumer closes before the reader stopped
  bool before_ok = false;
  int64_t closed_ns = 0;  // the first scrape that showed one more (0: none did)
  double queue_max = 0;   // the longest queue any scrape showed
  int scrapes = 0, failed = 0;
};

std::string JsonEscape(absl::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += absl::StrFormat("\\u%04x", ch);
    } else {
      out += ch;
    }
  }
  return out;
}

void Scrape(const std::string& addr, CutOff* cut) {
  MetricsScrape m = ScrapeMetrics(addr);
  ++cut->scrapes;
  if (!m.ok) {
    ++cut->failed;
    return;
  }
  cut->queue_max = std::max(cut->queue_max, m.queue_max);
  if (cut->closed_ns == 0 && m.slow_closes > cut->closes_before) cut->closed_ns = NowNs();
}

// One arm at the first rate: warm-up, then (stop_reader: the watched reader stops
// here) the measured window, then the drain. `cut`: read /metrics meanwhile.
Arm RunArm(const SlowConsumerRun& run, int step, bool stop_reader, CutOff* cut) {
  const BenchOptions& o = run.options;
  Stats& stats = run.stats;
  stats.measure_from_ns.store(NowNs() + absl::ToInt64Nanoseconds(o.warmup));
  const int64_t disc0 = stats.disconnects.load(), ooo0 = stats.out_of_order.load(), dup0 = stats.duplicates.load();
  run.loops.SetRate(o.rates.front(), step);
  absl::SleepFor(o.warmup);
  const bool scrape = cut != nullptr && !o.metrics_addr.empty();
  if (scrape) {
    MetricsScrape m = ScrapeMetrics(o.metrics_addr);
    cut->before_ok = m.ok;
    cut->closes_before = m.slow_closes;
  }
  if (stop_reader) run.loops.SetReading(false);
  const int64_t recv0 = stats.received[step].load(), t0 = NowNs();
  const int64_t end = t0 + absl::ToInt64Nanoseconds(o.duration);
  while (NowNs() < end) {
    if (scrape) Scrape(o.metrics_addr, cut);
    absl::SleepFor(std::min(kScrapeEvery, absl::Nanoseconds(std::max<int64_t>(0, end - NowNs()))));
  }
  const double window = (NowNs() - t0) / 1e9;
  const int64_t recv_window = stats.received[step].load() - recv0;
  run.loops.SetRate(0, step);
  Arm a;
  a.sent = stats.sent[step].load();
  a.expected = a.sent * run.readers;
  const int64_t drain_end = NowNs() + absl::ToInt64Nanoseconds(o.drain);
  while (stats.received[step].load() < a.expected && NowNs() < drain_end) {
    if (scrape) Scrape(o.metrics_addr, cut);
    absl::SleepFor(kScrapeEvery);
  }
  a.lost = a.expected - stats.received[step].load();
  a.disconnects = stats.disconnects.load() - disc0;
  a.out_of_order = stats.out_of_order.load() - ooo0;
  a.duplicates = stats.duplicates.load() - dup0;
  const Histogram& h = *stats.latency[step];
  a.p50 = h.Percentile(0.5);
  a.p99 = h.Percentile(0.99);
  a.max = h.max_ms();
  a.deliveries_per_s = recv_window / window;
  return a;
}

std::string ArmJson(const char* name, const Arm& a) {
  return absl::StrFormat(
      "\"%s_p50_ms\":%.3f,\"%s_p99_ms\":%.3f,\"%s_max_ms\":%.3f,\"%s_sent\":%lld,\"%s_lost\":%lld,"
      "\"%s_disconnects\":%lld,\"%s_out_of_order\":%lld,\"%s_duplicates\":%lld,\"%s_deliveries_per_s\":%.0f",
      name, a.p50, name, a.p99, name, a.max, name, static_cast<long long>(a.sent), name,
      static_cast<long long>(a.lost), name, static_cast<long long>(a.disconnects), name,
      static_cast<long long>(a.out_of_order), name, static_cast<long long>(a.duplicates), name, a.deliveries_per_s);
}

bool Clean(const Arm& a) { return a.lost == 0 && a.disconnects == 0 && a.out_of_order == 0 && a.duplicates == 0; }

}  // namespace

MetricsScrape ParseMetrics(const std::string& body) {
  MetricsScrape m;
  m.ok = true;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    size_t space = line.rfind(' ');
    double v;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) continue;
    absl::string_view name = line.substr(0, std::min(line.find('{'), space));
    if (line.find("reason=\"slow_consumer\"") != absl::string_view::npos) m.slow_closes += v;
    if (name == "chat_bridge_queue_events_max" || name == "chat_core_stream_queue_events_max") {
      m.queue_max = std::max(m.queue_max, v);
    }
  }
  return m;
}

MetricsScrape ScrapeMetrics(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  if (colon == std::string::npos || inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return {};
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string resp;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = absl::StrCat("GET /metrics HTTP/1.0\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[16384];
      ssize_t r;
      while (resp.size() < (8u << 20) && (r = read(fd, buf, sizeof buf)) > 0) resp.append(buf, r);
    }
  }
  close(fd);
  size_t body = resp.find("\r\n\r\n");
  if (resp.compare(0, 12, "HTTP/1.1 200") != 0 && resp.compare(0, 12, "HTTP/1.0 200") != 0) return {};
  if (body == std::string::npos) return {};
  return ParseMetrics(resp.substr(body + 4));
}

int RunSlowConsumer(const SlowConsumerRun& run) {
  const BenchOptions& o = run.options;
  Watch& w = run.watch;
  const Arm base = RunArm(run, 0, /*stop_reader=*/false, nullptr);
  CutOff cut;
  const Arm slow = RunArm(run, 1, /*stop_reader=*/true, &cut);
  // Read again: what the kernel still holds for it comes first, then how the
  // connection ended (a close frame, trailers, EOF...), if the server ended it.
  const int64_t stopped = w.stopped_ns.load();
  run.loops.SetReading(true);
  const int64_t give_up = NowNs() + absl::ToInt64Nanoseconds(o.close_wait);
  bool ended = false;
  int64_t ended_ns = 0;
  std::string end;
  while (true) {
    {
      absl::MutexLock lock(&w.mu);
      ended = w.ended;
      ended_ns = w.ended_ns;
      end = w.end;
    }
    if (ended || NowNs() >= give_up) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  const bool polled = !o.metrics_addr.empty() && cut.before_ok && cut.scrapes > cut.failed;
  // Cut off: the server counted it (when its metrics were read) and its connection ended.
  const bool cut_off = ended && (!polled || cut.closed_ns != 0);
  const double ratio = base.p99 > 0 ? slow.p99 / base.p99 : 0;
  const bool pass = cut_off && Clean(base) && Clean(slow) && base.p99 > 0 && ratio <= o.max_ratio;
  const double closed_after = polled && cut.closed_ns ? (cut.closed_ns - stopped) / 1e9 : -1;
  const int64_t hup = w.hup_ns.load();
  std::printf(
      "{%s,\"rate\":%g,\"readers_measured\":%d,%s,%s,\"p99_ratio\":%.3f,\"max_ratio\":%g,\"slow_rcvbuf\":%d,"
      "\"metrics_polled\":%s,\"metrics_scrapes\":%d,\"server_closed_after_s\":%.3f,\"queue_max_seen\":%.0f,"
      "\"hup_after_s\":%.3f,\"slow_ended\":%s,\"slow_end\":\"%s\",\"slow_ended_after_resume_s\":%.3f,"
      "\"slow_received_in_arm\":%lld,\"cut_off\":%s,\"verdict\":\"%s\"}\n",
      run.common.c_str(), o.rates.front(), run.readers, ArmJson("base", base).c_str(),
      ArmJson("slow", slow).c_str(), ratio, o.max_ratio, o.slow_rcvbuf, polled ? "true" : "false", cut.scrapes,
      closed_after, cut.queue_max, hup ? (hup - stopped) / 1e9 : -1.0, ended ? "true" : "false",
      JsonEscape(end).c_str(),
      ended ? (ended_ns - w.resumed_ns.load()) / 1e9 : -1.0,
      static_cast<long long>(w.stats.received[1].load()), cut_off ? "true" : "false", pass ? "PASS" : "MISS");
  std::fflush(stdout);
  std::fprintf(stderr,
               "slow-consumer (%s, %d readers, %g msg/s; one stops reading):\n"
               "  the other %d, all reading:       p50 %.2f ms, p99 %.2f ms (lost %lld, disconnects %lld)\n"
               "  the other %d, one not reading:   p50 %.2f ms, p99 %.2f ms (lost %lld, disconnects %lld)\n"
               "  p99 ratio %.2f (target <= %g)\n",
               o.target.c_str(), run.readers + 1, o.rates.front(), run.readers, base.p50, base.p99,
               static_cast<long long>(base.lost), static_cast<long long>(base.disconnects), run.readers, slow.p50,
               slow.p99, static_cast<long long>(slow.lost), static_cast<long long>(slow.disconnects), ratio,
               o.max_ratio);
  if (polled && cut.closed_ns) {
    std::fprintf(stderr, "  stopped reader: the server cut it off %.2f s after it stopped (longest queue seen %.0f)\n",
                 closed_after, cut.queue_max);
  } else if (polled) {
    std::fprintf(stderr, "  stopped reader: the server did not count a slow-consumer close (longest queue seen %.0f)\n",
                 cut.queue_max);
  }
  std::fprintf(stderr, "  stopped reader, reading again: %s\n%s\n",
               ended ? absl::StrCat("its connection ended: ", end).c_str() : "its connection is still open",
               pass ? "PASS" : "MISS");
  return pass ? 0 : 1;
}

}  // namespace chat::bench
