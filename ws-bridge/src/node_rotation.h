// NodeRotation: which chat-core node the gateway stream tries next, and how
// long it waits first (docs/architecture.md, "Fail-over between chat-core
// nodes"). Nodes are tried round robin; after a node fails the next one is
// tried at once, and only when a whole round has failed does the gateway wait,
// with a backoff that doubles per failed round (with jitter) up to a bound. A
// node that accepts the stream ends the round.
//
// Threading: not thread-safe (the gateway calls it under its lock). Lifetime:
// a value, owned by the gateway.
#ifndef CHAT_WS_BRIDGE_SRC_NODE_ROTATION_H_
#define CHAT_WS_BRIDGE_SRC_NODE_ROTATION_H_

#include <algorithm>
#include <cstddef>

#include "absl/time/time.h"

namespace chat::bridge {

class NodeRotation {
 public:
  NodeRotation(size_t nodes, absl::Duration min_backoff, absl::Duration max_backoff)
      : nodes_(std::max<size_t>(nodes, 1)), min_(min_backoff), max_(max_backoff), backoff_(min_backoff) {}

  // The node to use now (0 ... nodes - 1).
  size_t node() const { return node_; }

  // The current node accepted the stream: it stays the node, and the next
  // failure starts a new round from it with the shortest backoff.
  void Succeeded() {
    failed_in_round_ = 0;
    backoff_ = min_;
  }

  // The current node failed: it could not be reached, or its stream ended.
  // Moves to the next node and returns how long to wait before trying it:
  // nothing while the round has nodes left to try; after a whole round, the
  // backoff, at the point between half and all of it that `jitter` (in
  // [0, 1]) picks, and the backoff doubles for the next round.
  absl::Duration Failed(double jitter) {
    node_ = (node_ + 1) % nodes_;
    if (++failed_in_round_ < nodes_) return absl::ZeroDuration();
    failed_in_round_ = 0;
    const absl::Duration wait = backoff_ * (0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0));
    backoff_ = std::min(backoff_ * 2, max_);
    return wait;
  }

 private:
  const size_t nodes_;
  const absl::Duration min_;
  const absl::Duration max_;
  size_t node_ = 0;
  size_t failed_in_round_ = 0;
  absl::Duration backoff_;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_NODE_ROTATION_H_
