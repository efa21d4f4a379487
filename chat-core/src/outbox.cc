#include "outbox.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "core_metrics.h"
#include "write_kicker.h"

namespace chat::core {

Outbox::Outbox(Kind kind, OutboxWriter* writer, OutboxLimits limits,
               OutboxCounters* counters, WriteKicker* kicker, size_t lane)
    : kind_(kind),
      policy_(kind == Kind::kConnect ? NewConnectDelivery() : NewGatewayDelivery()),
      limits_(limits),
      low_water_(std::max<size_t>(1, std::min(limits.low_water_events, limits.max_events / 4))),
      counters_(counters),
      metrics_(counters == nullptr ? nullptr : counters->metrics),
      kicker_(kicker),
      kick_lane_(kicker == nullptr ? 0 : lane != kAnyLane ? lane : kicker->AssignLane()),
      writer_(writer) {}

bool Outbox::PushEvent(uint64_t session, const chat::v1::ServerEvent& event, uint64_t request) {
  if (kind_ == Kind::kGateway && limits_.reply_piece_bytes > 0 && request == 0 &&
      (event.has_history() || event.has_rooms())) {
    std::vector<grpc::ByteBuffer> pieces = EncodeReplyPieces(session, event, limits_.reply_piece_bytes);
    absl::MutexLock lock(&mu_);
    return PushReplyLocked(std::move(pieces));
  }
  Item item = OwnedItem(policy_->EncodeEvent(session, event, request));
  absl::MutexLock lock(&mu_);
  return PushLocked(std::move(item));
}

bool Outbox::PushMessage(const google::protobuf::MessageLite& message) {
  Item item = OwnedItem(SerializeToByteBuffer(message));
  absl::MutexLock lock(&mu_);
  return PushLocked(std::move(item));
}

bool Outbox::PushReplay(uint64_t session, const RoomFramePtr& frame) {
  Item item = policy_->Replay(session, frame);
  absl::MutexLock lock(&mu_);
  return PushLocked(std::move(item));
}

void Outbox::OnRoomFrame(const RoomFramePtr& frame) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  DeliveryPolicy::Admission admit = policy_->Admit(*frame);
  switch (admit.verdict) {
    case DeliveryPolicy::Verdict::kDrop:
      return;
    case DeliveryPolicy::Verdict::kGap:
      // End the stream so the client resumes with since_seq rather than miss a message.
      FinishLocked(grpc::Status(grpc::StatusCode::ABORTED,
                                "delivery gap detected; reconnect and join with since_seq"));
      return;
    case DeliveryPolicy::Verdict::kQueue:
      break;
  }
  ++stats_.room_frames;
  if (counters_ != nullptr) counters_->room_frames.fetch_add(1, std::memory_order_relaxed);
  PushLocked(Item{frame, admit.buffer, frame->bytes}, /*deferred=*/admit.on_lane);
}

void Outbox::AddRoom(int64_t room_id, int64_t seq) {
  absl::MutexLock lock(&mu_);
  policy_->AddRoom(room_id, seq);
}

void Outbox::RemoveRoom(int64_t room_id) {
  absl::MutexLock lock(&mu_);
  policy_->RemoveRoom(room_id);
}

bool Outbox::HasRoomLocked(size_t events, size_t bytes) {
  if (QueuedLocked() + events <= limits_.max_events && queued_bytes_ + bytes <= limits_.max_bytes) return true;
  FinishLocked(grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("outbound queue overflow (", QueuedLocked(), " events, ", queued_bytes_,
                   " bytes queued): the receiver is not reading fast enough; reconnect and "
                   "join with since_seq to resume")));
  return false;
}

bool Outbox::PushLocked(Item item, bool deferred) {
  if (finished_ || writer_ == nullptr) return false;
  if (!HasRoomLocked(1, item.bytes)) return false;
  queued_bytes_ += item.bytes;
  queue_.push_back(std::move(item));
  if (write_in_flight_ || kick_pending_) return true;
  if (deferred && kicker_ != nullptr) {
    kick_pending_ = true;
    kicker_->Kick(kick_lane_, shared_from_this());
  } else {
    StartNextLocked();
  }
  return true;
}

bool Outbox::PushReplyLocked(std::vector<grpc::ByteBuffer> pieces) {
  if (finished_ || writer_ == nullptr) return false;
  size_t bytes = 0;
  for (const auto& piece : pieces) bytes += piece.Length();
  if (!HasRoomLocked(pieces.size(), bytes)) return false;
  queued_bytes_ += bytes;
  for (auto& piece : pieces) replies_.push_back(OwnedItem(std::move(piece)));
  if (!write_in_flight_ && !kick_pending_) StartNextLocked();
  return true;
}

void Outbox::StartKickedWrite() {
  absl::MutexLock lock(&mu_);
  kick_pending_ = false;
  if (!write_in_flight_ && !finished_) StartNextLocked();
}

void Outbox::StartNextLocked() {
  if (QueuedLocked() == 0 || writer_ == nullptr) return;
  write_in_flight_ = true;
  grpc::WriteOptions options;
  if (!replies_.empty() && (queue_.empty() || writes_since_reply_ + 1 >= kRepliesEvery)) {
    reply_in_flight_ = true;
    writes_since_reply_ = 0;
    in_flight_events_ = 1;
    // Held back only while a room event follows at once (which flushes): a
    // reply's pieces never wait for each other, so none holds one back.
    if (!queue_.empty()) options.set_buffer_hint();
    writer_->StartWriteBuffer(replies_.front().buffer, options);
    return;
  }
  if (!replies_.empty()) ++writes_since_reply_;
  in_flight_events_ = BatchSizeLocked();
  // Let queued messages leave together: only the last one flushes. Not
  // counting reply pieces: a room event must not wait for a megabyte of
  // history to be queued behind it before it leaves.
  if (queue_.size() > in_flight_events_) options.set_buffer_hint();
  if (in_flight_events_ == 1) {
    writer_->StartWriteBuffer(queue_.front().buffer, options);
    return;
  }
  batch_ = EncodeBatchLocked(in_flight_events_);
  writer_->StartWriteBuffer(&batch_, options);
}

