// RoomAccess: who may see and do what in one room: its kind, topic, archived
// flag and stored member rows (owners, moderators, members of private and
// direct rooms, invitations, bans), kept in memory from the store and from
// every committed change (docs/protocol.md, "Private rooms and direct
// messages"). The rules of the permission table live here, as pure checks,
// so they are the same for a gRPC call and a browser's event.
//
// Threading: thread-safe (its own lock, taken alone). Never on the path of a
// delivery: a session is checked when it joins, and removed from the room
// when its user stops being allowed in.
// Lifetime: owned by its Room.
#ifndef CHAT_CORE_SRC_ROOM_ACCESS_H_
#define CHAT_CORE_SRC_ROOM_ACCESS_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "store.h"

namespace chat::core {

// The key a username is compared by (usernames are unique case-insensitively).
std::string UserKey(absl::string_view user);

// Longest topic (bytes) and kick or ban reason.
inline constexpr size_t kMaxTopicBytes = 256;
inline constexpr size_t kMaxReasonBytes = 256;

// What a caller asks to do; checked by RoomAccess::Check.
enum class RoomAction {
  kInvite,
  kKick,
  kBan,
  kUnban,
  kSetRole,
  kSetTopic,
  kArchive,
  kDeleteRoom,
  kDeleteOthersMessage,
  kSeeInvitedAndBanned,
};

// The caller of a check: their name and whether they are a server admin.
struct Actor {
  std::string user;
  bool admin = false;
};

class RoomAccess {
 public:
  RoomAccess(const RoomRecord& record);

  RoomKind kind() const { return kind_; }
  bool is_public() const { return kind_ == RoomKind::kPublic; }
  std::string topic() const;
  bool archived() const;
  void SetSettings(const std::string& topic, bool archived);

  // The stored row of `user` (state kNone when there is none).
  MemberRecord Row(absl::string_view user) const;
  // Replaces the row of record.user (state kNone removes it).
  void SetRow(const MemberRecord& record);
  // Every row, sorted by user key.
  std::vector<MemberRecord> Rows() const;
  // Replaces every row (a reload from the store).
  void ReplaceRows(const std::vector<MemberRecord>& rows);
  // The users with state kMember, sorted by key.
  std::vector<std::string> Members() const;

  // The role `who` acts with: kOwner for an admin; their stored role if they
  // are a member; kMember for anyone else in a public room (not banned).
  Role RoleOf(const Actor& who) const;
  // May `who` see the room at all (else it is NOT_FOUND to them)?
  bool MaySee(const Actor& who) const;
  // OK, or the error for `action` by `who` on `target` (empty when the action
  // has none), as the permission table says. The room is visible to `who`.
  absl::Status Check(const Actor& who, RoomAction action, absl::string_view target = "") const;
  // OK if `who` may join (receive) the room now: PERMISSION_DENIED when banned
  // from a public room. Assumes MaySee.
  absl::Status CheckJoin(const Actor& who) const;
  // OK if `who` may send: FAILED_PRECONDITION when archived.
  absl::Status CheckSend(const std::string& room_name) const;

  // The room's kind, topic, archived, direct_users and `viewer`'s role.
  void Describe(const std::string& viewer, chat::v1::Room* out) const;

 private:
  const RoomKind kind_;
  mutable absl::Mutex mu_;
  std::string topic_ ABSL_GUARDED_BY(mu_);
  // Read on every send: no lock.
  std::atomic<bool> archived_{false};
  // By user key.
  absl::btree_map<std::string, MemberRecord> rows_ ABSL_GUARDED_BY(mu_);
};

// The proto form of a stored role and kind.
chat::v1::Role ToProtoRole(Role role);
chat::v1::RoomKind ToProtoKind(RoomKind kind);
// "owner", "moderator", "member", "" (none).
const char* RoleName(Role role);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ROOM_ACCESS_H_
