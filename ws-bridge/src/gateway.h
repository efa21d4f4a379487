// Gateway: the one gRPC stream from this bridge to chat-core that carries every
// browser session (chat.v1.GatewayService/Gateway). It keeps which local sessions
// are in which room, and fans each room event out to them: the JSON is encoded
// once and the same buffer is queued to every session in the room. With several
// chat-core nodes (--core=a,b,...) it uses one at a time; when its stream ends
// or cannot be had it moves to the next (NodeRotation), and its sessions open
// themselves again on the new stream (docs/architecture.md, "Fail-over between
// chat-core nodes").
//
// Threading: thread-safe. Downstream items are handled on gRPC's threads, one
// at a time, in the stream's order; sessions are called only outside the
// gateway's lock (docs/architecture.md, "Fan-out from a snapshot"). Reconnect
// timers run on the io_context. Lifetime: owned by the Bridge; Stop() ends the
// stream and stops reconnecting. A session is held (shared_ptr) from AddSession
// until Close(), across lost streams, and then for as long as a fan-out that
// began before may still be telling it.
//
// Lock order (a lock may be taken while holding those above it, never below):
//   1. BridgeContext::mu       the registry of live WebSockets (for shutdown)
//   2. Gateway::mu_            sessions, room snapshots, the stream, requests
//   3. GatewayStream::mu_      the stream's write queue (items are queued under
//                              Gateway::mu_, so one session's items keep order)
//   4. WsSession::mu_          a session's queue, room sequencer, requests;
//                              never held while calling into the gateway
//   5. GatedSocket::Gate::mu   a socket's gate for direct writes
//      DeferredFlush::mu_      presence waiting for its flush
// No session is called under Gateway::mu_, and BridgeContext::mu is never held
// while calling into the gateway.
#ifndef CHAT_WS_BRIDGE_SRC_GATEWAY_H_
#define CHAT_WS_BRIDGE_SRC_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge_options.h"
#include "chat/v1/chat.grpc.pb.h"
#include "gateway_stream.h"
#include "node_rotation.h"

namespace chat::bridge {

class SendBatch;

// Whether `event`, sent to a session with request 0, is chat-core's answer to
// the browser's history or room-list request (its reply or the error
// refusing it); a session has one such request out at a time.
inline bool AnswersReplyRequest(const chat::v1::ServerEvent& event) {
  return event.has_history() || event.has_rooms() ||
         (event.has_error() && (event.error().event() == "history" || event.error().event() == "listRooms"));
}

// What the gateway tells a session.
// Threading: called on a gRPC thread, never under the gateway's lock; must not
// block. Lifetime: held by the gateway (shared_ptr) from AddSession until
// Close; a room frame from a fan-out that began before Close() may still
// arrive after it (the session ignores it).
class GatewaySessionSink {
 public:
  virtual ~GatewaySessionSink() = default;
  virtual void OnOpened(const std::string& user) = 0;
  // chat-core ended the session (bad token, logout, expiry).
  virtual void OnClosed(chat::v1::Error::Code code, const std::string& reason) = 0;
  // An event for this session alone (joined, left, ack, error, replayed
  // message...). `request`: the bridge's own request it answers (SendOwn),
  // 0 for an answer to the browser's event or an unasked one. `direct`: as
  // for OnRoomFrame.
  virtual void OnSessionEvent(const chat::v1::ServerEvent& event, uint64_t request, bool direct) = 0;
  // The answer to the browser's history or room-list request that came in
  // pieces (chat.proto, EventChunk): the serialized ServerEvent, joined, not
  // yet parsed (the sink parses it off the gateway's thread).
  virtual void OnSessionReply(std::string serialized) = 0;
  // A room event, encoded once for every local session in the room. `direct`:
  // the sink may write it to its socket from this thread if it has nothing
  // else queued (--direct_writes); into `batch` if not null (--io_uring),
  // which the gateway flushes before it does anything else. `can_wait`:
  // presence (a member joined or left), which may wait for the next deferred
  // flush (--presence_delay) or ride along with the next urgent write.
  virtual void OnRoomFrame(const std::string& room, int64_t seq,
                           const std::shared_ptr<const std::string>& json, bool can_wait, bool direct,
                           SendBatch* batch) = 0;
  // The gateway stream broke (its node is down or restarting), or a new one
  // could not be had. The session is still registered: its id stays, but it
  // is open on no stream until it calls Open again after OnGatewayUp.
  virtual void OnGatewayLost(uint64_t stream) = 0;
  // A stream (to the same or another node) is up after OnGatewayLost.
  virtual void OnGatewayUp(uint64_t stream) = 0;
  // `stream` numbers the gateway's streams in the order they were made. Each
  // call is made on the thread that saw its stream's news, after the gateway
  // let go of its lock, so news of two streams may reach a session in either
  // order: a stream that failed at once and the next one, up a millisecond
  // later, is a usual pair. The session heeds news no older than the newest it
  // has heard (a BridgeFailoverTest under TSan, 2026-12-07: a late "lost"
  // undid the "up" of the stream that followed, and the session never came
  // back).
};

// A snapshot of the gateway's counters (Gateway::stats()).
// Threading: a value. Lifetime: the caller's copy.
struct GatewayStats {
  bool connected = false;
  // The node of the stream that is up ("" if none).
  std::string node;
  uint64_t connects = 0;
  // Why the last stream ended, as "CODE: message" ("" while none has).
  std::string last_end;
  uint64_t room_frames = 0;
  uint64_t room_deliveries = 0;
  int64_t sessions = 0;
  // Rooms with a local session in them, and those sessions summed over rooms.
  int64_t rooms = 0;
  int64_t room_sessions = 0;
};

class Gateway : private GatewayStream::Listener {
 public:
  // One channel per node of options.core, in that order.
  Gateway(boost::asio::io_context& io, const std::vector<std::shared_ptr<grpc::Channel>>& channels,
          BridgeOptions options);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void Start();
  void Stop();
  bool connected() const;
  GatewayStats stats() const;

