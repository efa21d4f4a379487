#include "delivery_policy.h"

#include "chat/log.h"

namespace chat::core {
namespace {

class ConnectDelivery final : public DeliveryPolicy {
 public:
  grpc::ByteBuffer EncodeEvent(uint64_t, const chat::v1::ServerEvent& event, uint64_t) const override {
    return SerializeToByteBuffer(event);
  }
  OutboxItem Replay(uint64_t, const RoomFramePtr& frame) const override {
    return OutboxItem{frame, &frame->connect, frame->bytes};
  }
  void AddRoom(int64_t room_id, int64_t seq) override { given_[room_id] = seq; }
  void RemoveRoom(int64_t room_id) override { given_.erase(room_id); }
  Admission Admit(const RoomFrame& frame) override {
    auto it = given_.find(frame.room_id);
    if (it == given_.end()) return {};  // left the room after the publisher's snapshot
    if (frame.seq != 0) {
      if (frame.seq <= it->second) return {};  // already given (replayed while joining)
      if (frame.seq != it->second + 1) {
        // The room publishes in seq order and the stream went live at a seq it had
        // been given, so a gap means a broken invariant.
        CHAT_LOG_ERROR("outbox", "gap in room %d: have %d, got %d", frame.room_id, it->second, frame.seq);
        return {Verdict::kGap};
      }
      it->second = frame.seq;
    }
    return {Verdict::kQueue, &frame.connect, /*on_lane=*/true};
  }
  void Clear() override { given_.clear(); }

 private:
  // Room id -> the last seq given to the session.
  absl::flat_hash_map<int64_t, int64_t> given_;
};

class GatewayDelivery final : public DeliveryPolicy {
 public:
  grpc::ByteBuffer EncodeEvent(uint64_t session, const chat::v1::ServerEvent& event,
                               uint64_t request) const override {
    chat::v1::GatewayDown down;
    down.set_session(session);
    down.set_request(request);
    *down.mutable_event() = event;
    return SerializeToByteBuffer(down);
  }
  OutboxItem Replay(uint64_t session, const RoomFramePtr& frame) const override {
    OutboxItem item = OwnedItem(WrapForGatewaySession(session, frame->event_bytes));
    item.bytes = frame->bytes;
    return item;
  }
  void AddRoom(int64_t room_id, int64_t) override { ++live_[room_id]; }
  void RemoveRoom(int64_t room_id) override {
    auto it = live_.find(room_id);
    if (it != live_.end() && --it->second <= 0) live_.erase(it);
  }
  Admission Admit(const RoomFrame& frame) override {
    if (!live_.contains(frame.room_id)) return {};
    return {Verdict::kQueue, &frame.gateway, /*on_lane=*/false};
  }
  void Clear() override { live_.clear(); }

 private:
  // Room id -> how many of the bridge's sessions are live in it.
  absl::flat_hash_map<int64_t, int> live_;
};

}  // namespace

OutboxItem OwnedItem(grpc::ByteBuffer buffer) {
  auto owned = std::make_shared<grpc::ByteBuffer>(std::move(buffer));
  const grpc::ByteBuffer* raw = owned.get();
  size_t bytes = raw->Length();
  return OutboxItem{std::move(owned), raw, bytes};
}

std::unique_ptr<DeliveryPolicy> NewConnectDelivery() { return std::make_unique<ConnectDelivery>(); }
std::unique_ptr<DeliveryPolicy> NewGatewayDelivery() { return std::make_unique<GatewayDelivery>(); }

}  // namespace chat::core
