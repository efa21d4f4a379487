#include "gateway_service.h"

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chat/log.h"
#include "chat/status.h"
#include "core_metrics.h"
#include "frames.h"
#include "session.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "gateway";
// Sent by a bridge that joins the pieces of big replies (EventChunk).
constexpr char kGatewayChunksHeader[] = "x-chat-gateway-chunks";

chat::v1::GatewayDown ClosedItem(uint64_t id, const absl::Status& status) {
  chat::v1::GatewayDown down;
  down.set_session(id);
  down.mutable_closed()->set_code(ToErrorCode(status.code()));
  down.mutable_closed()->set_reason(std::string(status.message()));
  return down;
}

// One gateway stream's browser sessions, by the bridge's ids. Shared with the
// answers of sessions being opened (a token another node issued is looked up
// in the store), so a late answer finds the stream gone, not a deleted reactor.
// Events that come for a session still being opened wait for it, in order.
// Threading: thread-safe; Open, Event and Close come from the stream's reads,
// one at a time; Opened from a store thread. Lifetime: shared by the reactor
// and pending opens; CloseAll (the stream is over) ends every session.
class GatewaySessions : public std::enable_shared_from_this<GatewaySessions> {
 public:
  GatewaySessions(Hub* hub, const Authenticator* auth, const ServiceOptions& options, std::shared_ptr<Outbox> outbox)
      : hub_(hub), auth_(auth), options_(options), outbox_(std::move(outbox)) {}

  void Open(uint64_t id, const chat::v1::SessionOpen& open) {
    {
      absl::MutexLock lock(&mu_);
      if (sessions_.contains(id) || opening_.contains(id)) {
        return SendClosed(id, absl::AlreadyExistsError("session id already open on this stream"));
      }
      if (sessions_.size() + opening_.size() >= options_.max_sessions_per_gateway) {
        return SendClosed(id, absl::ResourceExhaustedError("too many sessions on this gateway stream"));
      }
      opening_[id];
    }
    auth_->AuthenticateToken(open.token(), open.guest_name(), [self = shared_from_this(), id](absl::StatusOr<Identity> who) {
      self->Opened(id, std::move(who));
    });
  }

  void Event(uint64_t id, const chat::v1::ClientEvent& event, uint64_t request) {
    std::shared_ptr<Session> session;
    {
      absl::MutexLock lock(&mu_);
      if (auto it = opening_.find(id); it != opening_.end()) {
        if (it->second.events.size() >= kMaxWaitingEvents) {
          opening_.erase(it);
          return SendClosed(id, absl::ResourceExhaustedError("too many events before the session was open"));
        }
        it->second.events.push_back({event, request});
        return;
      }
      auto it = sessions_.find(id);
      if (it != sessions_.end()) session = it->second;
    }
    if (session == nullptr) return SendClosed(id, absl::NotFoundError("no such session on this gateway stream"));
    session->Handle(event, request);
  }

  void Close(uint64_t id) {
    std::shared_ptr<Session> s;
    {
      absl::MutexLock lock(&mu_);
      opening_.erase(id);  // an answer to its open finds nothing
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return;
      s = std::move(it->second);
      sessions_.erase(it);
    }
    End(s);
  }

  void CloseAll() {
    absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> all;
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      opening_.clear();
      all.swap(sessions_);
    }
    for (auto& [id, s] : all) End(s);
  }

 private:
  static constexpr size_t kMaxWaitingEvents = 64;
  struct Opening {
    std::vector<std::pair<chat::v1::ClientEvent, uint64_t>> events;
  };

  void SendClosed(uint64_t id, const absl::Status& status) {
    if (options_.metrics != nullptr) options_.metrics->GatewaySessionClosed(status.code());
    outbox_->PushMessage(ClosedItem(id, status));
  }

  void End(const std::shared_ptr<Session>& s) {
    s->Close();
    hub_->live().RemoveSession(s.get());
  }

  // The answer to a session's open: the session goes live and the events that
  // waited for it are handled, in order, before any that come later.
  void Opened(uint64_t id, absl::StatusOr<Identity> who) {
    {
      absl::MutexLock lock(&mu_);
      if (closed_ || !opening_.contains(id)) return;  // closed meanwhile
      if (!who.ok()) opening_.erase(id);
    }
    if (!who.ok()) return SendClosed(id, who.status());
    auto session = std::make_shared<Session>(hub_, outbox_, id, *who, options_.gateway_session);
    std::weak_ptr<Session> weak_session = session;
    std::weak_ptr<Outbox> weak_outbox = outbox_;
    // Logout or expiry: leave the rooms and forget the session now (the bridge,
    // told it is closed, closes the browser's WebSocket and sends no close of
    // its own for it), then tell the bridge.
    std::weak_ptr<GatewaySessions> weak_self = weak_from_this();
    session->SetKillHook([weak_self, weak_outbox, weak_session, id](const absl::Status& status) {
      if (auto self = weak_self.lock()) {
        self->Close(id);
      } else if (auto s = weak_session.lock()) {
        s->Close();
      }
      if (auto o = weak_outbox.lock()) o->PushMessage(ClosedItem(id, status));
    });
    if (absl::Status added = hub_->live().AddSession(session); !added.ok()) {
      {
        absl::MutexLock lock(&mu_);
        opening_.erase(id);
      }
      session->Close();
      return SendClosed(id, added);
    }
    chat::v1::GatewayDown down;
    down.set_session(id);
    down.mutable_opened()->set_user(who->user);
    outbox_->PushMessage(down);
    for (;;) {
      std::vector<std::pair<chat::v1::ClientEvent, uint64_t>> waiting;
      {
        absl::MutexLock lock(&mu_);
        auto it = opening_.find(id);
        if (closed_ || it == opening_.end()) break;  // closed meanwhile
        waiting.swap(it->second.events);
        if (waiting.empty()) {
          opening_.erase(it);
          sessions_[id] = session;
          return;
        }
      }
      for (const auto& [event, request] : waiting) session->Handle(event, request);
    }
    End(session);
  }

  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions& options_;
  const std::shared_ptr<Outbox> outbox_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Opening> opening_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// One gateway stream: reads GatewayUp items and hands them to its sessions.
