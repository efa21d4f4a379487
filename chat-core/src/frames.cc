#include "frames.h"

#include <algorithm>
#include <string>
#include <vector>

#include "google/protobuf/util/time_util.h"

namespace chat::core {
namespace {

size_t PutVarint(uint64_t v, char* out) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<char>(v);
  return n;
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// GatewayDown field numbers.
constexpr uint8_t kSessionTag = (1 << 3) | 0;  // varint
constexpr uint8_t kEventTag = (4 << 3) | 2;    // length-delimited
// ServerEvent.batch and EventBatch.events.
constexpr uint8_t kBatchTag = (13 << 3) | 2;
constexpr uint8_t kBatchEventTag = (1 << 3) | 2;

}  // namespace

grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::MessageLite& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool ParseFromByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::MessageLite* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  if (slices.size() == 1) {
    return message->ParseFromArray(slices[0].begin(), static_cast<int>(slices[0].size()));
  }
  std::string joined;
  joined.reserve(buffer.Length());
  for (const auto& s : slices) joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return message->ParseFromString(joined);
}

grpc::ByteBuffer WrapForGatewaySession(uint64_t session, const grpc::Slice& event_bytes) {
  char prefix[24];
  size_t n = 0;
  if (session != 0) {
    prefix[n++] = static_cast<char>(kSessionTag);
    n += PutVarint(session, prefix + n);
  }
  prefix[n++] = static_cast<char>(kEventTag);
  n += PutVarint(event_bytes.size(), prefix + n);
  grpc::Slice slices[2] = {grpc::Slice(prefix, n), event_bytes};
  return grpc::ByteBuffer(slices, 2);
}

std::vector<grpc::ByteBuffer> EncodeReplyPieces(uint64_t session, const chat::v1::ServerEvent& event,
                                                size_t piece_bytes) {
  std::string bytes = event.SerializeAsString();
  std::vector<grpc::ByteBuffer> pieces;
  if (bytes.size() <= piece_bytes || piece_bytes == 0) {
    pieces.push_back(WrapForGatewaySession(session, grpc::Slice(std::move(bytes))));
    return pieces;
  }
  pieces.reserve((bytes.size() + piece_bytes - 1) / piece_bytes);
  chat::v1::GatewayDown down;
  down.set_session(session);
  for (size_t at = 0; at < bytes.size(); at += piece_bytes) {
    size_t n = std::min(piece_bytes, bytes.size() - at);
    auto* chunk = down.mutable_chunk();
    chunk->set_data(bytes.data() + at, n);
    chunk->set_last(at + n == bytes.size());
    pieces.push_back(SerializeToByteBuffer(down));
  }
  return pieces;
}

size_t BatchedEventBytes(size_t event_bytes) { return 1 + VarintSize(event_bytes) + event_bytes; }

grpc::ByteBuffer EncodeEventBatch(const std::vector<const grpc::ByteBuffer*>& events) {
  size_t inner = 0;
  for (const auto* e : events) inner += 1 + VarintSize(e->Length()) + e->Length();
  std::vector<grpc::Slice> slices;
  slices.reserve(2 * events.size());
  std::vector<grpc::Slice> parts;
  for (size_t i = 0; i < events.size(); ++i) {
    char header[24];
    size_t n = 0;
    if (i == 0) {
      header[n++] = static_cast<char>(kBatchTag);
      n += PutVarint(inner, header + n);
    }
    header[n++] = static_cast<char>(kBatchEventTag);
    n += PutVarint(events[i]->Length(), header + n);
    slices.emplace_back(header, n);  // short enough to be inlined, no allocation
    parts.clear();
    events[i]->Dump(&parts);
    for (auto& part : parts) slices.push_back(std::move(part));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

RoomFramePtr MakeRoomFrame(int64_t room_id, int64_t seq, const chat::v1::ServerEvent& event) {
  auto frame = std::make_shared<RoomFrame>();
  frame->room_id = room_id;
  frame->seq = seq;
  std::string bytes = event.SerializeAsString();
  frame->event_bytes = grpc::Slice(bytes);
  frame->connect = grpc::ByteBuffer(&frame->event_bytes, 1);
  frame->gateway = WrapForGatewaySession(0, frame->event_bytes);
  frame->bytes = bytes.size();
  return frame;
}

void FillMessage(const StoredMessage& stored, const std::string& room_name,
                 chat::v1::Message* out) {
  out->set_room(room_name);
  out->set_seq(stored.seq);
  out->set_author(stored.author);
  out->set_text(stored.text);
  *out->mutable_sent_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(stored.sent_at_ms);
  out->set_client_msg_id(stored.client_msg_id);
  out->set_deleted(stored.deleted);
  // A user's message leaves it unset (UNSPECIFIED means a user): no bytes.
  if (stored.author_kind == AccountKind::kBot) out->set_author_kind(chat::v1::ACCOUNT_KIND_BOT);
}

}  // namespace chat::core
