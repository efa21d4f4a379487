// LoginLimiter: how many logins and registrations an outsider may try.
//  - Failed logins per (username, address) pair and per address: a hard
//    limit in a sliding window (RESOURCE_EXHAUSTED until the oldest failure
//    ages out). The pair, not the user: an attacker who guesses a user's
//    password from one address locks that address out of that account, not
//    the account's owner.
//  - Failed logins per username, from every address together: past a
//    threshold each further attempt must wait a delay that doubles with every
//    failure (capped), counted from the newest failure; one attempt at a time.
//    A slowdown, not a lock: the owner gets in after at most the cap.
//  - Registrations per address: a hard limit in its own window.
// An attempt counts from before it hashes until it is answered. On one node
// the counts live in memory (NewLocalLoginLimiter); in a cluster every node
// must see the same counts, so they live in PostgreSQL (NewClusterLoginLimiter,
// through the Cluster).
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
  // seconds to retry. An allowed attempt is in flight: it counts against every
  // limit as if it had failed until it ends with exactly one of
  // RecordFailure, RecordSuccess or Abandon, so that a burst of concurrent
  // guesses cannot all pass the check before the first failure is counted.
  virtual void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void(absl::Status)> done) = 0;
  // Ends the attempt as a failure. `done` once every later Check, on any
  // node, counts it; a login is answered only then, so that fast guesses
  // cannot outrun the count.
  virtual void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                             std::function<void()> done) = 0;
  // Ends the attempt as a success: forgets the pair's failures (not the
  // address's, nor the username's: an owner's login does not wipe out what
  // attackers elsewhere tried).
  virtual void RecordSuccess(const std::string& user_key, const std::string& peer) = 0;
  // Ends the attempt without a verdict (the store was away, the hashing queue
  // was full): nothing was guessed.
  virtual void Abandon(const std::string& user_key, const std::string& peer) = 0;

  // Begins a registration from `peer`: OK, or RESOURCE_EXHAUSTED saying in
  // how many seconds to retry. An allowed one counts until the window passes,
  // unless EndRegistration says it did not run.
  virtual void CheckRegistration(const std::string& peer, int64_t now_ms, std::function<void(absl::Status)> done) = 0;
  // Ends a registration CheckRegistration allowed; `counted`: it was hashed
  // (whatever the store said), so it keeps counting; false: it never ran
  // (the hashing queue was full).
  virtual void EndRegistration(const std::string& peer, int64_t now_ms, bool counted) = 0;
};

struct LoginLimits {
  // Failed logins in `window` per (username, address) pair: then that pair
  // is refused until the oldest ages out.
  int max_failures_per_pair = 5;
  // Failed logins in `window` per address, over every username.
  int max_failures_per_peer = 20;
  absl::Duration window = absl::Minutes(5);
  // Failed logins of one username in `window`, from every address, after
  // which it slows down: the attempt after failure number
  // user_slowdown_after + k waits user_slowdown_base * 2^k from the newest
  // failure, at most user_slowdown_max.
  int user_slowdown_after = 5;
  absl::Duration user_slowdown_base = absl::Seconds(1);
  absl::Duration user_slowdown_max = absl::Seconds(60);
  // Registrations per address in registration_window (0: no limit).
  int max_registrations_per_peer = 30;
  absl::Duration registration_window = absl::Hours(1);
};

// RESOURCE_EXHAUSTED, retry after `wait_ms`.
absl::Status TooManyFailures(int64_t wait_ms);
// The per-username delay: RESOURCE_EXHAUSTED, retry after `wait_ms`.
absl::Status UserSlowedDown(int64_t wait_ms);
// For a status from UserSlowedDown: its wait in milliseconds; 0 for any other.
int64_t SlowdownWaitMs(const absl::Status& status);
absl::Status TooManyRegistrations(int64_t wait_ms);
// How long the attempt after `failures` failures of one username must wait
// after the newest of them (0: no wait).
int64_t UserDelayMs(const LoginLimits& limits, int failures);
// The limiter key of a (username, address) pair.
std::string PairKey(const std::string& user_key, const std::string& peer);

// A sliding window of failures per key, plus the attempts in flight, in
// memory. Thread-safe.
class FailureLimiter {
 public:
  // `refuse`: the answer past the limit, given how long to wait.
  FailureLimiter(int max_failures, absl::Duration window, absl::Status (*refuse)(int64_t) = TooManyFailures)
      : max_(max_failures), window_ms_(absl::ToInt64Milliseconds(window)), refuse_(refuse) {}
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
  absl::Status (*const refuse_)(int64_t);
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t last_prune_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

// The per-username slowdown (LoginLimits::user_slowdown_*), in memory: the
// failures of each key in the window, plus its attempts in flight.
// Thread-safe.
class UserSlowdown {
 public:
  explicit UserSlowdown(const LoginLimits& limits) : limits_(limits) {}
  // Begins an attempt: OK (then end it with End), or RESOURCE_EXHAUSTED with
  // the seconds to wait.
  absl::Status Begin(const std::string& key, int64_t now_ms);
  void End(const std::string& key, int64_t now_ms, bool failed);

 private:
  struct Entry {
    std::deque<int64_t> failures;
    int in_flight = 0;
  };
  void PruneLocked(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const LoginLimits limits_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t last_prune_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

// Whether an attempt may begin under the slowdown, given the username's
// failures in the window (`failures`, the newest at `newest_ms`) and its
// attempts in flight: OK or RESOURCE_EXHAUSTED (shared by both limiters).
absl::Status CheckUserSlowdown(const LoginLimits& limits, int failures, int64_t newest_ms, int in_flight,
                               int64_t now_ms);

std::unique_ptr<LoginLimiter> NewLocalLoginLimiter(const LoginLimits& limits);
// `cluster` must outlive the limiter.
std::unique_ptr<LoginLimiter> NewClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_LOGIN_LIMITER_H_
