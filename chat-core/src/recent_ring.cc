#include "recent_ring.h"

#include <algorithm>
#include <utility>

namespace chat::core {

void RecentRing::Push(RoomFramePtr frame) {
  const size_t cost = Cost(*frame);
  if (max_frames_ == 0 || cost > max_bytes_) {
    // It cannot be held, and the ring must end at the newest seq: empty it.
    while (size_ > 0) PopFront();
    buf_.clear();
    buf_.shrink_to_fit();
    head_ = 0;
    return;
  }
  while (size_ > 0 && (size_ >= max_frames_ || bytes_ + cost > max_bytes_)) PopFront();
  if (size_ == buf_.size()) Grow();
  buf_[(head_ + size_) % buf_.size()] = std::move(frame);
  ++size_;
  bytes_ += cost;
}

void RecentRing::PopFront() {
  bytes_ -= Cost(*buf_[head_]);
  buf_[head_].reset();
  head_ = (head_ + 1) % buf_.size();
  --size_;
}

void RecentRing::Grow() {
  const size_t capacity = std::min(max_frames_, std::max<size_t>(4, buf_.size() * 2));
  std::vector<RoomFramePtr> next;
  next.reserve(capacity);
  for (size_t i = 0; i < size_; ++i) next.push_back(std::move(buf_[(head_ + i) % buf_.size()]));
  next.resize(capacity);
  buf_ = std::move(next);
  head_ = 0;
}

void RecentRing::Replace(RoomFramePtr frame) {
  if (size_ == 0 || frame->seq < front()->seq) return;
  const size_t i = static_cast<size_t>(frame->seq - front()->seq);
  if (i >= size_) return;
  RoomFramePtr& slot = buf_[(head_ + i) % buf_.size()];
  bytes_ = bytes_ - Cost(*slot) + Cost(*frame);
  slot = std::move(frame);
}

}  // namespace chat::core
