// GatewayStream: one attempt at the gateway stream to one chat-core node
// (chat.v1.GatewayService/Gateway), as a gRPC callback client reactor. Items
// written from outside reactions are queued, one write is in flight, and the
// items queued behind it go with gRPC's buffer hint, so a burst (sessions
// opening and joining) leaves in one write.
//
// Threading: Write and Cancel from any thread; the listener is called on gRPC's
// threads, one read at a time (so downstream items are handled in order).
// Lifetime: deletes itself after Listener::OnStreamDone, its last call; the
// listener must outlive it.
#ifndef CHAT_WS_BRIDGE_SRC_GATEWAY_STREAM_H_
#define CHAT_WS_BRIDGE_SRC_GATEWAY_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::bridge {

class GatewayStream : public grpc::ClientBidiReactor<chat::v1::GatewayUp, chat::v1::GatewayDown> {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // chat-core accepted the stream (its initial metadata says so).
    virtual void OnStreamUp(GatewayStream* stream) = 0;
    virtual void OnStreamItem(GatewayStream* stream, const chat::v1::GatewayDown& down) = 0;
    // The stream is over; the last call with the stream.
    virtual void OnStreamDone(GatewayStream* stream, const grpc::Status& status) = 0;
    // After OnStreamDone, once the stream is destroyed (its gRPC context and
    // the channel reference in it included): the listener may go once told.
    virtual void OnStreamGone() = 0;
  };

  // Starts the call on `stub`; `node` names it in logs.
  GatewayStream(Listener* listener, chat::v1::GatewayService::Stub* stub, const std::string& secret,
                std::string node);

  const std::string& node() const { return node_; }
  void Write(chat::v1::GatewayUp up);
  void Cancel() { ctx_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Listener* const listener_;
  const std::string node_;
  grpc::ClientContext ctx_;
  chat::v1::GatewayDown down_;
  absl::Mutex mu_;
  std::deque<chat::v1::GatewayUp> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_GATEWAY_STREAM_H_
