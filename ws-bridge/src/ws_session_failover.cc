// WsSession across a lost gateway stream (docs/architecture.md, "Fail-over
// between chat-core nodes"): the WebSocket stays open; the session waits for
// the next stream, opens itself there again, rejoins its rooms with since_seq
// as requests of the bridge's own, and sends what the browser sent meanwhile.
#include "absl/strings/str_cat.h"
#include "bridge_metrics.h"
#include "chat/json_codec.h"
#include "chat/log.h"
#include "session_events.h"
#include "ws_session.h"

namespace chat::bridge {
namespace {

constexpr char kLog[] = "ws";
constexpr char kBackendGone[] = "chat backend unavailable; reconnect and resume";

// The `error` that refuses a browser's event the bridge cannot pass on.
chat::v1::ServerEvent Refusal(absl::StatusCode code, const std::string& message, const chat::v1::ClientEvent& e) {
  const std::string& room = e.has_send() ? e.send().room() : e.has_join() ? e.join().room() : e.leave().room();
  return ErrorEvent(code, message, ClientEventKind(e), e.ref(), room, e.has_send() ? e.send().client_msg_id() : "");
}

}  // namespace

// News of a stream older than the newest heard of is stale: that stream's end
// came after the next one was up, and must not take the session off it.
void WsSession::OnGatewayLost(uint64_t stream) {
  net::post(ws_.get_executor(), [self = shared_from_this(), stream] {
    if (stream < self->gateway_stream_) return;
    self->gateway_stream_ = stream;
    if (self->state_ == State::kOpening) {
      return self->Refuse(http::status::service_unavailable, "UNAVAILABLE",
                          "the chat backend is unavailable; retry shortly");
    }
    if (self->state_ != State::kOpen) return;
    if (self->link_ == Link::kLive) {
      // The wait counts from the first loss; a stream lost again before the
      // session was back does not extend it.
      const absl::Duration timeout = self->ctx_->options.failover_timeout;
      if (timeout == absl::ZeroDuration()) {
        CountDisconnect(self->ctx_->options.metrics, Disconnect::kBackendUnavailable);
        return self->CloseOnStrand(websocket::close_code::service_restart, kBackendGone);
      }
      const uint32_t wait = ++self->failover_wait_;
      self->timer_.expires_after(absl::ToChronoNanoseconds(timeout));
      self->timer_.async_wait([self, wait](const beast::error_code& ec) {
        if (ec || wait != self->failover_wait_ || self->state_ != State::kOpen || self->link_ == Link::kLive) return;
        CountDisconnect(self->ctx_->options.metrics, Disconnect::kBackendUnavailable);
        self->CloseOnStrand(websocket::close_code::service_restart, kBackendGone);
      });
    }
    self->link_ = Link::kWaiting;
    absl::MutexLock lock(&self->mu_);
    self->rooms_.Lost();
    // Its answer will not come: the request is sent again with the rest (PendingEvents).
    self->reply_pending_ = false;
  });
}

void WsSession::OnGatewayUp(uint64_t stream) {
  net::post(ws_.get_executor(), [self = shared_from_this(), stream] {
    if (stream < self->gateway_stream_) return;
    self->gateway_stream_ = stream;
    if (self->state_ != State::kOpen || self->link_ != Link::kWaiting) return;
    const Credentials& c = self->credentials_;
    if (self->ctx_->gateway->Open(self->id_, c.token, c.peer, c.guest_name)) self->link_ = Link::kReopening;
  });
}

void WsSession::Resume() {
  link_ = Link::kLive;
  ++failover_wait_;
  timer_.cancel();
  std::vector<std::pair<std::string, int64_t>> rejoin;
  std::vector<uint64_t> requests;
  PendingEvents::Resend resend;
  {
    absl::MutexLock lock(&mu_);
    rejoin = rooms_.RoomsToRejoin();
    for (const auto& [room, since] : rejoin) {
      requests.push_back(ctx_->gateway->NewRequestId());
      rooms_.Asked(room, requests.back(), RoomSequencer::Ask::kRejoin);
    }
    resend = pending_.TakeForResend();
  }
  CHAT_LOG_DEBUG(kLog, "session %d is back: rejoining %d rooms, sending %d events again", static_cast<int>(id_),
                 static_cast<int>(rejoin.size()), static_cast<int>(resend.send.size()));
  // The rejoins go first: the browser's sends that follow find their rooms joined.
  for (size_t i = 0; i < rejoin.size(); ++i) {
    chat::v1::ClientEvent join;
    join.mutable_join()->set_room(rejoin[i].first);
    join.mutable_join()->set_since_seq(rejoin[i].second);
    ctx_->gateway->SendOwn(id_, join, requests[i]);
  }
  for (auto& event : resend.send) Forward(std::move(event));
  NextReplyRequest();
  absl::MutexLock lock(&mu_);
  for (const auto& event : resend.refuse) {
    EnqueueEventLocked(Refusal(absl::StatusCode::kUnavailable,
                               "the chat backend failed over while this send was under way and it had no "
                               "clientMsgId, so it was not sent again: it may or may not have been stored",
                               event));
  }
}

void WsSession::OnRejoinAnswerLocked(const std::string& room, const chat::v1::ServerEvent& event, bool direct) {
  if (event.has_joined()) {
    // The browser gets the fresh `joined` (no ref): the members are the new
    // node's, and latestSeq is at most what the replay just gave it.
    rooms_.Joined(room, event.joined().latest_seq());
    return EnqueueEventLocked(event, direct);
  }
  // Refused (the room is gone, or this node is behind): the browser's own
  // reconnect and join will get the real answer.
  rooms_.Left(room);
  if (!failing_) CountDisconnect(ctx_->options.metrics, Disconnect::kResume);
  FailLocked(websocket::close_code::try_again_later,
             absl::StrCat("could not rejoin '", room, "' after a fail-over; reconnect and resume"));
}

void WsSession::Forward(chat::v1::ClientEvent event) {
  // The gateway knows of a lost stream before this strand hears of it.
  if (link_ != Link::kLive || !ctx_->gateway->connected()) return HoldWhileDown(std::move(event));
  if (IsReplyRequest(event)) return ForwardReplyRequest(std::move(event));
  PendingEvents::Sent kept;
  {
    absl::MutexLock lock(&mu_);
    kept = pending_.Send(event);
    if (kept == PendingEvents::Sent::kTooMany) {
      return EnqueueEventLocked(Refusal(absl::StatusCode::kResourceExhausted,
                                        absl::StrCat("too many events awaiting an answer (",
                                                     PendingEvents::kMaxUnanswered, "); wait for their answers"),
                                        event));
    }
  }
  if (ctx_->gateway->Send(id_, event)) return;
  // The stream has just gone (the news is on its way to this strand): a kept
  // event is sent again on the next stream; any other waits for it.
  if (kept == PendingEvents::Sent::kUntracked) HoldWhileDown(std::move(event));
}

void WsSession::HoldWhileDown(chat::v1::ClientEvent event) {
  absl::MutexLock lock(&mu_);
  if (event.has_ping()) {
    // The browser's heartbeat asks whether its connection is alive, and it
    // is: answered here, so the browser waits for the fail-over.
    chat::v1::ServerEvent pong;
    pong.set_ref(event.ref());
    pong.mutable_pong()->set_nonce(event.ping().nonce());
    return EnqueueEventLocked(pong);
  }
  if (pending_.Wait(event, static_cast<size_t>(ctx_->options.failover_queue_events))) return;
  EnqueueEventLocked(Refusal(absl::StatusCode::kUnavailable,
                             "the chat backend is failing over to another node and this event could not be "
                             "kept; send it again shortly",
                             event));
}

}  // namespace chat::bridge
