// EventLog: what a test client has received so far, plus how its connection
// ended, with waits that take a deadline. Shared by the gRPC and the WebSocket
// test clients.
//
// Threading: thread-safe; the client's reader thread adds, the test thread
// waits. Lifetime: a member of its client.
#ifndef CHAT_TESTS_TESTING_EVENT_LOG_H_
#define CHAT_TESTS_TESTING_EVENT_LOG_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace chat::testing {

template <typename Event, typename End>
class EventLog {
 public:
  using Pred = std::function<bool(const Event&)>;

  void Add(Event event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  void Finish(End end) {
    std::lock_guard<std::mutex> lock(mu_);
    end_ = std::move(end);
    cv_.notify_all();
  }

  // The first event matching `pred`, waiting up to `timeout` (or until the end).
  std::optional<Event> WaitFor(const Pred& pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<Event> found;
    size_t checked = 0;  // each wake-up looks only at the events that are new
    auto scan = [&] {
      for (; !found && checked < events_.size(); ++checked) {
        if (pred(events_[checked])) found = events_[checked];
      }
      return found.has_value();
    };
    cv_.wait_for(lock, timeout, [&] { return scan() || end_.has_value(); });
    scan();
    return found;
  }

  // Waits until `count` events match.
  bool WaitForCount(const Pred& pred, size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    size_t checked = 0, n = 0;
    auto enough = [&] {
      for (; checked < events_.size(); ++checked) n += pred(events_[checked]) ? 1 : 0;
      return n >= count;
    };
    cv_.wait_for(lock, timeout, [&] { return enough() || end_.has_value(); });
    return enough();
  }

  std::vector<Event> Events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  // Events from `index` on, waiting up to `timeout` for at least one.
  std::vector<Event> EventsFrom(size_t index, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return events_.size() > index || end_.has_value(); });
    if (index >= events_.size()) return {};
    return std::vector<Event>(events_.begin() + static_cast<long>(index), events_.end());
  }

  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return end_.has_value();
  }

  std::optional<End> WaitDone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return end_.has_value(); });
    return end_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::optional<End> end_;
};

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_EVENT_LOG_H_
