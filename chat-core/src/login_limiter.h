// LoginLimiter: failed logins allowed per window, per username and per peer
// address; a login attempt counts as a failure from before it hashes until it
// is answered. On one node the counts live in memory (LocalLoginLimiter); in a
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
  // Begins a login attempt: OK, or RESOURCE_EXHAUSTED saying in how many
  // seconds to retry. An allowed attempt is in flight: it counts against both
  // limits as if it had failed until it ends with exactly one of
  // RecordFailure, RecordSuccess or Abandon, so that a burst of concurrent
  // guesses cannot all pass the check before the first failure is counted.
  virtual void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void(absl::Status)> done) = 0;
  // Ends the attempt as a failure. `done` once every later Check, on any
  // node, counts it; a login is answered only then, so that fast guesses
  // cannot outrun the count.
  virtual void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                             std::function<void()> done) = 0;
  // Ends the attempt as a success: forgets the user's failures (not the peer's).
  virtual void RecordSuccess(const std::string& user_key, const std::string& peer) = 0;
  // Ends the attempt without a verdict (the store was away, the hashing queue
  // was full): nothing was guessed.
  virtual void Abandon(const std::string& user_key, const std::string& peer) = 0;
};

struct LoginLimits {
  int max_failures_per_user = 5;
  int max_failures_per_peer = 20;
  absl::Duration window = absl::Minutes(5);
};

// RESOURCE_EXHAUSTED, retry after `wait_ms`.
absl::Status TooManyFailures(int64_t wait_ms);

// A sliding window of failures per key, plus the attempts in flight, in
// memory. Thread-safe.
class FailureLimiter {
 public:
  FailureLimiter(int max_failures, absl::Duration window)
      : max_(max_failures), window_ms_(absl::ToInt64Milliseconds(window)) {}
  // Begins an attempt if the failures in the window plus the attempts in
  // flight stay below the limit: OK, or RESOURCE_EXHAUSTED with the seconds to
  // wait in the message. An OK attempt must be ended with End.
  absl::Status Begin(const std::string& key, int64_t now_ms);
  // Ends an attempt that Begin allowed; `failed`: it counts as a failure.
  void End(const std::string& key, int64_t now_ms, bool failed);
  // Forgets the key's failures (its attempts in flight stay).
  void Reset(const std::string& key);

 private:
  struct Entry {
    std::deque<int64_t> failures;
    int in_flight = 0;
  };
  void PruneLocked(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const int max_;
  const int64_t window_ms_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t last_prune_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

std::unique_ptr<LoginLimiter> NewLocalLoginLimiter(const LoginLimits& limits);
// `cluster` must outlive the limiter.
std::unique_ptr<LoginLimiter> NewClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_LOGIN_LIMITER_H_
