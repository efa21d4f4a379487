// TokenBucket: the per-WebSocket event rate limit (--events_per_second,
// --event_burst). Starts full; refills at `per_second` up to `burst`; each
// event takes one token. Time is passed in, so tests need no clock.
//
// Threading: not thread-safe (a session uses it on its strand). Lifetime: a
// value; the Rate it points to must outlive it (the bridge's options do).
#ifndef CHAT_WS_BRIDGE_SRC_TOKEN_BUCKET_H_
#define CHAT_WS_BRIDGE_SRC_TOKEN_BUCKET_H_

#include <algorithm>

#include "absl/time/time.h"

namespace chat::bridge {

class TokenBucket {
 public:
  struct Rate {
    double per_second = 20;
    double burst = 120;
  };

  // Shared by every bucket of the bridge (one pointer per socket, not two doubles).
  TokenBucket(const Rate* rate, absl::Time now) : rate_(rate), tokens_(rate->burst), last_(now) {}

  // Takes `cost` tokens if there are that many (all or none). A clock that
  // went back adds nothing.
  bool Take(absl::Time now, double cost = 1) {
    const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - last_));
    if (now > last_) last_ = now;
    tokens_ = std::min(rate_->burst, tokens_ + elapsed * rate_->per_second);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

  double tokens() const { return tokens_; }

 private:
  const Rate* rate_;
  double tokens_;
  absl::Time last_;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_TOKEN_BUCKET_H_
