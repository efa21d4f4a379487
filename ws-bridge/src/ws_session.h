// WsSession: one browser's WebSocket, carried to chat-core as one session of the
// gateway stream. Text frames in are ClientEvents (proto3 JSON); frames out hold
// one or more ServerEvents separated by '\n' (everything queued leaves in one
// write). Its RoomSequencer keeps room messages strictly in order, nothing
// twice, a gap filled from history first.
//
// When the gateway stream is lost, the WebSocket stays open: the session waits
// for the next stream, opens itself there again with the token it kept, rejoins
// its rooms from the last seq it gave the browser and sends again what the
// browser sent meanwhile (PendingEvents); if no node takes over within
// --failover_timeout it closes with 1012 (docs/architecture.md, "Fail-over
// between chat-core nodes").
//
// History and room-list requests, whose replies can be megabytes, take turns
// (docs/architecture.md, "Fair shares of the gateway stream"): a session has
// one at chat-core at a time (Gateway::SendReplyRequest), and its next waits
// until the reply has been written to the socket; up to --max_waiting_requests
// wait, one more closes the WebSocket (1008).
//
// The code is in five files: ws_session.cc (the WebSocket: handshake, reads,
// closing), ws_session_gateway.cc (what the gateway tells it, gap fills),
// ws_session_failover.cc (a lost stream: waiting, re-opening, rejoining),
// ws_session_replies.cc (history and room-list requests taking turns) and
// ws_session_write.cc (the outbound queue and writes).
//
// Threading: socket work runs on the session's strand. The gateway calls the
// GatewaySessionSink methods on a gRPC thread; they only queue under the
// session's mutex and post to the strand. Lifetime: shared_ptr kept alive by its
// pending operations and by the gateway until Close (and a fan-out's snapshot
// after it); one teardown path (Teardown) that every exit goes through, after
// which the gateway no longer knows the session.
#ifndef CHAT_WS_BRIDGE_SRC_WS_SESSION_H_
#define CHAT_WS_BRIDGE_SRC_WS_SESSION_H_

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge_context.h"
#include "chat/compact_queue.h"
#include "gated_socket.h"
#include "gateway.h"
#include "pending_events.h"
#include "room_sequencer.h"
#include "token_bucket.h"

namespace chat::bridge {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

// A ConstBufferSequence over a vector owned elsewhere. Asio and Beast copy a
// buffer sequence several times per write; copying this is two pointers, where
// copying a std::vector would allocate each time.
// Threading: a value, used on the strand of the write it describes. Lifetime:
// the vector it views must outlive the write.
class BufferView {
 public:
  using value_type = net::const_buffer;
  using const_iterator = const net::const_buffer*;
  BufferView(const net::const_buffer* begin, const net::const_buffer* end) : begin_(begin), end_(end) {}
  const_iterator begin() const { return begin_; }
  const_iterator end() const { return end_; }

 private:
  const net::const_buffer* begin_;
  const net::const_buffer* end_;
};

// The per-socket frame queue (chat/compact_queue.h): nothing allocated while idle.
using chat::CompactQueue;

// What a browser's session is opened with at chat-core.
// Threading: the session's strand. Lifetime: kept for the session's life (a
// fail-over opens the session again with them).
struct Credentials {
  std::string token;
  std::string guest_name;
  std::string peer;
};

class WsSession : public std::enable_shared_from_this<WsSession>, public GatewaySessionSink {
 public:
  WsSession(net::ip::tcp::socket&& socket, http::request<http::string_body> upgrade,
            Credentials credentials, BridgeContext* ctx, std::unique_ptr<ConnectionSlot> slot);
  ~WsSession() override;

  // Opens the session at chat-core, then completes (or refuses) the upgrade.
  void Start();
  // Closes with `code` and `reason` (bridge shutdown: 1001).
  void Close(websocket::close_code code, std::string reason);

  // GatewaySessionSink (gRPC thread).
  void OnOpened(const std::string& user) override;
  void OnClosed(chat::v1::Error::Code code, const std::string& reason) override;
  void OnSessionEvent(const chat::v1::ServerEvent& event, uint64_t request, bool direct) override;
  void OnSessionReply(std::string serialized) override;
  void OnRoomFrame(const std::string& room, int64_t seq,
                   const std::shared_ptr<const std::string>& json, bool can_wait, bool direct,
                   SendBatch* batch) override;
  void OnGatewayLost(uint64_t stream) override;
  void OnGatewayUp(uint64_t stream) override;

  // DeferredFlush's timer (any thread): write what waits in the queue.
  void FlushDeferred();

  // What waits in the outbound queue (any thread; takes the session's lock),
  // for metrics.
  struct QueueDepth {
    size_t events = 0;
    size_t bytes = 0;
  };
  QueueDepth queue_depth();

 private:
  using Frame = std::shared_ptr<const std::string>;
  enum class State { kOpening, kOpen, kClosing, kClosed };
  // While kOpen: is the session open on a gateway stream that is up?
  enum class Link {
    kLive,       // yes: the browser's events go to chat-core
    kWaiting,    // the stream was lost; waiting for the next one
    kReopening,  // the session's open was sent on the new stream
  };

