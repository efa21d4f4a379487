#include "scenarios.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench_stats.h"
#include "client_loops.h"
#include "client_pool.h"
#include "grpc_library_clients.h"
#include "proc_sample.h"
#include "slow_consumer.h"
#include "wire_protocol.h"

namespace chat::bench {
namespace {

using Clock = std::chrono::steady_clock;

// What every scenario works with: the options, the counters, the clients.
struct Run {
  const BenchOptions& options;
  Stats& stats;
  ClientPool& clients;
  int subscribers;  // options.subscribers
  int senders;      // options.senders, at most kMaxSenders
  int rooms;        // options.rooms, at least 1
};

bool WaitJoined(const Stats& stats, int64_t want, absl::Duration timeout) {
  auto deadline = Clock::now() + absl::ToChronoNanoseconds(timeout);
  while (Clock::now() < deadline && stats.failed.load() == 0) {
    if (stats.joined.load() >= want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return stats.joined.load() >= want;
}

// Why a wait for `want` joined clients came up short.
std::string JoinShortfall(const Run& run, int64_t want, const char* who) {
  std::string why = absl::StrCat("only ", run.stats.joined.load(), " of ", want, " ", who, " joined");
  if (int64_t f = run.stats.failed.load(); f > 0) {
    absl::StrAppend(&why, "; ", f, " connection(s) ended before joining (is ", run.options.target,
                    " at --addr=", run.options.addr, " up?)");
  }
  return why;
}

// The fields every row starts with.
std::string Common(const BenchOptions& o) {
  return absl::StrFormat(
      R"("target":"%s","scenario":"%s","label":"%s","subscribers":%d,"senders":%d,"size":%d,"rooms":%d,"grpc_client":"%s","grpc_batch":%d)",
      o.target, o.scenario, o.label, o.subscribers, o.senders, o.size, std::max(1, o.rooms), o.grpc_client,
      o.grpc_batch);
}

[[noreturn]] void Fail(const BenchOptions& o, const std::string& why) {
  std::printf("{%s,\"error\":\"%s\"}\n", Common(o).c_str(), why.c_str());
  std::fflush(stdout);
  std::_Exit(1);  // clients may still be connecting; do not wait for them
}

// Each room's creator first (they create the rooms the others join); returns
// how many clients that opened.
int OpenRoomCreators(const Run& run) {
  int opened = 0;
  if (run.rooms > 1) {
    for (; opened < std::min(run.rooms, run.subscribers); ++opened) run.clients.Open(false, 0, opened);
    if (!WaitJoined(run.stats, opened, run.options.connect_timeout)) {
      Fail(run.options, JoinShortfall(run, opened, "room creators"));
    }
  }
  return opened;
}

// setup: connect -> joined with --inflight at once; one row, then the process ends.
[[noreturn]] void RunSetup(const Run& run, int opened) {
  const BenchOptions& o = run.options;
  Stats& stats = run.stats;
  const int n = run.subscribers;
  const int64_t base = stats.joined.load();
  const int timed = n - opened;
  auto start = Clock::now();
  int64_t start_ns = NowNs();
  double cpu0 = SelfCpu();
  ProcSample p0 = SampleProcs(o.pids);
  while (stats.joined.load() - base < timed) {
    while (opened < n && (opened - base) - (stats.joined.load() - base) < o.inflight) {
      run.clients.Open(false, 0, opened);
      ++opened;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (stats.failed.load() > 0) break;
    if (Clock::now() - start > absl::ToChronoNanoseconds(o.connect_timeout)) break;
  }
  if (stats.failed.load() > 0) Fail(o, JoinShortfall(run, base + timed, "clients"));
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ProcSample p1 = SampleProcs(o.pids);
  int64_t joined = stats.joined.load() - base;
  std::vector<double> lat;
  run.clients.SetupTimes(&lat, start_ns);
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat.empty() ? 0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
  std::printf("{%s,\"connections\":%d,\"joined\":%lld,\"seconds\":%.3f,\"setups_per_s\":%.0f,"
              "\"setup_p50_ms\":%.2f,\"setup_p99_ms\":%.2f,\"server_cpu_s\":%.3f,\"gen_cpu_s\":%.3f}\n",
              Common(o).c_str(), timed, static_cast<long long>(joined), secs, joined / secs, pct(0.5), pct(0.99),
              p1.cpu_s - p0.cpu_s, SelfCpu() - cpu0);
  std::fflush(stdout);
  run.clients.Stop();
  std::_Exit(joined == timed ? 0 : 1);
}

// Subscribers first, then senders; fails the run if not everyone joins.
void ConnectEveryone(const Run& run, int opened) {
  const int n = run.subscribers, s = run.senders;
  for (int i = opened; i < n; ++i) {
    run.clients.Open(false, 0, i);
    if (i % 64 == 63) WaitJoined(run.stats, i + 1 - 128, run.options.connect_timeout);  // pace the burst
  }
  for (int i = 0; i < s; ++i) run.clients.Open(true, i, 0);
  if (!WaitJoined(run.stats, n + s, run.options.connect_timeout)) {
    Fail(run.options, JoinShortfall(run, n + s, "clients"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let join-time traffic settle
}

// memory: everyone joined and idle; one row, then the process ends.
[[noreturn]] void RunMemory(const Run& run, const ProcSample& before_all) {
  const int clients = run.subscribers + run.senders;
  // Idle for a while: the servers settle (they return freed memory every 2 s).
  std::this_thread::sleep_for(std::chrono::seconds(5));
  ProcSample after = SampleProcs(run.options.pids);
  std::printf("{%s,\"connections\":%d,\"rss_before_kb\":%.0f,\"rss_after_kb\":%.0f,\"pss_before_kb\":%.0f,"
              "\"pss_after_kb\":%.0f,\"rss_per_conn_kb\":%.2f,\"pss_per_conn_kb\":%.2f,\"disconnects\":%lld}\n",
              Common(run.options).c_str(), clients, before_all.rss_kb, after.rss_kb, before_all.pss_kb,
              after.pss_kb, (after.rss_kb - before_all.rss_kb) / clients,
              (after.pss_kb - before_all.pss_kb) / clients, static_cast<long long>(run.stats.disconnects.load()));
  std::fflush(stdout);
  run.clients.Stop();
  std::_Exit(0);
}

// fanout and latency: one row per rate step. Returns the exit code.
int RunSteps(const Run& run) {
  const BenchOptions& o = run.options;
  Stats& stats = run.stats;
  const std::vector<double>& rates = o.rates;
  const double duration = absl::ToDoubleSeconds(o.duration);
  const double warmup = absl::ToDoubleSeconds(o.warmup);
  const bool per_message = o.scenario == "latency" && !rates.empty();
  if (per_message) {
    // Counters run on from the start: room for every message this run sends.
    int senders = std::max(1, o.senders);
    double seconds = rates.size() * (warmup + duration + absl::ToDoubleSeconds(o.drain) + 1);
    double most = *std::max_element(rates.begin(), rates.end());
    stats.messages.Enable(senders, static_cast<size_t>(std::min(4e6, most / senders * seconds * 1.5 + 1024)));
  }
  int exit_code = 0;
  for (size_t step = 0; step < rates.size() && step < kMaxSteps; ++step) {
    int st = static_cast<int>(step);
    stats.measure_from_ns.store(NowNs() + static_cast<int64_t>(warmup * 1e9));
    int64_t ooo0 = stats.out_of_order.load(), disc0 = stats.disconnects.load(), dup0 = stats.duplicates.load();
    run.clients.SetRate(rates[step], st);
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    ProcSample p0 = SampleProcs(o.pids);
    double cpu0 = SelfCpu();
    int64_t recv0 = stats.received[st].load();
    auto w0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(duration));
    double window = std::chrono::duration<double>(Clock::now() - w0).count();
    int64_t recv_window = stats.received[st].load() - recv0;
    ProcSample p1 = SampleProcs(o.pids);
    double gen_cpu = SelfCpu() - cpu0;
    run.clients.SetRate(0, st);
    // Drain: every message of the step should reach every subscriber.
    int64_t expected = stats.sent[st].load() * run.subscribers;
    auto drain_deadline = Clock::now() + absl::ToChronoNanoseconds(o.drain);
    while (stats.received[st].load() < expected && Clock::now() < drain_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    int64_t lost = expected - stats.received[st].load();
    const Histogram& h = *stats.latency[st];
    const Histogram& arrival = *stats.arrival[st];
    const Histogram& send_lag = *stats.send_lag[st];
    double server_cpu = p1.cpu_s - p0.cpu_s;
    std::string per_message_json;
    if (per_message && step + 1 == rates.size()) {
      MessageLatencies::Summary m = stats.messages.Summarize();
      per_message_json = absl::StrFormat(
          "\"messages_measured\":%d,\"first_p50_ms\":%.3f,\"first_p99_ms\":%.3f,\"last_p50_ms\":%.3f,"
          "\"last_p99_ms\":%.3f,",
          m.messages, m.first_p50, m.first_p99, m.last_p50, m.last_p99);
    }
    double deliveries_per_s = recv_window / window;
    bool ok = lost == 0 && h.Percentile(0.99) <= absl::ToDoubleMilliseconds(o.max_p99) &&
              stats.out_of_order.load() == ooo0 && stats.duplicates.load() == dup0 &&
              stats.disconnects.load() == disc0;
    std::printf(
        "{%s,\"step\":%d,\"offered_msgs_per_s\":%.1f,\"sent\":%lld,\"expected\":%lld,\"lost\":%lld,"
        "\"out_of_order\":%lld,\"duplicates\":%lld,\"disconnects\":%lld,\"errors\":%lld,"
        "\"deliveries_per_s\":%.0f,\"server_cpu_s\":%.3f,\"server_cpu_util\":%.3f,"
        "\"deliveries_per_server_cpu_s\":%.0f,\"gen_cpu_util\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
        "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"arrival_p50_ms\":%.3f,\"arrival_p99_ms\":%.3f,\"arrival_max_ms\":%.3f,"
        "\"send_lag_p50_ms\":%.3f,\"send_lag_p99_ms\":%.3f,\"send_lag_max_ms\":%.3f,\"stamped_reads\":%.4f,"
        "%s\"server_rss_kb\":%.0f,\"ok\":%s,\"valid\":%s}\n",
        Common(o).c_str(), st, rates[step], static_cast<long long>(stats.sent[st].load()),
        static_cast<long long>(expected), static_cast<long long>(lost),
        static_cast<long long>(stats.out_of_order.load() - ooo0),
        static_cast<long long>(stats.duplicates.load() - dup0),
        static_cast<long long>(stats.disconnects.load() - disc0), static_cast<long long>(stats.errors.load()),
        deliveries_per_s, server_cpu, server_cpu / window,
        server_cpu > 0 ? recv_window / server_cpu : 0.0, gen_cpu / window, h.Percentile(0.5), h.Percentile(0.9),
        h.Percentile(0.99), h.max_ms(), arrival.Percentile(0.5), arrival.Percentile(0.99), arrival.max_ms(),
        send_lag.Percentile(0.5), send_lag.Percentile(0.99), send_lag.max_ms(),
        static_cast<double>(stats.stamped_reads.load()) / std::max<int64_t>(1, stats.reads.load()),
        per_message_json.c_str(), p1.rss_kb, ok ? "true" : "false", gen_cpu / window < 0.9 ? "true" : "false");
    std::fflush(stdout);
    if (!ok) {
      exit_code = o.scenario == "latency" ? 1 : 0;
      if (o.scenario == "fanout") break;
    }
  }
  return exit_code;
}

// Pins the generator to `cpus`; if they cannot be used, warns and runs unpinned.
void PinTo(const std::vector<int>& cpus) {
  if (cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    // Measure anyway, unpinned, and say so.
    std::fprintf(stderr, "chat-bench: cannot pin to --cpus=%s (%s); running unpinned\n",
                 absl::StrJoin(cpus, ",").c_str(), std::strerror(errno));
  }
}

// The clients the options ask for, their threads started; null (and a line on
// stderr) if the options do not fit together.
std::unique_ptr<ClientPool> MakeClients(const BenchOptions& o, const std::string& host, int port, Stats* stats) {
  const int rooms = std::max(1, o.rooms);
  if (o.target == "grpc" && o.grpc_client == "library") {
    if (rooms > 1) {
      std::fprintf(stderr, "chat-bench: --rooms needs --grpc_client=h2\n");
      return nullptr;
    }
    return std::make_unique<GrpcLibClients>(
        GrpcLibClients::Options{o.addr, o.room, o.grpc_batch, o.streams_per_channel, o.grpc_bdp_probe, o.size},
        stats);
  }
  const std::string authority = absl::StrCat(host, ":", port);
  std::unique_ptr<WireProtocol> protocol;
  if (o.target == "bridge") {
    protocol = MakeBridgeProtocol(authority, stats);
  } else if (o.target == "socketio") {
    protocol = MakeSocketIoProtocol(authority, stats);
  } else if (o.target == "floor") {
    if (rooms > 1) {
      std::fprintf(stderr, "chat-bench: the floor server has one room\n");
      return nullptr;
    }
    protocol = MakeFloorProtocol(authority, stats);
  } else if (o.target == "grpc") {
    if (o.grpc_client != "h2") {
      std::fprintf(stderr, "chat-bench: --grpc_client must be h2 or library\n");
      return nullptr;
    }
    protocol = MakeGrpcH2Protocol(authority, o.grpc_batch, stats);
  } else {
    std::fprintf(stderr, "chat-bench: unknown --target %s\n", o.target.c_str());
    return nullptr;
  }
  ClientLoops::Options lo;
  lo.host = host;
  lo.port = port;
  lo.receiver_addrs = o.receiver_addrs;
  lo.receiver_threads = std::max(1, o.threads);
  lo.room = o.room;
  lo.rooms = o.rooms;
  lo.message_size = o.size;
  return std::make_unique<ClientLoops>(lo, std::move(protocol), stats);
}

}  // namespace

int RunBench(const BenchOptions& options) {
  const BenchOptions& o = options;
  size_t colon = o.addr.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "chat-bench: --addr must be host:port\n");
    return 2;
  }
  const std::string host = o.addr.substr(0, colon);
  const int port = std::atoi(o.addr.c_str() + colon + 1);
  const bool slow_consumer = o.scenario == "slow-consumer";
  if (o.scenario != "fanout" && o.scenario != "latency" && o.scenario != "memory" && o.scenario != "setup" &&
      !slow_consumer) {
    std::fprintf(stderr, "chat-bench: unknown --scenario %s\n", o.scenario.c_str());
    return 2;
  }
  FILE* trace_file = nullptr;
  if (!o.latency_trace.empty()) {
    if (o.scenario != "latency") {
      std::fprintf(stderr, "chat-bench: --latency_trace needs --scenario=latency\n");
      return 2;
    }
    // Opened before the run, so a bad path fails at once, not after it.
    trace_file = std::fopen(o.latency_trace.c_str(), "w");
    if (trace_file == nullptr) {
      std::fprintf(stderr, "chat-bench: cannot write --latency_trace=%s: %s\n", o.latency_trace.c_str(),
                   std::strerror(errno));
      return 2;
    }
  }
  PinTo(o.cpus);
  if (o.grpc_batch < 1 || o.grpc_batch > 1024) {
    std::fprintf(stderr, "chat-bench: --grpc_batch must be from 1 to 1024, not %d\n", o.grpc_batch);
    return 2;
  }

  if (slow_consumer && (o.subscribers < 2 || o.senders < 1 || o.rates.empty() || o.rooms > 1 ||
                        (o.target != "bridge" && o.target != "grpc") || o.grpc_client != "h2")) {
    std::fprintf(stderr, "chat-bench: slow-consumer needs --target=bridge or grpc (h2), --subscribers >= 2, "
                         "--senders >= 1, a --rates and one room\n");
    return 2;
  }

  // Declared before the clients, which count into them until they are gone.
  auto stats = std::make_unique<Stats>();
  auto watch = std::make_unique<Watch>();
  std::unique_ptr<ClientPool> clients = MakeClients(o, host, port, stats.get());
  if (clients == nullptr) return 2;
  Run run{o, *stats, *clients, o.subscribers, std::min(o.senders, kMaxSenders), std::max(1, o.rooms)};

  ProcSample before_all = SampleProcs(o.pids);
  int opened = OpenRoomCreators(run);
  if (o.scenario == "setup") RunSetup(run, opened);
  auto* loops = dynamic_cast<ClientLoops*>(clients.get());
  if (slow_consumer) {
    // Receiver 0 is the one that will stop reading; it joins first, like the rest.
    loops->OpenWatched(0, o.slow_rcvbuf, watch.get());
    opened = 1;
  }
  ConnectEveryone(run, opened);
  if (o.scenario == "memory") RunMemory(run, before_all);
  int exit_code = slow_consumer ? RunSlowConsumer({o, *stats, *loops, *watch, run.subscribers - 1, Common(o)})
                                : RunSteps(run);
  clients->Stop();
  clients.reset();
  if (trace_file != nullptr && !stats->messages.Write(trace_file)) {
    std::fprintf(stderr, "chat-bench: cannot write --latency_trace=%s: %s\n", o.latency_trace.c_str(),
                 std::strerror(errno));
    return 2;
  }
  return exit_code;
}

}  // namespace chat::bench
