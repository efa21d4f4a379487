#include "room_access.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace chat::core {
namespace {

const char* Verb(RoomAction action) {
  switch (action) {
    case RoomAction::kInvite: return "invite users";
    case RoomAction::kKick: return "kick members";
    case RoomAction::kBan: return "ban users";
    case RoomAction::kUnban: return "unban users";
    case RoomAction::kSetRole: return "change roles";
    case RoomAction::kSetTopic: return "change the topic";
    case RoomAction::kArchive: return "archive the room";
    case RoomAction::kDeleteRoom: return "delete the room";
    case RoomAction::kDeleteOthersMessage: return "delete other members' messages";
    case RoomAction::kSeeInvitedAndBanned: return "see invitations and bans";
  }
  return "do that";
}

Role Needs(RoomAction action) {
  switch (action) {
    case RoomAction::kSetRole:
    case RoomAction::kArchive:
    case RoomAction::kDeleteRoom:
      return Role::kOwner;
    default:
      return Role::kModerator;
  }
}

}  // namespace

std::string UserKey(absl::string_view user) { return absl::AsciiStrToLower(user); }

chat::v1::Role ToProtoRole(Role role) { return static_cast<chat::v1::Role>(static_cast<int>(role)); }
chat::v1::RoomKind ToProtoKind(RoomKind kind) { return static_cast<chat::v1::RoomKind>(static_cast<int>(kind)); }

const char* RoleName(Role role) {
  switch (role) {
    case Role::kOwner: return "owner";
    case Role::kModerator: return "moderator";
    case Role::kMember: return "member";
    case Role::kNone: break;
  }
  return "";
}

RoomAccess::RoomAccess(const RoomRecord& record)
    : kind_(record.kind), topic_(record.topic), archived_(record.archived) {}

std::string RoomAccess::topic() const {
  absl::MutexLock lock(&mu_);
  return topic_;
}

bool RoomAccess::archived() const { return archived_.load(std::memory_order_relaxed); }

void RoomAccess::SetSettings(const std::string& topic, bool archived) {
  absl::MutexLock lock(&mu_);
  topic_ = topic;
  archived_.store(archived, std::memory_order_relaxed);
}

MemberRecord RoomAccess::Row(absl::string_view user) const {
  absl::MutexLock lock(&mu_);
  auto it = rows_.find(UserKey(user));
  if (it != rows_.end()) return it->second;
  MemberRecord none;
  none.user = std::string(user);
  none.state = MemberState::kNone;
  return none;
}

void RoomAccess::SetRow(const MemberRecord& record) {
  absl::MutexLock lock(&mu_);
  if (record.state == MemberState::kNone) {
    rows_.erase(UserKey(record.user));
  } else {
    rows_[UserKey(record.user)] = record;
  }
}

std::vector<MemberRecord> RoomAccess::Rows() const {
  absl::MutexLock lock(&mu_);
  std::vector<MemberRecord> out;
  out.reserve(rows_.size());
  for (const auto& [key, row] : rows_) out.push_back(row);
  return out;
}

void RoomAccess::ReplaceRows(const std::vector<MemberRecord>& rows) {
  absl::MutexLock lock(&mu_);
  rows_.clear();
  for (const MemberRecord& row : rows) {
    if (row.state != MemberState::kNone) rows_[UserKey(row.user)] = row;
  }
}

std::vector<std::string> RoomAccess::Members() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [key, row] : rows_) {
    if (row.state == MemberState::kMember) out.push_back(row.user);
  }
  return out;
}

Role RoomAccess::RoleOf(const Actor& who) const {
  if (who.admin) return Role::kOwner;
  MemberRecord row = Row(who.user);
  if (row.state == MemberState::kMember) return row.role == Role::kNone ? Role::kMember : row.role;
  if (row.state == MemberState::kBanned) return Role::kNone;
  return is_public() ? Role::kMember : Role::kNone;
}

bool RoomAccess::MaySee(const Actor& who) const {
  if (is_public() || who.admin) return true;
  return Row(who.user).state == MemberState::kMember;
}

absl::Status RoomAccess::Check(const Actor& who, RoomAction action, absl::string_view target) const {
  if (kind_ == RoomKind::kDirect) {
    switch (action) {
      case RoomAction::kSetTopic:
        return absl::OkStatus();
      case RoomAction::kDeleteOthersMessage:
      case RoomAction::kSeeInvitedAndBanned:
        if (who.admin) return absl::OkStatus();
        return absl::PermissionDeniedError(absl::StrCat("only a server admin may ", Verb(action),
                                                        " in a direct conversation"));
      default:
        return absl::FailedPreconditionError(absl::StrCat(
            "a direct conversation has fixed users and no moderators: cannot ", Verb(action)));
    }
  }
  const Role role = RoleOf(who);
  const Role needed = Needs(action);
  if (role < needed) {
    return absl::PermissionDeniedError(
        absl::StrCat("only ", needed == Role::kOwner ? "the room's owner" : "a moderator or the owner", " may ",
                     Verb(action), " (you are ", role == Role::kNone ? "not a member" : RoleName(role), ")"));
  }
  if ((action == RoomAction::kKick || action == RoomAction::kBan) && !who.admin) {
    MemberRecord row = Row(target);
    Role theirs = row.state == MemberState::kMember ? (row.role == Role::kNone ? Role::kMember : row.role)
                                                    : Role::kNone;
    if (theirs >= role) {
      return absl::PermissionDeniedError(absl::StrCat("cannot ", action == RoomAction::kKick ? "kick " : "ban ",
                                                      target, ": their role (", RoleName(theirs),
                                                      ") is not below yours (", RoleName(role), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status RoomAccess::CheckJoin(const Actor& who) const {
  if (!who.admin && Row(who.user).state == MemberState::kBanned) {
    return absl::PermissionDeniedError("you are banned from this room");
  }
  return absl::OkStatus();
}

absl::Status RoomAccess::CheckSend(const std::string& room_name) const {
  if (archived()) {
    return absl::FailedPreconditionError(absl::StrCat("room '", room_name, "' is archived (read-only)"));
  }
  return absl::OkStatus();
}

void RoomAccess::Describe(const std::string& viewer, chat::v1::Room* out) const {
  out->set_kind(ToProtoKind(kind_));
  absl::MutexLock lock(&mu_);
  out->set_topic(topic_);
  out->set_archived(archived_.load(std::memory_order_relaxed));
  if (!viewer.empty()) {
    auto it = rows_.find(UserKey(viewer));
    if (it != rows_.end() && it->second.state == MemberState::kMember) {
      out->set_my_role(ToProtoRole(it->second.role == Role::kNone ? Role::kMember : it->second.role));
    }
  }
  if (kind_ == RoomKind::kDirect) {
    for (const auto& [key, row] : rows_) {
      if (row.state == MemberState::kMember) out->add_direct_users(row.user);
    }
  }
}

}  // namespace chat::core
