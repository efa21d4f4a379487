#include "delayed_calls.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace chat::core {

void DelayedCalls::RunAt(absl::Time when, Call call) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      calls_.emplace(when, std::move(call));
      wake_.Signal();
      // The thread starts with the first call: most processes never need it.
      if (!started_) {
        started_ = true;
        thread_ = std::thread([this] { Loop(); });
      }
      return;
    }
  }
  call(true);
}

void DelayedCalls::Stop() {
  std::multimap<absl::Time, Call> left;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&mu_);
    left.swap(calls_);
  }
  for (auto& [when, call] : left) call(true);
}

size_t DelayedCalls::waiting() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

void DelayedCalls::Loop() {
  for (;;) {
    std::vector<Call> due;
    {
      absl::MutexLock lock(&mu_);
      // Wakes for a new call, a stop, or the first call's time.
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopped_ || (!calls_.empty() && calls_.begin()->first <= absl::Now());
      };
      while (!ready()) {
        if (calls_.empty()) {
          wake_.Wait(&mu_);
        } else {
          wake_.WaitWithDeadline(&mu_, calls_.begin()->first);
        }
      }
      if (stopped_) return;
      const absl::Time now = absl::Now();
      while (!calls_.empty() && calls_.begin()->first <= now) {
        due.push_back(std::move(calls_.begin()->second));
        calls_.erase(calls_.begin());
      }
    }
    for (Call& call : due) call(false);
  }
}

}  // namespace chat::core
