#include "gateway_service.h"

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chat/log.h"
#include "chat/status.h"
#include "frames.h"
#include "session.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "gateway";

chat::v1::GatewayDown ClosedItem(uint64_t id, const absl::Status& status) {
  chat::v1::GatewayDown down;
  down.set_session(id);
  down.mutable_closed()->set_code(ToErrorCode(status.code()));
  down.mutable_closed()->set_reason(std::string(status.message()));
  return down;
}

// One gateway stream: its sessions by the bridge's ids, and the outbox they
// share. Threading: reactions (one read at a time); Open/Close/Find take mu_.
// Lifetime: deletes itself in OnDone, after detaching the outbox and closing
// every session.
class GatewayReactor final : public OutboxStreamReactor {
 public:
  GatewayReactor(grpc::CallbackServerContext* ctx, Hub* hub, Accounts* accounts, const ServiceOptions& options)
      : ctx_(ctx), hub_(hub), accounts_(accounts), options_(options), peer_(ctx->peer()) {
    outbox_ = std::make_shared<Outbox>(Outbox::Kind::kGateway, this, options.gateway_outbox,
                                       hub->room_frame_counter(Outbox::Kind::kGateway), hub->kicker());
    if (!hub_->live().AddStream(outbox_)) {
      outbox_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
      return;
    }
    CHAT_LOG_INFO(kLog, "gateway stream from %s opened", peer_);
    // Tells the bridge at once that the stream was accepted (a refused one gets
    // trailers only, without this marker).
    ctx_->AddInitialMetadata("x-chat-gateway", "accepted");
    StartSendInitialMetadata();
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      CloseAllSessions();
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
        Open(up.session(), up.open());
        break;
      case chat::v1::GatewayUp::kEvent:
        if (auto s = Find(up.session())) {
          s->Handle(up.event(), up.request());
        } else {
          SendClosed(up.session(), absl::NotFoundError("no such session on this gateway stream"));
        }
        break;
      case chat::v1::GatewayUp::kClose:
        CloseSession(up.session());
        break;
      case chat::v1::GatewayUp::ITEM_NOT_SET:
        SendClosed(up.session(), absl::InvalidArgumentError("empty GatewayUp item"));
        break;
    }
    outbox_->IfOpen([this] { StartRead(&in_); });
  }

  void OnWriteDone(bool ok) override { outbox_->OnWriteDone(ok); }
  void OnCancel() override { outbox_->Finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    outbox_->Detach();
    CloseAllSessions();
    hub_->live().RemoveStream(outbox_.get());
    CHAT_LOG_INFO(kLog, "gateway stream from %s closed", peer_);
    delete this;
  }

 private:
  void SendClosed(uint64_t id, const absl::Status& status) { outbox_->PushMessage(ClosedItem(id, status)); }

  std::shared_ptr<Session> Find(uint64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
  }

  void Open(uint64_t id, const chat::v1::SessionOpen& open) {
    {
      absl::MutexLock lock(&mu_);
      if (sessions_.contains(id)) {
        return SendClosed(id, absl::AlreadyExistsError("session id already open on this stream"));
      }
      if (sessions_.size() >= options_.max_sessions_per_gateway) {
        return SendClosed(id, absl::ResourceExhaustedError("too many sessions on this gateway stream"));
      }
    }
    auto identity = accounts_->AuthenticateToken(open.token(), open.guest_name());
    if (!identity.ok()) return SendClosed(id, identity.status());
    auto session = std::make_shared<Session>(hub_, outbox_, id, *identity, options_.gateway_session);
    std::weak_ptr<Session> weak_session = session;
    std::weak_ptr<Outbox> weak_outbox = outbox_;
    // Logout or expiry: leave the rooms now and tell the bridge, which closes the
    // browser's WebSocket and then closes the session here.
    session->SetKillHook([weak_outbox, weak_session, id](const absl::Status& status) {
      if (auto s = weak_session.lock()) s->Close();
      if (auto o = weak_outbox.lock()) o->PushMessage(ClosedItem(id, status));
    });
    {
      absl::MutexLock lock(&mu_);
      sessions_[id] = session;
    }
    hub_->live().AddSession(session);
    chat::v1::GatewayDown down;
    down.set_session(id);
    down.mutable_opened()->set_user(identity->user);
    outbox_->PushMessage(down);
  }

  void CloseSession(uint64_t id) {
    std::shared_ptr<Session> s;
    {
      absl::MutexLock lock(&mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return;
      s = std::move(it->second);
      sessions_.erase(it);
    }
    s->Close();
    hub_->live().RemoveSession(s.get());
  }

  void CloseAllSessions() {
    absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> all;
    {
      absl::MutexLock lock(&mu_);
      all.swap(sessions_);
    }
    for (auto& [id, s] : all) {
      s->Close();
      hub_->live().RemoveSession(s.get());
    }
  }

  grpc::CallbackServerContext* const ctx_;
  Hub* const hub_;
  Accounts* const accounts_;
  const ServiceOptions& options_;
  const std::string peer_;
  std::shared_ptr<Outbox> outbox_;
  grpc::ByteBuffer in_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

RawServerReactor* GatewayServiceImpl::Gateway(grpc::CallbackServerContext* ctx) {
  if (!auth_->IsGateway(*ctx)) {
    CHAT_LOG_WARN(kLog, "refused a gateway stream from %s: bad gateway credential", ctx->peer());
    return new RejectReactor(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        options_->gateway_secret.empty()
            ? "gateway streams are accepted from loopback only unless a gateway secret is set"
            : "missing or wrong x-chat-gateway-secret"));
  }
  if (hub_->shutting_down()) {
    return new RejectReactor(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
  }
  return new GatewayReactor(ctx, hub_, accounts_, *options_);
}

}  // namespace chat::core
