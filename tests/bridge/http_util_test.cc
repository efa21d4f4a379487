// http_util's pure parts: the Retry-After a refusal's message gives.
#include "http_util.h"

#include "gtest/gtest.h"

namespace chat::bridge {
namespace {

TEST(HttpUtilTest, RetryAfterIsTheLastRetryInOfTheMessage) {
  EXPECT_EQ(RetryAfterSeconds("too many registrations from this address; retry in 3412 s"), 3412);
  EXPECT_EQ(RetryAfterSeconds("too many failed logins; retry in 1 s"), 1);
  EXPECT_EQ(RetryAfterSeconds("retry in 5 s, or rather retry in 7 s"), 7);
  EXPECT_EQ(RetryAfterSeconds("alice already has 64 live streams on this node; close one first"), std::nullopt);
  EXPECT_EQ(RetryAfterSeconds("retry in a while"), std::nullopt);
  EXPECT_EQ(RetryAfterSeconds("retry in 5 minutes"), std::nullopt);
  EXPECT_EQ(RetryAfterSeconds("retry in 99999999999999 s"), std::nullopt);  // not a sane number
  EXPECT_EQ(RetryAfterSeconds(""), std::nullopt);
}

TEST(HttpUtilTest, OnlyRefusalsThatSayWhenCarryRetryAfter) {
  auto limited = JsonError(http::status::too_many_requests, 11, "RESOURCE_EXHAUSTED",
                           "too many failed logins; retry in 42 s");
  EXPECT_EQ(limited[http::field::retry_after], "42");
  auto no_time = JsonError(http::status::too_many_requests, 11, "RESOURCE_EXHAUSTED", "close one first");
  EXPECT_EQ(no_time.count(http::field::retry_after), 0u);
  auto bad = JsonError(http::status::bad_request, 11, "INVALID_ARGUMENT", "retry in 3 s");
  EXPECT_EQ(bad.count(http::field::retry_after), 0u);
}

}  // namespace
}  // namespace chat::bridge
