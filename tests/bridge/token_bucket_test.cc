// TokenBucket: the per-WebSocket rate limit, with time passed in.
#include "token_bucket.h"

#include "gtest/gtest.h"

namespace chat::bridge {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(BridgeTokenBucketTest, StartsFullAndABurstEmptiesIt) {
  const TokenBucket::Rate rate{/*per_second=*/5, /*burst=*/3};
  TokenBucket b(&rate, kT0);
  EXPECT_TRUE(b.Take(kT0));
  EXPECT_TRUE(b.Take(kT0));
  EXPECT_TRUE(b.Take(kT0));
  EXPECT_FALSE(b.Take(kT0));
  EXPECT_FALSE(b.Take(kT0));
}

TEST(BridgeTokenBucketTest, RefillsAtTheRateUpToTheBurst) {
  const TokenBucket::Rate rate{/*per_second=*/5, /*burst=*/3};
  TokenBucket b(&rate, kT0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.Take(kT0));
  // 5 per second: one token every 200 ms.
  EXPECT_FALSE(b.Take(kT0 + absl::Milliseconds(100)));
  EXPECT_TRUE(b.Take(kT0 + absl::Milliseconds(200)));
  EXPECT_FALSE(b.Take(kT0 + absl::Milliseconds(200)));
  // A long quiet spell fills it to the burst, not beyond.
  const absl::Time later = kT0 + absl::Hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.Take(later)) << i;
  EXPECT_FALSE(b.Take(later));
}

TEST(BridgeTokenBucketTest, ARefusedEventTakesNothing) {
  const TokenBucket::Rate rate{/*per_second=*/1, /*burst=*/1};
  TokenBucket b(&rate, kT0);
  ASSERT_TRUE(b.Take(kT0));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.Take(kT0 + absl::Milliseconds(50 * i)));
  // Refused events did not push the next token further away.
  EXPECT_TRUE(b.Take(kT0 + absl::Seconds(1)));
}

TEST(BridgeTokenBucketTest, AClockThatGoesBackAddsNothing) {
  const TokenBucket::Rate rate{/*per_second=*/10, /*burst=*/1};
  TokenBucket b(&rate, kT0);
  ASSERT_TRUE(b.Take(kT0));
  EXPECT_FALSE(b.Take(kT0 - absl::Seconds(5)));
  // Time is counted from the latest moment seen, not from the step back.
  EXPECT_FALSE(b.Take(kT0 + absl::Milliseconds(50)));
  EXPECT_TRUE(b.Take(kT0 + absl::Milliseconds(100)));
}

TEST(BridgeTokenBucketTest, FractionalRatesAccumulate) {
  const TokenBucket::Rate rate{/*per_second=*/0.5, /*burst=*/1};
  TokenBucket b(&rate, kT0);
  ASSERT_TRUE(b.Take(kT0));
  EXPECT_FALSE(b.Take(kT0 + absl::Seconds(1)));
  EXPECT_TRUE(b.Take(kT0 + absl::Seconds(2)));
}

}  // namespace
}  // namespace chat::bridge
