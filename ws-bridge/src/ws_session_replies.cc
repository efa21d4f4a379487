// WsSession's history and room-list requests (docs/architecture.md, "Fair
// shares of the gateway stream"). Their replies can be megabytes and cross the
// gateway stream every browser of this bridge shares, so each session has one
// at chat-core at a time, and its next goes only once the previous reply has
// been written to its socket: a browser that does not read gets one reply and
// no more, and one that asks faster than it reads waits, however many sockets
// it opens. The gateway bounds such requests for the whole bridge
// (--replies_in_flight) and gives the sessions turns in arrival order.
#include "absl/strings/str_cat.h"
#include "bridge_metrics.h"
#include "session_events.h"
#include "ws_session.h"

namespace chat::bridge {

bool WsSession::IsReplyRequest(const chat::v1::ClientEvent& event) {
  return event.has_history() || event.has_list_rooms();
}

void WsSession::ForwardReplyRequest(chat::v1::ClientEvent event) {
  waiting_requests_.push_back(std::move(event));
  NextReplyRequest();
  if (waiting_requests_.size() <= ctx_->options.max_waiting_requests || state_ != State::kOpen) return;
  CountDisconnect(ctx_->options.metrics, Disconnect::kRateLimit);
  waiting_requests_.clear();
  CloseOnStrand(websocket::close_code::policy_error,
                absl::StrCat("too many history or room-list requests waiting (", ctx_->options.max_waiting_requests,
                             "); read the replies before asking again"));
}

void WsSession::NextReplyRequest() {
  while (state_ == State::kOpen && !waiting_requests_.empty()) {
    {
      absl::MutexLock lock(&mu_);
      if (failing_ || reply_pending_ || reply_unwritten_) return;
    }
    chat::v1::ClientEvent event = std::move(waiting_requests_.front());
    waiting_requests_.pop_front();
    // No stream: it waits with the other events for the next one, and comes
    // back here from Resume.
    if (link_ != Link::kLive || !ctx_->gateway->connected()) {
      HoldWhileDown(std::move(event));
      continue;
    }
    SendReplyRequestNow(std::move(event));
  }
}

void WsSession::SendReplyRequestNow(chat::v1::ClientEvent event) {
  PendingEvents::Sent kept;
  {
    absl::MutexLock lock(&mu_);
    kept = pending_.Send(event);
    if (kept == PendingEvents::Sent::kTooMany) {
      return EnqueueEventLocked(ErrorEvent(absl::StatusCode::kResourceExhausted,
                                           absl::StrCat("too many events awaiting an answer (",
                                                        PendingEvents::kMaxUnanswered, "); wait for their answers"),
                                           ClientEventKind(event), event.ref()));
    }
    reply_pending_ = true;
    reply_kind_ = std::string(ClientEventKind(event));
    reply_ref_ = event.ref();
  }
  if (ctx_->gateway->SendReplyRequest(id_, event)) return;
  {
    absl::MutexLock lock(&mu_);
    reply_pending_ = false;
  }
  // The stream has just gone: a kept event is sent again on the next stream.
  if (kept == PendingEvents::Sent::kUntracked) HoldWhileDown(std::move(event));
}

void WsSession::DeliverReplyLocked(const chat::v1::ServerEvent& event, Frame frame) {
  // Through the queue, never written directly, so its size counts against
  // --max_queued_bytes and its write's end lets the next request go.
  reply_pending_ = false;
  pending_.Answered(event);
  reply_unwritten_ = true;
  EnqueueLocked(std::move(frame), /*can_wait=*/false, /*direct=*/false);
}

void WsSession::OnSessionReply(std::string serialized) {
  // Parsing a megabyte of history and encoding it as JSON takes milliseconds:
  // on the bridge's bulk thread, not on the gateway's thread, which fans out
  // the rooms' messages meanwhile, nor on an io thread, which the sockets need.
  auto work = [self = shared_from_this(), bytes = std::move(serialized)] {
    chat::v1::ServerEvent event;
    if (!event.ParseFromString(bytes) || !AnswersReplyRequest(event)) {
      absl::MutexLock lock(&self->mu_);
      event = ErrorEvent(absl::StatusCode::kInternal, "chat-core's answer could not be read; ask again",
                         self->reply_kind_, self->reply_ref_);
    }
    Frame frame = EncodeFrame(event);
    absl::MutexLock lock(&self->mu_);
    if (self->failing_ || !self->reply_pending_) return;
    self->DeliverReplyLocked(event, std::move(frame));
  };
  if (ctx_->bulk == nullptr) return work();
  net::post(*ctx_->bulk, std::move(work));
}

}  // namespace chat::bridge
