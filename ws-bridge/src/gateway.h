// Gateway: the one gRPC stream from this bridge to chat-core that carries every
// browser session (chat.v1.GatewayService/Gateway). It keeps which local sessions
// are in which room, and fans each room event out to them: the JSON is encoded
// once and the same buffer is queued to every session in the room.
//
// Threading: thread-safe. Downstream items are handled on gRPC's threads, one
// at a time, in the stream's order; sessions are called only outside the
// gateway's lock (docs/architecture.md, "Fan-out from a snapshot"). Reconnect
// timers run on the io_context. Lifetime: owned by the Bridge; Stop() ends the
// stream and stops reconnecting. A session is held (shared_ptr) from AddSession
// until Close() and then for as long as a fan-out that began before may still
// be telling it.
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

namespace chat::bridge {

class SendBatch;

// What the gateway tells a session. Called on a gRPC thread, never under the
// gateway's lock; must not block. A room frame from a fan-out that took its
// snapshot before Close() may still arrive after it (the session ignores it).
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
  // A room event, encoded once for every local session in the room. `direct`:
  // the sink may write it to its socket from this thread if it has nothing
  // else queued (--direct_writes); into `batch` if not null (--io_uring),
  // which the gateway flushes before it does anything else. `can_wait`:
  // presence (a member joined or left), which may wait for the next deferred
  // flush (--presence_delay) or ride along with the next urgent write.
  virtual void OnRoomFrame(const std::string& room, int64_t seq,
                           const std::shared_ptr<const std::string>& json, bool can_wait, bool direct,
                           SendBatch* batch) = 0;
  // The gateway stream broke: chat-core is down or restarting.
  virtual void OnGatewayLost() = 0;
};

struct GatewayStats {
  bool connected = false;
  uint64_t connects = 0;
  uint64_t room_frames = 0;
  uint64_t room_deliveries = 0;
  int64_t sessions = 0;
};

class Gateway : private GatewayStream::Listener {
 public:
  Gateway(boost::asio::io_context& io, std::shared_ptr<grpc::Channel> channel, BridgeOptions options);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void Start();
  void Stop();
  bool connected() const;
  GatewayStats stats() const;

  // A new session id on the current stream, or 0 if chat-core is not reachable.
  uint64_t AddSession(std::shared_ptr<GatewaySessionSink> sink);
  void Open(uint64_t session, const std::string& token, const std::string& peer,
            const std::string& guest_name);
  // The browser's event.
  void Send(uint64_t session, const chat::v1::ClientEvent& event);
  // A new id for a request of the bridge's own, unique on every stream. Takes
  // no lock (a session may call it under its own).
  uint64_t NewRequestId() { return next_request_.fetch_add(1, std::memory_order_relaxed) + 1; }
  // An event of the bridge's own for the session, as `request` (from
  // NewRequestId); its answer comes to the sink with that id. false: not
  // sent (the stream is down).
  bool SendOwn(uint64_t session, const chat::v1::ClientEvent& event, uint64_t request);
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

  void Connect();
  // GatewayStream::Listener (gRPC threads).
  void OnStreamUp(GatewayStream* stream) override;
  void OnStreamItem(GatewayStream* stream, const chat::v1::GatewayDown& down) override;
  void OnStreamDone(GatewayStream* stream, const grpc::Status& status) override;

  void FanOut(GatewayStream* stream, const chat::v1::ServerEvent& event);
  void AddToRoomLocked(const std::string& room, uint64_t session) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces the room's snapshot with one without the session.
  void RemoveFromRoomLocked(const std::string& room, const std::shared_ptr<GatewaySessionSink>& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveAllRoomsLocked(uint64_t session, const std::shared_ptr<GatewaySessionSink>& sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WriteLocked(uint64_t session, chat::v1::GatewayUp up) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a room event's fan-out that began at `start`: direct writes on or off.
  void NoteFanoutLocked(absl::Time start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleReconnect() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  boost::asio::io_context& io_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<chat::v1::GatewayService::Stub> stub_;
  const BridgeOptions options_;
  boost::asio::steady_timer reconnect_timer_;
  std::atomic<uint64_t> next_request_{0};

  mutable absl::Mutex mu_;
  GatewayStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::shared_ptr<GatewaySessionSink>> sessions_ ABSL_GUARDED_BY(mu_);
  // room -> sessions live in it (by the joined/left events that passed through).
  absl::flat_hash_map<std::string, std::shared_ptr<const RoomSinks>> rooms_ ABSL_GUARDED_BY(mu_);
  // Fan-outs reading a snapshot now, and the sessions that left a room since
  // the oldest of them began (a snapshot it reads may still list them); freed
  // when none runs.
  int fanouts_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<GatewaySessionSink>> graveyard_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<std::string>> session_rooms_ ABSL_GUARDED_BY(mu_);
  GatewayStats stats_ ABSL_GUARDED_BY(mu_);
  // Direct writes (--direct_writes): whether room events are written from this
  // thread now; the share of its time spent fanning out (moving average over
  // about 8 events) and when the last fan-out ended.
  bool direct_now_ ABSL_GUARDED_BY(mu_);
  double fanout_busy_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_fanout_end_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_GATEWAY_H_
