// DelayedCalls: calls run at their time, in time order, and Stop answers the
// ones still waiting (cancelled) instead of dropping them.
#include "delayed_calls.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

TEST(DelayedCallsTest, CallsRunAtTheirTimeInTimeOrder) {
  core::DelayedCalls calls;
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<absl::Duration> late;
  absl::Notification all;
  const absl::Time start = absl::Now();
  for (int i : {3, 1, 2}) {
    const absl::Time at = start + absl::Milliseconds(100 * i);
    calls.RunAt(at, [&, i, at](bool cancelled) {
      EXPECT_FALSE(cancelled);
      absl::MutexLock lock(&mu);
      order.push_back(i);
      late.push_back(absl::Now() - at);
      if (order.size() == 3) all.Notify();
    });
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  for (absl::Duration d : late) EXPECT_GE(d, absl::ZeroDuration());  // never early
  EXPECT_EQ(calls.waiting(), 0u);
}

TEST(DelayedCallsTest, StopRunsWhatWaitsCancelledAndLaterCallsAtOnce) {
  core::DelayedCalls calls;
  int cancelled = 0, ran = 0;
  calls.RunAt(absl::Now() + absl::Hours(1), [&](bool c) { c ? ++cancelled : ++ran; });
  calls.RunAt(absl::Now() + absl::Hours(2), [&](bool c) { c ? ++cancelled : ++ran; });
  EXPECT_EQ(calls.waiting(), 2u);
  const absl::Time start = absl::Now();
  calls.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(ran, 0);
  calls.RunAt(absl::Now() + absl::Hours(1), [&](bool c) { c ? ++cancelled : ++ran; });
  EXPECT_EQ(cancelled, 3);  // on this thread, before RunAt returned
  calls.Stop();             // idempotent
}

}  // namespace
}  // namespace chat::testing
