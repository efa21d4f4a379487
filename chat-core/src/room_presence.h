// RoomPresence: who is in one room — the users with sessions on this node
// (counted per session) and the users other nodes of the cluster report — and
// when a member event is due: a user arrives when their first session
// anywhere joins, and leaves when their last one anywhere goes.
//
// Threading: not thread-safe; its Room calls it under the room's lock.
// Lifetime: a member of its Room.
#ifndef CHAT_CORE_SRC_ROOM_PRESENCE_H_
#define CHAT_CORE_SRC_ROOM_PRESENCE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace chat::core {

class RoomPresence {
 public:
  struct Change {
    // The user's first (AddLocal) or last (RemoveLocal) session on this node:
    // the cluster must hear of it.
    bool here = false;
    // The user's first or last presence anywhere: a member event is due.
    bool anywhere = false;
  };

  Change AddLocal(const std::string& user);
  Change RemoveLocal(const std::string& user);
  // Another node's user: true if the user was present nowhere before.
  bool AddRemote(const std::string& node, const std::string& user);
  // True if the user is now present nowhere.
  bool RemoveRemote(const std::string& node, const std::string& user);
  // A node is gone: the users now present nowhere.
  std::vector<std::string> RemoveNode(const std::string& node);
  // Other nodes' users become exactly `present` (node -> users); the users who
  // arrived and left anywhere are appended to the vectors.
  void ReplaceRemote(const absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>& present,
                     std::vector<std::string>* arrived, std::vector<std::string>* left);

  // Distinct users anywhere.
  size_t count() const { return anywhere_; }
  // The first `limit` users anywhere, in name order.
  std::vector<std::string> List(size_t limit) const;

 private:
  bool Present(const std::string& user) const { return local_.contains(user) || remote_users_.contains(user); }

  // User -> sessions on this node.
  absl::btree_map<std::string, int> local_;
  // Node -> its users here; user -> how many other nodes have them.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> remote_;
  absl::btree_map<std::string, int> remote_users_;
  size_t anywhere_ = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ROOM_PRESENCE_H_
