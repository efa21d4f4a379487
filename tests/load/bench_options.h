// The settings of one chat-bench run: which server to load, how, and what to
// measure. chat_bench_main.cc fills a BenchOptions from its flags; everything
// else reads this struct, never a flag.
#ifndef CHAT_TESTS_LOAD_BENCH_OPTIONS_H_
#define CHAT_TESTS_LOAD_BENCH_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace chat::bench {

// "1,2,x,3" -> {1, 2, 3}: the entries that are whole numbers.
std::vector<int> ParseIntList(const std::string& list);

// "100,200.5" -> {100, 200.5}: the entries that are positive numbers.
std::vector<double> ParseRates(const std::string& list);

// Threading: a plain value, read by every thread of a run and changed by none.
// Lifetime: made by main() before the run; outlives every client of the run.
struct BenchOptions {
  // grpc, bridge, socketio or floor: the wire protocol the clients speak.
  std::string target = "bridge";
  // Server address (host:port).
  std::string addr = "127.0.0.1:8080";
  // Where receivers connect, in turn (empty: addr): senders on one chat-core
  // node and receivers on others measure delivery across nodes.
  std::vector<std::string> receiver_addrs;
  // fanout, latency, memory, setup or slow-consumer (chat_bench_main.cc's header
  // says what each does).
  std::string scenario = "fanout";
  // Receiving clients.
  int subscribers = 1000;
  // Sending clients (also members of the room).
  int senders = 1;
  // Messages per second of all senders together, one entry per step (fanout
  // runs them in turn; latency normally has one).
  std::vector<double> rates = {1000};
  // Measured per step.
  absl::Duration duration = absl::Seconds(5);
  // Load before measuring each step.
  absl::Duration warmup = absl::Seconds(1);
  // How long to wait for the last messages of a step.
  absl::Duration drain = absl::Seconds(3);
  // Message text bytes.
  int size = 64;
  // The room when rooms == 1 (must exist; lobby always does).
  std::string room = "lobby";
  // memory/setup: spread the clients over this many rooms (bench-0 ...), each
  // created by its first client.
  int rooms = 1;
  // Server processes whose CPU and memory are accounted to the server.
  std::vector<int> pids;
  // Receiving event-loop threads of the generator.
  int threads = 1;
  // Pin the generator to these CPUs; empty: no pinning.
  std::vector<int> cpus;
  // setup: connections being set up at once.
  int inflight = 64;
  // fanout: a step fails when its p99 exceeds this.
  absl::Duration max_p99 = absl::Milliseconds(1000);
  // Free text copied into every output row.
  std::string label;
  // grpc: h2 (the generator's own HTTP/2 client) or library (gRPC C++).
  std::string grpc_client = "h2";
  // grpc: ask chat-core for up to this many queued events per message (x-chat-batch).
  int grpc_batch = 1;
  // grpc_client == library: streams sharing one channel.
  int streams_per_channel = 1;
  // grpc_client == library: let channels probe bandwidth (gRPC's default).
  bool grpc_bdp_probe = true;
  // latency: the file that gets one line per measured message ("" for none).
  std::string latency_trace;
  // Allowed to connect and join everyone.
  absl::Duration connect_timeout = absl::Seconds(120);
  // slow-consumer: SO_RCVBUF of the reader that stops reading (bytes; the kernel
  // doubles it), so that the server's queue for it, not the kernel, takes the backlog.
  int slow_rcvbuf = 4096;
  // slow-consumer: the server's Prometheus endpoint (host:port; "" none), read while
  // the reader is stopped for when the server cut it off and its longest queue.
  std::string metrics_addr;
  // slow-consumer: once the stopped reader reads again, how long its connection
  // may take to show that it ended (the bytes the kernel still held come first).
  absl::Duration close_wait = absl::Seconds(10);
  // slow-consumer: the target: the readers' p99 with the stopped one at most this
  // many times their p99 without it.
  double max_ratio = 2;
};

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_BENCH_OPTIONS_H_
