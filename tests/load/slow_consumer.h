// chat-bench's slow-consumer scenario: among N readers of a room, one stops
// reading. Two arms in one run on the same connections: first everyone reads
// (the baseline), then the watched reader (opened with a small SO_RCVBUF) stops
// calling recv at the start of the measurement, so its backlog goes into the
// server's per-connection queue until the server cuts it off at its bound
// (ws-bridge: --max_queued_events / --max_queued_bytes, close 1008; chat-core:
// --stream_queue_events). The row compares the other N-1 readers' latency in
// the two arms and says when and how the stopped one was closed.
#ifndef CHAT_TESTS_LOAD_SLOW_CONSUMER_H_
#define CHAT_TESTS_LOAD_SLOW_CONSUMER_H_

#include <string>

#include "bench_options.h"
#include "bench_stats.h"
#include "client_loops.h"
#include "wire_protocol.h"

namespace chat::bench {

// Threading: a plain value read by the scenario's thread. Lifetime: the
// references outlive the call.
struct SlowConsumerRun {
  const BenchOptions& options;
  Stats& stats;        // the measured readers' deliveries (the watched one's go to `watch`)
  ClientLoops& loops;  // everyone connected and joined, the watched reader included
  Watch& watch;
  int readers;         // measured readers: options.subscribers - 1
  std::string common;  // the fields every row starts with
};

// Runs both arms, prints one JSON row (and a summary on stderr); returns 0 for
// PASS, 1 for MISS.
int RunSlowConsumer(const SlowConsumerRun& run);

// Threading: a plain value. Lifetime: copied out of ScrapeMetrics.
// What a server's /metrics says about slow consumers.
struct MetricsScrape {
  bool ok = false;          // answered 200 with a body
  double slow_closes = 0;   // the sum of every sample labelled reason="slow_consumer"
  double queue_max = 0;     // chat_bridge_queue_events_max / chat_core_stream_queue_events_max
};

// GET http://host:port/metrics (IPv4), with 1 s timeouts; ok false if it fails.
MetricsScrape ScrapeMetrics(const std::string& host_port);
// The same from a Prometheus text body (slow_consumer_test.cc checks it).
MetricsScrape ParseMetrics(const std::string& body);

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_SLOW_CONSUMER_H_
