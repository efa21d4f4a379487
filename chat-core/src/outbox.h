// Outbox: the bounded outbound queue of one gRPC stream (a Connect stream or a
// gateway stream), with exactly one write in flight. What differs between the
// two kinds (addressing, which room frames they take) is a DeliveryPolicy; the
// queue, its limits, batching and finishing are the same.
//
// Threading: thread-safe. Anyone may push (the store thread publishing a room
// message, a gRPC reaction answering an event); the reactor reports OnWriteDone.
// The lock is the innermost lock of chat-core: it is taken under a room lock or a
// session lock, never the other way round, and no callback runs under it.
// Lifetime: shared by the reactor, its sessions and the rooms it is in; the
// reactor calls Detach() from OnDone, after which every push is dropped and no
// write or finish reaches the (deleted) reactor.
#ifndef CHAT_CORE_SRC_OUTBOX_H_
#define CHAT_CORE_SRC_OUTBOX_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/impl/call_op_set.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chat/compact_queue.h"
#include "chat/v1/chat.pb.h"
#include "delivery_policy.h"
#include "frames.h"
#include "room_subscriber.h"

namespace chat::core {

// The reactor side of an outbox. Called with the outbox lock held, so an
// implementation only starts gRPC operations (which never run reactions inline).
class OutboxWriter {
 public:
  virtual ~OutboxWriter() = default;
  virtual void StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) = 0;
  virtual void FinishStream(const grpc::Status& status) = 0;
};

struct OutboxLimits {
  size_t max_events = 4096;
  size_t max_bytes = 4 << 20;
  // Replay pages are queued only while the queue is at or below this.
  size_t low_water_events = 256;
  // Connect only: when more than one event is queued as a write starts, up to
  // this many leave in one ServerEvent{batch} (1: one event per message).
  size_t max_batch = 1;
  // Gateway only: the answers to browsers' history and room-list requests
  // wait in a lane of their own behind everything else (one of them leaves
  // at least every kRepliesEvery writes), cut into pieces of at most this
  // many bytes (chat.proto, EventChunk), so a megabyte of history never holds
  // back a room's messages. 0: whole, in order with the rest (a bridge that
  // did not ask for pieces).
  size_t reply_piece_bytes = 0;
};

// What a gateway's reply lane cuts replies into (x-chat-gateway-chunks).
inline constexpr size_t kReplyPieceBytes = 64 << 10;
// While both lanes have items, every this many-th write is a reply piece.
inline constexpr size_t kRepliesEvery = 8;

// A batch stops before the event that would take it past this many bytes (a
// bigger event leaves alone).
inline constexpr size_t kMaxBatchBytes = 64 << 10;
// The most a client may ask for (x-chat-batch).
inline constexpr size_t kMaxBatchEvents = 1024;

class StreamMetrics;  // core_metrics.h

// What every outbox of one kind counts into. Owned by the Hub, one per kind.
// Threading: thread-safe (atomics). Lifetime: outlives every outbox.
struct OutboxCounters {
  // Room frames queued (one per stream per room event).
  std::atomic<uint64_t> room_frames{0};
  // With metrics on (else null): events written and streams ended, by reason.
  StreamMetrics* metrics = nullptr;
};

struct OutboxStats {
  // Events written (a batch counts its events).
  uint64_t frames_written = 0;
  uint64_t room_frames = 0;
};

class WriteKicker;

class Outbox : public RoomSubscriber, public std::enable_shared_from_this<Outbox> {
 public:
  enum class Kind { kConnect, kGateway };

  // `counters` (optional) counts the room frames this outbox queues, and
  // (with metrics on) what it writes and why it ends. `kicker` (optional) starts the writes of room frames on its threads (on
  // `lane`, or one it assigns); without one they start on the publishing thread.
  static constexpr size_t kAnyLane = static_cast<size_t>(-1);
  Outbox(Kind kind, OutboxWriter* writer, OutboxLimits limits, OutboxCounters* counters = nullptr,
         WriteKicker* kicker = nullptr, size_t lane = kAnyLane);

  Kind kind() const { return kind_; }