size_t Outbox::BatchSizeLocked() {
  size_t limit = std::min(limits_.max_batch, queue_.size());
  // The whole message counts, field headers too (a lone event may be larger).
  size_t n = 1;
  size_t bytes = kBatchHeaderBytes + BatchedEventBytes(queue_.front().bytes);
  while (n < limit && bytes + BatchedEventBytes(queue_[n].bytes) <= kMaxBatchBytes) {
    bytes += BatchedEventBytes(queue_[n++].bytes);
  }
  return n;
}

grpc::ByteBuffer Outbox::EncodeBatchLocked(size_t n) {
  std::vector<const grpc::ByteBuffer*> events(n);
  for (size_t i = 0; i < n; ++i) events[i] = queue_[i].buffer;
  return EncodeEventBatch(events);
}

void Outbox::OnWriteDone(bool ok) {
  std::vector<std::function<void()>> ready;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    auto& lane = reply_in_flight_ ? replies_ : queue_;
    reply_in_flight_ = false;
    size_t written = std::min(in_flight_events_, lane.size());
    for (size_t i = 0; i < written; ++i) {
      queued_bytes_ -= lane.front().bytes;
      lane.pop_front();
    }
    in_flight_events_ = 0;
    batch_.Clear();
    if (!ok) {
      // The stream is broken (client gone). Every RPC still needs its Finish.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    stats_.frames_written += written;
    if (metrics_ != nullptr) metrics_->Written(written);
    if (finished_) return;
    if (QueuedLocked() > 0) {
      StartNextLocked();
    } else if (finish_when_drained_) {
      FinishLocked(drained_status_);
    }
    if (QueuedLocked() <= low_water_ && !writable_waiters_.empty()) {
      ready.swap(writable_waiters_);
    }
  }
  for (auto& fn : ready) fn();
}

void Outbox::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  // An OK end waits for CountEnd: until the client has the status, it may
  // still turn out to be a client that left.
  if (metrics_ != nullptr && !status.ok()) {
    metrics_->Ended(status.error_code());
    end_counted_ = true;
  }
  writable_waiters_.clear();
  // The items being written must stay alive until their OnWriteDone.
  const bool urgent_in_flight = write_in_flight_ && !reply_in_flight_;
  while (queue_.size() > (urgent_in_flight ? in_flight_events_ : 0u)) {
    queued_bytes_ -= queue_.back().bytes;
    queue_.pop_back();
  }
  while (replies_.size() > (reply_in_flight_ ? 1u : 0u)) {
    queued_bytes_ -= replies_.back().bytes;
    replies_.pop_back();
  }
  if (writer_ != nullptr) writer_->FinishStream(status);
}

void Outbox::Finish(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  FinishLocked(status);
}

void Outbox::FinishWhenDrained(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  if (QueuedLocked() == 0 && !write_in_flight_) {
    FinishLocked(status);
    return;
  }
  finish_when_drained_ = true;
  drained_status_ = status;
}

void Outbox::CountEnd(bool cancelled) {
  absl::MutexLock lock(&mu_);
  if (metrics_ == nullptr || !finished_ || end_counted_) return;
  end_counted_ = true;
  metrics_->Ended(cancelled ? grpc::StatusCode::CANCELLED : grpc::StatusCode::OK);
}

void Outbox::Detach() {
  decltype(queue_) drop;
  decltype(replies_) drop_replies;
  std::vector<std::function<void()>> waiters;
  {
    absl::MutexLock lock(&mu_);
    writer_ = nullptr;
    finished_ = true;
    drop.swap(queue_);
    drop_replies.swap(replies_);
    waiters.swap(writable_waiters_);
    queued_bytes_ = 0;
    policy_->Clear();
  }
  // Destroyed outside the lock: they may hold the last reference to a session.
}

bool Outbox::finished() const {
  absl::MutexLock lock(&mu_);
  return finished_;
}

size_t Outbox::queued() const {
  absl::MutexLock lock(&mu_);
  return QueuedLocked();
}

OutboxStats Outbox::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Outbox::WhenWritable(std::function<void()> fn) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (QueuedLocked() > low_water_) {
      writable_waiters_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void Outbox::ReadWhenRoom(size_t high_water, std::function<void()> start_read) {
  absl::MutexLock lock(&mu_);
  if (finished_ || writer_ == nullptr) return;
  if (QueuedLocked() <= high_water) {
    start_read();
    return;
  }
  // Waiters run from OnWriteDone, a reaction of the same stream, so the reactor
  // is alive; IfOpen checks it has not finished meanwhile.
  std::weak_ptr<Outbox> weak = weak_from_this();
  writable_waiters_.push_back([weak, start_read = std::move(start_read)] {
    if (auto self = weak.lock()) self->IfOpen(start_read);
  });
}

bool Outbox::IfOpen(const std::function<void()>& fn) {
  absl::MutexLock lock(&mu_);
  if (finished_ || writer_ == nullptr) return false;
  fn();
  return true;
}

}  // namespace chat::core
