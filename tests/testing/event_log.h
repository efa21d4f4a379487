// EventLog: what a test client has received so far, plus how its connection
// ended, with waits that take a deadline. Shared by the gRPC and the WebSocket
// test clients.
//
// Threading: thread-safe; the client's reader thread adds, the test thread
// waits. Lifetime: a member of its client.
#ifndef CHAT_TESTS_TESTING_EVENT_LOG_H_
#define CHAT_TESTS_TESTING_EVENT_LOG_H_

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chat::testing {

template <typename Event, typename End>
class EventLog {
 public:
  // Predicates run under the lock, possibly on the thread that adds events
  // (absl::Mutex evaluates waiters' conditions on release).
  using Pred = std::function<bool(const Event&)>;

  // Waiters need no notification: absl::Mutex re-evaluates their conditions
  // when the lock is released.
  void Add(Event event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  void Finish(End end) {
    absl::MutexLock lock(&mu_);
    end_ = std::move(end);
  }

  // The first event matching `pred`, waiting up to `timeout` (or until the end).
  std::optional<Event> WaitFor(const Pred& pred, std::chrono::milliseconds timeout) {
    absl::MutexLock lock(&mu_);
    std::optional<Event> found;
    size_t checked = 0;  // each wake-up looks only at the events that are new
    auto scan = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (; !found && checked < events_.size(); ++checked) {
        if (pred(events_[checked])) found = events_[checked];
      }
      return found.has_value();
    };
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return scan() || end_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(timeout));
    scan();
    return found;
  }

  // Waits until `count` events match.
  bool WaitForCount(const Pred& pred, size_t count, std::chrono::milliseconds timeout) {
    absl::MutexLock lock(&mu_);
    size_t checked = 0, n = 0;
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (; checked < events_.size(); ++checked) n += pred(events_[checked]) ? 1 : 0;
      return n >= count;
    };
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return enough() || end_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(timeout));
    return enough();
  }

  std::vector<Event> Events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  // Events from `index` on, waiting up to `timeout` for at least one.
  std::vector<Event> EventsFrom(size_t index, std::chrono::milliseconds timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return events_.size() > index || end_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(timeout));
    if (index >= events_.size()) return {};
    return std::vector<Event>(events_.begin() + static_cast<long>(index), events_.end());
  }

  bool done() const {
    absl::MutexLock lock(&mu_);
    return end_.has_value();
  }

  std::optional<End> WaitDone(std::chrono::milliseconds timeout) {
    absl::MutexLock lock(&mu_);
    auto ended = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return end_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ended), absl::FromChrono(timeout));
    return end_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  std::optional<End> end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_EVENT_LOG_H_
