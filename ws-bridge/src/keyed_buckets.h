// KeyedBuckets: one TokenBucket per key (a client address), for limits that
// hold across connections (--webhook_posts_per_10s_per_ip). Buckets that have
// filled up again are forgotten when the map grows, so an idle key costs
// nothing for long.
//
// Threading: thread-safe (one mutex; Take is a hash lookup and some
// arithmetic). Lifetime: a value owned by the BridgeContext; the Rate is its
// own copy.
#ifndef CHAT_WS_BRIDGE_SRC_KEYED_BUCKETS_H_
#define CHAT_WS_BRIDGE_SRC_KEYED_BUCKETS_H_

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "token_bucket.h"

namespace chat::bridge {

class KeyedBuckets {
 public:
  // per_second <= 0: no limit (Take always succeeds).
  explicit KeyedBuckets(TokenBucket::Rate rate = {0, 1}) : rate_(rate) {}
  KeyedBuckets(const KeyedBuckets&) = delete;
  KeyedBuckets& operator=(const KeyedBuckets&) = delete;

  void SetRate(TokenBucket::Rate rate) {
    absl::MutexLock lock(&mu_);
    rate_ = rate;
    buckets_.clear();
  }

  // Takes one token from `key`'s bucket: nullopt when it had one, else how
  // long until it will (at least a millisecond).
  std::optional<absl::Duration> Take(const std::string& key, absl::Time now) {
    absl::MutexLock lock(&mu_);
    if (rate_.per_second <= 0) return std::nullopt;
    if (buckets_.size() >= sweep_at_) {
      // The lambda runs here, under mu_; the annotation tells the analysis.
      absl::erase_if(buckets_, [&](auto& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        entry.second.Take(now, 0);
        return entry.second.tokens() >= rate_.burst;
      });
      // Every key still busy: look again only once the map has doubled, so a
      // flood of many addresses does not make each Take walk the whole map.
      sweep_at_ = std::max(kSweepAt, buckets_.size() * 2);
    }
    auto it = buckets_.try_emplace(key, &rate_, now).first;
    if (it->second.Take(now)) return std::nullopt;
    const double wait = (1 - it->second.tokens()) / rate_.per_second;
    return std::max(absl::Milliseconds(1), absl::Milliseconds(std::ceil(wait * 1000)));
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return buckets_.size();
  }

 private:
  static constexpr size_t kSweepAt = 4096;
  mutable absl::Mutex mu_;
  TokenBucket::Rate rate_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, TokenBucket> buckets_ ABSL_GUARDED_BY(mu_);
  size_t sweep_at_ ABSL_GUARDED_BY(mu_) = kSweepAt;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_KEYED_BUCKETS_H_