  // A new session id (unique for the gateway's life, so it is unique on every
  // stream), or 0 if no stream is up.
  uint64_t AddSession(std::shared_ptr<GatewaySessionSink> sink);
  // Opens the session on the current stream (again, after a lost one); false:
  // no stream is up.
  bool Open(uint64_t session, const std::string& token, const std::string& peer,
            const std::string& guest_name);
  // The browser's event; false: not sent (the session is not open on a stream
  // that is up).
  bool Send(uint64_t session, const chat::v1::ClientEvent& event);
  // A new id for a request of the bridge's own, unique on every stream. Takes
  // no lock (a session may call it under its own).
  uint64_t NewRequestId() { return next_request_.fetch_add(1, std::memory_order_relaxed) + 1; }
  // An event of the bridge's own for the session, as `request` (from
  // NewRequestId); its answer comes to the sink with that id. false: not
  // sent, as for Send.
  bool SendOwn(uint64_t session, const chat::v1::ClientEvent& event, uint64_t request);
  // A browser's history or room-list request (a browser's event, request 0):
  // sent now if fewer than --replies_in_flight sessions have one at chat-core,
  // else queued behind those waiting, in arrival order. The caller sends one
  // at a time per session (WsSession), so each waiting session gets its turn.
  // A turn ends when its answer (AnswersReplyRequest) or the session's close
  // comes from chat-core, when the stream is lost (the session sends it again),
  // or, for a session closed here meanwhile, after --call_timeout. false: not
  // sent, as for Send.
  bool SendReplyRequest(uint64_t session, const chat::v1::ClientEvent& event);
  // History and room-list requests at chat-core now, and waiting for a turn.
  struct ReplyRequests {
    size_t in_flight = 0;
    size_t waiting = 0;
  };
  ReplyRequests reply_requests() const;
  // Forgets the session (and tells chat-core, if the stream is still up).
  void Close(uint64_t session);

 private:
  // The local sessions in one room, as published for fan-outs to read without
  // the lock; a new snapshot replaces it on every join and leave. Plain
  // pointers: a session is alive while the gateway holds it (sessions_), and
  // one that leaves a room while a fan-out runs is kept in graveyard_ until
  // no fan-out runs.
  struct RoomSinks {
    std::vector<GatewaySessionSink*> sinks;
  };
  struct Session {
    std::shared_ptr<GatewaySessionSink> sink;
    bool open = false;  // opened on the current stream
    // The pieces of a reply so far (EventChunk), unless it grew too big.
    std::string reply;
    bool reply_too_big = false;
  };
  // The most a reply in pieces may add up to; a longer one is dropped (chat-core
  // sends at most 500 messages of at most 16 KiB each).
  static constexpr size_t kMaxReplyBytes = 64u << 20;

