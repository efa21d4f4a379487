// chat.v1 Connect straight to chat-core, one HTTP/2 connection and one stream
// per client, on the generator's own HTTP/2 client (h2_client.h): a guest user
// in x-chat-user metadata (chat-core runs with --allow_guests), and x-chat-batch
// when the run asks for batches (docs/protocol.md). Events are read from their
// wire bytes (ServerEventKind) without parsing them into messages.
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chat/v1/chat.pb.h"
#include "h2_client.h"
#include "wire_protocol.h"

namespace chat::bench {
namespace {

chat::v1::ClientEvent JoinEvent(const std::string& room) {
  chat::v1::ClientEvent ev;
  ev.mutable_join()->set_room(room);
  return ev;
}

// The field numbers of ServerEvent's `event` oneof that the generator reads.
constexpr int kJoined = 2, kMessage = 4, kError = 8, kRoom = 12, kBatch = 13;

// Threading: used only by the thread of the loop that owns the connection.
// Lifetime: owned by its Conn (Conn::session), made once TCP connects.
// A connection's HTTP/2 stream, and what its messages need while Feed runs.
class GrpcSession : public ConnSession, public H2Stream::Sink {
 public:
  GrpcSession(Conn* c, Stats* stats) : conn_(c), stats_(stats) {}

  H2Stream& h2() { return h2_; }
  void Send(const chat::v1::ClientEvent& ev, std::string* out) { h2_.SendMessage(ev.SerializeAsString(), out); }

  // Feeds the bytes to the stream; replies (and a join after a room was made)
  // go to `out`.
  H2Stream::Result Feed(const char* data, size_t n, size_t* used, std::string* out, ReadTime now) {
    out_ = out;
    now_ = now;
    H2Stream::Result result = h2_.Feed(data, n, used, out, this);
    out_ = nullptr;
    return result;
  }

  void OnMessage(std::string_view message) override {
    std::string_view text;
    int kind = ServerEventKind(message, &text);
    if (kind != kBatch) return OnEvent(kind, text);  // not a batch: read once
    thread_local std::vector<std::string_view> events;
    if (!ServerEvents(message, &events)) {
      stats_->errors.fetch_add(1);
      return;
    }
    for (std::string_view event : events) {
      kind = ServerEventKind(event, &text);
      OnEvent(kind, text);
    }
  }

 private:
  // `kind` and `text` as ServerEventKind gives them.
  void OnEvent(int kind, std::string_view text) {
    Conn* c = conn_;
    switch (kind) {
      case kJoined:
        if (c->state == Conn::kJoining) MarkJoined(c, stats_);
        return;
      case kMessage:
        if (!c->sender && c->state == Conn::kJoined) {
          Account(text.data(), text.size(), &c->order, now_, DeliveryStats(c, stats_));
        }
        return;
      case kError:
      case kRoom:  // created
        if (c->state == Conn::kCreating) {
          // Created, or it already existed: either way, join it.
          c->state = Conn::kJoining;
          Send(JoinEvent(c->room), out_);
          return;
        }
        if (kind == kError) stats_->errors.fetch_add(1);
        return;
      default:
        return;
    }
  }

  H2Stream h2_;
  Conn* const conn_;
  Stats* const stats_;
  std::string* out_ = nullptr;  // while Feed runs
  ReadTime now_;                // of the bytes Feed is reading
};

GrpcSession* SessionOf(Conn* c) { return static_cast<GrpcSession*>(c->session.get()); }

class GrpcH2Protocol : public WireProtocol {
 public:
  GrpcH2Protocol(std::string authority, int grpc_batch, Stats* stats)
      : authority_(std::move(authority)), grpc_batch_(grpc_batch), stats_(stats) {}

  void OnConnected(ClientIo& io, Conn* c) override {
    auto session = std::make_unique<GrpcSession>(c, stats_);
    GrpcSession* s = session.get();
    c->session = std::move(session);
    H2Stream::Options o;
    o.authority = authority_;
    o.path = "/chat.v1.ChatService/Connect";
    o.metadata.emplace_back("x-chat-user", absl::StrCat("grpc-", c->id));
    if (grpc_batch_ > 1) o.metadata.emplace_back("x-chat-batch", absl::StrCat(grpc_batch_));
    // A watched receiver (the slow-consumer scenario's) grants HTTP/2's default
    // window, as its SO_RCVBUF is small: once it stops reading, chat-core's
    // stream queue takes the backlog, not megabytes of transport window.
    if (c->watch != nullptr) o.window = 65535;
    std::string bytes = s->h2().Open(o);
    if (c->creator) {
      chat::v1::ClientEvent create;
      create.set_ref("c");
      create.mutable_create_room()->set_name(c->room);
      c->state = Conn::kCreating;
      s->Send(create, &bytes);
    } else {
      c->state = Conn::kJoining;
      s->Send(JoinEvent(c->room), &bytes);
    }
    io.Write(c, bytes);
  }

  size_t OnBytes(ClientIo& io, Conn* c, const char* data, size_t n, ReadTime now) override {
    GrpcSession* s = SessionOf(c);
    std::string replies;
    size_t used = 0;
    H2Stream::Result result = s->Feed(data, n, &used, &replies, now);
    io.Write(c, replies);
    if (result != H2Stream::Result::kOk) {
      if (c->state != Conn::kJoined || result == H2Stream::Result::kError) {
        std::fprintf(stderr, "chat-bench: grpc client %d: %s\n", c->id, s->h2().reason().c_str());
      }
      c->end_note = s->h2().reason();
      io.Dead(c);
    }
    return used;
  }

  void AppendSend(Conn* s, const std::string& payload, int64_t counter, std::string* batch) override {
    chat::v1::ClientEvent ev;
    auto* send = ev.mutable_send();
    send->set_room(s->room);
    send->set_text(payload);
    send->set_client_msg_id(absl::StrCat(s->sender_id, "-", counter));
    SessionOf(s)->Send(ev, batch);
  }

  bool CreatesRooms() const override { return true; }

 private:
  const std::string authority_;
  const int grpc_batch_;
  Stats* const stats_;
};

}  // namespace

std::unique_ptr<WireProtocol> MakeGrpcH2Protocol(const std::string& authority, int grpc_batch, Stats* stats) {
  return std::make_unique<GrpcH2Protocol>(authority, grpc_batch, stats);
}

}  // namespace chat::bench
