// socket.io v4 over a raw WebSocket (engine.io v4 framing), as the classic chat
// server (tests/load/peers/socketio/server.js) speaks it: "0{...}" opens
// engine.io, "40" opens the namespace, "42[...]" carries an event, "2"/"3" are
// engine.io's ping and pong. Rooms are made by joining them.
#include "absl/strings/str_cat.h"
#include "websocket_protocol.h"

namespace chat::bench {
namespace {

class SocketIoProtocol : public WebSocketProtocol {
 public:
  using WebSocketProtocol::WebSocketProtocol;

  void AppendSend(Conn* s, const std::string& payload, int64_t /*counter*/, std::string* batch) override {
    *batch += ClientFrame(absl::StrCat(R"(42["chat message",{"room":")", s->room, R"(","text":")", payload, R"("}])"));
  }
  bool CreatesRooms() const override { return false; }

 protected:
  std::string UpgradeTarget(const Conn& /*c*/) const override { return "/socket.io/?EIO=4&transport=websocket"; }

  void Opened(ClientIo& /*io*/, Conn* c) override {
    c->state = Conn::kOpening;  // wait for engine.io "0{...}"
  }

  bool OnHandshakeText(ClientIo& io, Conn* c, absl::string_view text) override {
    if (text == "2") {  // engine.io ping
      io.Write(c, ClientFrame("3"));
      return true;
    }
    if (c->state == Conn::kOpening && !text.empty() && text[0] == '0') {
      io.Write(c, ClientFrame("40"));
      return true;
    }
    if (c->state == Conn::kOpening && text.substr(0, 2) == "40") {
      c->state = Conn::kJoining;
      io.Write(c, ClientFrame(absl::StrCat(R"(42["join",")", c->room, R"("])")));
      return true;
    }
    if (c->state == Conn::kJoining && text.substr(0, 11) == R"(42["joined")") {
      MarkJoined(c, stats());
      return true;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<WireProtocol> MakeSocketIoProtocol(const std::string& authority, Stats* stats) {
  return std::make_unique<SocketIoProtocol>(authority, stats);
}

}  // namespace chat::bench
