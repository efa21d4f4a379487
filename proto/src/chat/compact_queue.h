// CompactQueue: a FIFO that allocates nothing while empty (std::deque allocates
// a 512-byte block and its map up front), so the per-connection queues of idle
// clients cost nothing. Consumed slots are dropped once they are half the
// storage, so a queue that never quite empties under steady traffic stays
// bounded. A queue that empties keeps up to `KeepSlots` slots of storage for
// the next burst and gives the rest back.
//
// Threading: none (guard it like the container it replaces). Lifetime: value.
#ifndef CHAT_PROTO_SRC_CHAT_COMPACT_QUEUE_H_
#define CHAT_PROTO_SRC_CHAT_COMPACT_QUEUE_H_

#include <cstddef>
#include <utility>
#include <vector>

namespace chat {

template <typename T, size_t KeepSlots = 64>
class CompactQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  // Slots held, consumed ones included (for tests).
  size_t slots() const { return items_.size(); }
  // Slots of storage allocated (for tests).
  size_t capacity() const { return items_.capacity(); }
  T& front() { return items_[head_]; }
  T& operator[](size_t i) { return items_[head_ + i]; }
  T& back() { return items_.back(); }
  void push_back(T v) { items_.push_back(std::move(v)); }
  void pop_front() {
    items_[head_++] = T();
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void pop_back() {
    items_.pop_back();
    if (head_ == items_.size()) clear();
  }
  void clear() {
    items_.clear();
    head_ = 0;
    if (items_.capacity() > KeepSlots) items_.shrink_to_fit();
  }
  void swap(CompactQueue& other) {
    items_.swap(other.items_);
    std::swap(head_, other.head_);
  }

 private:
  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_COMPACT_QUEUE_H_
