// Room: one chat room's live state: the newest published seq, a ring of recent
// message frames (for cheap resume), who is present, and which outboxes receive
// its events (RoomSubscriber: in practice a stream's Outbox).
//
// Threading: thread-safe; one mutex per room. Publish is called by the store's
// completion thread in seq order and delivers outside the lock from a
// copy-on-write snapshot of the subscribers, so no room-wide lock is held while
// anyone's queue is written. Lock order: room -> session -> outbox.
// Lifetime: owned (shared) by the Hub's registry; rooms are never deleted while
// the process runs.
#ifndef CHAT_CORE_SRC_ROOM_H_
#define CHAT_CORE_SRC_ROOM_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "frames.h"
#include "room_subscriber.h"
#include "store.h"

namespace chat::core {

struct RoomOptions {
  // Recent message frames kept in memory; a join whose since_seq falls inside is
  // served without reading the store.
  size_t recent_frames = 1024;
  // Rooms with more distinct users than this send no member events and list only
  // this many names in `joined` (member_count stays exact).
  size_t presence_limit = 200;
};

// What Room::TryGoLive needs to know about a joining session.
struct JoinTicket {
  uint64_t member_id = 0;
  std::string user;
  std::shared_ptr<RoomSubscriber> subscriber;
  // The session id on a gateway stream (0 on a Connect stream).
  uint64_t session = 0;
  // The last seq the session has; -1: no replay wanted.
  int64_t pos = -1;
  // The most messages to queue at once from the recent ring (the stream's
  // replay burst); further behind, the caller pages from the store.
  int64_t max_burst = 256;
  // Where `joined` goes.
  ReplyTo reply;
  // Called under the room lock: is this join still wanted (not left, not closed)?
  // On true the session is marked live before the lock is released.
  std::function<bool()> commit_if_wanted;
};

class Room {
 public:
  Room(const RoomRecord& record, RoomOptions options);

  int64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  int64_t created_at_ms() const { return created_at_ms_; }
  const std::string& created_by() const { return created_by_; }
  int64_t last_seq() const;
  int member_count() const;
  void Describe(chat::v1::Room* out) const;

  // A newly stored message. The store's completion thread, in seq order.
  void Publish(const RoomFramePtr& frame);
  // An event without seq (member, typing) to every subscriber.
  void Broadcast(const RoomFramePtr& frame);

  enum class GoLive { kLive, kNeedPage, kAbandoned, kAhead };
  // kLive: every message after ticket.pos was in the recent ring and is now queued,
  // followed by `joined`; the session is present and subscribed. *first_of_user
  // tells whether the user was not present before (a member event is due).
  // kNeedPage: too far behind; *latest is the room's newest seq to page up to.
  // kAhead: ticket.pos is beyond the room's newest seq.
  GoLive TryGoLive(const JoinTicket& ticket, int64_t* latest, bool* first_of_user);

  // Removes a present session; true if it was the user's last one in the room.
  bool RemoveMember(uint64_t member_id, const std::shared_ptr<RoomSubscriber>& subscriber);

  bool presence_enabled() const;

 private:
  void SubscribeLocked(const std::shared_ptr<RoomSubscriber>& subscriber) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnsubscribeLocked(RoomSubscriber* subscriber) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  using SubscriberList = std::vector<std::shared_ptr<RoomSubscriber>>;

  const int64_t id_;
  const std::string name_;
  const int64_t created_at_ms_;
  const std::string created_by_;
  const RoomOptions options_;

  mutable absl::Mutex mu_;
  int64_t last_seq_ ABSL_GUARDED_BY(mu_);
  std::deque<RoomFramePtr> recent_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const SubscriberList> subscribers_ ABSL_GUARDED_BY(mu_);
  // Sessions of each subscriber in the room (a gateway stream has many).
  absl::flat_hash_map<RoomSubscriber*, int> subscriber_refs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> members_ ABSL_GUARDED_BY(mu_);
  // Present users (and their sessions in the room), in name order: `joined`
  // lists the first --presence_limit of them without sorting on every join.
  absl::btree_map<std::string, int> user_counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ROOM_H_
