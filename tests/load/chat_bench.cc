// chat-bench: the load generator. Every client is a non-blocking socket on an
// epoll loop (many connections per thread, TCP_NODELAY, up to 512 KiB per read,
// every frame in a read accounted at once). Speaks four protocols:
//   grpc      chat.v1 Connect straight to chat-core, over a minimal HTTP/2 client
//             (h2_client.h); --grpc_client=library uses the gRPC C++ library
//             instead (one channel per client, its own threads)
//   bridge    ws-bridge's WebSocket JSON protocol (several events per frame)
//   socketio  socket.io v4 over raw WebSocket (engine.io v4 framing)
//   floor     the floor reference server (raw text frames)
// Receivers run on --threads loops; senders run on a loop of their own that
// wakes on a timerfd at each message's scheduled time, so a busy receiver loop
// never delays a send and no sleep granularity is added to latency.
// Scenarios print one JSON line each (per rate step for fanout):
//   fanout   N subscribers + S senders in one room; rate steps until loss or p99 > 1 s
//   latency  one fixed offered load, latency measured from each message's scheduled send time;
//            also per message its first delivery (the server's own path) and its last
//            (first_/last_p50_ms, _p99_ms); --latency_trace=FILE lists every message.
//            Every row also splits latency: arrival_*_ms ends at the kernel's receive
//            timestamp of the bytes (SO_TIMESTAMPNS; stamped_reads is the share of
//            reads that had one) instead of the generator's read, and send_lag_*_ms
//            is how late the sender's write returned against the schedule
//   memory   N idle joined clients; RSS/PSS of the server processes before and after
//   setup    connect -> joined for N clients, --inflight at once
// --rooms=R spreads the clients over R rooms (bench-0 ... bench-R-1, created by
// their first client) for memory and setup. Server CPU comes from
// /proc/<pid>/stat of --pids; the generator's own CPU from getrusage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "chat/v1/chat.grpc.pb.h"
#include "h2_client.h"

ABSL_FLAG(std::string, target, "bridge", "grpc, bridge, socketio or floor");
ABSL_FLAG(std::string, addr, "127.0.0.1:8080", "Server address (host:port).");
ABSL_FLAG(std::string, scenario, "fanout", "fanout, latency, memory or setup");
ABSL_FLAG(int, subscribers, 1000, "Receiving clients.");
ABSL_FLAG(int, senders, 1, "Sending clients (also members of the room).");
ABSL_FLAG(std::string, rates, "1000", "Messages per second (all senders together); fanout: comma-separated steps.");
ABSL_FLAG(double, duration, 5, "Seconds measured per step.");
ABSL_FLAG(double, warmup, 1, "Seconds of load before measuring each step.");
ABSL_FLAG(double, drain, 3, "Seconds to wait for the last messages of a step.");
ABSL_FLAG(int, size, 64, "Message text bytes.");
ABSL_FLAG(std::string, room, "lobby", "Room name when --rooms=1 (must exist; lobby always does).");
ABSL_FLAG(int, rooms, 1, "memory/setup: spread the clients over this many rooms (bench-0...), created by the generator.");
ABSL_FLAG(std::string, pids, "", "Comma-separated server process ids to account CPU and memory to.");
ABSL_FLAG(int, threads, 1, "Receiving event-loop threads of the generator.");
ABSL_FLAG(std::string, cpus, "", "Pin the generator to these CPUs (comma-separated ids); empty: no pinning. If the CPUs cannot be used, it warns and runs unpinned.");
ABSL_FLAG(int, inflight, 64, "setup: connections being set up at once.");
ABSL_FLAG(double, max_p99_ms, 1000, "fanout: a step fails when p99 exceeds this.");
ABSL_FLAG(std::string, label, "", "Free text copied into the output.");
ABSL_FLAG(std::string, grpc_client, "h2", "grpc: h2 (the generator's own HTTP/2 client) or library (gRPC C++).");
ABSL_FLAG(int, grpc_batch, 1,
          "grpc: ask chat-core for up to this many queued events per message (x-chat-batch); 1: one event "
          "per message, as a client that does not ask gets.");
ABSL_FLAG(int, streams_per_channel, 1, "grpc --grpc_client=library: streams sharing one channel.");
ABSL_FLAG(bool, grpc_bdp_probe, true, "grpc --grpc_client=library: let channels probe bandwidth (gRPC's default).");
ABSL_FLAG(std::string, latency_trace, "",
          "latency: write one line per measured message to this file: sender, counter, scheduled send "
          "time (ns, CLOCK_MONOTONIC), first and last delivery latency (us), deliveries.");
ABSL_FLAG(double, connect_timeout, 120, "Seconds allowed to connect and join everyone.");

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------
// Process accounting

struct ProcSample {
  double cpu_s = 0;
  double rss_kb = 0;
  double pss_kb = 0;
};

std::vector<int> ParseInts(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view p : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int v;
    if (absl::SimpleAtoi(p, &v)) out.push_back(v);
  }
  return out;
}

ProcSample SampleProcs(const std::vector<int>& pids) {
  ProcSample s;
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int pid : pids) {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    std::getline(stat, line);
    size_t close = line.rfind(')');
    if (close != std::string::npos) {
      std::vector<std::string> f = absl::StrSplit(line.substr(close + 2), ' ');
      // fields after ")": state(0) ... utime(11) stime(12)
      if (f.size() > 13) s.cpu_s += (std::stod(f[11]) + std::stod(f[12])) / tick;
    }
    std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) s.rss_kb += std::stod(line.substr(6));
    }
    std::ifstream smaps(absl::StrCat("/proc/", pid, "/smaps_rollup"));
    while (std::getline(smaps, line)) {
      if (line.rfind("Pss:", 0) == 0) s.pss_kb += std::stod(line.substr(4));
    }
  }
  return s;
}

double SelfCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// ---------------------------------------------------------------------------
// Statistics shared by all receivers.

constexpr int kMaxSteps = 64;
constexpr int kMaxSenders = 64;

// Lock-free running maximum and minimum of a shared value.
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

