// The floor reference server's protocol (floor_server.cc): raw text frames in
// one room; "join" is answered with "joined", any other text is a message to
// everyone.
#include "websocket_protocol.h"

namespace chat::bench {
namespace {

class FloorProtocol : public WebSocketProtocol {
 public:
  using WebSocketProtocol::WebSocketProtocol;

  void AppendSend(Conn* /*s*/, const std::string& payload, int64_t /*counter*/, std::string* batch) override {
    *batch += ClientFrame(payload);
  }
  bool CreatesRooms() const override { return false; }

 protected:
  std::string UpgradeTarget(const Conn& /*c*/) const override { return "/"; }

  void Opened(ClientIo& io, Conn* c) override {
    c->state = Conn::kJoining;
    io.Write(c, ClientFrame("join"));
  }

  bool OnHandshakeText(ClientIo& /*io*/, Conn* c, absl::string_view text) override {
    if (c->state != Conn::kJoining || text != "joined") return false;
    MarkJoined(c, stats());
    return true;
  }
};

}  // namespace

std::unique_ptr<WireProtocol> MakeFloorProtocol(const std::string& authority, Stats* stats) {
  return std::make_unique<FloorProtocol>(authority, stats);
}

}  // namespace chat::bench
