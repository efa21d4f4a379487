#include "gateway_stream.h"

#include <utility>

namespace chat::bridge {

using chat::v1::GatewayUp;

GatewayStream::GatewayStream(Listener* listener, chat::v1::GatewayService::Stub* stub, const std::string& secret,
                             std::string node)
    : listener_(listener), node_(std::move(node)) {
  if (!secret.empty()) ctx_.AddMetadata("x-chat-gateway-secret", secret);
  // Big replies may come in pieces (chat.proto, EventChunk; Gateway joins them).
  ctx_.AddMetadata("x-chat-gateway-chunks", "1");
  ctx_.set_wait_for_ready(false);
  stub->async()->Gateway(&ctx_, this);
  // Writes are started from outside reactions (sessions' strands).
  AddHold();
  StartRead(&down_);
  StartCall();
}

void GatewayStream::Write(GatewayUp up) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  queue_.push_back(std::move(up));
  if (!writing_) {
    writing_ = true;
    StartNextLocked();
  }
}

void GatewayStream::OnReadInitialMetadataDone(bool ok) {
  // A refused stream (bad secret, shutting down) answers with trailers only.
  const auto& md = ctx_.GetServerInitialMetadata();
  if (ok && md.find("x-chat-gateway") != md.end()) listener_->OnStreamUp(this);
}

void GatewayStream::OnReadDone(bool ok) {
  if (ok) {
    listener_->OnStreamItem(this, down_);
    down_.Clear();
    StartRead(&down_);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (!closed_) {
    closed_ = true;
    RemoveHold();
  }
}

void GatewayStream::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  queue_.pop_front();
  if (!ok) {
    // The stream is broken; reads fail too and OnDone follows.
    writing_ = false;
    return;
  }
  if (!queue_.empty() && !closed_) {
    StartNextLocked();
  } else {
    writing_ = false;
  }
}

void GatewayStream::OnDone(const grpc::Status& status) {
  Listener* const listener = listener_;
  listener->OnStreamDone(this, status);
  delete this;
  listener->OnStreamGone();
}

// Writes the front of the queue. While more is queued behind it, gRPC may hold
// it back (buffer hint), so a burst of items leaves in one write; the last one
// queued flushes them all.
void GatewayStream::StartNextLocked() {
  grpc::WriteOptions options;
  if (queue_.size() > 1) options.set_buffer_hint();
  StartWrite(&queue_.front(), options);
}

}  // namespace chat::bridge