// Log-linear latency histogram: 1 µs .. ~100 s, ~1% resolution.
class Histogram {
 public:
  Histogram() : buckets_(kBuckets) {}
  static int Bucket(int64_t us) {
    if (us < 1) us = 1;
    int b = static_cast<int>(std::log(static_cast<double>(us)) / std::log(1.01));
    return std::min(b, kBuckets - 1);
  }
  void Add(int64_t us) {
    buckets_[Bucket(us)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    StoreMax(max_, us);
  }
  double Percentile(double p) const {
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
  int64_t count() const { return count_.load(); }
  double max_ms() const { return max_.load() / 1000.0; }

 private:
  static constexpr int kBuckets = 2400;
  std::vector<std::atomic<int64_t>> buckets_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> max_{0};
};

struct Stats {
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
  Stats() {
    for (auto& h : latency) h = std::make_unique<Histogram>();
    for (auto& h : arrival) h = std::make_unique<Histogram>();
    for (auto& h : send_lag) h = std::make_unique<Histogram>();
  }
};
Stats g_stats;

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
  void Enable(int senders, size_t per_sender) {
    for (int i = 0; i < senders && i < kMaxSenders; ++i) entries_[i] = std::vector<Entry>(per_sender);
  }
  void Add(int sender, int64_t counter, int64_t sched_ns, int64_t us) {
    std::vector<Entry>& v = entries_[sender];
    if (counter < 0 || static_cast<size_t>(counter) >= v.size()) return;
    Entry& e = v[counter];
    if (e.deliveries.fetch_add(1, std::memory_order_relaxed) == 0) e.sched_ns.store(sched_ns, std::memory_order_relaxed);
    StoreMin(e.first_us, us);
    StoreMax(e.last_us, us);
  }
  // Percentiles (ms) of the first and of the last delivery over measured messages.
  struct Summary {
    double first_p50 = 0, first_p99 = 0, last_p50 = 0, last_p99 = 0;
    int64_t messages = 0;
  };
  Summary Summarize() const {
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
  // Writes the trace to `f` and closes it.
  bool Write(FILE* f) const {
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

 private:
  std::vector<Entry> entries_[kMaxSenders];
};
MessageLatencies g_messages;

// Payload: "b|<step>|<sender>|<counter>|<scheduled ns>|xxxx…" padded to --size.
std::string MakePayload(int step, int sender, int64_t counter, int64_t sched_ns, int size) {
  std::string p = absl::StrCat("b|", step, "|", sender, "|", counter, "|", sched_ns, "|");
  if (static_cast<int>(p.size()) < size) p.append(size - p.size(), 'x');
  return p;
}

// Per-receiver ordering state.
struct OrderState {
  int64_t last[kMaxSenders];
  OrderState() { std::fill(std::begin(last), std::end(last), -1); }
};

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

// Finds and accounts every payload in `data` (a frame, possibly many events),
// received at `now`.
void Account(const char* data, size_t n, OrderState* order, ReadTime now) {
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
      (counter == order->last[sender] ? g_stats.duplicates : g_stats.out_of_order).fetch_add(1);
    }
    order->last[sender] = std::max(order->last[sender], counter);
    g_stats.received[step].fetch_add(1, std::memory_order_relaxed);
    if (fields[3] >= g_stats.measure_from_ns.load(std::memory_order_relaxed)) {
      g_stats.latency[step]->Add((now.read_ns - fields[3]) / 1000);
      g_stats.arrival[step]->Add((now.arrival_ns - fields[3]) / 1000);
      g_messages.Add(sender, counter, fields[3], (now.read_ns - fields[3]) / 1000);
    }
  }
}

std::string RoomName(int index) {
  int rooms = absl::GetFlag(FLAGS_rooms);
  if (rooms <= 1) return absl::GetFlag(FLAGS_room);
  return absl::StrCat("bench-", index % rooms);
}

// ---------------------------------------------------------------------------
// Clients on epoll loops.

enum class Proto { kBridge, kSocketIo, kFloor, kGrpc };

struct Conn : chat::bench::H2Stream::Sink {
  int fd = -1;
  int loop = 0;
  bool sender = false;
  int sender_id = 0;
  // Creates its room before joining (the first client of each room, --rooms > 1).
  bool creator = false;
  std::string room;
  enum State { kConnecting, kUpgrading, kOpening, kCreating, kJoining, kJoined, kDead } state = kConnecting;
  std::string in;  // unparsed bytes
  std::string out;
  bool want_out = false;
  OrderState order;
  int64_t started_ns = 0;
  int64_t joined_ns = 0;
  int id = 0;
  // grpc: the HTTP/2 stream, and what OnMessage needs.
  std::unique_ptr<chat::bench::H2Stream> h2;
  std::string* h2_out = nullptr;
  ReadTime now;

  void OnMessage(std::string_view message) override;
  // `kind` and `text` as ServerEventKind gives them.
  void OnEvent(int kind, std::string_view text);
  void SendEvent(const chat::v1::ClientEvent& ev, std::string* sink) {
    h2->SendMessage(ev.SerializeAsString(), sink);
  }
};

chat::v1::ClientEvent JoinEvent(const std::string& room) {
  chat::v1::ClientEvent ev;
  ev.mutable_join()->set_room(room);
  return ev;
}

void Joined(Conn* c) {
  c->state = Conn::kJoined;
  c->joined_ns = NowNs();
  g_stats.joined.fetch_add(1);
}

void Conn::OnMessage(std::string_view message) {
  std::string_view text;
  int kind = chat::bench::ServerEventKind(message, &text);
  if (kind != 13) return OnEvent(kind, text);  // not a batch: read once, as before
  thread_local std::vector<std::string_view> events;
  if (!chat::bench::ServerEvents(message, &events)) {
    g_stats.errors.fetch_add(1);
    return;
  }
  for (std::string_view event : events) {
    kind = chat::bench::ServerEventKind(event, &text);
    OnEvent(kind, text);
  }
}

void Conn::OnEvent(int kind, std::string_view text) {
  switch (kind) {
    case 2:  // joined
      if (state == kJoining) Joined(this);
      return;
    case 4:  // message
      if (!sender && state == kJoined) Account(text.data(), text.size(), &order, now);
      return;
    case 8:  // error
    case 12:  // room (created)
      if (state == kCreating) {
        // Created, or it already existed: either way, join it.
        state = kJoining;
        SendEvent(JoinEvent(room), h2_out);
        return;
      }
      if (kind == 8) g_stats.errors.fetch_add(1);
      return;
    default:
      return;
  }
}

class Loops {
 public:
  Loops(Proto proto, std::string host, int port, int threads)
      : proto_(proto), host_(std::move(host)), port_(port) {
    // Receiver loops, then the sender loop.
    for (int i = 0; i < threads + 1; ++i) {
      auto l = std::make_unique<Loop>();
      l->epoll = epoll_create1(0);
      loops_.push_back(std::move(l));
    }
    Loop& s = send_loop();
    s.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &s.timer;
    epoll_ctl(s.epoll, EPOLL_CTL_ADD, s.timer, &ev);
  }

