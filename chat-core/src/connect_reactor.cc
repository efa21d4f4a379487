#include "connect_reactor.h"

#include <optional>

#include "chat/status.h"
#include "connect_session.h"
#include "frames.h"

namespace chat::core {
namespace {

class ConnectReactor final : public OutboxStreamReactor {
 public:
  ConnectReactor(grpc::CallbackServerContext* ctx, Hub* hub, const Authenticator* auth,
                 const ServiceOptions* options)
      : ctx_(ctx), hub_(hub) {
    auto metadata = [ctx](absl::string_view key) -> std::optional<absl::string_view> {
      const auto& md = ctx->client_metadata();
      auto it = md.find(grpc::string_ref(key.data(), key.size()));
      if (it == md.end()) return std::nullopt;
      return absl::string_view(it->second.data(), it->second.size());
    };
    StartConnectSession(hub, *auth, *options, ReadConnectMetadata(metadata), this, Outbox::kAnyLane,
                        [this] { StartRead(&in_); },
                        [this](absl::StatusOr<ConnectSession> parts) { Begin(std::move(parts)); });
  }

  // The session is made (or refused): now, or once a store answered.
  void Begin(absl::StatusOr<ConnectSession> parts) {
    if (!parts.ok()) {
      Finish(ToGrpcStatus(parts.status()));
      return;
    }
    if (parts_.Fill(std::move(*parts))) StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed (or left): finish once its sends are answered.
      parts_->session->ClientDone();
      return;
    }
    chat::v1::ClientEvent event;
    bool parsed = ParseFromByteBuffer(in_, &event);
    in_.Clear();
    bool more = true;
    if (!parsed) {
      parts_->session->RejectUnreadable("cannot parse the ClientEvent");
    } else {
      more = parts_->session->Handle(event);
    }
    // Otherwise the session resumes reading once its sends are answered.
    if (more) ReadNextWhenRoom(*parts_, [this] { StartRead(&in_); });
  }

  void OnWriteDone(bool ok) override { parts_->outbox->OnWriteDone(ok); }

  void OnCancel() override {
    if (parts_.End()) parts_->outbox->Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    if (parts_.filled()) EndConnectSession(hub_, *parts_, ctx_->IsCancelled());
    delete this;
  }

 private:
  grpc::CallbackServerContext* const ctx_;
  Hub* const hub_;
  // Empty if the stream was refused.
  ConnectSlot parts_;
  grpc::ByteBuffer in_;
};

}  // namespace

RawServerReactor* NewConnectReactor(grpc::CallbackServerContext* ctx, Hub* hub, const Authenticator* auth,
                                    const ServiceOptions* options) {
  return new ConnectReactor(ctx, hub, auth, options);
}

}  // namespace chat::core
