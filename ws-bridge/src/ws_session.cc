// WsSession, the WebSocket side: opening, the handshake, reads, closing.
#include "ws_session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bridge_metrics.h"
#include "chat/json_codec.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "http_util.h"
#include "session_events.h"

namespace chat::bridge {
namespace {

constexpr char kLog[] = "ws";
// Messages held back after a gap, per room, before the browser is given up on.
constexpr size_t kMaxHeldAfterGap = 1024;
constexpr absl::Duration kCloseTimeout = absl::Seconds(2);
// Bytes one read of a WebSocket message may take (see DoRead).
constexpr size_t kReadPiece = 256;

}  // namespace

WsSession::WsSession(net::ip::tcp::socket&& socket, http::request<http::string_body> upgrade,
                     Credentials credentials, BridgeContext* ctx,
                     std::unique_ptr<ConnectionSlot> slot)
    : ws_(std::move(socket)),
      upgrade_(std::move(upgrade)),
      credentials_(std::move(credentials)),
      ctx_(ctx),
      slot_(std::move(slot)),
      timer_(ws_.get_executor()),
      bucket_(&ctx->event_rate, absl::Now()),
      rooms_(kMaxHeldAfterGap) {}

WsSession::~WsSession() = default;

void WsSession::Start() {
  net::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->Begin(); });
}

void WsSession::Close(websocket::close_code code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    if (self->state_ == State::kOpening) {
      self->Refuse(http::status::service_unavailable, "UNAVAILABLE", reason);
    } else {
      self->CloseOnStrand(code, reason);
    }
  });
}

void WsSession::Begin() {
  bool stopping;
  {
    absl::MutexLock lock(&ctx_->mu);
    stopping = ctx_->stopping;
    if (!stopping) ctx_->sessions[this] = weak_from_this();
  }
  if (stopping) return Refuse(http::status::service_unavailable, "UNAVAILABLE", "ws-bridge is shutting down");
  id_ = ctx_->gateway->AddSession(shared_from_this());
  if (id_ == 0) {
    return Refuse(http::status::service_unavailable, "UNAVAILABLE",
                  "the chat backend is unavailable; retry shortly");
  }
  // The token stays: after a fail-over the session is opened with it again.
  ctx_->gateway->Open(id_, credentials_.token, credentials_.peer, credentials_.guest_name);
  timer_.expires_after(absl::ToChronoNanoseconds(ctx_->options.handshake_timeout));
  timer_.async_wait([self = shared_from_this()](const beast::error_code& ec) { self->OnHandshakeTimeout(ec); });
}

void WsSession::OnHandshakeTimeout(const beast::error_code& ec) {
  if (ec || state_ != State::kOpening) return;
  Refuse(http::status::gateway_timeout, "DEADLINE_EXCEEDED", "the chat backend did not answer in time");
}

void WsSession::Accept() {
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = absl::ToChronoNanoseconds(ctx_->options.handshake_timeout);
  timeouts.idle_timeout = absl::ToChronoNanoseconds(ctx_->options.idle_timeout);
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.read_message_max(ctx_->options.max_message_bytes);
  ws_.auto_fragment(false);
  // Beast writes the handshake's answer itself: the 101, or its own 400 for a
  // bad upgrade (no Sec-WebSocket-Key...), which needs the headers every
  // response of the bridge has (found by tests/fuzz, fuzz_bridge_http).
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    SetSecurityHeaders(res);
  }));
  ws_.async_accept(upgrade_, [self = shared_from_this()](const beast::error_code& ec) { self->OnAccept(ec); });
}

void WsSession::OnAccept(const beast::error_code& ec) {
  if (ec) return Teardown(absl::StrCat("handshake failed: ", ec.message()));
  state_ = State::kOpen;
  accepted_ = true;
  if (ctx_->options.direct_writes) ws_.next_layer().Open();
  ctx_->ws_opened.fetch_add(1);
  upgrade_ = {};
  bool write_now;
  {
    absl::MutexLock lock(&mu_);
    write_now = write_scheduled_ && !write_in_flight_;
  }
  if (write_now) DoWrite();
  DoRead();
}

void WsSession::Refuse(http::status status, const std::string& code, const std::string& message) {
  if (state_ != State::kOpening) return;
  state_ = State::kClosing;
  timer_.cancel();
  if (ctx_->options.metrics != nullptr) ctx_->options.metrics->UpgradeRefused(code);
  auto res = std::make_shared<http::response<http::string_body>>(
      JsonError(status, upgrade_.version(), code, message));
  SetSecurityHeaders(*res);
  res->keep_alive(false);
  http::async_write(ws_.next_layer(), *res,
                    [self = shared_from_this(), res, message](const beast::error_code&, size_t) {
                      self->Teardown(absl::StrCat("upgrade refused: ", message));
                    });
}

void WsSession::DoRead() {
  // Beast reserves room in the buffer before it waits for data, so an idle
  // socket holds whatever one read may take: read in small pieces (a browser's
  // events are small) and assemble the message in OnRead. Measured: 1.3 KB less
  // per idle socket than async_read's default of one TCP frame (1,536 bytes).
  ws_.async_read_some(read_buffer_, kReadPiece, [self = shared_from_this()](const beast::error_code& ec, size_t n) {
    self->OnRead(ec, n);
  });
}

