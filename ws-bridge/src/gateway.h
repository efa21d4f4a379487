// Gateway: the one gRPC stream from this bridge to chat-core that carries every
// browser session (chat.v1.GatewayService/Gateway). It keeps which local sessions
// are in which room, and fans each room event out to them: the JSON is encoded
// once and the same buffer is queued to every session in the room.
//
// Threading: thread-safe. gRPC reactions (reads, write completions) run on gRPC's
// threads and only queue work onto sessions (which post to their strands); every
// Start* call is made under the stream's lock. Reconnect timers run on the
// io_context. Lifetime: owned by the Bridge; Stop() ends the stream and stops
// reconnecting; sessions it knows are told the gateway is gone.
#ifndef CHAT_WS_BRIDGE_SRC_GATEWAY_H_
#define CHAT_WS_BRIDGE_SRC_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "bridge_options.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::bridge {

class SendBatch;

// What the gateway tells a session. Called on a gRPC thread; must not block.
class GatewaySessionSink {
 public:
  virtual ~GatewaySessionSink() = default;
  virtual void OnOpened(const std::string& user) = 0;
  // chat-core ended the session (bad token, logout, expiry).
  virtual void OnClosed(chat::v1::Error::Code code, const std::string& reason) = 0;
  // An event for this session alone (joined, left, ack, error, replayed
  // message...). `direct`: as for OnRoomFrame.
  virtual void OnSessionEvent(const chat::v1::ServerEvent& event, bool direct) = 0;
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

class Gateway {
 public:
  Gateway(boost::asio::io_context& io, std::shared_ptr<grpc::Channel> channel, BridgeOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void Start();
  void Stop();
  bool connected() const;
  GatewayStats stats() const;

  // A new session id on the current stream, or 0 if chat-core is not reachable.
  // The sink must stay valid until Close(id).
  uint64_t AddSession(GatewaySessionSink* sink);
  void Open(uint64_t session, const std::string& token, const std::string& peer,
            const std::string& guest_name);
  void Send(uint64_t session, const chat::v1::ClientEvent& event);
  // Forgets the session (and tells chat-core, if the stream is still up). After it
  // returns, the sink gets no more calls.
  void Close(uint64_t session);

 private:
  class Stream;
  friend class Stream;

  void Connect();
  void OnConnected(Stream* stream);
  void OnDown(Stream* stream, const chat::v1::GatewayDown& down);
  void OnStreamDone(Stream* stream, const grpc::Status& status);
  // After a room event's fan-out that began at `start`: direct writes on or off.
  void NoteFanoutLocked(std::chrono::steady_clock::time_point start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleReconnect();

  boost::asio::io_context& io_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<chat::v1::GatewayService::Stub> stub_;
  const BridgeOptions options_;
  boost::asio::steady_timer reconnect_timer_;

  mutable absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds backoff_ ABSL_GUARDED_BY(mu_);
  uint64_t next_session_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, GatewaySessionSink*> sessions_ ABSL_GUARDED_BY(mu_);
  // room -> sessions live in it (by the joined/left events that passed through).
  absl::flat_hash_map<std::string, absl::flat_hash_set<GatewaySessionSink*>> rooms_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<GatewaySessionSink*, absl::flat_hash_set<std::string>> session_rooms_
      ABSL_GUARDED_BY(mu_);
  GatewayStats stats_ ABSL_GUARDED_BY(mu_);
  // Direct writes (--direct_writes): whether room events are written from this
  // thread now; the share of its time spent fanning out (moving average over
  // about 8 events) and when the last fan-out ended.
  bool direct_now_ ABSL_GUARDED_BY(mu_);
  double fanout_busy_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point last_fanout_end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_GATEWAY_H_