  // A session event: encoded for this stream (a gateway wraps it with the
  // session id, and `request` if not 0; a browser's history or room-list
  // answer goes in the reply lane, see reply_piece_bytes). False if the
  // stream is finished or just overflowed.
  bool PushEvent(uint64_t session, const chat::v1::ServerEvent& event, uint64_t request = 0) override;
  // A message written as is (a gateway's opened/closed control items).
  bool PushMessage(const google::protobuf::MessageLite& message);
  // A replayed message for one session, reusing the frame's encoded bytes.
  bool PushReplay(uint64_t session, const RoomFramePtr& frame) override;
  // A room event; delivered as the policy says (see delivery_policy.h).
  void OnRoomFrame(const RoomFramePtr& frame) override;
  // Called under the room lock, so ordered with the room's publishing.
  void AddRoom(int64_t room_id, int64_t seq) override;
  void RemoveRoom(int64_t room_id) override;

  // Reactor side.
  void OnWriteDone(bool ok);
  // Ends the stream now with `status`, dropping what is queued. Idempotent.
  void Finish(const grpc::Status& status);
  // Ends the stream once everything queued has been written.
  void FinishWhenDrained(const grpc::Status& status);
  // The reactor's OnDone, before Detach: counts a stream that this side ended
  // with OK in chat_core_streams_ended_total, as "completed", or as
  // "cancelled" when the client never got that status (`cancelled`: it left,
  // or its connection broke, before the stream's end reached it). Other ends
  // are counted when Finish is called. Once per stream.
  void CountEnd(bool cancelled);
  void Detach();

  bool finished() const;
  size_t queued() const;
  // The most events a joining session may queue in one replay step.
  size_t replay_burst() const { return low_water_; }
  OutboxStats stats() const;

  // Runs `fn` once the queue is at or below the low-water mark: now (on this
  // thread) if it already is, else from the write completion that gets it there.
  // Dropped if the stream finishes first.
  void WhenWritable(std::function<void()> fn);

  // Runs `fn` under the lock if the stream is still open (used to restart reads).
  bool IfOpen(const std::function<void()>& fn);

  // Flow control for what a client sends: runs `start_read` under the lock (as
  // IfOpen) now if at most `high_water` events are queued, else once the queue
  // has drained to the low-water mark. Dropped if the stream finishes first.
  void ReadWhenRoom(size_t high_water, std::function<void()> start_read);

  // Called by the WriteKicker: starts the next write if none is in flight.
  void StartKickedWrite();

 private:
  using Item = OutboxItem;

  // `deferred`: leave starting the write to the kicker (room frames).
  bool PushLocked(Item item, bool deferred = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pieces of one reply, into the reply lane (all of them, or the stream overflows).
  bool PushReplyLocked(std::vector<grpc::ByteBuffer> pieces) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Items queued in both lanes.
  size_t QueuedLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return queue_.size() + replies_.size(); }
  // False (and the stream finished) if `events` more items of `bytes` would overflow it.
  bool HasRoomLocked(size_t events, size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many of the queued events the next write takes (max_batch, kMaxBatchBytes).
  size_t BatchSizeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ServerEvent{batch: the first n queued events}, sharing their bytes.
  grpc::ByteBuffer EncodeBatchLocked(size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Kind kind_;
  // Its own state is guarded by mu_ (the encoders are const and stateless).
  const std::unique_ptr<DeliveryPolicy> policy_;
  const OutboxLimits limits_;
  // limits_.low_water_events, but never more than a quarter of the queue.
  const size_t low_water_;
  OutboxCounters* const counters_;
  StreamMetrics* const metrics_;  // counters_->metrics, or null
  WriteKicker* const kicker_;
  const size_t kick_lane_;
  mutable absl::Mutex mu_;
  OutboxWriter* writer_ ABSL_GUARDED_BY(mu_);
  // Gives all of its storage back when it empties: most streams are idle most
  // of the time, and 64 kept slots would be 2 KB each (the cost is one small
  // allocation per burst).
  CompactQueue<Item, 0> queue_ ABSL_GUARDED_BY(mu_);
  // The reply lane (limits_.reply_piece_bytes), written when queue_ is empty
  // or after kRepliesEvery - 1 writes from it in a row.
  CompactQueue<Item, 0> replies_ ABSL_GUARDED_BY(mu_);
  size_t writes_since_reply_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // The write in flight is replies_.front().
  bool reply_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // The queued events the write in flight carries (they stay queued until it is done).
  size_t in_flight_events_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ByteBuffer batch_ ABSL_GUARDED_BY(mu_);
  bool kick_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool end_counted_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_when_drained_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status drained_status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> writable_waiters_ ABSL_GUARDED_BY(mu_);
  OutboxStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_OUTBOX_H_
