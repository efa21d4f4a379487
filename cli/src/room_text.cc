#include "room_text.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chat/validate.h"

namespace chat::cli {
namespace {

using chat::v1::MembershipEvent;

// Largest number of other users in a direct room (9 in all, with the caller).
constexpr size_t kMaxDirectPeers = 8;
// Topics are cut to this many columns in tables (the whole topic is in --json).
constexpr size_t kTopicColumns = 60;

bool SameUser(absl::string_view a, absl::string_view b) { return absl::EqualsIgnoreCase(a, b); }

// "you" for `me`, else the name made safe for a terminal.
std::string Who(absl::string_view name, absl::string_view me) {
  return SameUser(name, me) ? std::string("you") : Sanitize(name, false);
}

std::string RoomLabel(absl::string_view room) { return absl::StrCat("#", Sanitize(room, false)); }

std::string ReasonSuffix(absl::string_view reason) {
  return reason.empty() ? std::string() : absl::StrCat(": ", Sanitize(reason, false));
}

std::string RoleWithArticle(chat::v1::Role role) {
  switch (role) {
    case chat::v1::ROLE_OWNER:
      return "the owner";
    case chat::v1::ROLE_MODERATOR:
      return "a moderator";
    case chat::v1::ROLE_MEMBER:
      return "a member";
    default:
      return "no longer a member";
  }
}

}  // namespace

std::string RoomKindName(chat::v1::RoomKind kind) {
  switch (kind) {
    case chat::v1::ROOM_KIND_PRIVATE:
      return "private";
    case chat::v1::ROOM_KIND_DIRECT:
      return "direct";
    default:
      return "public";
  }
}

std::string RoleName(chat::v1::Role role) {
  switch (role) {
    case chat::v1::ROLE_MEMBER:
      return "member";
    case chat::v1::ROLE_MODERATOR:
      return "moderator";
    case chat::v1::ROLE_OWNER:
      return "owner";
    default:
      return "";
  }
}

absl::StatusOr<chat::v1::Role> ParseRole(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  for (auto role : {chat::v1::ROLE_MEMBER, chat::v1::ROLE_MODERATOR, chat::v1::ROLE_OWNER}) {
    if (lower == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the role must be member, moderator or owner, not '", Sanitize(text, false), "'"));
}

absl::StatusOr<std::vector<std::string>> DirectUsers(const std::vector<std::string>& args,
                                                     absl::string_view me) {
  std::vector<std::string> users;
  std::set<std::string> seen;
  for (const auto& user : args) {
    if (absl::Status s = ValidateUsername(user); !s.ok()) return s;
    if (SameUser(user, me)) continue;
    if (seen.insert(absl::AsciiStrToLower(user)).second) users.push_back(user);
  }
  if (users.empty()) {
    return absl::InvalidArgumentError("a direct conversation needs at least one user besides you");
  }
  if (users.size() > kMaxDirectPeers) {
    return absl::InvalidArgumentError(absl::StrCat("a direct conversation has at most ", kMaxDirectPeers + 1,
                                                   " users: you and ", kMaxDirectPeers, " others, not ",
                                                   users.size()));
  }
  return users;
}

std::string DirectPeers(const chat::v1::Room& room, absl::string_view me) {
  std::vector<std::string> peers;
  for (const auto& user : room.direct_users()) {
    if (!SameUser(user, me)) peers.push_back(Sanitize(user, false));
  }
  return peers.empty() ? std::string("yourself") : absl::StrJoin(peers, ", ");
}

std::string DescribeMembership(const MembershipEvent& event, absl::string_view me) {
  const std::string user = Who(event.user(), me);
  const bool you = user == "you";
  const std::string room = RoomLabel(event.room());
  const bool by_other = !event.by().empty() && !SameUser(event.by(), event.user());
  const std::string by = Who(event.by(), me);
  const std::string reason = ReasonSuffix(event.reason());
  // "bob was" / "you were", for changes whose author is not given.
  const std::string passive = absl::StrCat(user, you ? " were" : " was");
  switch (event.kind()) {
    case MembershipEvent::INVITED:
      return event.by().empty() ? absl::StrCat(passive, " invited to ", room)
                                : absl::StrCat(by, " invited ", user, " to ", room);
    case MembershipEvent::JOINED:
      return by_other ? absl::StrCat(by, " added ", user, " to ", room)
                      : absl::StrCat(user, " became a member of ", room);
    case MembershipEvent::DECLINED:
      return absl::StrCat(user, " declined the invitation to ", room);
    case MembershipEvent::LEFT:
      return absl::StrCat(user, " left ", room, " (no longer a member)");
    case MembershipEvent::KICKED:
      return by_other ? absl::StrCat(by, " kicked ", user, " from ", room, reason)
                      : absl::StrCat(passive, " kicked from ", room, reason);
    case MembershipEvent::BANNED:
      return by_other ? absl::StrCat(by, " banned ", user, " from ", room, reason)
                      : absl::StrCat(passive, " banned from ", room, reason);
    case MembershipEvent::UNBANNED:
      return by_other ? absl::StrCat(by, " unbanned ", user, " in ", room)
                      : absl::StrCat(passive, " unbanned in ", room);
    case MembershipEvent::ROLE_CHANGED:
      return by_other ? absl::StrCat(by, " made ", user, " ", RoleWithArticle(event.role()), " of ", room)
                      : absl::StrCat(user, you ? " are now " : " is now ", RoleWithArticle(event.role()),
                                     " of ", room);
    default:
      return absl::StrCat("the membership of ", user, " in ", room, " changed");
  }
}

std::vector<std::string> DescribeRoomUpdate(const chat::v1::Room* before, const chat::v1::Room& after) {
  std::vector<std::string> out;
  const std::string room = RoomLabel(after.name());
  if (before == nullptr ? !after.topic().empty() : before->topic() != after.topic()) {
    out.push_back(after.topic().empty()
                      ? absl::StrCat("the topic of ", room, " was cleared")
                      : absl::StrCat("the topic of ", room, " is now: ", Sanitize(after.topic(), false)));
  }
  if (before == nullptr ? after.archived() : before->archived() != after.archived()) {
    out.push_back(after.archived() ? absl::StrCat(room, " is archived: read-only from now on")
                                   : absl::StrCat(room, " is no longer archived"));
  }
  return out;
}

std::string DescribeRoomCreated(const chat::v1::Room& room, absl::string_view me) {
  const std::string label = RoomLabel(room.name());
  switch (room.kind()) {
    case chat::v1::ROOM_KIND_DIRECT:
      return absl::StrCat("direct conversation with ", DirectPeers(room, me), ": ", label);
    case chat::v1::ROOM_KIND_PRIVATE:
      return absl::StrCat("you are now a member of the private room ", label);
    default:
      return room.created_by().empty()
                 ? absl::StrCat("new room ", label)
                 : absl::StrCat("new room ", label, " (by ", Who(room.created_by(), me), ")");
  }
}

std::string DescribeLeft(const chat::v1::Left& left) {
  return absl::StrCat("you are no longer in ", RoomLabel(left.room()), ReasonSuffix(left.reason()));
}

std::string DescribeDeletion(const chat::v1::MessageDeleted& deleted, absl::string_view me) {
  std::string by = deleted.by().empty() ? std::string("someone") : Who(deleted.by(), me);
  return absl::StrCat(by, " deleted message #", deleted.seq(), " in ", RoomLabel(deleted.room()));
}

absl::Status LeftStatus(const chat::v1::Left& left) {
  const std::string& reason = left.reason();
  if (reason == "you left the room") return absl::OkStatus();
  std::string text = DescribeLeft(left);
  if (absl::StartsWith(reason, "room deleted")) return absl::NotFoundError(text);
  if (absl::StartsWith(reason, "kicked") || absl::StartsWith(reason, "banned")) {
    return absl::PermissionDeniedError(text);
  }
  return absl::FailedPreconditionError(text);
}

std::string FormatDeletion(const chat::v1::MessageDeleted& deleted, const MessageLayout& layout,
                           const Style& style) {
  std::string out = absl::StrCat(style.Dim(PadRight(absl::StrCat("#", deleted.seq()), layout.seq_width)), "  ");
  if (layout.with_room) absl::StrAppend(&out, style.Cyan(absl::StrCat("[", deleted.room(), "]")), " ");
  std::string by = deleted.by().empty() ? "" : absl::StrCat(" by ", Sanitize(deleted.by(), false));
  absl::StrAppend(&out, style.Dim(absl::StrCat("(deleted", by, ")")));
  return out;
}

std::string FormatRoomsTable(const std::vector<chat::v1::Room>& rooms, absl::string_view me,
                             const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& room : rooms) {
    std::string kind = RoomKindName(room.kind());
    if (room.archived()) absl::StrAppend(&kind, " (archived)");
    std::string about = room.kind() == chat::v1::ROOM_KIND_DIRECT
                            ? absl::StrCat("with ", DirectPeers(room, me))
                            : Sanitize(room.topic(), false);
    rows.push_back({room.name(), kind, absl::StrCat(room.member_count()), absl::StrCat(room.last_seq()),
                    room.created_by().empty() ? "-" : Sanitize(room.created_by(), false),
                    FormatTime(room.created_at(), true), HeadColumns(about, kTopicColumns)});
  }
  return FormatTable({"ROOM", "KIND", "ONLINE", "MESSAGES", "CREATED BY", "CREATED", "TOPIC"}, rows, style);
}

std::string FormatMembersTable(const chat::v1::ListMembersResponse& members, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : members.members()) {
    std::string role = RoleName(m.role());
    rows.push_back({Sanitize(m.user(), false), role.empty() ? "-" : role, m.online() ? "yes" : "-"});
  }
  for (const auto& user : members.invited()) rows.push_back({Sanitize(user, false), "invited", "-"});
  for (const auto& user : members.banned()) rows.push_back({Sanitize(user, false), "banned", "-"});
  return FormatTable({"USER", "ROLE", "ONLINE"}, rows, style);
}

std::string FormatInvitesTable(const chat::v1::ListInvitesResponse& invites, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& invite : invites.invites()) {
    rows.push_back({invite.room().name(), RoomKindName(invite.room().kind()),
                    invite.invited_by().empty() ? "-" : Sanitize(invite.invited_by(), false),
                    invite.invited_at().seconds() == 0 ? "-" : FormatTime(invite.invited_at(), true),
                    HeadColumns(Sanitize(invite.room().topic(), false), kTopicColumns)});
  }
  return FormatTable({"ROOM", "KIND", "INVITED BY", "INVITED", "TOPIC"}, rows, style);
}

}  // namespace chat::cli
