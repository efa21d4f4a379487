// WsSession, the outbound side: the socket's queue, direct writes from the
// gateway's thread (gated_socket.h), presence that waits (deferred_flush.h),
// and the strand's writes, where everything queued leaves in one frame.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "bridge_metrics.h"
#include "session_events.h"
#include "ws_session.h"

namespace chat::bridge {
namespace {
const char kNewline = '\n';
}  // namespace

void WsSession::EnqueueEventLocked(const chat::v1::ServerEvent& event, bool direct) {
  EnqueueLocked(EncodeFrame(event), /*can_wait=*/false, direct);
}

void WsSession::EnqueueLocked(Frame frame, bool can_wait, bool direct, SendBatch* batch) {
  if (failing_) return;
  if (direct && queue_.empty() && !write_scheduled_ && !(can_wait && PresenceMayWaitLocked())) {
    // Nothing queued or being written by us: try the frame straight on the
    // socket from this thread (gated_socket.h), saving the strand's round
    // trips; in the caller's batch if it has one, which sends it with the
    // rest of the room's. Anything queued after it waits for it.
    if (batch != nullptr && ws_.next_layer().AddText(*batch, frame)) return;
    switch (ws_.next_layer().TryWriteText(*frame)) {
      case GatedSocket::Direct::kPartly:
        net::post(ws_.get_executor(), [self = shared_from_this()] { self->ws_.next_layer().FlushPrefix(); });
        // What the socket did not take is the bridge's to hold, as if queued.
        if (OverQueueLimitLocked(0)) {
          CountDisconnect(ctx_->options.metrics, Disconnect::kSlowConsumer);
          return FailLocked(websocket::close_code::policy_error,
                            "receiver too slow: outbound queue full; reconnect and resume with sinceSeq");
        }
        return;
      case GatedSocket::Direct::kWritten:
        return;
      case GatedSocket::Direct::kNot:
        break;  // queued and written by the strand
    }
  }
  if (queue_.size() >= ctx_->options.max_queued_events || OverQueueLimitLocked(frame->size())) {
    CountDisconnect(ctx_->options.metrics, Disconnect::kSlowConsumer);
    return FailLocked(websocket::close_code::policy_error,
                      "receiver too slow: outbound queue full; reconnect and resume with sinceSeq");
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (write_scheduled_) return;  // the write that is coming takes it
  if (can_wait && PresenceMayWaitLocked()) {
    if (deferred_) return;
    // Quiet for as long as the last wait: back to the short one.
    if (absl::Now() - presence_flushed_at_ > presence_wait_ * ctx_->options.presence_delay) {
      presence_wait_ = 1;
    }
    if (ctx_->deferred->Add(weak_from_this(), presence_wait_)) {
      deferred_ = true;
      return;
    }
    // Stopped (shutting down): write it now.
  }
  ScheduleWriteLocked();
}

// Presence waits only while the queue is small: once a frame's worth (or half
// of what the queue may hold) is waiting, there is nothing more to gain, and a
// burst of joins must not fill the queue of a browser that reads promptly.
bool WsSession::PresenceMayWaitLocked() const {
  const BridgeOptions& o = ctx_->options;
  return ctx_->deferred != nullptr && queue_.size() < std::min(o.max_events_per_frame, o.max_queued_events / 2) &&
         queued_bytes_ < o.max_queued_bytes / 2;
}

bool WsSession::OverQueueLimitLocked(size_t more) {
  const size_t limit = ctx_->options.max_queued_bytes;
  size_t held = queued_bytes_ + writing_bytes_ + more;
  if (held > limit) return true;
  // Only a direct write leaves a prefix, so most sockets never ask the gate.
  if (ctx_->options.direct_writes) held += ws_.next_layer().unsent_bytes();
  return held > limit;
}

void WsSession::ScheduleWriteLocked() {
  write_scheduled_ = true;
  net::post(ws_.get_executor(), [self = shared_from_this()] { self->DoWrite(); });
}

WsSession::QueueDepth WsSession::queue_depth() {
  absl::MutexLock lock(&mu_);
  return QueueDepth{queue_.size(), queued_bytes_};
}

void WsSession::FlushDeferred() {
  absl::MutexLock lock(&mu_);
  deferred_ = false;
  if (write_scheduled_ || queue_.empty() || failing_) return;
  // Several events share this write: presence is coming faster than it waits,
  // so wait longer next time; one event: there was nothing to gain.
  const BridgeOptions& o = ctx_->options;
  const uint32_t most = static_cast<uint32_t>(std::max<int64_t>(1, o.presence_max_delay / o.presence_delay));
  presence_wait_ = queue_.size() > 1 ? std::min(presence_wait_ * 2, most) : 1;
  presence_flushed_at_ = absl::Now();
  ScheduleWriteLocked();
}

void WsSession::FailLocked(websocket::close_code code, std::string reason) {
  if (failing_) return;
  failing_ = true;
  queue_.clear();
  queued_bytes_ = 0;
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->CloseOnStrand(code, reason);
  });
}

// ---------------------------------------------------------------------------
// Writing: everything queued leaves in one frame, events separated by '\n'.

void WsSession::DoWrite() {
  if (state_ == State::kOpening) return;  // OnAccept starts it
  if (state_ == State::kClosed) return;
  {
    absl::MutexLock lock(&mu_);
    if (write_in_flight_) return;
    if (queue_.empty() || failing_) {
      write_scheduled_ = false;
      return;
    }
    size_t n = std::min(queue_.size(), ctx_->options.max_events_per_frame);
    writing_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t size = queue_.front()->size();
      queued_bytes_ -= size;
      writing_bytes_ += size;
      writing_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    write_in_flight_ = true;
  }
  write_buffers_.clear();
  write_buffers_.reserve(writing_.size() * 2);
  for (size_t i = 0; i < writing_.size(); ++i) {
    if (i > 0) write_buffers_.push_back(net::buffer(&kNewline, 1));
    write_buffers_.push_back(net::buffer(*writing_[i]));
  }
  ws_.text(true);
  BufferView view(write_buffers_.data(), write_buffers_.data() + write_buffers_.size());
  ws_.async_write(view, [self = shared_from_this()](const beast::error_code& ec, size_t n) {
    self->OnWrite(ec, n);
  });
}

void WsSession::OnWrite(const beast::error_code& ec, size_t bytes) {
  writing_.clear();
  {
    absl::MutexLock lock(&mu_);
    writing_bytes_ = 0;
  }
  if (ec) return Teardown(absl::StrCat("write failed: ", ec.message()));
  bool more;
  bool next_request = false;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    more = !queue_.empty() && !failing_;
    if (!more) {
      write_scheduled_ = false;
      // Everything queued has been written, the last reply with it.
      next_request = reply_unwritten_;
      reply_unwritten_ = false;
    }
  }
  if (!more && writing_.capacity() > 16) {
    // Idle again after a burst: give the batch buffers back.
    writing_.shrink_to_fit();
    write_buffers_.clear();
    write_buffers_.shrink_to_fit();
  }
  if (state_ == State::kClosing && !close_sent_) return SendClose();
  if (more) return DoWrite();
  if (next_request) NextReplyRequest();
}

}  // namespace chat::bridge