  // Opens one connection (receivers round-robin over the receiver loops).
  Conn* Open(bool sender, int sender_id, int index) {
    auto c = std::make_unique<Conn>();
    c->sender = sender;
    c->sender_id = sender_id;
    c->room = sender ? RoomName(0) : RoomName(index);
    c->creator = !sender && absl::GetFlag(FLAGS_rooms) > 1 && index < absl::GetFlag(FLAGS_rooms) &&
                 (proto_ == Proto::kBridge || proto_ == Proto::kGrpc);
    c->loop = sender ? static_cast<int>(loops_.size()) - 1 : next_loop_++ % (static_cast<int>(loops_.size()) - 1);
    c->started_ns = NowNs();
    c->id = next_id_++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, host_.c_str(), &a.sin_addr);
    connect(c->fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    Conn* raw = c.get();
    Loop& l = *loops_[raw->loop];
    {
      std::lock_guard<std::mutex> lock(l.mu);
      l.conns.push_back(std::move(c));
      if (sender) l.senders.push_back(raw);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = raw;
    raw->want_out = true;
    epoll_ctl(l.epoll, EPOLL_CTL_ADD, raw->fd, &ev);
    return raw;
  }

  void Start() {
    for (size_t i = 0; i < loops_.size(); ++i) {
      loops_[i]->thread = std::thread([this, i] { Run(*loops_[i], i + 1 == loops_.size()); });
    }
  }
  void Stop() {
    stop_ = true;
    for (auto& l : loops_) {
      if (l->thread.joinable()) l->thread.join();
    }
  }
  // Sending: rate in messages/s for all senders together; 0 stops.
  // Returns once no message of the previous rate can still be sent: the caller
  // may count what was sent (a pass of SendDue in progress finishes first).
  void SetRate(double rate, int step) {
    std::lock_guard<std::mutex> lock(send_mu_);
    rate_ = rate;
    step_ = step;
    rate_start_ns_ = NowNs();
    ++rate_gen_;  // the sender loop resets its senders' counts when it sees this
    ArmTimer(rate_start_ns_);
  }
  void SetupLatencies(std::vector<double>* out_ms, int64_t after_ns) {
    for (auto& l : loops_) {
      std::lock_guard<std::mutex> lock(l->mu);
      for (auto& c : l->conns) {
        if (c->joined_ns && c->started_ns >= after_ns) out_ms->push_back((c->joined_ns - c->started_ns) / 1e6);
      }
    }
  }

 private:
  struct Loop {
    int epoll = -1;
    int timer = -1;  // the sender loop only
    std::mutex mu;
    std::vector<std::unique_ptr<Conn>> conns;
    std::vector<Conn*> senders;
    std::thread thread;
    int gen = 0;  // the rate generation the sender counts belong to
    // CLOCK_REALTIME minus CLOCK_MONOTONIC (ns), taken once per loop pass: moves
    // the kernel's receive timestamps (wall-clock time) onto the monotonic clock.
    int64_t real_minus_mono = 0;
  };

  Loop& send_loop() { return *loops_.back(); }

  void ArmTimer(int64_t at_ns) {
    itimerspec t{};
    if (at_ns > 0) {
      t.it_value.tv_sec = at_ns / 1000000000;
      t.it_value.tv_nsec = at_ns % 1000000000;
      if (t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0) t.it_value.tv_nsec = 1;
    }
    // steady_clock is CLOCK_MONOTONIC, so scheduled times are timerfd times.
    timerfd_settime(send_loop().timer, TFD_TIMER_ABSTIME, &t, nullptr);
  }

  void Run(Loop& l, bool sending) {
    if (sending) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    std::vector<epoll_event> events(4096);
    std::vector<char> buf(512 * 1024);
    while (!stop_) {
      int n = epoll_wait(l.epoll, events.data(), static_cast<int>(events.size()), 20);
      if (n > 0) {
        timespec real{}, mono{};
        clock_gettime(CLOCK_REALTIME, &real);
        clock_gettime(CLOCK_MONOTONIC, &mono);
        l.real_minus_mono = (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
      }
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == &l.timer) {
          uint64_t expirations;
          while (read(l.timer, &expirations, sizeof expirations) > 0) {
          }
          SendDue(l);
          continue;
        }
        auto* c = static_cast<Conn*>(events[i].data.ptr);
        if (c->state == Conn::kDead) continue;
        if (events[i].events & EPOLLOUT) OnWritable(l, c);
        if (c->state != Conn::kDead && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
          OnReadable(l, c, buf);
        }
      }
    }
  }