// Threading: reactions (one read at a time). Lifetime: deletes itself in
// OnDone, after detaching the outbox and ending every session.
class GatewayReactor final : public OutboxStreamReactor {
 public:
  GatewayReactor(grpc::CallbackServerContext* ctx, Hub* hub, const Authenticator* auth, const ServiceOptions& options)
      : ctx_(ctx), hub_(hub), peer_(ctx->peer()) {
    OutboxLimits limits = options.gateway_outbox;
    // A bridge that can join pieces of a reply says so (chat.proto, EventChunk).
    if (ctx->client_metadata().find(kGatewayChunksHeader) != ctx->client_metadata().end()) {
      limits.reply_piece_bytes = kReplyPieceBytes;
    }
    outbox_ = std::make_shared<Outbox>(Outbox::Kind::kGateway, this, limits,
                                       hub->outbox_counters(Outbox::Kind::kGateway), hub->kicker());
    sessions_ = std::make_shared<GatewaySessions>(hub, auth, options, outbox_);
    if (!hub_->live().AddStream(outbox_)) {
      outbox_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
      return;
    }
    CHAT_LOGF_INFO(kLog, LogFields().Peer(peer_), "gateway stream from %s opened", peer_);
    // Tells the bridge at once that the stream was accepted (a refused one gets
    // trailers only, without this marker).
    ctx_->AddInitialMetadata("x-chat-gateway", "accepted");
    StartSendInitialMetadata();
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      sessions_->CloseAll();
      outbox_->FinishWhenDrained(grpc::Status::OK);
      return;
    }
    chat::v1::GatewayUp up;
    bool parsed = ParseFromByteBuffer(in_, &up);
    in_.Clear();
    if (!parsed || up.session() == 0) {
      outbox_->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   parsed ? "GatewayUp.session must not be 0" : "cannot parse GatewayUp"));
      return;
    }
    switch (up.item_case()) {
      case chat::v1::GatewayUp::kOpen:
        sessions_->Open(up.session(), up.open());
        break;
      case chat::v1::GatewayUp::kEvent:
        sessions_->Event(up.session(), up.event(), up.request());
        break;
      case chat::v1::GatewayUp::kClose:
        sessions_->Close(up.session());
        break;
      case chat::v1::GatewayUp::ITEM_NOT_SET:
        outbox_->PushMessage(ClosedItem(up.session(), absl::InvalidArgumentError("empty GatewayUp item")));
        break;
    }
    outbox_->IfOpen([this] { StartRead(&in_); });
  }

  void OnWriteDone(bool ok) override { outbox_->OnWriteDone(ok); }
  void OnCancel() override { outbox_->Finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    outbox_->CountEnd(ctx_->IsCancelled());
    outbox_->Detach();
    sessions_->CloseAll();
    hub_->live().RemoveStream(outbox_.get());
    CHAT_LOGF_INFO(kLog, LogFields().Peer(peer_), "gateway stream from %s closed", peer_);
    delete this;
  }

 private:
  grpc::CallbackServerContext* const ctx_;
  Hub* const hub_;
  const std::string peer_;
  std::shared_ptr<Outbox> outbox_;
  std::shared_ptr<GatewaySessions> sessions_;
  grpc::ByteBuffer in_;
};

}  // namespace

RawServerReactor* GatewayServiceImpl::Gateway(grpc::CallbackServerContext* ctx) {
  if (!auth_->IsGateway(*ctx)) {
    CHAT_LOGF_WARN(kLog, LogFields().Peer(ctx->peer()), "refused a gateway stream from %s: bad gateway credential",
                   ctx->peer());
    if (options_->metrics != nullptr) options_->metrics->GatewayStreamRefused(/*credential=*/true);
    return new RejectReactor(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        options_->gateway_secret.empty()
            ? "gateway streams are accepted from loopback only unless a gateway secret is set"
            : "missing or wrong x-chat-gateway-secret"));
  }
  if (options_->metrics != nullptr && (hub_->shutting_down() || !auth_->Serving().ok())) {
    options_->metrics->GatewayStreamRefused(/*credential=*/false);
  }
  if (hub_->shutting_down()) {
    return new RejectReactor(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
  }
  if (absl::Status serving = auth_->Serving(); !serving.ok()) return new RejectReactor(ToGrpcStatus(serving));
  return new GatewayReactor(ctx, hub_, auth_, *options_);
}

}  // namespace chat::core
