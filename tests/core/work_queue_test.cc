// WorkQueue and WorkerPool with real threads. Every wait has a deadline; nothing
// sleeps to synchronize.
#include "work_queue.h"

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::core {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kDeadline = absl::Seconds(30);

template <typename T>
bool ReadyInTime(std::future<T>& f) {
  return f.wait_for(absl::ToChronoSeconds(kDeadline)) == std::future_status::ready;
}

TEST(WorkQueueTest, PopsOldestFirstInBatchesOfAtMostMax) {
  WorkQueue<int> q;
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(q.Push(i), PushResult::kQueued);
  std::vector<int> out;
  EXPECT_EQ(q.PopBatch(2, out), 2u);
  EXPECT_THAT(out, ElementsAre(1, 2));
  EXPECT_EQ(q.TryPopBatch(10, out), 3u);  // appends to `out`
  EXPECT_THAT(out, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(q.TryPopBatch(10, out), 0u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(WorkQueueTest, APushBeyondTheCapacityIsRefusedAndTheItemStaysWithTheCaller) {
  WorkQueue<std::unique_ptr<int>> q(2);
  for (int i = 0; i < 2; ++i) {
    auto item = std::make_unique<int>(i);
    ASSERT_EQ(q.Push(item), PushResult::kQueued);
    EXPECT_EQ(item, nullptr);
  }
  auto extra = std::make_unique<int>(7);
  EXPECT_EQ(q.Push(extra), PushResult::kFull);
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(*extra, 7);
  // Past the capacity on purpose.
  EXPECT_EQ(q.PushPastCapacity(extra), PushResult::kQueued);
  EXPECT_EQ(q.size(), 3u);
  std::vector<std::unique_ptr<int>> out;
  ASSERT_EQ(q.PopBatch(1, out), 1u);
  auto again = std::make_unique<int>(8);
  EXPECT_EQ(q.Push(again), PushResult::kFull) << "still at the capacity";
  ASSERT_EQ(q.PopBatch(1, out), 1u);
  EXPECT_EQ(q.Push(again), PushResult::kQueued);
  ASSERT_EQ(q.PopBatch(10, out), 2u);
  EXPECT_EQ(*out[2], 7);
  EXPECT_EQ(*out[3], 8);
}

TEST(WorkQueueTest, CloseRefusesPushesAndTheQueuedItemsAreStillPopped) {
  WorkQueue<std::unique_ptr<int>> q;
  auto a = std::make_unique<int>(1);
  ASSERT_EQ(q.Push(a), PushResult::kQueued);
  q.Close();
  q.Close();  // idempotent
  EXPECT_TRUE(q.closed());
  auto b = std::make_unique<int>(2);
  EXPECT_EQ(q.Push(b), PushResult::kClosed);
  EXPECT_EQ(q.PushPastCapacity(b), PushResult::kClosed);
  ASSERT_NE(b, nullptr);
  std::vector<std::unique_ptr<int>> out;
  ASSERT_EQ(q.PopBatch(10, out), 1u);
  EXPECT_EQ(*out[0], 1);
  // Closed and drained: PopBatch returns at once, with nothing.
  EXPECT_EQ(q.PopBatch(10, out), 0u);
}

TEST(WorkQueueTest, APushWakesABlockedConsumer) {
  WorkQueue<int> q;
  auto popped = std::async(std::launch::async, [&] {
    std::vector<int> out;
    q.PopBatch(10, out);
    return out;
  });
  int item = 42;
  ASSERT_EQ(q.Push(item), PushResult::kQueued);
  ASSERT_TRUE(ReadyInTime(popped));
  EXPECT_THAT(popped.get(), ElementsAre(42));
}

TEST(WorkQueueTest, CloseWakesEveryBlockedConsumer) {
  WorkQueue<int> q;
  std::vector<std::future<size_t>> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.push_back(std::async(std::launch::async, [&] {
      std::vector<int> out;
      return q.PopBatch(10, out);
    }));
  }
  q.Close();
  for (auto& c : consumers) {
    ASSERT_TRUE(ReadyInTime(c));
    EXPECT_EQ(c.get(), 0u);
  }
}

// Producers and consumers at once: every item is popped exactly once, and one
// producer's items keep their order within each batch.
TEST(WorkQueueTest, ManyProducersAndConsumersLoseNothingAndRepeatNothing) {
  constexpr int kProducers = 4, kConsumers = 3, kPer = 5000;
  WorkQueue<std::pair<int, int>> q(64);
  absl::Mutex mu;
  std::multiset<std::pair<int, int>> seen;  // guarded by mu
  bool out_of_order = false;                // guarded by mu
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      std::vector<std::pair<int, int>> batch;
      while (q.PopBatch(16, batch) > 0) {
        absl::MutexLock lock(&mu);
        for (size_t i = 0; i < batch.size(); ++i) {
          for (size_t j = 0; j < i; ++j) {
            if (batch[j].first == batch[i].first && batch[j].second > batch[i].second) {
              out_of_order = true;
            }
          }
          seen.insert(batch[i]);
        }
        batch.clear();
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPer;) {
        std::pair<int, int> item{p, i};
        // A full queue is back-pressure: try again.
        if (q.Push(item) == PushResult::kFull) {
          std::this_thread::yield();
          continue;
        }
        ++i;
      }
    });
  }
  for (auto& t : producers) t.join();
  q.Close();
  for (auto& t : consumers) t.join();
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(out_of_order);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kProducers * kPer));
  for (int p = 0; p < kProducers; ++p) {
    for (int i = 0; i < kPer; ++i) ASSERT_EQ(seen.count({p, i}), 1u) << p << "/" << i;
  }
}

