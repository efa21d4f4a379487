// Encoded frames: events serialized once and shared by every receiver.
//
// A RoomFrame is built once per room event (message, member, typing) and queued
// by reference to every Connect stream and every gateway stream in the room. Its
// gateway form reuses the same serialized ServerEvent bytes behind a short prefix.
// Immutable after construction, so it is shared across threads freely.
#ifndef CHAT_CORE_SRC_FRAMES_H_
#define CHAT_CORE_SRC_FRAMES_H_

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/v1/chat.pb.h"
#include "store.h"

namespace chat::core {

struct RoomFrame {
  int64_t room_id = 0;
  // The message seq; 0 for events without one (member, typing).
  int64_t seq = 0;
  // ServerEvent, as a Connect stream writes it.
  grpc::ByteBuffer connect;
  // GatewayDown{session: 0, event}, as a gateway stream writes it.
  grpc::ByteBuffer gateway;
  // The serialized ServerEvent alone (to wrap for one gateway session on replay).
  grpc::Slice event_bytes;
  size_t bytes = 0;
};
using RoomFramePtr = std::shared_ptr<const RoomFrame>;

RoomFramePtr MakeRoomFrame(int64_t room_id, int64_t seq, const chat::v1::ServerEvent& event);

// ServerEvent bytes -> GatewayDown{session, event} bytes, sharing the event slice.
grpc::ByteBuffer WrapForGatewaySession(uint64_t session, const grpc::Slice& event_bytes);

// Serialized ServerEvents -> ServerEvent{batch: EventBatch{events}}, sharing the
// events' slices (only the field headers are new bytes).
grpc::ByteBuffer EncodeEventBatch(const std::vector<const grpc::ByteBuffer*>& events);
// What an event of `event_bytes` adds to such a batch (its field header too),
// and the batch's own header at most (for batches under 2 MiB).
size_t BatchedEventBytes(size_t event_bytes);
inline constexpr size_t kBatchHeaderBytes = 4;

// A browser's reply for one gateway session, as GatewayDown items: one
// GatewayDown{session, event} if its event is at most `piece_bytes`, else
// GatewayDown{session, chunk{data, last}} pieces of at most that many bytes of
// the serialized event (chat.proto, EventChunk).
std::vector<grpc::ByteBuffer> EncodeReplyPieces(uint64_t session, const chat::v1::ServerEvent& event,
                                                size_t piece_bytes);

// Serializes a message to a single-slice ByteBuffer.
grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::MessageLite& message);

// Parses a ByteBuffer; false if it is not a valid message of that type.
bool ParseFromByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message);

// The one conversion of a stored message to its event form (live fan-out,
// history, replay, catch-up): author_kind BOT for a bot's message.
void FillMessage(const StoredMessage& stored, const std::string& room_name,
                 chat::v1::Message* out);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_FRAMES_H_
