// What a chat-core node shares with the other nodes of its cluster besides the
// store (docs/scaling.md): the events other nodes' commits publish (messages,
// new rooms, revoked sessions), presence and typing, and node liveness. A
// single node on SQLite has no cluster; the Hub then works alone.
//
// Threading: Cluster is thread-safe and never blocks (it queues). ClusterEvents
// is called on the cluster's own thread, one call at a time, and must not
// block either. Lifetime: the Cluster is owned by CoreServer, outlives the Hub's
// use of it, and stops calling ClusterEvents when Stop() returns.
#ifndef CHAT_CORE_SRC_CLUSTER_H_
#define CHAT_CORE_SRC_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store.h"

namespace chat::core {

// A user present in a room on some node.
struct PresenceRecord {
  std::string node;
  int64_t room_id = 0;
  std::string user;
};

// A room and its newest stored seq, as the database has them.
struct RoomSeq {
  int64_t room_id = 0;
  int64_t last_seq = 0;
};

// What the cluster tells this node.
class ClusterEvents {
 public:
  virtual ~ClusterEvents() = default;
  // Messages another node (or this one) committed, in seq order; and up to
  // which seq the room has more that did not come inline (0: none), to read
  // from the store.
  virtual void OnMessages(int64_t room_id, std::vector<StoredMessage> messages, int64_t fetch_up_to) = 0;
  virtual void OnRoomCreated(const RoomRecord& room) = 0;
  virtual void OnSessionRevoked(const std::string& token_hash) = 0;
  // A user's presence in a room on another node began or ended.
  virtual void OnPresence(const PresenceRecord& who, bool present) = 0;
  virtual void OnTyping(int64_t room_id, const std::string& user, bool active) = 0;
  // Another node stopped beating: its users are gone from every room.
  virtual void OnNodeGone(const std::string& node) = 0;
  // Every room's newest seq (after a reconnect of the listener, and now and
  // then): anything newer than this node has published was missed and must be
  // read from the store. `rooms` also names rooms this node may not know yet.
  virtual void OnRoomSeqs(const std::vector<RoomRecord>& rooms) = 0;
  // The listener (re)connected: every other node's presence, as stored.
  virtual void OnPresenceSnapshot(const std::vector<PresenceRecord>& present) = 0;
  // A change of a room's membership, settings or messages that some node
  // committed: the `note` it gave the store (channel chat_room_changes; see
  // room_change.h), in commit order.
  virtual void OnRoomChange(const std::string& note) = 0;
};

// Failed logins of one key in the window.
struct FailureCount {
  int count = 0;
  int64_t oldest_ms = 0;
  int64_t newest_ms = 0;
};

// What this node tells the cluster, and the state every node shares.
class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual const std::string& node_id() const = 0;
  // Starts delivering to `events` (call once).
  virtual void Start(ClusterEvents* events) = 0;
  // No ClusterEvents call after this returns; this node's presence is removed.
  virtual void Stop() = 0;
  // A user's presence in a room on this node began (first session) or ended.
  virtual void SetPresence(int64_t room_id, const std::string& user, bool present) = 0;
  virtual void Typing(int64_t room_id, const std::string& user, bool active) = 0;
  // The listener is connected (notifications flow).
  virtual bool connected() const = 0;

  // Failed logins, shared by every node (login_limiter.h): how many each key
  // has since `since_ms` (in the keys' order), answered on the cluster's
  // thread (UNAVAILABLE while the database is away).
  virtual void CountLoginFailures(std::vector<std::string> keys, int64_t since_ms,
                                  std::function<void(absl::StatusOr<std::vector<FailureCount>>)> done) = 0;
  // `done` once the failures are stored (or could not be): every node counts
  // them from then on. Answered on the cluster's thread.
  virtual void RecordLoginFailures(std::vector<std::string> keys, int64_t at_ms,
                                   std::function<void(absl::Status)> done) = 0;
  virtual void ClearLoginFailures(std::string key) = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CLUSTER_H_
