// The RFC 6455 client side that the WebSocket protocols share: the upgrade
// request and its 101 answer, unmasked server frames in, masked client frames
// out (mask key 0, so masking is a no-op), pings answered, a close ends the
// connection. Each dialect (bridge, socket.io, floor) says where to upgrade,
// what to send once open, and what its text frames mean.
#ifndef CHAT_TESTS_LOAD_WEBSOCKET_PROTOCOL_H_
#define CHAT_TESTS_LOAD_WEBSOCKET_PROTOCOL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "wire_protocol.h"

namespace chat::bench {

// A masked client frame (text unless `opcode` says otherwise).
std::string ClientFrame(absl::string_view payload, int opcode = 0x1);

// Threading: as WireProtocol (stateless; called from the loop owning the connection).
// Lifetime: as WireProtocol (owned by ClientLoops, outlives every connection).
class WebSocketProtocol : public WireProtocol {
 public:
  WebSocketProtocol(std::string authority, Stats* stats) : authority_(std::move(authority)), stats_(stats) {}

  void OnConnected(ClientIo& io, Conn* c) final;
  size_t OnBytes(ClientIo& io, Conn* c, const char* data, size_t n, ReadTime now) final;

 protected:
  // The request target of the upgrade ("/ws?user=...").
  virtual std::string UpgradeTarget(const Conn& c) const = 0;
  // The upgrade succeeded: start the dialect's handshake or join.
  virtual void Opened(ClientIo& io, Conn* c) = 0;
  // A text frame that belongs to the dialect's handshake (answered, or moving
  // the connection towards kJoined): true if it was one, and then it is not
  // searched for chat messages. May call MarkJoined and still return false, so
  // the frame that says "joined" is searched too.
  virtual bool OnHandshakeText(ClientIo& io, Conn* c, absl::string_view text) = 0;

  Stats* stats() const { return stats_; }

 private:
  size_t ParseFrames(ClientIo& io, Conn* c, const char* data, size_t n, ReadTime now);
  void OnText(ClientIo& io, Conn* c, const char* p, size_t n, ReadTime now);

  const std::string authority_;  // host:port, for the Host header
  Stats* const stats_;
};

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_WEBSOCKET_PROTOCOL_H_
