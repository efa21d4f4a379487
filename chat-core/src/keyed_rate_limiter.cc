#include "keyed_rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"

namespace chat::core {

KeyedRateLimiter::KeyedRateLimiter(double per_second, double burst, size_t max_keys)
    : per_second_(per_second > 0 ? per_second : 1),
      burst_(std::max(1.0, burst)),
      max_keys_(std::max<size_t>(1, max_keys)) {}

void KeyedRateLimiter::Refill(Bucket& b, int64_t now_ms) const {
  if (now_ms <= b.last_ms) return;  // a clock that went back adds nothing
  b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.last_ms) / 1000.0 * per_second_);
  b.last_ms = now_ms;
}

int64_t KeyedRateLimiter::Take(const std::string& key, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      // Full buckets hold nothing a new one would not: drop them first.
      absl::erase_if(buckets_, [&](auto& kv) {
        Refill(kv.second, now_ms);
        return kv.second.tokens >= burst_;
      });
      if (buckets_.size() >= max_keys_) buckets_.clear();
    }
    it = buckets_.emplace(key, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  Refill(b, now_ms);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - b.tokens) / per_second_ * 1000.0)));
}

void KeyedRateLimiter::Forget(const std::string& key) {
  absl::MutexLock lock(&mu_);
  buckets_.erase(key);
}

}  // namespace chat::core
