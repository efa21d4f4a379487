// chat-bench: the load generator. Every client is a non-blocking socket on an
// epoll loop (many connections per thread, TCP_NODELAY, up to 512 KiB per read,
// every frame in a read accounted at once). Receivers run on --threads loops;
// senders run on a loop of their own that wakes on a timerfd at each message's
// scheduled time, so a busy receiver loop never delays a send and no sleep
// granularity is added to latency. Server CPU comes from /proc/<pid>/stat of
// --pids; the generator's own CPU from getrusage. kUsage below (what --help
// prints) lists the protocols and the scenarios.
//
// This file only reads the flags into a BenchOptions; scenarios.cc runs it.
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench_options.h"
#include "chat/server_main.h"
#include "scenarios.h"

ABSL_FLAG(std::string, target, "bridge", "grpc, bridge, socketio or floor");
ABSL_FLAG(std::string, addr, "127.0.0.1:8080", "Server address (host:port).");
ABSL_FLAG(std::string, receiver_addrs, "",
          "Comma-separated host:port the receivers connect to, in turn (default: --addr): senders on one chat-core "
          "node and receivers on others measure delivery across nodes.");
ABSL_FLAG(std::string, scenario, "fanout", "fanout, latency, memory, setup or slow-consumer");
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
ABSL_FLAG(int, slow_rcvbuf, 4096, "slow-consumer: SO_RCVBUF (bytes) of the reader that stops reading.");
ABSL_FLAG(std::string, metrics_addr, "",
          "slow-consumer: the server's /metrics (host:port), read while the reader is stopped: when the server "
          "cut it off (its slow_consumer count) and its longest outbound queue.");
ABSL_FLAG(double, close_wait, 10,
          "slow-consumer: seconds the stopped reader, reading again, may take to show its connection ended.");
ABSL_FLAG(double, max_ratio, 2, "slow-consumer: PASS if the readers' p99 with the stopped one is at most this "
          "many times their p99 without it.");

namespace {

constexpr char kUsage[] = R"(loads a chat server with many clients and prints what it measured.
Usage: chat-bench --target=T --addr=host:port --scenario=S [flags]

Targets (--target), the protocol the clients speak:
  grpc      chat.v1 Connect straight to chat-core, over the generator's own HTTP/2
            client; --grpc_client=library uses the gRPC C++ library instead (one
            channel per client, its own threads)
  bridge    ws-bridge's WebSocket JSON protocol (several events per frame)
  socketio  socket.io v4 over raw WebSocket (engine.io v4 framing)
  floor     the floor reference server (raw text frames)

Scenarios (--scenario), each printing one JSON line (per rate step for fanout):
  fanout   N subscribers + S senders in one room; rate steps until loss or p99 > 1 s
  latency  one fixed offered load, latency measured from each message's scheduled
           send time; also per message its first delivery (the server's own path) and
           its last (first_/last_p50_ms, _p99_ms); --latency_trace=FILE lists every
           message. Every row also splits latency: arrival_*_ms ends at the kernel's
           receive timestamp of the bytes (SO_TIMESTAMPNS; stamped_reads is the share
           of reads that had one) instead of the generator's read, and send_lag_*_ms
           is how late the sender's write returned against the schedule
  memory   N idle joined clients; RSS/PSS of the server processes before and after
  setup    connect -> joined for N clients, --inflight at once
  slow-consumer
           N readers (--subscribers, one of them with a small --slow_rcvbuf) and S
           senders at the first --rates: an arm where all read, then an arm where
           that one stops reading at the start of the measurement. The row gives
           the other N-1's p50/p99 in both arms and their ratio, when the server
           cut the stopped one off (--metrics_addr) and what its connection showed
           once it read again (close code, EOF...), and "verdict": PASS if it was
           cut off, the others lost nothing, and p99 with / without <= --max_ratio.
           --target bridge or grpc (h2). Also a summary on stderr.
--rooms=R spreads the clients over R rooms (bench-0 ... bench-R-1, created by their
first client) for memory and setup.

Exit codes: 0 done; 1 the run failed (a client could not join: its JSON line has an
"error"; or a latency step was not ok; or slow-consumer's verdict is MISS); 2 bad flags.)";

}  // namespace

int main(int argc, char** argv) {
  chat::ParseServerFlags(argc, argv, kUsage, "tests/load/chat_bench_main.cc");
  chat::bench::BenchOptions o;
  o.target = absl::GetFlag(FLAGS_target);
  o.addr = absl::GetFlag(FLAGS_addr);
  for (absl::string_view a : absl::StrSplit(absl::GetFlag(FLAGS_receiver_addrs), ',', absl::SkipEmpty())) {
    o.receiver_addrs.emplace_back(a);
  }
  o.scenario = absl::GetFlag(FLAGS_scenario);
  o.subscribers = absl::GetFlag(FLAGS_subscribers);
  o.senders = absl::GetFlag(FLAGS_senders);
  o.rates = chat::bench::ParseRates(absl::GetFlag(FLAGS_rates));
  o.duration = absl::Seconds(absl::GetFlag(FLAGS_duration));
  o.warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup));
  o.drain = absl::Seconds(absl::GetFlag(FLAGS_drain));
  o.size = absl::GetFlag(FLAGS_size);
  o.room = absl::GetFlag(FLAGS_room);
  o.rooms = absl::GetFlag(FLAGS_rooms);
  o.pids = chat::bench::ParseIntList(absl::GetFlag(FLAGS_pids));
  o.threads = absl::GetFlag(FLAGS_threads);
  o.cpus = chat::bench::ParseIntList(absl::GetFlag(FLAGS_cpus));
  o.inflight = absl::GetFlag(FLAGS_inflight);
  o.max_p99 = absl::Milliseconds(absl::GetFlag(FLAGS_max_p99_ms));
  o.label = absl::GetFlag(FLAGS_label);
  o.grpc_client = absl::GetFlag(FLAGS_grpc_client);
  o.grpc_batch = absl::GetFlag(FLAGS_grpc_batch);
  o.streams_per_channel = absl::GetFlag(FLAGS_streams_per_channel);
  o.grpc_bdp_probe = absl::GetFlag(FLAGS_grpc_bdp_probe);
  o.latency_trace = absl::GetFlag(FLAGS_latency_trace);
  o.connect_timeout = absl::Seconds(absl::GetFlag(FLAGS_connect_timeout));
  o.slow_rcvbuf = absl::GetFlag(FLAGS_slow_rcvbuf);
  o.metrics_addr = absl::GetFlag(FLAGS_metrics_addr);
  o.close_wait = absl::Seconds(absl::GetFlag(FLAGS_close_wait));
  o.max_ratio = absl::GetFlag(FLAGS_max_ratio);
  return chat::bench::RunBench(o);
}
