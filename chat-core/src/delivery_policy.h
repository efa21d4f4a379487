// DeliveryPolicy: what differs between a Connect stream's outbox and a gateway
// stream's (docs/architecture.md, "Two ways in to chat-core"): how an event is
// addressed, and which published room frames the stream takes.
//   - Connect: one session; events go as plain ServerEvents; a room's messages
//     must continue exactly at the seq the session went live at (a gap ends the
//     stream, the client resumes with since_seq); writes of room frames start
//     on a fan-out lane (WriteKicker), so the publisher is not the writer.
//   - Gateway: many sessions; session events are wrapped in GatewayDown with
//     the session id; a room frame crosses once for every session of the bridge
//     in the room (the bridge orders and deduplicates per browser), and its
//     write starts on the publishing thread (one receiver per bridge).
//
// Threading: not thread-safe; its Outbox calls every method but the const
// encoders under the outbox lock. Lifetime: owned by its Outbox.
#ifndef CHAT_CORE_SRC_DELIVERY_POLICY_H_
#define CHAT_CORE_SRC_DELIVERY_POLICY_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "chat/v1/chat.pb.h"
#include "frames.h"

namespace chat::core {

// One queued write: the bytes, and what keeps them alive.
struct OutboxItem {
  std::shared_ptr<const void> hold;
  const grpc::ByteBuffer* buffer = nullptr;
  size_t bytes = 0;
};

// An item that owns its bytes.
OutboxItem OwnedItem(grpc::ByteBuffer buffer);

class DeliveryPolicy {
 public:
  enum class Verdict {
    // Not for this stream (no session live in the room, or already given).
    kDrop,
    kQueue,
    // A message beyond the next expected seq: the stream must end.
    kGap,
  };
  struct Admission {
    Verdict verdict = Verdict::kDrop;
    // kQueue: the frame's bytes as this stream writes them.
    const grpc::ByteBuffer* buffer = nullptr;
    // kQueue: start the write on a fan-out lane rather than here.
    bool on_lane = false;
  };

  virtual ~DeliveryPolicy() = default;
  // A session event as this stream writes it (`request`: gateway only).
  virtual grpc::ByteBuffer EncodeEvent(uint64_t session, const chat::v1::ServerEvent& event,
                                       uint64_t request) const = 0;
  // A replayed message for one session, sharing the frame's bytes where it can.
  virtual OutboxItem Replay(uint64_t session, const RoomFramePtr& frame) const = 0;
  virtual void AddRoom(int64_t room_id, int64_t seq) = 0;
  virtual void RemoveRoom(int64_t room_id) = 0;
  virtual Admission Admit(const RoomFrame& frame) = 0;
  // Forgets every room (the stream is gone).
  virtual void Clear() = 0;
};

std::unique_ptr<DeliveryPolicy> NewConnectDelivery();
std::unique_ptr<DeliveryPolicy> NewGatewayDelivery();

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_DELIVERY_POLICY_H_
