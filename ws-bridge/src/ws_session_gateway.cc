// WsSession, the gateway side: what chat-core tells the session (on gRPC
// threads: queue and post, or write straight to an idle socket, nothing more),
// room messages through the RoomSequencer, and the gap fills the bridge asks
// for itself.
#include "bridge_metrics.h"
#include "chat/log.h"
#include "chat/status.h"
#include "http_util.h"
#include "session_events.h"
#include "ws_session.h"

namespace chat::bridge {
namespace {
// Messages one gap fill asks for (chat-core's most per history page).
constexpr int kFillLimit = 500;
constexpr char kCannotRecover[] = "could not recover missed messages; reconnect and resume";
}  // namespace

void WsSession::OnOpened(const std::string& user) {
  net::post(ws_.get_executor(), [self = shared_from_this(), user] {
    if (self->state_ == State::kOpen && self->link_ == Link::kReopening) return self->Resume();
    if (self->state_ != State::kOpening) return;
    self->user_ = user;
    self->timer_.cancel();
    self->Accept();
  });
}

void WsSession::OnClosed(chat::v1::Error::Code code, const std::string& reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason] {
    if (self->state_ == State::kOpening) {
      http::status status = HttpStatusFor(FromErrorCode(code));
      self->Refuse(status, StatusCodeName(FromErrorCode(code)), reason);
      return;
    }
    // Logout or expiry: a policy close the browser should not retry blindly.
    websocket::close_code ws_code = code == chat::v1::Error::UNAUTHENTICATED
                                        ? websocket::close_code::policy_error
                                        : websocket::close_code::internal_error;
    if (self->state_ == State::kOpen) {
      CountDisconnect(self->ctx_->options.metrics,
                      code == chat::v1::Error::UNAUTHENTICATED ? Disconnect::kAuth : Disconnect::kServerError);
    }
    self->CloseOnStrand(ws_code, reason);
  });
}

void WsSession::OnSessionEvent(const chat::v1::ServerEvent& event, uint64_t request, bool direct) {
  absl::MutexLock lock(&mu_);
  if (failing_) return;
  if (request == 0 && reply_pending_ && AnswersReplyRequest(event)) {
    return DeliverReplyLocked(event, EncodeFrame(event));
  }
  if (request != 0) {
    // The answer to a request of the bridge's own, never forwarded as it is.
    auto asked = rooms_.Answered(request);
    if (!asked) return;  // a lost stream's, or a room left since
    if (asked->second == RoomSequencer::Ask::kFill) return OnFillAnswerLocked(asked->first, event);
    return OnRejoinAnswerLocked(asked->first, event, direct);
  }
  pending_.Answered(event);
  switch (event.event_case()) {
    case chat::v1::ServerEvent::kMessage:
      // A replayed message (join with since_seq), before `joined`.
      DeliverMessageLocked(event.message().room(), event.message().seq(), EncodeFrame(event), /*live=*/false,
                           direct);
      return;
    case chat::v1::ServerEvent::kJoined:
      rooms_.Joined(event.joined().room(), event.joined().latest_seq());
      EnqueueEventLocked(event, direct);
      return;
    case chat::v1::ServerEvent::kLeft:
      rooms_.Left(event.left().room());
      EnqueueEventLocked(event, direct);
      return;
    default:
      EnqueueEventLocked(event, direct);
  }
}

void WsSession::OnRoomFrame(const std::string& room, int64_t seq,
                            const std::shared_ptr<const std::string>& json, bool can_wait, bool direct,
                            SendBatch* batch) {
  absl::MutexLock lock(&mu_);
  if (seq != 0) return DeliverMessageLocked(room, seq, json, /*live=*/true, direct, batch);
  // Presence and typing: no seq, nothing to order.
  if (rooms_.IsLive(room)) EnqueueLocked(json, can_wait, direct, batch);
}

void WsSession::DeliverMessageLocked(const std::string& room, int64_t seq, Frame frame, bool live, bool direct,
                                     SendBatch* batch) {
  switch (rooms_.Offer(room, seq, frame, live)) {
    case RoomSequencer::Verdict::kDrop:
    case RoomSequencer::Verdict::kHold:
      return;
    case RoomSequencer::Verdict::kTooFar:
      if (!failing_) CountDisconnect(ctx_->options.metrics, Disconnect::kResume);
      return FailLocked(websocket::close_code::try_again_later,
                        "too far behind; reconnect and resume with sinceSeq");
    case RoomSequencer::Verdict::kFill:
      return AskFillLocked(room);
    case RoomSequencer::Verdict::kDeliver:
      return EnqueueLocked(std::move(frame), /*can_wait=*/false, direct, batch);
    case RoomSequencer::Verdict::kDeliverAndDrain:
      EnqueueLocked(std::move(frame), /*can_wait=*/false, direct, batch);
      for (Frame next; rooms_.TakeReady(room, &next);) EnqueueLocked(std::move(next));
      return;
  }
}

void WsSession::AskFillLocked(const std::string& room) {
  // Marked at once, so the messages that follow are held without asking
  // again; sent from the strand (the gateway is not called under mu_).
  const uint64_t request = ctx_->gateway->NewRequestId();
  rooms_.Asked(room, request, RoomSequencer::Ask::kFill);
  net::post(ws_.get_executor(), [self = shared_from_this(), room, request] { self->RequestFill(room, request); });
}

void WsSession::RequestFill(const std::string& room, uint64_t request) {
  if (state_ != State::kOpen || id_ == 0) return;
  chat::v1::ClientEvent ev;
  {
    absl::MutexLock lock(&mu_);
    if (rooms_.Outstanding(room) != request) return;  // answered, or the room was left
    auto* h = ev.mutable_history();
    h->set_room(room);
    h->set_after_seq(rooms_.LastSeq(room));
    h->set_limit(kFillLimit);
    h->set_order(chat::v1::HISTORY_ORDER_OLDEST_FIRST);
  }
  ctx_->gateway->SendOwn(id_, ev, request);
}

void WsSession::OnFillAnswerLocked(const std::string& room, const chat::v1::ServerEvent& event) {
  if (!event.has_history()) {
    if (!failing_) CountDisconnect(ctx_->options.metrics, Disconnect::kResume);
    return FailLocked(websocket::close_code::try_again_later, kCannotRecover);
  }
  const int64_t before = rooms_.LastSeq(room);
  for (const auto& m : event.history().messages()) {
    chat::v1::ServerEvent ev;
    *ev.mutable_message() = m;
    DeliverMessageLocked(room, m.seq(), EncodeFrame(ev), /*live=*/false);
  }
  switch (rooms_.AfterFill(room, before)) {
    case RoomSequencer::FillOutcome::kDone:
      return;
    case RoomSequencer::FillOutcome::kFill:
      return AskFillLocked(room);
    case RoomSequencer::FillOutcome::kStuck:
      if (!failing_) CountDisconnect(ctx_->options.metrics, Disconnect::kResume);
      return FailLocked(websocket::close_code::try_again_later, kCannotRecover);
  }
}

}  // namespace chat::bridge
