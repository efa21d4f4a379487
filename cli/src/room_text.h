// Human text about rooms and membership: the names of room kinds and roles, the
// sentence for each live event of private rooms, direct messages and moderation
// (shared by `tail` and the interactive mode), and the tables of `rooms`,
// `members` and `invites`.
// Stateless, thread-safe: plain functions of their arguments.
#ifndef CHAT_CLI_SRC_ROOM_TEXT_H_
#define CHAT_CLI_SRC_ROOM_TEXT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chat/v1/chat.pb.h"
#include "format.h"

namespace chat::cli {

// "public", "private", "direct" (UNSPECIFIED reads as public).
std::string RoomKindName(chat::v1::RoomKind kind);
// "member", "moderator", "owner"; "" for ROLE_UNSPECIFIED.
std::string RoleName(chat::v1::Role role);
// "member", "moderator" or "owner" (any case) as a Role; INVALID_ARGUMENT otherwise.
absl::StatusOr<chat::v1::Role> ParseRole(absl::string_view text);

// The users of `chat dm USER...`: each a valid username, repeats (in any case)
// and `me` dropped, 1 to 8 left. INVALID_ARGUMENT otherwise.
absl::StatusOr<std::vector<std::string>> DirectUsers(const std::vector<std::string>& args,
                                                     absl::string_view me);

// Whom a direct room is with, from `me`'s point of view: "bob, carol".
std::string DirectPeers(const chat::v1::Room& room, absl::string_view me);

// One sentence (no trailing newline, untrusted text sanitized) for a live
// event, seen by `me`: "alice kicked you from #general: spam".
std::string DescribeMembership(const chat::v1::MembershipEvent& event, absl::string_view me);
// What changed between `before` (nullptr: unknown) and `after`, one sentence
// each; empty when nothing a person cares about changed.
std::vector<std::string> DescribeRoomUpdate(const chat::v1::Room* before, const chat::v1::Room& after);
// A room that appeared for `me` (created, accepted, a direct room opened).
std::string DescribeRoomCreated(const chat::v1::Room& room, absl::string_view me);
// "you are no longer in #general: kicked by alice: spam".
std::string DescribeLeft(const chat::v1::Left& left);
// "bob deleted a message in #general (#42)".
std::string DescribeDeletion(const chat::v1::MessageDeleted& deleted, absl::string_view me);

// The status that a session ended by chat-core in a room (a `left` with a
// reason) leaves `tail` with: NOT_FOUND for a deleted room, PERMISSION_DENIED
// for a kick or ban, OK when the user left the room themself.
absl::Status LeftStatus(const chat::v1::Left& left);

// `tail`'s line for a deletion: "#42  (deleted by bob)", in the columns of
// FormatMessage.
std::string FormatDeletion(const chat::v1::MessageDeleted& deleted, const MessageLayout& layout,
                           const Style& style);

// `chat rooms`: ROOM KIND ONLINE MESSAGES CREATED BY CREATED TOPIC (a direct
// room's "topic" is whom it is with).
std::string FormatRoomsTable(const std::vector<chat::v1::Room>& rooms, absl::string_view me,
                             const Style& style);
// `chat members`: USER ROLE ONLINE; invited and banned users (listed to
// moderators only) follow with "invited"/"banned" as their role.
std::string FormatMembersTable(const chat::v1::ListMembersResponse& members, const Style& style);
// `chat invites`: ROOM KIND INVITED BY INVITED TOPIC.
std::string FormatInvitesTable(const chat::v1::ListInvitesResponse& invites, const Style& style);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_ROOM_TEXT_H_
