// Membership: room management, membership and moderation (docs/protocol.md,
// "Private rooms and direct messages"), one implementation for both ways in:
// ChatService's unary calls and a session's ClientEvents call the same
// methods. Each checks the caller against the room's RoomAccess, writes
// through the store with the change as the write's note (so on PostgreSQL
// every node hears of exactly what was committed), then applies the change
// here at once: member rows, events to the members online and to the user
// concerned, sessions taken out of the room. A change that comes back from the
// cluster (ApplyNote) is applied on every other node the same way, and
// skipped here by its id.
//
// Threading: thread-safe; never blocks (store work completes on store
// threads, and callbacks run there). Lifetime: owned by the Hub.
#ifndef CHAT_CORE_SRC_MEMBERSHIP_H_
#define CHAT_CORE_SRC_MEMBERSHIP_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "identity.h"
#include "room.h"
#include "room_change.h"

namespace chat::core {

class Hub;

template <typename T>
using Answer = std::function<void(absl::StatusOr<T>)>;

// Direct rooms hold 2 to this many users.
inline constexpr int kMaxDirectUsers = 9;

class Membership {
 public:
  explicit Membership(Hub* hub) : hub_(hub) {}

  void CreateRoom(const Identity& who, const chat::v1::CreateRoomRequest& req, Answer<chat::v1::Room> done);
  void GetRoom(const Identity& who, const chat::v1::GetRoomRequest& req, Answer<chat::v1::Room> done);
  void OpenDirect(const Identity& who, const chat::v1::OpenDirectRequest& req, Answer<chat::v1::Room> done);
  void UpdateRoom(const Identity& who, const chat::v1::UpdateRoomRequest& req, Answer<chat::v1::Room> done);
  void DeleteRoom(const Identity& who, const chat::v1::DeleteRoomRequest& req,
                  Answer<chat::v1::DeleteRoomResponse> done);
  void Invite(const Identity& who, const chat::v1::InviteRequest& req, Answer<chat::v1::MembershipEvent> done);
  void RespondInvite(const Identity& who, const chat::v1::RespondInviteRequest& req,
                     Answer<chat::v1::MembershipEvent> done);
  void ListInvites(const Identity& who, const chat::v1::ListInvitesRequest& req,
                   Answer<chat::v1::ListInvitesResponse> done);
  void LeaveRoom(const Identity& who, const chat::v1::LeaveRoomRequest& req,
                 Answer<chat::v1::MembershipEvent> done);
  void Kick(const Identity& who, const chat::v1::KickRequest& req, Answer<chat::v1::MembershipEvent> done);
  void Ban(const Identity& who, const chat::v1::BanRequest& req, Answer<chat::v1::MembershipEvent> done);
  void Unban(const Identity& who, const chat::v1::UnbanRequest& req, Answer<chat::v1::MembershipEvent> done);
  void SetRole(const Identity& who, const chat::v1::SetRoleRequest& req, Answer<chat::v1::MembershipEvent> done);
  void ListMembers(const Identity& who, const chat::v1::ListMembersRequest& req,
                   Answer<chat::v1::ListMembersResponse> done);
  void DeleteMessage(const Identity& who, const chat::v1::DeleteMessageRequest& req,
                     Answer<chat::v1::MessageDeleted> done);
  void SearchUsers(const Identity& who, const chat::v1::SearchUsersRequest& req,
                   Answer<chat::v1::SearchUsersResponse> done);
  // Profiles of 1..100 usernames (any case); unknown ones are left out, a
  // deleted account is shown deleted, without its display name.
  void GetUsers(const Identity& who, const chat::v1::GetUsersRequest& req, Answer<chat::v1::GetUsersResponse> done);

  // A change some node committed (ClusterEvents::OnRoomChange).
  void ApplyNote(const std::string& note);
  // RoomChanged CREATED for a new room to those who may see it, each with
  // their role.
  void AnnounceCreated(const std::shared_ptr<Room>& room);
  // Every member row read again from the store (the cluster's listener
  // reconnected: notes may have been missed). Sessions of users no longer
  // allowed in a room leave it.
  void Reload();

 private:
  // What a membership change writes and announces.
  struct MemberChange {
    std::shared_ptr<Room> room;
    std::vector<MemberWrite> writes;
    chat::v1::MembershipEvent event;
  };
  void Commit(MemberChange change, Answer<chat::v1::MembershipEvent> done);
  // Applies a committed change here (once per id).
  void Apply(const RoomChange& change);
  void ApplyMembership(const std::shared_ptr<Room>& room, const chat::v1::ServerEvent& ev);
  void ApplyRoomChanged(const std::shared_ptr<Room>& room, const chat::v1::ServerEvent& ev);
  // True the first time an id is seen (of the last few thousand).
  bool FirstTime(uint64_t id);
  // The account of `user` (any case): NOT_FOUND "no user 'x'".
  void FindAccount(const std::string& user, Answer<UserRecord> done);
  // The registered name of `user` (any case): NOT_FOUND "no user 'x'".
  void ResolveUser(const std::string& user, Answer<std::string> done);
  // A kick or ban of `target` (resolved), with its writes.
  void Remove(const Identity& who, const std::shared_ptr<Room>& room, const std::string& target, bool ban,
              const std::string& reason, Answer<chat::v1::MembershipEvent> done);
  absl::Status CheckSearchRate(const std::string& user);

  Hub* const hub_;
  absl::Mutex mu_;
  absl::flat_hash_set<uint64_t> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> seen_order_ ABSL_GUARDED_BY(mu_);
  // User key -> searches in the current 10-s window and when it began.
  absl::flat_hash_map<std::string, std::pair<int64_t, int>> searches_ ABSL_GUARDED_BY(mu_);
};

// The name of the direct room of these user keys (sorted, distinct).
std::string DirectRoomName(const std::vector<std::string>& sorted_keys);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_MEMBERSHIP_H_
