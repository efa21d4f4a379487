// One client connection of the load generator (Conn), and what the event loop
// needs from a wire protocol (WireProtocol): how to open a session once TCP
// connects, how to read what the server sends, and how to frame a chat message.
// The loop owns the sockets and their buffers (ClientIo); a protocol only turns
// bytes into state changes and replies. The protocols: ws-bridge's WebSocket
// JSON (bridge_protocol.cc), socket.io v4 (socketio_protocol.cc), the floor
// server's raw text frames (floor_protocol.cc), chat.v1 Connect over the
// generator's HTTP/2 client (grpc_h2_protocol.cc).
#ifndef CHAT_TESTS_LOAD_WIRE_PROTOCOL_H_
#define CHAT_TESTS_LOAD_WIRE_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bench_stats.h"

namespace chat::bench {

// Threading: `stats` and the atomics from any thread; the rest under `mu` (the
// loop owning the receiver writes, the scenario's thread reads). Lifetime: made
// by the scenario before the receiver opens; outlives the run's clients.
// One receiver watched on its own (the slow-consumer scenario's stopped reader):
// its deliveries are kept out of the run's Stats, and how its connection ended
// is written down.
struct Watch {
  Stats stats;  // its deliveries
  // When it stopped and started reading again (NowNs; 0: not yet).
  std::atomic<int64_t> stopped_ns{0};
  std::atomic<int64_t> resumed_ns{0};
  // When the kernel said the peer hung up or reset while it was not reading (0: never).
  std::atomic<int64_t> hup_ns{0};
  absl::Mutex mu;
  bool ended ABSL_GUARDED_BY(mu) = false;
  int64_t ended_ns ABSL_GUARDED_BY(mu) = 0;
  // What ended it, as seen on the wire: "close 1008 <reason>", "EOF without a
  // close frame", an HTTP/2 reason, a read error.
  std::string end ABSL_GUARDED_BY(mu);
};

// Threading: none; a protocol's per-connection state, used only by the thread
// of the loop that owns the connection. Lifetime: owned by its Conn.
class ConnSession {
 public:
  virtual ~ConnSession() = default;
};

// Threading: confined to the thread of the loop that owns it, once that loop
// has it (its opener fills it before handing it over); SetupTimes reads
// started_ns and joined_ns under the loop's lock. Lifetime: owned by its loop
// until the run ends; the socket is closed when it dies.
struct Conn {
  enum State { kConnecting, kUpgrading, kOpening, kCreating, kJoining, kJoined, kDead };
  int fd = -1;
  bool sender = false;
  int sender_id = 0;
  // Creates its room before joining (the first client of each room, --rooms > 1).
  bool creator = false;
  std::string room;
  State state = kConnecting;
  std::string in;  // unparsed bytes
  std::string out;  // bytes the socket did not take yet
  bool want_out = false;
  OrderState order;
  int64_t started_ns = 0;
  int64_t joined_ns = 0;
  int id = 0;
  // The protocol's own state (the gRPC client's HTTP/2 stream); null for others.
  std::unique_ptr<ConnSession> session;
  // SO_RCVBUF set before connecting (0: the kernel's default).
  int rcvbuf = 0;
  // Not reading (EventLoop::SetReading): its socket is out of EPOLLIN.
  bool paused = false;
  // Taken out of epoll while paused because the kernel reported a hang-up.
  bool out_of_epoll = false;
  // Why it ended, for its Watch: set by whoever calls Dead.
  std::string end_note;
  // Non-null for a watched receiver: its deliveries and its end go there.
  Watch* watch = nullptr;
};

// The Stats a receiver's deliveries count into: its Watch's, or the run's.
inline Stats* DeliveryStats(Conn* c, Stats* run) { return c->watch != nullptr ? &c->watch->stats : run; }

// The connection has joined its room: counted once.
inline void MarkJoined(Conn* c, Stats* stats) {
  c->state = Conn::kJoined;
  c->joined_ns = NowNs();
  stats->joined.fetch_add(1);
}

// Threading: called only from the thread of the loop that owns the connection.
// Lifetime: the loop; outlives every call a protocol makes on it.
// What a protocol may do to a connection: write bytes (queued if the socket is
// full) and end it (a dead connection takes no more writes).
class ClientIo {
 public:
  virtual ~ClientIo() = default;
  virtual void Write(Conn* c, const std::string& bytes) = 0;
  virtual void Dead(Conn* c) = 0;
};

// Threading: stateless apart from its settings, so one protocol serves every
// loop thread at once; each call is made from the thread of the loop that owns
// the connection. Lifetime: owned by ClientLoops; outlives every connection.
class WireProtocol {
 public:
  virtual ~WireProtocol() = default;
  // TCP connected: start the handshake (the connection is still kConnecting).
  virtual void OnConnected(ClientIo& io, Conn* c) = 0;
  // Bytes read from the server, received at `now`; returns how many were used
  // (the rest, an incomplete frame, comes again with the next read).
  virtual size_t OnBytes(ClientIo& io, Conn* c, const char* data, size_t n, ReadTime now) = 0;
  // Appends a chat message from sender `s` (payload from MakePayload, and its
  // sender-local counter) to `batch`, the bytes of one write.
  virtual void AppendSend(Conn* s, const std::string& payload, int64_t counter, std::string* batch) = 0;
  // Whether the first client of each room creates it (--rooms > 1): servers
  // with named rooms that must exist; socket.io and the floor server have none.
  virtual bool CreatesRooms() const = 0;
};

// `authority` is the server's host:port; `stats` outlives the protocol.
std::unique_ptr<WireProtocol> MakeBridgeProtocol(const std::string& authority, Stats* stats);
std::unique_ptr<WireProtocol> MakeSocketIoProtocol(const std::string& authority, Stats* stats);
std::unique_ptr<WireProtocol> MakeFloorProtocol(const std::string& authority, Stats* stats);
// grpc_batch > 1: ask chat-core for up to that many events per message (x-chat-batch).
std::unique_ptr<WireProtocol> MakeGrpcH2Protocol(const std::string& authority, int grpc_batch, Stats* stats);

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_WIRE_PROTOCOL_H_
