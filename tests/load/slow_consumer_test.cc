// ParseMetrics: what the slow-consumer scenario reads from a server's /metrics
// (the slow-consumer close count and the longest outbound queue), on exposition
// text shaped like ws-bridge's and chat-core's.
#include "gtest/gtest.h"
#include "slow_consumer.h"

namespace chat::bench {
namespace {

TEST(ParseMetricsTest, BridgeDisconnectsAndQueue) {
  MetricsScrape m = ParseMetrics(
      "# HELP chat_bridge_disconnects_total WebSockets the bridge closed\n"
      "# TYPE chat_bridge_disconnects_total counter\n"
      "chat_bridge_disconnects_total{reason=\"slow_consumer\"} 2\n"
      "chat_bridge_disconnects_total{reason=\"rate_limit\"} 7\n"
      "chat_bridge_queue_events 12\n"
      "chat_bridge_queue_events_max 2047\n");
  EXPECT_TRUE(m.ok);
  EXPECT_EQ(m.slow_closes, 2);
  EXPECT_EQ(m.queue_max, 2047);
}

TEST(ParseMetricsTest, CoreStreamsEndedSumsKinds) {
  MetricsScrape m = ParseMetrics(
      "chat_core_streams_ended_total{kind=\"connect\",reason=\"slow_consumer\"} 1\n"
      "chat_core_streams_ended_total{kind=\"gateway\",reason=\"slow_consumer\"} 3\n"
      "chat_core_streams_ended_total{kind=\"connect\",reason=\"cancelled\"} 40\n"
      "chat_core_stream_queue_events_max{kind=\"connect\"} 4093\n"
      "chat_core_stream_queue_events_max{kind=\"gateway\"} 10\n"
      "chat_core_stream_queue_events_max_other 99999\n");
  EXPECT_EQ(m.slow_closes, 4);
  EXPECT_EQ(m.queue_max, 4093);
}

TEST(ParseMetricsTest, GarbageCountsNothing) {
  MetricsScrape m = ParseMetrics("not metrics\n{}\nchat_bridge_queue_events_max notanumber\n\n");
  EXPECT_EQ(m.slow_closes, 0);
  EXPECT_EQ(m.queue_max, 0);
}

}  // namespace
}  // namespace chat::bench
