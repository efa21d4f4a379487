// RecentRing: a room's most recent message frames, oldest first, bounded by
// count and by bytes (dropping the oldest), and holding no memory until the
// room's first message. A join whose since_seq falls inside is replayed from
// here; anything older comes from the store.
//
// Threading: not thread-safe; the Room guards it with its state lock.
// Lifetime: owned by its Room; holds references to the frames it keeps.
#ifndef CHAT_CORE_SRC_RECENT_RING_H_
#define CHAT_CORE_SRC_RECENT_RING_H_

#include <cstddef>
#include <vector>

#include "frames.h"

namespace chat::core {

// What a frame costs in memory besides its encoded event: the RoomFrame, its
// shared_ptr control block, two grpc_byte_buffers and the slice's refcount,
// with malloc's headers (docs/operations.md, "Rooms and their memory").
inline constexpr size_t kRoomFrameOverheadBytes = 800;

class RecentRing {
 public:
  // At most max_frames frames whose cost (event bytes + overhead) sums to at
  // most max_bytes. A frame that alone costs more than max_bytes empties the
  // ring (what it holds must end at the room's newest seq).
  RecentRing(size_t max_frames, size_t max_bytes) : max_frames_(max_frames), max_bytes_(max_bytes) {}

  // Appends the room's next frame (seq one past back()'s), dropping the oldest
  // as needed.
  void Push(RoomFramePtr frame);

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // The cost of what is held now.
  size_t bytes() const { return bytes_; }
  // i-th oldest; i < size().
  const RoomFramePtr& operator[](size_t i) const { return buf_[(head_ + i) % buf_.size()]; }
  const RoomFramePtr& front() const { return (*this)[0]; }

  // Puts `frame` in place of the held frame of the same seq (if it is held).
  void Replace(RoomFramePtr frame);

  static size_t Cost(const RoomFrame& frame) { return frame.bytes + kRoomFrameOverheadBytes; }

 private:
  void PopFront();
  void Grow();

  const size_t max_frames_;
  const size_t max_bytes_;
  // A circular buffer; its capacity grows by doubling up to what is needed.
  std::vector<RoomFramePtr> buf_;
  size_t head_ = 0;
  size_t size_ = 0;
  size_t bytes_ = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_RECENT_RING_H_
