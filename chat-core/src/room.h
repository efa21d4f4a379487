// Room: one chat room's live state: the newest published seq, a ring of recent
// message frames (for cheap resume), who is present, and which outboxes receive
// its events (RoomSubscriber: in practice a stream's Outbox).
//
// Threading: thread-safe. Publish may be called from several threads (this
// node's commits, other nodes' notifications) and delivers in seq order under
// the room's publishing lock, from a copy-on-write snapshot of the subscribers,
// so the room's state lock is not held while anyone's queue is written. Lock
// order: room publishing -> room state -> session -> outbox.
// Lifetime: owned (shared) by the Hub's registry; rooms are never deleted while
// the process runs.
#ifndef CHAT_CORE_SRC_ROOM_H_
#define CHAT_CORE_SRC_ROOM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "frames.h"
#include "recent_ring.h"
#include "room_access.h"
#include "room_presence.h"
#include "room_subscriber.h"
#include "store.h"

namespace chat::core {

struct RoomOptions {
  // Recent message frames kept in memory (RecentRing); a join whose since_seq
  // falls inside is served without reading the store. Bounded by count and by
  // bytes (recent_bytes below); nothing is held until the room's first message.
  size_t recent_frames = 1024;
  // Rooms with more distinct users than this send no member events and list only
  // this many names in `joined` (member_count stays exact).
  size_t presence_limit = 200;
  // Messages held after a gap (a cluster's notifications can overtake each
  // other) while the gap is filled; beyond this the newest are not held (the
  // catch-up from the store brings them, and their senders retry unacked).
  size_t max_held = 65536;
  // What the recent frames may cost in memory (RecentRing::Cost; chat-core
  // --room_recent_bytes).
  size_t recent_bytes = 64 * 1024;
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
  // The newest seq delivered to the room's subscribers.
  int64_t last_seq() const;
  // Distinct users present, on this node and (in a cluster) on the others.
  int member_count() const;
  // Sessions of this node present in the room (a user may have several).
  int local_sessions() const;
  // `viewer`: whose my_role to fill in (empty: nobody's).
  void Describe(chat::v1::Room* out, const std::string& viewer = "") const;
  // Kind, settings and stored members: who may see and do what.
  RoomAccess& access() { return access_; }
  const RoomAccess& access() const { return access_; }
  // A deleted message: its frame among the recent ones becomes a tombstone
  // (so a resume from memory replays the tombstone).
  void TombstoneRecent(int64_t seq);
  // Up to `limit` of the users present (on every node).
  std::vector<std::string> Present(size_t limit) const;

  enum class Published {
    // Delivered to the subscribers now (with any it was the missing one for).
    kDelivered,
    // Delivered before (this node's commit and its notification both came).
    kDuplicate,
    // An earlier seq has not come yet: held until it does (the caller sees that
    // the gap gets filled from the store).
    kWaiting,
  };
  // A stored message, from this node's commit or another node's notification,
  // on any thread, in any order: each seq is delivered once, in seq order, the
  // deliveries of one room one at a time. `after` (optional) runs once the
  // message has been delivered, right away for a duplicate (the sender's ack).
  Published Publish(const RoomFramePtr& frame, std::function<void()> after = nullptr);
  // The seq the room waits for, if messages after a gap are held (else 0).
  int64_t waiting_for() const;
  // An event without seq (member, typing) to every subscriber.
  void Broadcast(const RoomFramePtr& frame);

  enum class GoLive { kLive, kNeedPage, kAbandoned, kAhead };
  // kLive: every message after ticket.pos was in the recent ring and is now queued,
  // followed by `joined`; the session is present and subscribed. *change tells
  // whether this is the user's first session here and anywhere.
  // kNeedPage: too far behind; *latest is the room's newest seq to page up to.
  // kAhead: ticket.pos is beyond the room's newest seq.
  GoLive TryGoLive(const JoinTicket& ticket, int64_t* latest, RoomPresence::Change* change);

  // Removes a present session: whether it was the user's last one here and
  // anywhere (nothing if it was not present).
  RoomPresence::Change RemoveMember(uint64_t member_id, const std::shared_ptr<RoomSubscriber>& subscriber);

  // Other nodes' members (see RoomPresence): whether a member event is due.
  bool AddRemoteMember(const std::string& node, const std::string& user);
  bool RemoveRemoteMember(const std::string& node, const std::string& user);
  std::vector<std::string> RemoveNode(const std::string& node);
  void ReplaceRemoteMembers(const absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>& present,
                            std::vector<std::string>* arrived, std::vector<std::string>* left);

  bool presence_enabled() const;

 private:
  struct Held {
    RoomFramePtr frame;
    std::vector<std::function<void()>> after;
  };
  void SubscribeLocked(const std::shared_ptr<RoomSubscriber>& subscriber) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnsubscribeLocked(RoomSubscriber* subscriber) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AdvanceLocked(const RoomFramePtr& frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  using SubscriberList = std::vector<std::shared_ptr<RoomSubscriber>>;

  const int64_t id_;
  const std::string name_;
  const int64_t created_at_ms_;
  const std::string created_by_;
  const RoomOptions options_;
  RoomAccess access_;

  // Held while delivering messages, so deliveries from several threads keep
  // seq order at every subscriber. Taken before mu_, never under it.
  absl::Mutex publish_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  int64_t last_seq_ ABSL_GUARDED_BY(mu_);
  RecentRing recent_ ABSL_GUARDED_BY(mu_);
  // Messages after a gap, by seq, with what runs once each is delivered.
  absl::btree_map<int64_t, Held> held_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const SubscriberList> subscribers_ ABSL_GUARDED_BY(mu_);
  // Sessions of each subscriber in the room (a gateway stream has many).
  absl::flat_hash_map<RoomSubscriber*, int> subscriber_refs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> members_ ABSL_GUARDED_BY(mu_);
  RoomPresence presence_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ROOM_H_