  void Dead(Loop& l, Conn* c) {
    if (c->state == Conn::kDead) return;
    if (c->state == Conn::kJoined) {
      g_stats.disconnects.fetch_add(1);
    } else {
      g_stats.failed.fetch_add(1);
    }
    c->state = Conn::kDead;
    epoll_ctl(l.epoll, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
  }

  void WantOut(Loop& l, Conn* c, bool on) {
    if (c->want_out == on) return;
    c->want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.ptr = c;
    epoll_ctl(l.epoll, EPOLL_CTL_MOD, c->fd, &ev);
  }

  void Write(Loop& l, Conn* c, const std::string& bytes) {
    if (bytes.empty() || c->state == Conn::kDead) return;
    if (!c->out.empty()) {
      c->out += bytes;
      return;
    }
    ssize_t n = write(c->fd, bytes.data(), bytes.size());
    if (n == static_cast<ssize_t>(bytes.size())) return;
    if (n < 0 && errno != EAGAIN) return Dead(l, c);
    c->out.assign(bytes, n < 0 ? 0 : n);
    WantOut(l, c, true);
  }

  // A masked client text frame (mask key 0: the XOR is a no-op).
  static std::string ClientFrame(absl::string_view payload, int opcode = 0x1) {
    std::string f;
    f += static_cast<char>(0x80 | opcode);
    size_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xff);
    } else {
      f += static_cast<char>(0x80 | 127);
      for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xff);
    }
    f.append(4, '\0');
    f.append(payload.data(), payload.size());
    return f;
  }

  void OnWritable(Loop& l, Conn* c) {
    if (c->state == Conn::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Dead(l, c);
      WantOut(l, c, false);
      if (proto_ == Proto::kGrpc) return OpenGrpc(l, c);
      c->state = Conn::kUpgrading;
      std::string target = "/ws";
      if (proto_ == Proto::kBridge) {
        target = absl::StrCat("/ws?user=bench-", c->id);
      } else if (proto_ == Proto::kSocketIo) {
        target = "/socket.io/?EIO=4&transport=websocket";
      } else {
        target = "/";
      }
      std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: ", host_, ":", port_,
                                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                     "Sec-WebSocket-Version: 13\r\n\r\n");
      Write(l, c, req);
      return;
    }
    while (!c->out.empty()) {
      ssize_t n = write(c->fd, c->out.data(), c->out.size());
      if (n > 0) {
        c->out.erase(0, n);
      } else if (n < 0 && errno == EAGAIN) {
        return;
      } else {
        return Dead(l, c);
      }
    }
    WantOut(l, c, false);
  }

  void OpenGrpc(Loop& l, Conn* c) {
    c->h2 = std::make_unique<chat::bench::H2Stream>();
    chat::bench::H2Stream::Options o;
    o.authority = absl::StrCat(host_, ":", port_);
    o.path = "/chat.v1.ChatService/Connect";
    o.metadata.emplace_back("x-chat-user", absl::StrCat("grpc-", c->id));
    if (int batch = absl::GetFlag(FLAGS_grpc_batch); batch > 1) {
      o.metadata.emplace_back("x-chat-batch", absl::StrCat(batch));
    }
    std::string bytes = c->h2->Open(o);
    if (c->creator) {
      chat::v1::ClientEvent create;
      create.set_ref("c");
      create.mutable_create_room()->set_name(c->room);
      c->state = Conn::kCreating;
      c->SendEvent(create, &bytes);
    } else {
      c->state = Conn::kJoining;
      c->SendEvent(JoinEvent(c->room), &bytes);
    }
    Write(l, c, bytes);
  }

  void OnReadable(Loop& l, Conn* c, std::vector<char>& buf) {
    for (;;) {
      iovec iov{buf.data(), buf.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
      msghdr mh{};
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      mh.msg_control = control;
      mh.msg_controllen = sizeof control;
      ssize_t r = recvmsg(c->fd, &mh, 0);
      if (r == 0) return Dead(l, c);
      if (r < 0) {
        if (errno == EAGAIN) return;
        return Dead(l, c);
      }
      ReadTime now = ReadTime::Now();
      g_stats.reads.fetch_add(1, std::memory_order_relaxed);
      for (cmsghdr* m = CMSG_FIRSTHDR(&mh); m != nullptr; m = CMSG_NXTHDR(&mh, m)) {
        if (m->cmsg_level != SOL_SOCKET || m->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(m), sizeof ts);
        now.arrival_ns = std::min<int64_t>(now.read_ns, ts.tv_sec * 1000000000LL + ts.tv_nsec - l.real_minus_mono);
        g_stats.stamped_reads.fetch_add(1, std::memory_order_relaxed);
      }
      const char* data = buf.data();
      size_t n = static_cast<size_t>(r);
      std::string joined_in;
      if (!c->in.empty()) {
        c->in.append(data, n);
        joined_in.swap(c->in);
        data = joined_in.data();
        n = joined_in.size();
      }
      size_t used = 0;
      if (proto_ == Proto::kGrpc) {
        used = ParseH2(l, c, data, n, now);
      } else {
        if (c->state == Conn::kUpgrading) {
          const char* e = static_cast<const char*>(memmem(data, n, "\r\n\r\n", 4));
          if (e == nullptr) {
            c->in.assign(data, n);
            continue;
          }
          if (n < 12 || std::memcmp(data + 9, "101", 3) != 0) return Dead(l, c);
          used = (e - data) + 4;
          Opened(l, c);
        }
        used += ParseFrames(l, c, data + used, n - used, now);
      }
      if (c->state == Conn::kDead) return;
      if (used < n) c->in.assign(data + used, n - used);
      if (static_cast<size_t>(r) < buf.size()) return;
    }
  }

  size_t ParseH2(Loop& l, Conn* c, const char* data, size_t n, ReadTime now) {
    std::string replies;
    c->h2_out = &replies;
    c->now = now;
    size_t used = 0;
    auto result = c->h2->Feed(data, n, &used, &replies, c);
    c->h2_out = nullptr;
    Write(l, c, replies);
    if (result != chat::bench::H2Stream::Result::kOk) {
      if (c->state != Conn::kJoined || result == chat::bench::H2Stream::Result::kError) {
        std::fprintf(stderr, "chat-bench: grpc client %d: %s\n", c->id, c->h2->reason().c_str());
      }
      Dead(l, c);
    }
    return used;
  }

  void Opened(Loop& l, Conn* c) {
    switch (proto_) {
      case Proto::kBridge:
        if (c->creator) {
          c->state = Conn::kCreating;
          Write(l, c, ClientFrame(absl::StrCat(R"({"ref":"c","createRoom":{"name":")", c->room, R"("}})")));
        } else {
          c->state = Conn::kJoining;
          Write(l, c, ClientFrame(absl::StrCat(R"({"join":{"room":")", c->room, R"("}})")));
        }
        break;
      case Proto::kSocketIo:
        c->state = Conn::kOpening;  // wait for engine.io "0{...}"
        break;
      case Proto::kFloor:
        c->state = Conn::kJoining;
        Write(l, c, ClientFrame("join"));
        break;
      case Proto::kGrpc:
        break;
    }
  }

  size_t ParseFrames(Loop& l, Conn* c, const char* data, size_t n, ReadTime now) {
    size_t pos = 0;
    while (n - pos >= 2) {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(data + pos);
      int opcode = p[0] & 0x0f;
      uint64_t len = p[1] & 0x7f;
      size_t hdr = 2;
      if (len == 126) {
        if (n - pos < 4) break;
        len = (p[2] << 8) | p[3];
        hdr = 4;
      } else if (len == 127) {
        if (n - pos < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
        hdr = 10;
      }
      if (n - pos < hdr + len) break;
      const char* payload = data + pos + hdr;
      pos += hdr + len;
      if (opcode == 0x9) {
        Write(l, c, ClientFrame(absl::string_view(payload, len), 0xA));
      } else if (opcode == 0x8) {
        Dead(l, c);
        return pos;
      } else if (opcode == 0x1 || opcode == 0x0) {
        OnText(l, c, payload, len, now);
        if (c->state == Conn::kDead) return pos;
      }
    }
    return pos;
  }

  void OnText(Loop& l, Conn* c, const char* p, size_t n, ReadTime now) {
    absl::string_view text(p, n);
    switch (proto_) {
      case Proto::kBridge:
        if (c->state == Conn::kCreating && text.find(R"("ref":"c")") != absl::string_view::npos) {
          // Created, or it already existed: either way, join it.
          c->state = Conn::kJoining;
          Write(l, c, ClientFrame(absl::StrCat(R"({"join":{"room":")", c->room, R"("}})")));
          return;
        }
        if (c->state == Conn::kJoining && text.find("\"joined\":") != absl::string_view::npos) Joined(c);
        if (text.find("\"error\":") != absl::string_view::npos) g_stats.errors.fetch_add(1);
        break;
      case Proto::kSocketIo:
        if (text == "2") return Write(l, c, ClientFrame("3"));  // engine.io ping
        if (c->state == Conn::kOpening && !text.empty() && text[0] == '0') {
          Write(l, c, ClientFrame("40"));
          return;
        }
        if (c->state == Conn::kOpening && text.substr(0, 2) == "40") {
          c->state = Conn::kJoining;
          Write(l, c, ClientFrame(absl::StrCat(R"(42["join",")", c->room, R"("])")));
          return;
        }
        if (c->state == Conn::kJoining && text.substr(0, 11) == R"(42["joined")") {
          Joined(c);
          return;
        }
        break;
      case Proto::kFloor:
        if (c->state == Conn::kJoining && text == "joined") {
          Joined(c);
          return;
        }
        break;
      case Proto::kGrpc:
        break;
    }
    if (!c->sender && c->state == Conn::kJoined) Account(p, n, &c->order, now);
  }

  // The sender loop: sends every message that is due, then arms the timer for
  // the next one.
  void SendDue(Loop& l) {
    std::lock_guard<std::mutex> sending(send_mu_);
    const double rate = rate_;
    const int step = step_;
    const int64_t start = rate_start_ns_;
    const int gen = rate_gen_;
    std::vector<Conn*> senders;
    {
      std::lock_guard<std::mutex> lock(l.mu);
      senders = l.senders;
    }
    if (gen != l.gen) {
      l.gen = gen;
      for (Conn* s : senders) sent_by_[s->sender_id] = 0;
    }
    if (rate <= 0 || senders.empty()) return;
    const double per_sender = rate / static_cast<double>(senders.size());
    const int size = absl::GetFlag(FLAGS_size);
    int64_t now = NowNs();
    int64_t next = INT64_MAX;
    for (Conn* s : senders) {
      int64_t& sent = sent_by_[s->sender_id];
      // Message k is scheduled at start + k / rate: k + 1 are due at time `now`.
      int64_t due = static_cast<int64_t>((now - start) / 1e9 * per_sender) + 1;
      if (s->state != Conn::kJoined) {
        sent = std::max(sent, due);  // a sender that is not in the room skips its turn
      }
      std::string batch;
      thread_local std::vector<int64_t> scheduled;
      scheduled.clear();
      while (sent < due) {
        // The time this message was due, not when we got to it.
        int64_t sched = start + static_cast<int64_t>(sent * 1e9 / per_sender);
        int64_t counter = counter_[s->sender_id]++;
        std::string payload = MakePayload(step, s->sender_id, counter, sched, size);
        switch (proto_) {
          case Proto::kBridge:
            batch += ClientFrame(absl::StrCat(R"({"send":{"room":")", s->room, R"(","text":")", payload,
                                              R"(","clientMsgId":")", s->sender_id, "-", counter, R"("}})"));
            break;
          case Proto::kSocketIo:
            batch += ClientFrame(absl::StrCat(R"(42["chat message",{"room":")", s->room, R"(","text":")",
                                              payload, R"("}])"));
            break;
          case Proto::kFloor:
            batch += ClientFrame(payload);
            break;
          case Proto::kGrpc: {
            chat::v1::ClientEvent ev;
            auto* send = ev.mutable_send();
            send->set_room(s->room);
            send->set_text(payload);
            send->set_client_msg_id(absl::StrCat(s->sender_id, "-", counter));
            s->SendEvent(ev, &batch);
            break;
          }
        }
        ++sent;
        g_stats.sent[step].fetch_add(1, std::memory_order_relaxed);
        scheduled.push_back(sched);
      }
      Write(l, s, batch);
      const int64_t written = NowNs(), measure_from = g_stats.measure_from_ns.load(std::memory_order_relaxed);
      for (int64_t sched : scheduled) {
        if (sched >= measure_from) g_stats.send_lag[step]->Add((written - sched) / 1000);
      }
      next = std::min(next, start + static_cast<int64_t>(std::ceil(sent * 1e9 / per_sender)));
    }
    // SetRate waits for this pass (send_mu_), then arms the timer for its own schedule.
    if (next != INT64_MAX) ArmTimer(std::max(next, now + 1000));
  }

  Proto proto_;
  std::string host_;
  int port_;
  std::vector<std::unique_ptr<Loop>> loops_;
  int next_loop_ = 0;
  std::atomic<int> next_id_{0};
  std::atomic<bool> stop_{false};
  // Held by a pass of SendDue and by SetRate: guards the rate and its schedule
  // below, and keeps a new rate from starting while a pass still sends.
  std::mutex send_mu_;
  double rate_ = 0;
  int step_ = 0;
  int64_t rate_start_ns_ = 0;
  int rate_gen_ = 0;
  int64_t sent_by_[kMaxSenders] = {};
  int64_t counter_[kMaxSenders] = {};
};