  void Connect();
  void ScheduleConnectLocked(absl::Duration delay) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // GatewayStream::Listener (gRPC threads).
  void OnStreamUp(GatewayStream* stream) override;
  void OnStreamItem(GatewayStream* stream, const chat::v1::GatewayDown& down) override;
  void OnStreamDone(GatewayStream* stream, const grpc::Status& status) override;
  void OnStreamGone() override;

  void FanOut(GatewayStream* stream, const chat::v1::ServerEvent& event);
  // A piece of a session's reply: kept until the last one, which goes to the session.
  void OnReplyPiece(GatewayStream* stream, uint64_t session, const chat::v1::EventChunk& chunk);
  void TellEveryone(GatewayStream* stream, const chat::v1::ServerEvent& event);
  void AddToRoomLocked(const std::string& room, uint64_t session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the room's snapshot with one without the session.
  void RemoveFromRoomLocked(const std::string& room, const std::shared_ptr<GatewaySessionSink>& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveAllRoomsLocked(uint64_t session, const std::shared_ptr<GatewaySessionSink>& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WriteLocked(uint64_t session, chat::v1::GatewayUp up) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The session's turn (SendReplyRequest) ends; the next waiting ones go.
  void EndTurnLocked(uint64_t session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends waiting reply requests while there is room; turns of sessions
  // closed here that have waited --call_timeout for their answer end first.
  void NextTurnsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a room event's fan-out that began at `start`: direct writes on or off.
  void NoteFanoutLocked(absl::Time start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BridgeOptions options_;
  std::vector<std::unique_ptr<chat::v1::GatewayService::Stub>> stubs_;  // one per node
  std::atomic<uint64_t> next_request_{0};

  mutable absl::Mutex mu_;
  // Both timers are used under mu_ only. reconnect_timer_: the next attempt;
  // start_timer_: gives up on a stream its node has not accepted in time.
  boost::asio::steady_timer reconnect_timer_ ABSL_GUARDED_BY(mu_);
  boost::asio::steady_timer start_timer_ ABSL_GUARDED_BY(mu_);
  NodeRotation rotation_ ABSL_GUARDED_BY(mu_);
  GatewayStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // stream_'s number (GatewaySessionSink::OnGatewayLost): one more per stream.
  uint64_t stream_number_ ABSL_GUARDED_BY(mu_) = 0;
  // Streams made and not yet destroyed (OnStreamGone): Stop waits for 0.
  int streams_alive_ ABSL_GUARDED_BY(mu_) = 0;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Session> sessions_ ABSL_GUARDED_BY(mu_);
  // room -> sessions live in it (by the joined/left events that passed through).
  absl::flat_hash_map<std::string, std::shared_ptr<const RoomSinks>> rooms_ ABSL_GUARDED_BY(mu_);
  // Fan-outs reading a snapshot now, and the sessions that left a room since
  // the oldest of them began (a snapshot it reads may still list them); freed
  // when none runs.
  int fanouts_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<GatewaySessionSink>> graveyard_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<std::string>> session_rooms_ ABSL_GUARDED_BY(mu_);
  GatewayStats stats_ ABSL_GUARDED_BY(mu_);
  // History and room-list requests (SendReplyRequest): the sessions that have
  // one at chat-core on this stream (and since when), and those waiting.
  absl::flat_hash_map<uint64_t, absl::Time> replies_out_ ABSL_GUARDED_BY(mu_);
  std::deque<chat::v1::GatewayUp> replies_waiting_ ABSL_GUARDED_BY(mu_);
  // Direct writes (--direct_writes): whether room events are written from this
  // thread now; the share of its time spent fanning out (moving average over
  // about 8 events) and when the last fan-out ended.
  bool direct_now_ ABSL_GUARDED_BY(mu_);
  double fanout_busy_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_fanout_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_GATEWAY_H_
