// LoginLimiter: failed logins allowed per window, per username and per peer
// address. On one node the counts live in memory (LocalLoginLimiter); in a
// cluster every node must see the same counts, so they live in PostgreSQL
// (NewClusterLoginLimiter, through the Cluster).
//
// Threading: thread-safe; Check answers through `done`, now or on another
// thread. Lifetime: owned by Accounts; `done` never runs after it is destroyed
// unless the work was queued before (the cluster's queue drains first).
#ifndef CHAT_CORE_SRC_LOGIN_LIMITER_H_
#define CHAT_CORE_SRC_LOGIN_LIMITER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster.h"

namespace chat::core {

class LoginLimiter {
 public:
  virtual ~LoginLimiter() = default;
  // OK, or RESOURCE_EXHAUSTED saying in how many seconds to retry.
  virtual void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void(absl::Status)> done) = 0;
  // `done` once every later Check, on any node, counts this failure; a login
  // is answered only then, so that fast guesses cannot outrun the count.
  virtual void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                             std::function<void()> done) = 0;
  // A successful login forgets the user's failures (not the peer's).
  virtual void RecordSuccess(const std::string& user_key) = 0;
};

struct LoginLimits {
  int max_failures_per_user = 5;
  int max_failures_per_peer = 20;
  absl::Duration window = absl::Minutes(5);
};

// RESOURCE_EXHAUSTED, retry after `wait_ms`.
absl::Status TooManyFailures(int64_t wait_ms);

// A sliding window of failures per key, in memory. Thread-safe.
class FailureLimiter {
 public:
  FailureLimiter(int max_failures, absl::Duration window)
      : max_(max_failures), window_ms_(absl::ToInt64Milliseconds(window)) {}
  // OK, or RESOURCE_EXHAUSTED with the seconds to wait in the message.
  absl::Status Check(const std::string& key, int64_t now_ms);
  void RecordFailure(const std::string& key, int64_t now_ms);
  void Reset(const std::string& key);

 private:
  void PruneLocked(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const int max_;
  const int64_t window_ms_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::deque<int64_t>> failures_ ABSL_GUARDED_BY(mu_);
  int64_t last_prune_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

std::unique_ptr<LoginLimiter> NewLocalLoginLimiter(const LoginLimits& limits);
// `cluster` must outlive the limiter.
std::unique_ptr<LoginLimiter> NewClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_LOGIN_LIMITER_H_
