#include "cluster_sync.h"

#include "membership.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "chat/log.h"

namespace chat::core {

void ClusterSync::OnMessages(int64_t room_id, std::vector<StoredMessage> messages, int64_t fetch_up_to) {
  auto room = hub_->FindRoomById(room_id);
  // A room this node has not heard of yet: the seq check adopts it and its
  // messages are read from the store then.
  if (room == nullptr) return;
  hub_->PublishStored(room, messages, fetch_up_to);
}

void ClusterSync::OnRoomCreated(const RoomRecord& room) { hub_->AdoptRoom(room); }

void ClusterSync::OnSessionRevoked(const std::string& token_hash) {
  accounts_->Forget(token_hash);
  // Any revocation on another node: a logout, a revoked session or API token,
  // a password change, a deleted account or bot, a disabled account.
  hub_->live().KillSessionsWithToken(token_hash, "signed out: the session was logged out or revoked");
}

void ClusterSync::OnPresence(const PresenceRecord& who, bool present) {
  auto room = hub_->FindRoomById(who.room_id);
  if (room == nullptr) return;
  bool due = present ? room->AddRemoteMember(who.node, who.user) : room->RemoveRemoteMember(who.node, who.user);
  if (due) {
    hub_->BroadcastMember(*room, who.user, present ? chat::v1::MemberEvent::JOINED : chat::v1::MemberEvent::LEFT);
  }
}

void ClusterSync::OnTyping(int64_t room_id, const std::string& user, bool active) {
  if (auto room = hub_->FindRoomById(room_id)) hub_->BroadcastTyping(*room, user, active, /*local=*/false);
}

void ClusterSync::OnNodeGone(const std::string& node) {
  CHAT_LOG_INFO("cluster", "node %s is gone", node);
  for (const auto& room : hub_->Rooms()) {
    for (const std::string& user : room->RemoveNode(node)) {
      hub_->BroadcastMember(*room, user, chat::v1::MemberEvent::LEFT);
    }
  }
}

void ClusterSync::OnRoomSeqs(const std::vector<RoomRecord>& rooms) {
  for (const RoomRecord& record : rooms) {
    auto room = hub_->FindRoomById(record.id);
    if (room == nullptr) {
      // Its creation notification was missed: adopt it as it was made (with
      // nothing published), then catch up its messages.
      RoomRecord fresh = record;
      fresh.last_seq = 0;
      room = hub_->AdoptRoom(fresh);
    } else if (room->access().topic() != record.topic || room->access().archived() != record.archived) {
      // An update whose note was missed.
      room->access().SetSettings(record.topic, record.archived);
    }
    hub_->NoteNewerThan(room, record.last_seq);
  }
}

void ClusterSync::OnPresenceSnapshot(const std::vector<PresenceRecord>& present) {
  // The listener (re)connected: membership notes may have been missed too.
  hub_->membership().Reload();
  absl::flat_hash_map<int64_t, absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>> by_room;
  for (const PresenceRecord& p : present) by_room[p.room_id][p.node].insert(p.user);
  for (const auto& room : hub_->Rooms()) {
    std::vector<std::string> arrived, left;
    room->ReplaceRemoteMembers(by_room[room->id()], &arrived, &left);
    for (const auto& user : arrived) hub_->BroadcastMember(*room, user, chat::v1::MemberEvent::JOINED);
    for (const auto& user : left) hub_->BroadcastMember(*room, user, chat::v1::MemberEvent::LEFT);
  }
}

void ClusterSync::OnRoomChange(const std::string& note) { hub_->membership().ApplyNote(note); }

}  // namespace chat::core