// ---------------------------------------------------------------------------
// gRPC C++ library clients (--grpc_client=library), for comparison.

class GrpcConn : public grpc::ClientBidiReactor<chat::v1::ClientEvent, chat::v1::ServerEvent> {
 public:
  GrpcConn(chat::v1::ChatService::Stub* stub, const std::string& name, bool sender, int sender_id)
      : sender_(sender), sender_id_(sender_id) {
    ctx_.AddMetadata("x-chat-user", name);
    if (int batch = absl::GetFlag(FLAGS_grpc_batch); batch > 1) {
      ctx_.AddMetadata("x-chat-batch", absl::StrCat(batch));
    }
    started_ns_ = NowNs();
    stub->async()->Connect(&ctx_, this);
    AddHold();
    StartRead(&in_);
    Write(JoinEvent(absl::GetFlag(FLAGS_room)));
    StartCall();
  }
  void Write(chat::v1::ClientEvent ev) {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    queue_.push_back(std::move(ev));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.pop_front();
    if (ok && !queue_.empty()) {
      StartWrite(&queue_.front());
    } else {
      writing_ = false;
    }
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      if (joined_) {
        g_stats.disconnects.fetch_add(1);
      } else {
        g_stats.failed.fetch_add(1);
      }
      if (!done_) {
        done_ = true;
        RemoveHold();
      }
      return;
    }
    if (in_.has_batch()) {
      for (const auto& event : in_.batch().events()) OnEvent(event);
    } else {
      OnEvent(in_);
    }
    StartRead(&in_);
  }
  void OnEvent(const chat::v1::ServerEvent& event) {
    if (event.has_joined() && !joined_) {
      joined_ = true;
      joined_ns_ = NowNs();
      g_stats.joined.fetch_add(1);
    } else if (event.has_message() && !sender_ && joined_) {
      const std::string& t = event.message().text();
      Account(t.data(), t.size(), &order_, ReadTime::Now());
    } else if (event.has_error()) {
      g_stats.errors.fetch_add(1);
    }
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    cv_.notify_all();
  }
  void Cancel() { ctx_.TryCancel(); }
  void WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return finished_; });
  }
  bool sender() const { return sender_; }
  int sender_id() const { return sender_id_; }
  double setup_ms() const { return joined_ns_ ? (joined_ns_ - started_ns_) / 1e6 : -1; }
  int64_t started_ns() const { return started_ns_; }

 private:
  grpc::ClientContext ctx_;
  chat::v1::ServerEvent in_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<chat::v1::ClientEvent> queue_;
  bool writing_ = false;
  bool done_ = false;
  bool finished_ = false;
  std::atomic<bool> joined_{false};
  const bool sender_;
  const int sender_id_;
  OrderState order_;
  int64_t started_ns_ = 0;
  int64_t joined_ns_ = 0;
};

