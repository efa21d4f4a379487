// ws-bridge's WebSocket protocol: one ClientEvent per text frame in the proto3
// JSON mapping, several ServerEvents per frame (docs/protocol.md). A guest
// user name in the upgrade's query (chat-core runs with --allow_guests).
#include "absl/strings/str_cat.h"
#include "websocket_protocol.h"

namespace chat::bench {
namespace {

std::string JoinFrame(const std::string& room) {
  return ClientFrame(absl::StrCat(R"({"join":{"room":")", room, R"("}})"));
}

class BridgeProtocol : public WebSocketProtocol {
 public:
  using WebSocketProtocol::WebSocketProtocol;

  void AppendSend(Conn* s, const std::string& payload, int64_t counter, std::string* batch) override {
    *batch += ClientFrame(absl::StrCat(R"({"send":{"room":")", s->room, R"(","text":")", payload,
                                       R"(","clientMsgId":")", s->sender_id, "-", counter, R"("}})"));
  }
  bool CreatesRooms() const override { return true; }

 protected:
  std::string UpgradeTarget(const Conn& c) const override { return absl::StrCat("/ws?user=bench-", c.id); }

  void Opened(ClientIo& io, Conn* c) override {
    if (c->creator) {
      c->state = Conn::kCreating;
      io.Write(c, ClientFrame(absl::StrCat(R"({"ref":"c","createRoom":{"name":")", c->room, R"("}})")));
    } else {
      c->state = Conn::kJoining;
      io.Write(c, JoinFrame(c->room));
    }
  }

  bool OnHandshakeText(ClientIo& io, Conn* c, absl::string_view text) override {
    if (c->state == Conn::kCreating && text.find(R"("ref":"c")") != absl::string_view::npos) {
      // Created, or it already existed: either way, join it.
      c->state = Conn::kJoining;
      io.Write(c, JoinFrame(c->room));
      return true;
    }
    // A frame may hold several events: the one that says joined is searched too.
    if (c->state == Conn::kJoining && text.find("\"joined\":") != absl::string_view::npos) MarkJoined(c, stats());
    if (text.find("\"error\":") != absl::string_view::npos) stats()->errors.fetch_add(1);
    return false;
  }
};

}  // namespace

std::unique_ptr<WireProtocol> MakeBridgeProtocol(const std::string& authority, Stats* stats) {
  return std::make_unique<BridgeProtocol>(authority, stats);
}

}  // namespace chat::bench
