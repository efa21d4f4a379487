#include "ws_session.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chat/json_codec.h"
#include "chat/log.h"
#include "chat/status.h"
#include "http_util.h"

namespace chat::bridge {
namespace {

constexpr char kLog[] = "ws";
// Refs the bridge uses for its own requests; never forwarded to the browser.
constexpr absl::string_view kFillRef = "\x01" "fill:";
constexpr size_t kMaxPendingAfterGap = 1024;
constexpr auto kCloseTimeout = std::chrono::seconds(2);
// Bytes one read of a WebSocket message may take (see DoRead).
constexpr size_t kReadPiece = 256;
const char kNewline = '\n';

std::shared_ptr<const std::string> Encode(const chat::v1::ServerEvent& event) {
  return std::make_shared<const std::string>(EncodeServerEvent(event));
}

chat::v1::ServerEvent ErrorEvent(absl::StatusCode code, const std::string& message,
                                 absl::string_view event_kind, const std::string& ref) {
  chat::v1::ServerEvent ev;
  ev.set_ref(ref);
  ev.mutable_error()->set_code(ToErrorCode(code));
  ev.mutable_error()->set_message(message);
  ev.mutable_error()->set_event(std::string(event_kind));
  return ev;
}

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
      tokens_(ctx->options.event_burst),
      last_refill_(std::chrono::steady_clock::now()) {}

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
  id_ = ctx_->gateway->AddSession(this);
  if (id_ == 0) {
    return Refuse(http::status::service_unavailable, "UNAVAILABLE",
                  "the chat backend is unavailable; retry shortly");
  }
  ctx_->gateway->Open(id_, credentials_.token, credentials_.peer, credentials_.guest_name);
  // The token is chat-core's business from here on; do not keep a copy per socket.
  credentials_.token.clear();
  credentials_.token.shrink_to_fit();
  timer_.expires_after(ctx_->options.handshake_timeout);
  timer_.async_wait([self = shared_from_this()](const beast::error_code& ec) { self->OnHandshakeTimeout(ec); });
}

void WsSession::OnHandshakeTimeout(const beast::error_code& ec) {
  if (ec || state_ != State::kOpening) return;
  Refuse(http::status::gateway_timeout, "DEADLINE_EXCEEDED", "the chat backend did not answer in time");
}

void WsSession::OnOpened(const std::string& user) {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    if (self->state_ != State::kOpening) return;
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
    self->CloseOnStrand(ws_code, reason);
  });
}

void WsSession::OnGatewayLost() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    self->id_ = 0;  // the gateway forgot it already
    if (self->state_ == State::kOpening) {
      self->Refuse(http::status::service_unavailable, "UNAVAILABLE",
                   "the chat backend is unavailable; retry shortly");
      return;
    }
    self->CloseOnStrand(websocket::close_code::service_restart,
                        "chat backend unavailable; reconnect and resume");
  });
}

void WsSession::Accept() {
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = ctx_->options.handshake_timeout;
  timeouts.idle_timeout = ctx_->options.idle_timeout;
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.read_message_max(ctx_->options.max_message_bytes);
  ws_.auto_fragment(false);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(http::field::server, "chat-ws-bridge");
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
  auto res = std::make_shared<http::response<http::string_body>>(
      JsonError(status, upgrade_.version(), code, message));
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
    absl::MutexLock lock(&mu_);
    EnqueueEventLocked(ErrorEvent(absl::StatusCode::kInvalidArgument,
                                  "binary frames are not supported: send one ClientEvent as JSON text",
                                  "", ""));
  } else {
    HandleText(text);
  }
  if (state_ == State::kOpen) DoRead();
}