class GrpcLibClients {
 public:
  explicit GrpcLibClients(std::string addr) : addr_(std::move(addr)) {}
  ~GrpcLibClients() {
    StopSending();
    for (auto* c : conns_) c->Cancel();
    for (auto* c : conns_) c->WaitDone();
    for (auto* c : conns_) delete c;
  }
  void Open(bool sender, int sender_id) {
    int per = std::max(1, absl::GetFlag(FLAGS_streams_per_channel));
    if (stubs_.empty() || streams_on_last_ >= per) {
      grpc::ChannelArguments args;
      args.SetInt("grpc.channel_id", static_cast<int>(stubs_.size()));
      if (!absl::GetFlag(FLAGS_grpc_bdp_probe)) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      stubs_.push_back(chat::v1::ChatService::NewStub(
          grpc::CreateCustomChannel(addr_, grpc::InsecureChannelCredentials(), args)));
      streams_on_last_ = 0;
    }
    ++streams_on_last_;
    auto* c = new GrpcConn(stubs_.back().get(), absl::StrCat("grpc-", conns_.size()), sender, sender_id);
    conns_.push_back(c);
    if (sender) senders_.push_back(c);
  }
  void SetRate(double rate, int step) {
    StopSending();
    if (rate <= 0) return;
    stop_ = false;
    sender_thread_ = std::thread([this, rate, step] {
      prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
      int64_t start = NowNs();
      double per_sender = rate / senders_.size();
      std::vector<int64_t> sent(senders_.size(), 0);
      int size = absl::GetFlag(FLAGS_size);
      while (!stop_) {
        int64_t now = NowNs();
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < senders_.size(); ++i) {
          int64_t due = static_cast<int64_t>((now - start) / 1e9 * per_sender) + 1;
          while (sent[i] < due) {
            int64_t sched = start + static_cast<int64_t>(sent[i] * 1e9 / per_sender);
            int id = senders_[i]->sender_id();
            int64_t counter = counter_[id]++;
            chat::v1::ClientEvent ev;
            auto* s = ev.mutable_send();
            s->set_room(absl::GetFlag(FLAGS_room));
            s->set_text(MakePayload(step, id, counter, sched, size));
            s->set_client_msg_id(absl::StrCat(id, "-", counter));
            senders_[i]->Write(std::move(ev));
            ++sent[i];
            g_stats.sent[step].fetch_add(1, std::memory_order_relaxed);
          }
          next = std::min(next, start + static_cast<int64_t>(std::ceil(sent[i] * 1e9 / per_sender)));
        }
        timespec ts{static_cast<time_t>(next / 1000000000), static_cast<long>(next % 1000000000)};
        // Short sleeps so StopSending is prompt.
        int64_t cap = NowNs() + 20000000;
        if (next > cap) ts = {static_cast<time_t>(cap / 1000000000), static_cast<long>(cap % 1000000000)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      }
    });
  }
  void StopSending() {
    stop_ = true;
    if (sender_thread_.joinable()) sender_thread_.join();
  }
  void SetupTimes(std::vector<double>* out, int64_t after_ns) {
    for (auto* c : conns_) {
      if (c->setup_ms() >= 0 && c->started_ns() >= after_ns) out->push_back(c->setup_ms());
    }
  }

 private:
  std::string addr_;
  std::vector<std::unique_ptr<chat::v1::ChatService::Stub>> stubs_;
  int streams_on_last_ = 0;
  std::vector<GrpcConn*> conns_;
  std::vector<GrpcConn*> senders_;
  std::thread sender_thread_;
  std::atomic<bool> stop_{false};
  int64_t counter_[kMaxSenders] = {};
};

// ---------------------------------------------------------------------------

struct Target {
  std::unique_ptr<Loops> loops;
  std::unique_ptr<GrpcLibClients> lib;
  void Open(bool sender, int sender_id, int index) {
    if (loops) loops->Open(sender, sender_id, index);
    else lib->Open(sender, sender_id);
  }
  void SetRate(double r, int step) {
    if (loops) loops->SetRate(r, step);
    else lib->SetRate(r, step);
  }
  void SetupTimes(std::vector<double>* out, int64_t after_ns) {
    if (loops) loops->SetupLatencies(out, after_ns);
    else lib->SetupTimes(out, after_ns);
  }
  void Stop() {
    if (loops) loops->Stop();
  }
};

