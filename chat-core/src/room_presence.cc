#include "room_presence.h"

namespace chat::core {

RoomPresence::Change RoomPresence::AddLocal(const std::string& user) {
  Change c;
  c.anywhere = !Present(user);
  c.here = ++local_[user] == 1;
  if (c.anywhere) ++anywhere_;
  return c;
}

RoomPresence::Change RoomPresence::RemoveLocal(const std::string& user) {
  Change c;
  auto it = local_.find(user);
  if (it == local_.end()) return c;
  if (--it->second > 0) return c;
  local_.erase(it);
  c.here = true;
  c.anywhere = !Present(user);
  if (c.anywhere) --anywhere_;
  return c;
}

bool RoomPresence::AddRemote(const std::string& node, const std::string& user) {
  if (!remote_[node].insert(user).second) return false;
  bool arrived = !Present(user);
  ++remote_users_[user];
  if (arrived) ++anywhere_;
  return arrived;
}

bool RoomPresence::RemoveRemote(const std::string& node, const std::string& user) {
  auto n = remote_.find(node);
  if (n == remote_.end() || n->second.erase(user) == 0) return false;
  if (n->second.empty()) remote_.erase(n);
  auto it = remote_users_.find(user);
  if (--it->second <= 0) remote_users_.erase(it);
  bool gone = !Present(user);
  if (gone) --anywhere_;
  return gone;
}

std::vector<std::string> RoomPresence::RemoveNode(const std::string& node) {
  std::vector<std::string> gone;
  auto n = remote_.find(node);
  if (n == remote_.end()) return gone;
  absl::flat_hash_set<std::string> users = std::move(n->second);
  remote_.erase(n);
  for (const std::string& user : users) {
    auto it = remote_users_.find(user);
    if (--it->second <= 0) remote_users_.erase(it);
    if (!Present(user)) {
      --anywhere_;
      gone.push_back(user);
    }
  }
  return gone;
}

void RoomPresence::ReplaceRemote(const absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>& present,
                                 std::vector<std::string>* arrived, std::vector<std::string>* left) {
  // Take away what is not there any more, then add what is new.
  std::vector<std::pair<std::string, std::string>> drop;
  for (const auto& [node, users] : remote_) {
    auto now = present.find(node);
    for (const std::string& user : users) {
      if (now == present.end() || !now->second.contains(user)) drop.emplace_back(node, user);
    }
  }
  for (const auto& [node, user] : drop) {
    if (RemoveRemote(node, user)) left->push_back(user);
  }
  for (const auto& [node, users] : present) {
    for (const std::string& user : users) {
      if (AddRemote(node, user)) arrived->push_back(user);
    }
  }
}

std::vector<std::string> RoomPresence::List(size_t limit) const {
  std::vector<std::string> out;
  out.reserve(std::min(limit, anywhere_));
  auto a = local_.begin();
  auto b = remote_users_.begin();
  while (out.size() < limit && (a != local_.end() || b != remote_users_.end())) {
    if (b == remote_users_.end() || (a != local_.end() && a->first < b->first)) {
      out.push_back((a++)->first);
    } else if (a == local_.end() || b->first < a->first) {
      out.push_back((b++)->first);
    } else {  // both here and elsewhere
      out.push_back(a->first);
      ++a;
      ++b;
    }
  }
  return out;
}

}  // namespace chat::core
