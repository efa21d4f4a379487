// WorkQueue and WorkerPool: the one way chat-core hands work to its own
// threads (the store's writer, readers and checkpointer; a hashing pool; kick
// lanes). Producers push items; consumers pop them one at a time or in batches
// (group commit); Close() refuses further pushes and lets the consumers drain
// what is already queued, so every accepted item is popped and every refused one
// stays with its producer, who can still answer it.
#ifndef CHAT_CORE_SRC_WORK_QUEUE_H_
#define CHAT_CORE_SRC_WORK_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chat::core {

enum class PushResult {
  // The item is queued.
  kQueued,
  // The item is queued, and the consumer had said (TryPopBatch with
  // OnEmpty::kMarkIdle) that it would wait somewhere else (a completion queue, a
  // poll): this producer is the one that must wake it. Only the first push after
  // such a TryPopBatch hears this.
  kQueuedWakeConsumer,
  // Refused: the queue holds `capacity` items.
  kFull,
  // Refused: the queue is closed.
  kClosed,
};

inline bool Queued(PushResult r) {
  return r == PushResult::kQueued || r == PushResult::kQueuedWakeConsumer;
}

// A FIFO of work items, optionally bounded.
// Threading: thread-safe; any thread may push, pop or close. Lifetime: owned by
// whoever owns its consumers, and must outlive every call into it. Items still
// queued when it is destroyed are destroyed unrun: close it and let the
// consumers drain it first if each item must be answered.
template <typename T>
class WorkQueue {
 public:
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();
  enum class OnEmpty { kReturn, kMarkIdle };

  explicit WorkQueue(size_t capacity = kUnbounded) : capacity_(capacity) {}
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `item` unless the queue is closed or already holds `capacity` items.
  // `item` is moved from only when it is queued: on a refusal it is left with
  // the caller, who can still answer it.
  [[nodiscard]] PushResult Push(T& item) ABSL_LOCKS_EXCLUDED(mu_) { return PushImpl(item, capacity_); }
  // As Push, but past the capacity: refused only when closed. For work that
  // load must not turn away (control operations, start-up loads).
  [[nodiscard]] PushResult PushPastCapacity(T& item) ABSL_LOCKS_EXCLUDED(mu_) {
    return PushImpl(item, kUnbounded);
  }

  // Blocks until an item is queued or the queue is closed, then moves up to
  // `max` (at least 1) of the oldest items to the end of `out` and returns how
  // many. 0 means the queue is closed and drained: the consumer is done.
  size_t PopBatch(size_t max, std::vector<T>& out) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_, absl::Condition(this, &WorkQueue::ReadyLocked));
    return TakeLocked(max, out);
  }

  // Never blocks: as PopBatch, but returns 0 when nothing is queued right now.
  // With kMarkIdle, finding nothing marks the consumer idle: the next push
  // answers kQueuedWakeConsumer (see there). Popping anything clears the mark.
  size_t TryPopBatch(size_t max, std::vector<T>& out, OnEmpty on_empty = OnEmpty::kReturn)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    size_t n = TakeLocked(max, out);
    if (n == 0 && on_empty == OnEmpty::kMarkIdle) consumer_idle_ = true;
    return n;
  }

  // The consumer is busy again without having popped anything (it woke for
  // other work): the next push need not wake it.
  void ClearIdle() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    consumer_idle_ = false;
  }

  // Refuses every later push and wakes every blocked PopBatch; what is queued
  // is still popped. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

  bool closed() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return closed_;
  }
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return items_.size();
  }

 private:
  PushResult PushImpl(T& item, size_t capacity) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (closed_) return PushResult::kClosed;
    if (items_.size() >= capacity) return PushResult::kFull;
    items_.push_back(std::move(item));
    if (!consumer_idle_) return PushResult::kQueued;
    consumer_idle_ = false;
    return PushResult::kQueuedWakeConsumer;
  }

  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !items_.empty(); }

  size_t TakeLocked(size_t max, std::vector<T>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t n = std::min(items_.size(), std::max<size_t>(1, max));
    if (n == 0) return 0;
    consumer_idle_ = false;
    out.reserve(out.size() + n);
    for (size_t i = 0; i < n; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return n;
  }

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool consumer_idle_ ABSL_GUARDED_BY(mu_) = false;
};

// N threads, each popping batches from one WorkQueue and running them.
// Threading: thread-safe; `run` is called on the pool's threads, one batch per
// call, never for the same item twice. Lifetime: owned by the user of the
// work; Stop() (or the destructor) closes the queue, lets the threads drain
// it, and joins them: after it returns `run` is not called again. Stop() must
// not be called from inside `run`.
template <typename T>
class WorkerPool {
 public:
  // `batch` holds 1 to max_batch items, oldest first; `worker` is the thread's
  // index, 0 to threads - 1 (e.g. for per-thread state such as a connection).
  using Run = std::function<void(size_t worker, std::vector<T>& batch)>;

  explicit WorkerPool(size_t capacity = WorkQueue<T>::kUnbounded) : queue_(capacity) {}
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Producers push here.
  WorkQueue<T>& queue() { return queue_; }

  // Starts `threads` (at least 1) workers. Once only, before Stop.
  void Start(size_t threads, size_t max_batch, Run run) ABSL_LOCKS_EXCLUDED(threads_mu_) {
    absl::MutexLock lock(&threads_mu_);
    for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
      threads_.emplace_back([this, i, max_batch, run] { Loop(i, max_batch, run); });
    }
  }

  // Closes the queue and waits until the workers have run everything queued and
  // ended. Idempotent; a second caller waits for the first one's join.
  void Stop() ABSL_LOCKS_EXCLUDED(threads_mu_) {
    queue_.Close();
    absl::MutexLock lock(&threads_mu_);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Loop(size_t worker, size_t max_batch, const Run& run) {
    std::vector<T> batch;
    while (queue_.PopBatch(max_batch, batch) > 0) {
      run(worker, batch);
      batch.clear();
    }
  }

  WorkQueue<T> queue_;
  absl::Mutex threads_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(threads_mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_WORK_QUEUE_H_