bool WsSession::TakeToken() {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  tokens_ = std::min(ctx_->options.event_burst, tokens_ + elapsed * ctx_->options.events_per_second);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void WsSession::HandleText(const std::string& text) {
  if (!TakeToken()) {
    if (++violations_ > static_cast<int>(ctx_->options.event_burst)) {
      return CloseOnStrand(websocket::close_code::policy_error, "too many events");
    }
    absl::MutexLock lock(&mu_);
    EnqueueEventLocked(ErrorEvent(
        absl::StatusCode::kResourceExhausted,
        absl::StrFormat("too many events: at most %.0f per second (bursts of %.0f); this one was dropped",
                        ctx_->options.events_per_second, ctx_->options.event_burst),
        "", ""));
    return;
  }
  auto event = DecodeClientEvent(text);
  if (!event.ok()) {
    absl::MutexLock lock(&mu_);
    EnqueueEventLocked(ErrorEvent(event.status().code(), std::string(event.status().message()), "", ""));
    return;
  }
  if (absl::StartsWith(event->ref(), "\x01")) {
    absl::MutexLock lock(&mu_);
    EnqueueEventLocked(ErrorEvent(absl::StatusCode::kInvalidArgument, "ref must not start with \\u0001",
                                  ClientEventKind(*event), ""));
    return;
  }
  ctx_->gateway->Send(id_, *event);
}

// ---------------------------------------------------------------------------
// From the gateway (gRPC thread): queue and post, or write straight to an idle
// socket (direct); nothing more.

void WsSession::OnSessionEvent(const chat::v1::ServerEvent& event, bool direct) {
  absl::MutexLock lock(&mu_);
  if (failing_) return;
  if (absl::StartsWith(event.ref(), kFillRef)) {
    std::string room = event.ref().substr(kFillRef.size());
    auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    RoomState& st = it->second;
    st.filling = false;
    if (!event.has_history()) {
      return FailLocked(websocket::close_code::try_again_later,
                        "could not recover missed messages; reconnect and resume");
    }
    int64_t before = st.last_seq;
    for (const auto& m : event.history().messages()) {
      chat::v1::ServerEvent ev;
      *ev.mutable_message() = m;
      DeliverMessageLocked(room, m.seq(), Encode(ev));
    }
    if (!st.pending.empty() && !st.filling && st.last_seq == before) {
      return FailLocked(websocket::close_code::try_again_later,
                        "could not recover missed messages; reconnect and resume");
    }
    return;
  }
  switch (event.event_case()) {
    case chat::v1::ServerEvent::kMessage:
      // A replayed message (join with since_seq), before `joined`.
      DeliverMessageLocked(event.message().room(), event.message().seq(), Encode(event), direct);
      return;
    case chat::v1::ServerEvent::kJoined: {
      RoomState& st = rooms_[event.joined().room()];
      st.live = true;
      if (!st.have_seq) {
        st.last_seq = event.joined().latest_seq();
        st.have_seq = true;
      }
      EnqueueEventLocked(event, direct);
      return;
    }
    case chat::v1::ServerEvent::kLeft:
      rooms_.erase(event.left().room());
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
  auto it = rooms_.find(room);
  if (it == rooms_.end() || !it->second.live) return;
  if (seq == 0) {
    EnqueueLocked(json, can_wait, direct, batch);
  } else {
    DeliverMessageLocked(room, seq, json, direct, batch);
  }
}

void WsSession::DeliverMessageLocked(const std::string& room, int64_t seq, Frame frame, bool direct,
                                     SendBatch* batch) {
  RoomState& st = rooms_[room];
  if (st.have_seq && seq <= st.last_seq) return;  // already given
  if (st.have_seq && seq != st.last_seq + 1) {
    // A gap: hold newer messages back and fill it from history first.
    st.pending.emplace(seq, std::move(frame));
    if (st.pending.size() > kMaxPendingAfterGap) {
      return FailLocked(websocket::close_code::try_again_later,
                        "too far behind; reconnect and resume with sinceSeq");
    }
    if (!st.filling) {
      st.filling = true;
      net::post(ws_.get_executor(), [self = shared_from_this(), room] { self->RequestFill(room); });
    }
    return;
  }
  st.last_seq = seq;
  st.have_seq = true;
  EnqueueLocked(std::move(frame), /*can_wait=*/false, direct, batch);
  while (!st.pending.empty() && st.pending.begin()->first <= st.last_seq + 1) {
    auto node = st.pending.extract(st.pending.begin());
    if (node.key() == st.last_seq + 1) {
      st.last_seq = node.key();
      EnqueueLocked(std::move(node.mapped()));
    }
  }
}

void WsSession::EnqueueEventLocked(const chat::v1::ServerEvent& event, bool direct) {
  EnqueueLocked(Encode(event), /*can_wait=*/false, direct);
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
        [[fallthrough]];
      case GatedSocket::Direct::kWritten:
        return;
      case GatedSocket::Direct::kNot:
        break;  // queued and written by the strand
    }
  }
  if (queue_.size() >= ctx_->options.max_queued_events ||
      queued_bytes_ + frame->size() > ctx_->options.max_queued_bytes) {
    return FailLocked(websocket::close_code::policy_error,
                      "receiver too slow: outbound queue full; reconnect and resume with sinceSeq");
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (write_scheduled_) return;  // the write that is coming takes it
  if (can_wait && PresenceMayWaitLocked()) {
    if (deferred_) return;
    // Quiet for as long as the last wait: back to the short one.
    if (std::chrono::steady_clock::now() - presence_flushed_at_ > presence_wait_ * ctx_->options.presence_delay) {
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

void WsSession::ScheduleWriteLocked() {
  write_scheduled_ = true;
  net::post(ws_.get_executor(), [self = shared_from_this()] { self->DoWrite(); });
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
  presence_flushed_at_ = std::chrono::steady_clock::now();
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

void WsSession::RequestFill(const std::string& room) {
  if (state_ != State::kOpen || id_ == 0) return;
  int64_t after;
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room);
    if (it == rooms_.end()) return;
    after = it->second.last_seq;
  }
  chat::v1::ClientEvent ev;
  ev.set_ref(absl::StrCat(kFillRef, room));
  auto* h = ev.mutable_history();
  h->set_room(room);
  h->set_after_seq(after);
  h->set_limit(500);
  h->set_order(chat::v1::HISTORY_ORDER_OLDEST_FIRST);
  ctx_->gateway->Send(id_, ev);
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
      queued_bytes_ -= queue_.front()->size();
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
  if (ec) return Teardown(absl::StrCat("write failed: ", ec.message()));
  bool more;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    more = !queue_.empty() && !failing_;
    if (!more) write_scheduled_ = false;
  }
  if (!more && writing_.capacity() > 16) {
    // Idle again after a burst: give the batch buffers back.
    writing_.shrink_to_fit();
    write_buffers_.clear();
    write_buffers_.shrink_to_fit();
  }
  if (state_ == State::kClosing && !close_sent_) return SendClose();
  if (more) DoWrite();
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
  timer_.expires_after(kCloseTimeout);
  timer_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
    if (!ec) self->Teardown("close timed out");
  });
  if (!in_flight) SendClose();
}

void WsSession::SendClose() {
  close_sent_ = true;
  ws_.async_close(close_reason_, [self = shared_from_this()](const beast::error_code& ec) {
    self->Teardown(absl::StrCat("closed (", self->close_reason_.code, " ", std::string(self->close_reason_.reason.data(), self->close_reason_.reason.size()), ")"));
  });
}

void WsSession::Teardown(const std::string& why) {
  if (torn_down_) return;
  torn_down_ = true;
  state_ = State::kClosed;
  timer_.cancel();
  if (id_ != 0) ctx_->gateway->Close(id_);
  {
    absl::MutexLock lock(&mu_);
    failing_ = true;
    queue_.clear();
    rooms_.clear();
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
  CHAT_LOG_DEBUG(kLog, "session %d from %s ended: %s", static_cast<int>(id_), credentials_.peer, why);
}

}  // namespace chat::bridge