bool WaitJoined(int64_t want, double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline && g_stats.failed.load() == 0) {
    if (g_stats.joined.load() >= want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return g_stats.joined.load() >= want;
}

// Why a wait for `want` joined clients came up short.
std::string JoinShortfall(int64_t want, const char* who) {
  std::string why = absl::StrCat("only ", g_stats.joined.load(), " of ", want, " ", who, " joined");
  if (int64_t f = g_stats.failed.load(); f > 0) {
    absl::StrAppend(&why, "; ", f, " connection(s) ended before joining (is ", absl::GetFlag(FLAGS_target),
                    " at --addr=", absl::GetFlag(FLAGS_addr), " up?)");
  }
  return why;
}

std::string Common() {
  return absl::StrFormat(
      R"("target":"%s","scenario":"%s","label":"%s","subscribers":%d,"senders":%d,"size":%d,"rooms":%d,"grpc_client":"%s","grpc_batch":%d)",
      absl::GetFlag(FLAGS_target), absl::GetFlag(FLAGS_scenario), absl::GetFlag(FLAGS_label),
      absl::GetFlag(FLAGS_subscribers), absl::GetFlag(FLAGS_senders), absl::GetFlag(FLAGS_size),
      std::max(1, absl::GetFlag(FLAGS_rooms)), absl::GetFlag(FLAGS_grpc_client),
      absl::GetFlag(FLAGS_grpc_batch));
}

[[noreturn]] void Fail(const std::string& why) {
  std::printf("{%s,\"error\":\"%s\"}\n", Common().c_str(), why.c_str());
  std::fflush(stdout);
  std::_Exit(1);  // clients may still be connecting; do not wait for them
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string target = absl::GetFlag(FLAGS_target);
  std::string addr = absl::GetFlag(FLAGS_addr);
  std::string scenario = absl::GetFlag(FLAGS_scenario);
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "chat-bench: --addr must be host:port\n");
    return 2;
  }
  std::string host = addr.substr(0, colon);
  int port = std::atoi(addr.c_str() + colon + 1);
  const int n = absl::GetFlag(FLAGS_subscribers);
  const int s = std::min(absl::GetFlag(FLAGS_senders), kMaxSenders);
  const int rooms = std::max(1, absl::GetFlag(FLAGS_rooms));
  std::vector<int> pids = ParseInts(absl::GetFlag(FLAGS_pids));
  if (scenario != "fanout" && scenario != "latency" && scenario != "memory" && scenario != "setup") {
    std::fprintf(stderr, "chat-bench: unknown --scenario %s\n", scenario.c_str());
    return 2;
  }
  FILE* trace_file = nullptr;
  if (const std::string trace = absl::GetFlag(FLAGS_latency_trace); !trace.empty()) {
    if (scenario != "latency") {
      std::fprintf(stderr, "chat-bench: --latency_trace needs --scenario=latency\n");
      return 2;
    }
    // Opened before the run, so a bad path fails at once, not after it.
    trace_file = std::fopen(trace.c_str(), "w");
    if (trace_file == nullptr) {
      std::fprintf(stderr, "chat-bench: cannot write --latency_trace=%s: %s\n", trace.c_str(), std::strerror(errno));
      return 2;
    }
  }

  std::vector<int> cpus = ParseInts(absl::GetFlag(FLAGS_cpus));
  if (!cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
      // Measure anyway, unpinned, and say so.
      std::fprintf(stderr, "chat-bench: cannot pin to --cpus=%s (%s); running unpinned\n",
                   absl::GetFlag(FLAGS_cpus).c_str(), std::strerror(errno));
    }
  }

  if (int batch = absl::GetFlag(FLAGS_grpc_batch); batch < 1 || batch > 1024) {
    std::fprintf(stderr, "chat-bench: --grpc_batch must be from 1 to 1024, not %d\n", batch);
    return 2;
  }
  Target t;
  bool library = target == "grpc" && absl::GetFlag(FLAGS_grpc_client) == "library";
  if (library) {
    if (rooms > 1) {
      std::fprintf(stderr, "chat-bench: --rooms needs --grpc_client=h2\n");
      return 2;
    }
    t.lib = std::make_unique<GrpcLibClients>(addr);
  } else {
    Proto proto;
    if (target == "bridge") {
      proto = Proto::kBridge;
    } else if (target == "socketio") {
      proto = Proto::kSocketIo;
    } else if (target == "floor") {
      proto = Proto::kFloor;
      if (rooms > 1) {
        std::fprintf(stderr, "chat-bench: the floor server has one room\n");
        return 2;
      }
    } else if (target == "grpc") {
      proto = Proto::kGrpc;
      if (absl::GetFlag(FLAGS_grpc_client) != "h2") {
        std::fprintf(stderr, "chat-bench: --grpc_client must be h2 or library\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "chat-bench: unknown --target %s\n", target.c_str());
      return 2;
    }
    t.loops = std::make_unique<Loops>(proto, host, port, std::max(1, absl::GetFlag(FLAGS_threads)));
    t.loops->Start();
  }

  ProcSample before_all = SampleProcs(pids);

  // Each room's creator first (they create the rooms the others join).
  int opened = 0;
  if (rooms > 1) {
    for (; opened < std::min(rooms, n); ++opened) t.Open(false, 0, opened);
    if (!WaitJoined(opened, absl::GetFlag(FLAGS_connect_timeout))) {
      Fail(JoinShortfall(opened, "room creators"));
    }
  }

  if (scenario == "setup") {
    // connect -> joined with --inflight at once.
    const int inflight = absl::GetFlag(FLAGS_inflight);
    const int64_t base = g_stats.joined.load();
    const int timed = n - opened;
    auto start = Clock::now();
    int64_t start_ns = NowNs();
    double cpu0 = SelfCpu();
    ProcSample p0 = SampleProcs(pids);
    while (g_stats.joined.load() - base < timed) {
      while (opened < n && (opened - base) - (g_stats.joined.load() - base) < inflight) {
        t.Open(false, 0, opened);
        ++opened;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (g_stats.failed.load() > 0) break;
      if (Clock::now() - start > std::chrono::duration<double>(absl::GetFlag(FLAGS_connect_timeout))) break;
    }
    if (g_stats.failed.load() > 0) Fail(JoinShortfall(base + timed, "clients"));
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    ProcSample p1 = SampleProcs(pids);
    int64_t joined = g_stats.joined.load() - base;
    std::vector<double> lat;
    t.SetupTimes(&lat, start_ns);
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))]; };
    std::printf("{%s,\"connections\":%d,\"joined\":%lld,\"seconds\":%.3f,\"setups_per_s\":%.0f,"
                "\"setup_p50_ms\":%.2f,\"setup_p99_ms\":%.2f,\"server_cpu_s\":%.3f,\"gen_cpu_s\":%.3f}\n",
                Common().c_str(), timed, static_cast<long long>(joined), secs, joined / secs, pct(0.5), pct(0.99),
                p1.cpu_s - p0.cpu_s, SelfCpu() - cpu0);
    std::fflush(stdout);
    t.Stop();
    std::_Exit(joined == timed ? 0 : 1);
  }

  // Connect everyone: subscribers first, then senders.
  for (int i = opened; i < n; ++i) {
    t.Open(false, 0, i);
    if (i % 64 == 63) WaitJoined(i + 1 - 128, absl::GetFlag(FLAGS_connect_timeout));  // pace the burst
  }
  for (int i = 0; i < s; ++i) t.Open(true, i, 0);
  if (!WaitJoined(n + s, absl::GetFlag(FLAGS_connect_timeout))) {
    Fail(JoinShortfall(n + s, "clients"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let join-time traffic settle

  if (scenario == "memory") {
    // Idle for a while: the servers settle (they return freed memory every 2 s).
    std::this_thread::sleep_for(std::chrono::seconds(5));
    ProcSample after = SampleProcs(pids);
    std::printf("{%s,\"connections\":%d,\"rss_before_kb\":%.0f,\"rss_after_kb\":%.0f,\"pss_before_kb\":%.0f,"
                "\"pss_after_kb\":%.0f,\"rss_per_conn_kb\":%.2f,\"pss_per_conn_kb\":%.2f,\"disconnects\":%lld}\n",
                Common().c_str(), n + s, before_all.rss_kb, after.rss_kb, before_all.pss_kb, after.pss_kb,
                (after.rss_kb - before_all.rss_kb) / (n + s), (after.pss_kb - before_all.pss_kb) / (n + s),
                static_cast<long long>(g_stats.disconnects.load()));
    std::fflush(stdout);
    t.Stop();
    std::_Exit(0);
  }

  std::vector<double> rates;
  for (absl::string_view r : absl::StrSplit(absl::GetFlag(FLAGS_rates), ',', absl::SkipEmpty())) {
    double v;
    if (absl::SimpleAtod(r, &v) && v > 0) rates.push_back(v);
  }
  const double duration = absl::GetFlag(FLAGS_duration);
  const double warmup = absl::GetFlag(FLAGS_warmup);
  const bool per_message = scenario == "latency" && !rates.empty();
  if (per_message) {
    // Counters run on from the start: room for every message this run sends.
    int senders = std::max(1, absl::GetFlag(FLAGS_senders));
    double seconds = rates.size() * (warmup + duration + absl::GetFlag(FLAGS_drain) + 1);
    double most = *std::max_element(rates.begin(), rates.end());
    g_messages.Enable(senders, static_cast<size_t>(std::min(4e6, most / senders * seconds * 1.5 + 1024)));
  }
  int exit_code = 0;
  for (size_t step = 0; step < rates.size() && step < kMaxSteps; ++step) {
    int st = static_cast<int>(step);
    g_stats.measure_from_ns.store(NowNs() + static_cast<int64_t>(warmup * 1e9));
    int64_t ooo0 = g_stats.out_of_order.load(), disc0 = g_stats.disconnects.load(), dup0 = g_stats.duplicates.load();
    t.SetRate(rates[step], st);
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    ProcSample p0 = SampleProcs(pids);
    double cpu0 = SelfCpu();
    int64_t recv0 = g_stats.received[st].load();
    auto w0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(duration));
    double window = std::chrono::duration<double>(Clock::now() - w0).count();
    int64_t recv_window = g_stats.received[st].load() - recv0;
    ProcSample p1 = SampleProcs(pids);
    double gen_cpu = SelfCpu() - cpu0;
    t.SetRate(0, st);
    // Drain: every message of the step should reach every subscriber.
    int64_t expected = g_stats.sent[st].load() * n;
    auto drain_deadline = Clock::now() + std::chrono::duration<double>(absl::GetFlag(FLAGS_drain));
    while (g_stats.received[st].load() < expected && Clock::now() < drain_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    int64_t lost = expected - g_stats.received[st].load();
    const Histogram& h = *g_stats.latency[st];
    const Histogram& arrival = *g_stats.arrival[st];
    const Histogram& send_lag = *g_stats.send_lag[st];
    double server_cpu = p1.cpu_s - p0.cpu_s;
    std::string per_message_json;
    if (per_message && step + 1 == rates.size()) {
      MessageLatencies::Summary m = g_messages.Summarize();
      per_message_json = absl::StrFormat(
          "\"messages_measured\":%d,\"first_p50_ms\":%.3f,\"first_p99_ms\":%.3f,\"last_p50_ms\":%.3f,"
          "\"last_p99_ms\":%.3f,",
          m.messages, m.first_p50, m.first_p99, m.last_p50, m.last_p99);
    }
    double deliveries_per_s = recv_window / window;
    bool ok = lost == 0 && h.Percentile(0.99) <= absl::GetFlag(FLAGS_max_p99_ms) &&
              g_stats.out_of_order.load() == ooo0 && g_stats.duplicates.load() == dup0 &&
              g_stats.disconnects.load() == disc0;
    std::printf(
        "{%s,\"step\":%d,\"offered_msgs_per_s\":%.1f,\"sent\":%lld,\"expected\":%lld,\"lost\":%lld,"
        "\"out_of_order\":%lld,\"duplicates\":%lld,\"disconnects\":%lld,\"errors\":%lld,"
        "\"deliveries_per_s\":%.0f,\"server_cpu_s\":%.3f,\"server_cpu_util\":%.3f,"
        "\"deliveries_per_server_cpu_s\":%.0f,\"gen_cpu_util\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
        "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"arrival_p50_ms\":%.3f,\"arrival_p99_ms\":%.3f,\"arrival_max_ms\":%.3f,"
        "\"send_lag_p50_ms\":%.3f,\"send_lag_p99_ms\":%.3f,\"send_lag_max_ms\":%.3f,\"stamped_reads\":%.4f,"
        "%s\"server_rss_kb\":%.0f,\"ok\":%s,\"valid\":%s}\n",
        Common().c_str(), st, rates[step], static_cast<long long>(g_stats.sent[st].load()),
        static_cast<long long>(expected), static_cast<long long>(lost),
        static_cast<long long>(g_stats.out_of_order.load() - ooo0),
        static_cast<long long>(g_stats.duplicates.load() - dup0),
        static_cast<long long>(g_stats.disconnects.load() - disc0), static_cast<long long>(g_stats.errors.load()),
        deliveries_per_s, server_cpu, server_cpu / window,
        server_cpu > 0 ? recv_window / server_cpu : 0.0, gen_cpu / window, h.Percentile(0.5), h.Percentile(0.9),
        h.Percentile(0.99), h.max_ms(), arrival.Percentile(0.5), arrival.Percentile(0.99), arrival.max_ms(),
        send_lag.Percentile(0.5), send_lag.Percentile(0.99), send_lag.max_ms(),
        static_cast<double>(g_stats.stamped_reads.load()) / std::max<int64_t>(1, g_stats.reads.load()),
        per_message_json.c_str(), p1.rss_kb, ok ? "true" : "false", gen_cpu / window < 0.9 ? "true" : "false");
    std::fflush(stdout);
    if (!ok) {
      exit_code = scenario == "latency" ? 1 : 0;
      if (scenario == "fanout") break;
    }
  }
  t.Stop();
  t.lib.reset();
  if (trace_file != nullptr && !g_messages.Write(trace_file)) {
    std::fprintf(stderr, "chat-bench: cannot write --latency_trace=%s: %s\n",
                 absl::GetFlag(FLAGS_latency_trace).c_str(), std::strerror(errno));
    return 2;
  }
  return exit_code;
}