  // Strand (ws_session.cc).
  void Begin();
  void OnHandshakeTimeout(const beast::error_code& ec);
  void Accept();
  void OnAccept(const beast::error_code& ec);
  void Refuse(http::status status, const std::string& code, const std::string& message);
  void DoRead();
  void OnRead(const beast::error_code& ec, size_t bytes);
  void HandleText(const std::string& text);
  // The event rate limit (--events_per_second) for one frame from the browser,
  // text or binary: true if it may be handled; false if it was dropped (the
  // browser is told) or the socket is closing for it.
  bool TakeEventToken(double cost = 1);
  void CloseOnStrand(websocket::close_code code, std::string reason);
  void SendClose();
  void Teardown(const std::string& why);
  // Strand (ws_session_gateway.cc).
  void RequestFill(const std::string& room, uint64_t request);
  // Strand (ws_session_failover.cc).
  // A browser's event for chat-core: sent now, or kept until a stream is up.
  void Forward(chat::v1::ClientEvent event);
  void HoldWhileDown(chat::v1::ClientEvent event);
  // Strand (ws_session_replies.cc).
  static bool IsReplyRequest(const chat::v1::ClientEvent& event);
  // A history or room-list request: waits its turn (or closes the socket
  // when too many wait), then goes to the gateway.
  void ForwardReplyRequest(chat::v1::ClientEvent event);
  // Sends the next waiting request if the previous reply has been written.
  void NextReplyRequest();
  void SendReplyRequestNow(chat::v1::ClientEvent event);
  // The session is open on a new stream: rejoin its rooms, send what waited.
  void Resume();
  // Strand (ws_session_write.cc).
  void DoWrite();
  void OnWrite(const beast::error_code& ec, size_t bytes);

  // Under mu_ (ws_session_gateway.cc).
  // A message of `room` (live: from the room's fan-out) through the sequencer.
  void DeliverMessageLocked(const std::string& room, int64_t seq, Frame frame, bool live, bool direct = false,
                            SendBatch* batch = nullptr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks for the room's history after the last seq given (RequestFill sends it).
  void AskFillLocked(const std::string& room) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnFillAnswerLocked(const std::string& room, const chat::v1::ServerEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Under mu_ (ws_session_failover.cc).
  void OnRejoinAnswerLocked(const std::string& room, const chat::v1::ServerEvent& event, bool direct)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Under mu_ (ws_session_write.cc).
  // can_wait: queue without starting a write; the deferred flush or the next
  // urgent event writes it. direct: if nothing else is queued, try writing it
  // to the socket from this thread (gated_socket.h) instead of the strand.
  void EnqueueLocked(Frame frame, bool can_wait = false, bool direct = false, SendBatch* batch = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueEventLocked(const chat::v1::ServerEvent& event, bool direct = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The answer to the browser's history or room-list request (reply_pending_),
  // encoded as `frame`: queued, and the next such request may go once written.
  void DeliverReplyLocked(const chat::v1::ServerEvent& event, Frame frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PresenceMayWaitLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `more` bytes would take the socket past --max_queued_bytes: the
  // queue, the write in flight and what a direct write left unsent.
  bool OverQueueLimitLocked(size_t more) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Posts DoWrite to the strand; the queue is written from there.
  void ScheduleWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailLocked(websocket::close_code code, std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A plain socket underneath (Beast's websocket keeps its own timers, and the
  // tcp_stream's per-operation timeout bookkeeping costs on every write), gated
  // so the gateway's thread can write a frame directly.
  websocket::stream<GatedSocket> ws_;
  http::request<http::string_body> upgrade_;
  Credentials credentials_;
  BridgeContext* const ctx_;
  std::unique_ptr<ConnectionSlot> slot_;
  net::steady_timer timer_;
  beast::flat_buffer read_buffer_;

  // Strand only.
  State state_ = State::kOpening;
  Link link_ = Link::kLive;
  // Tells the failover timer (timer_, while kOpen) apart from an older one.
  uint32_t failover_wait_ = 0;
  // The newest gateway stream this session has heard of (OnGatewayLost).
  uint64_t gateway_stream_ = 0;
  // The signed-in user, once chat-core opened the session (--history_per_user).
  std::string user_;
  uint64_t id_ = 0;
  bool torn_down_ = false;
  bool accepted_ = false;
  bool close_sent_ = false;
  websocket::close_reason close_reason_;
  std::vector<Frame> writing_;
  std::vector<net::const_buffer> write_buffers_;
  TokenBucket bucket_;
  int violations_ = 0;
  // History and room-list requests waiting for their turn (ws_session_replies.cc).
  std::deque<chat::v1::ClientEvent> waiting_requests_;

  absl::Mutex mu_;
  CompactQueue<Frame> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The bytes of the write in flight (writing_): counted against
  // --max_queued_bytes with the queue and the socket's unsent prefix.
  size_t writing_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Whether the session's history or room-list request is at the gateway
  // (its answer has not come), and whether the answer is queued and not yet
  // written to the socket.
  bool reply_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool reply_unwritten_ ABSL_GUARDED_BY(mu_) = false;
  // The kind ("history", "listRooms") and ref of that request, for an error
  // answer if chat-core's reply cannot be read.
  std::string reply_kind_ ABSL_GUARDED_BY(mu_);
  std::string reply_ref_ ABSL_GUARDED_BY(mu_);
  bool write_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // Registered with ctx_->deferred and not yet flushed.
  bool deferred_ ABSL_GUARDED_BY(mu_) = false;
  // Ticks of --presence_delay the next presence waits (see
  // BridgeOptions::presence_max_delay), and when presence last left on its own.
  uint32_t presence_wait_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Time presence_flushed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  RoomSequencer rooms_ ABSL_GUARDED_BY(mu_);
  PendingEvents pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_WS_SESSION_H_
