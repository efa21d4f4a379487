// ClusterSync: what this node does with what the cluster tells it
// (ClusterEvents): other nodes' messages are published to the rooms here, rooms
// created elsewhere appear, revoked sessions end, and other nodes' presence and
// typing reach this node's members.
//
// Threading: called on the cluster's thread; everything it does is
// non-blocking (the Hub and Accounts queue their work).
// Lifetime: owned by CoreServer; outlives the Cluster's calls (until
// Cluster::Stop()).
#ifndef CHAT_CORE_SRC_CLUSTER_SYNC_H_
#define CHAT_CORE_SRC_CLUSTER_SYNC_H_

#include "accounts.h"
#include "cluster.h"
#include "hub.h"

namespace chat::core {

class ClusterSync final : public ClusterEvents {
 public:
  ClusterSync(Hub* hub, Accounts* accounts) : hub_(hub), accounts_(accounts) {}

  void OnMessages(int64_t room_id, std::vector<StoredMessage> messages, int64_t fetch_up_to) override;
  void OnRoomCreated(const RoomRecord& room) override;
  void OnSessionRevoked(const std::string& token_hash) override;
  void OnPresence(const PresenceRecord& who, bool present) override;
  void OnTyping(int64_t room_id, const std::string& user, bool active) override;
  void OnNodeGone(const std::string& node) override;
  void OnRoomSeqs(const std::vector<RoomRecord>& rooms) override;
  void OnPresenceSnapshot(const std::vector<PresenceRecord>& present) override;
  void OnRoomChange(const std::string& note) override;

 private:
  Hub* const hub_;
  Accounts* const accounts_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CLUSTER_SYNC_H_
