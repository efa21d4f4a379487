// KeyedRateLimiter: a token bucket per key, full at first, refilled at
// `per_second` up to `burst`. The AuthService limits webhook posts per hook
// with it (--webhook_posts_per_second, --webhook_burst) and invite codes per
// user. Per node: behind several chat-core nodes a key may go up to that many
// times the rate. Time is passed in, so tests need no clock.
//
// Threading: thread-safe (one lock, held for a map lookup). Lifetime: owned
// by the AuthService; holds at most max_keys buckets (full ones go first).
#ifndef CHAT_CORE_SRC_KEYED_RATE_LIMITER_H_
#define CHAT_CORE_SRC_KEYED_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace chat::core {

class KeyedRateLimiter {
 public:
  KeyedRateLimiter(double per_second, double burst, size_t max_keys = 100'000);

  // Takes one token from `key`'s bucket at `now_ms`: 0, or (none left) how
  // many milliseconds until there is one (at least 1).
  int64_t Take(const std::string& key, int64_t now_ms);
  // The key's bucket goes (a revoked webhook).
  void Forget(const std::string& key);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
  };
  // Refills `b` up to now_ms.
  void Refill(Bucket& b, int64_t now_ms) const;

  const double per_second_;
  const double burst_;
  const size_t max_keys_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_KEYED_RATE_LIMITER_H_