// A consumer that waits somewhere else (a completion queue) marks itself idle
// when it finds nothing; the first push after that is told to wake it.
TEST(WorkQueueTest, TheFirstPushAfterAnIdleMarkIsToldToWakeTheConsumer) {
  WorkQueue<int> q;
  std::vector<int> out;
  int item = 1;
  EXPECT_EQ(q.TryPopBatch(10, out), 0u);  // no mark
  EXPECT_EQ(q.Push(item), PushResult::kQueued);
  EXPECT_EQ(q.TryPopBatch(10, out, WorkQueue<int>::OnEmpty::kMarkIdle), 1u);  // found one: no mark
  EXPECT_EQ(q.Push(item), PushResult::kQueued);
  EXPECT_EQ(q.TryPopBatch(10, out), 1u);
  EXPECT_EQ(q.TryPopBatch(10, out, WorkQueue<int>::OnEmpty::kMarkIdle), 0u);
  EXPECT_EQ(q.Push(item), PushResult::kQueuedWakeConsumer);
  EXPECT_TRUE(Queued(PushResult::kQueuedWakeConsumer));
  EXPECT_EQ(q.Push(item), PushResult::kQueued) << "only the first push wakes";
  // Popping clears a mark the pushes have not used.
  EXPECT_EQ(q.TryPopBatch(10, out), 2u);
  EXPECT_EQ(q.TryPopBatch(10, out, WorkQueue<int>::OnEmpty::kMarkIdle), 0u);
  EXPECT_EQ(q.Push(item), PushResult::kQueuedWakeConsumer);
  EXPECT_EQ(q.TryPopBatch(10, out, WorkQueue<int>::OnEmpty::kMarkIdle), 1u);
  EXPECT_EQ(q.Push(item), PushResult::kQueued);
}

TEST(WorkerPoolTest, RunsBatchesOfAtMostMaxBatch) {
  WorkerPool<int> pool;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Queued(pool.queue().Push(i)));
  absl::Mutex mu;
  std::vector<size_t> sizes;  // guarded by mu
  std::vector<int> items;     // guarded by mu
  pool.Start(1, 8, [&](size_t worker, std::vector<int>& batch) {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(worker, 0u);
    sizes.push_back(batch.size());
    items.insert(items.end(), batch.begin(), batch.end());
  });
  pool.Stop();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(sizes, ElementsAre(8, 8, 4));
  ASSERT_EQ(items.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(items[i], i);
}

TEST(WorkerPoolTest, EveryWorkerGetsItsOwnIndex) {
  constexpr size_t kThreads = 3;
  WorkerPool<int> pool;
  absl::Mutex mu;
  std::set<size_t> workers;  // guarded by mu
  int ran = 0;               // guarded by mu
  // Each worker holds its first item until all three hold one, so all three
  // must have taken part.
  pool.Start(kThreads, 1, [&](size_t worker, std::vector<int>&) {
    absl::MutexLock lock(&mu);
    EXPECT_LT(worker, kThreads);
    workers.insert(worker);
    ++ran;
    auto all_in = [&] {
      mu.AssertHeld();
      return workers.size() == kThreads;
    };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_in), kDeadline));
  });
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Queued(pool.queue().Push(i)));
  pool.Stop();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(ran, 30);
  EXPECT_EQ(workers.size(), kThreads);
}

// Stop waits for the batch being run and for everything queued behind it, from
// any number of callers at once, and nothing runs after it returns.
TEST(WorkerPoolTest, StopDrainsTheQueueAndNothingRunsAfterIt) {
  WorkerPool<int> pool;
  absl::Notification entered, release;
  std::atomic<int> ran{0};
  std::atomic<bool> stopped{false};
  std::atomic<int> late{0};
  pool.Start(1, 4, [&](size_t, std::vector<int>& batch) {
    if (!entered.HasBeenNotified()) {
      entered.Notify();
      release.WaitForNotificationWithTimeout(kDeadline);
    }
    if (stopped.load()) late.fetch_add(1);
    ran.fetch_add(static_cast<int>(batch.size()));
  });
  int first = 0;
  ASSERT_TRUE(Queued(pool.queue().Push(first)));
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kDeadline));
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(Queued(pool.queue().Push(i)));
  std::vector<std::future<int>> stops;
  for (int i = 0; i < 2; ++i) {
    stops.push_back(std::async(std::launch::async, [&] {
      pool.Stop();
      return ran.load();
    }));
  }
  release.Notify();
  for (auto& s : stops) {
    ASSERT_TRUE(ReadyInTime(s));
    EXPECT_EQ(s.get(), 101) << "Stop returned before the queue was drained";
  }
  stopped = true;
  int refused = 5;
  EXPECT_EQ(pool.queue().Push(refused), PushResult::kClosed);
  pool.Stop();
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(ran.load(), 101);
}

TEST(WorkerPoolTest, StopWithoutStartClosesTheQueue) {
  WorkerPool<int> pool(4);
  int item = 1;
  ASSERT_EQ(pool.queue().Push(item), PushResult::kQueued);
  pool.Stop();
  EXPECT_EQ(pool.queue().Push(item), PushResult::kClosed);
}

}  // namespace
}  // namespace chat::core