void WsSession::OnRead(const beast::error_code& ec, size_t bytes) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      // Beast has already sent close 1009 (message too big).
      CountDisconnect(ctx_->options.metrics, Disconnect::kMessageTooBig);
      return Teardown("message too big");
    }
    return Teardown(ec == websocket::error::closed ? "closed by the browser" : ec.message());
  }
  if (!ws_.is_message_done()) {
    // More of this message to come (Beast enforces read_message_max across the pieces).
    if (state_ == State::kOpen) DoRead();
    return;
  }
  std::string text = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  read_buffer_.shrink_to_fit();  // idle sockets keep no read buffer
  if (state_ != State::kOpen) return;
  if (!ws_.got_text()) {
    // Counted like any event: each one costs an error reply.
    if (TakeEventToken()) {
      absl::MutexLock lock(&mu_);
      EnqueueEventLocked(ErrorEvent(absl::StatusCode::kInvalidArgument,
                                    "binary frames are not supported: send one ClientEvent as JSON text",
                                    "", ""));
    }
  } else {
    HandleText(text);
  }
  if (state_ == State::kOpen) DoRead();
}

bool WsSession::TakeEventToken(double cost) {
  if (bucket_.Take(absl::Now(), cost)) return true;
  if (++violations_ > static_cast<int>(ctx_->options.event_burst)) {
    if (state_ == State::kOpen) CountDisconnect(ctx_->options.metrics, Disconnect::kRateLimit);
    CloseOnStrand(websocket::close_code::policy_error, "too many events");
    return false;
  }
  if (ctx_->options.metrics != nullptr) ctx_->options.metrics->EventRefused(/*rate_limit=*/true);
  absl::MutexLock lock(&mu_);
  EnqueueEventLocked(ErrorEvent(
      absl::StatusCode::kResourceExhausted,
      absl::StrFormat("too many events: at most %.0f per second (bursts of %.0f); this one was dropped",
                      ctx_->options.events_per_second, ctx_->options.event_burst),
      "", ""));
  return false;
}

void WsSession::HandleText(const std::string& text) {
  if (!TakeEventToken()) return;
  auto event = DecodeClientEvent(text);
  if (!event.ok()) {
    if (ctx_->options.metrics != nullptr) ctx_->options.metrics->EventRefused(/*rate_limit=*/false);
    absl::MutexLock lock(&mu_);
    EnqueueEventLocked(ErrorEvent(event.status().code(), std::string(event.status().message()), "", ""));
    return;
  }
  // A history page costs an event per 50 messages it asks for: a 500-message
  // page (up to 2 MB of JSON to read, encode and write) is ten events' worth,
  // so at the default rate one socket pulls two full pages a second, not twenty.
  if (event->has_history()) {
    const int limit = event->history().limit() <= 0 ? 50 : std::min(event->history().limit(), kMaxHistoryLimit);
    if (const int extra = (limit + 49) / 50 - 1; extra > 0 && !TakeEventToken(extra)) return;
    // And the user's share of the bridge, over all of its sockets: many
    // sockets (or fresh ones) pull no more than one.
    if (!user_.empty() && !ctx_->TakeHistory(user_, limit)) {
      if (ctx_->options.metrics != nullptr) ctx_->options.metrics->EventRefused(/*rate_limit=*/true);
      absl::MutexLock lock(&mu_);
      EnqueueEventLocked(ErrorEvent(absl::StatusCode::kResourceExhausted,
                                    absl::StrFormat("too many history messages for %s: at most %.0f a second over "
                                                    "all of its connections; retry shortly",
                                                    user_, ctx_->options.history_per_user),
                                    "history", event->ref(), event->history().room()));
      return;
    }
  }
  // Any ref is the browser's own: the bridge's requests are told apart by
  // their request id (GatewayUp.request), never by a ref.
  Forward(std::move(*event));
}

// ---------------------------------------------------------------------------
// Closing: one path.

void WsSession::CloseOnStrand(websocket::close_code code, std::string reason) {
  if (state_ == State::kOpening) {
    return Refuse(http::status::service_unavailable, "UNAVAILABLE", reason);
  }
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;
  ws_.next_layer().Shut();
  if (reason.size() > 120) reason.resize(120);  // a close frame's reason is short
  close_reason_ = websocket::close_reason(code, reason);
  bool in_flight;
  {
    absl::MutexLock lock(&mu_);
    failing_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    in_flight = write_in_flight_;
  }
  // A browser that does not read may never take the close frame: give up on it.
  timer_.expires_after(absl::ToChronoNanoseconds(kCloseTimeout));
  timer_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
    if (!ec) self->Teardown("close timed out");
  });
  if (!in_flight) SendClose();
}

void WsSession::SendClose() {
  close_sent_ = true;
  ws_.async_close(close_reason_, [self = shared_from_this()](const beast::error_code& ec) {
    self->Teardown(absl::StrCat("closed (", self->close_reason_.code, " ",
                                std::string(self->close_reason_.reason.data(), self->close_reason_.reason.size()),
                                ")"));
  });
}

void WsSession::Teardown(const std::string& why) {
  if (torn_down_) return;
  torn_down_ = true;
  state_ = State::kClosed;
  timer_.cancel();
  if (id_ != 0) ctx_->gateway->Close(id_);
  waiting_requests_.clear();
  {
    absl::MutexLock lock(&mu_);
    failing_ = true;
    queue_.clear();
    rooms_.Clear();
  }
  beast::error_code ec;
  ws_.next_layer().shutdown(net::socket_base::shutdown_both, ec);
  ws_.next_layer().close(ec);
  {
    absl::MutexLock lock(&ctx_->mu);
    ctx_->sessions.erase(this);
  }
  if (accepted_) ctx_->ws_closed.fetch_add(1);
  slot_.reset();
  CHAT_LOGF_DEBUG(kLog, LogFields().Peer(credentials_.peer), "session %d from %s ended: %s", static_cast<int>(id_),
                  credentials_.peer, why);
}

}  // namespace chat::bridge
