// Server-side bidirectional reactors on raw ByteBuffers (gRPC's public callback
// API), so a room event is serialized once and the same bytes go to every
// stream: the part an Outbox drives, and one that refuses a stream at once.
//
// Threading: gRPC's callback threads; OutboxWriter methods are called under the
// outbox lock and only start gRPC operations (which never run reactions inline).
// Lifetime: gRPC owns the reactor until OnDone, where subclasses delete it.
#ifndef CHAT_CORE_SRC_STREAM_REACTOR_H_
#define CHAT_CORE_SRC_STREAM_REACTOR_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "outbox.h"

namespace chat::core {

using RawServerReactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

// A stream whose writes and finish an Outbox drives.
class OutboxStreamReactor : public RawServerReactor, public OutboxWriter {
 public:
  void StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override {
    StartWrite(buffer, options);
  }
  void FinishStream(const grpc::Status& status) override { Finish(status); }
};

// A stream that could not start: finishes at once with `status`.
class RejectReactor final : public RawServerReactor {
 public:
  explicit RejectReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_STREAM_REACTOR_H_
