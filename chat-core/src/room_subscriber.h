// RoomSubscriber: what a Room delivers to. One per stream (an Outbox): a
// Connect stream's one session, or a gateway stream's many browser sessions,
// which the subscriber tells apart by session id.
//
// Threading: every method is thread-safe and must not block or call back into
// the room. AddRoom and RemoveRoom run under the room's lock (ordered with its
// publishing); OnRoomFrame runs outside it, for one room in publish order.
// Lifetime: a Room holds its subscribers by shared_ptr while they are in it.
#ifndef CHAT_CORE_SRC_ROOM_SUBSCRIBER_H_
#define CHAT_CORE_SRC_ROOM_SUBSCRIBER_H_

#include <cstdint>
#include <string>

#include "chat/v1/chat.pb.h"
#include "frames.h"

namespace chat::core {

// Where the direct answer to a client event goes: the client's ref, and on a
// gateway stream the bridge's own request id (GatewayUp.request, 0 for a
// browser's event), which the answer carries back in GatewayDown.request.
struct ReplyTo {
  std::string ref;
  uint64_t request = 0;
};

class RoomSubscriber {
 public:
  virtual ~RoomSubscriber() = default;
  // A room event (message, member, typing) published to a room it is in.
  virtual void OnRoomFrame(const RoomFramePtr& frame) = 0;
  // A session of this subscriber went live in a room, having been given every
  // message up to `seq`: room messages from seq + 1 on are its to deliver.
  virtual void AddRoom(int64_t room_id, int64_t seq) = 0;
  // A session of this subscriber left the room.
  virtual void RemoveRoom(int64_t room_id) = 0;
  // A message replayed to one session while it joins (before AddRoom).
  virtual bool PushReplay(uint64_t session, const RoomFramePtr& frame) = 0;
  // An event for one session (`joined`); `request` as in ReplyTo.
  virtual bool PushEvent(uint64_t session, const chat::v1::ServerEvent& event, uint64_t request) = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ROOM_SUBSCRIBER_H_
