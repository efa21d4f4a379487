#include "token_scope.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace chat::core {
namespace {

using chat::v1::ClientEvent;

const char* ScopeName(int action_bit) {
  switch (action_bit) {
    case kTokenRead:
      return "read";
    case kTokenPost:
      return "post";
    case kTokenManage:
      return "manage";
    default:
      return "unknown";
  }
}

absl::Status LimitedToRooms(const Identity& who) {
  return absl::PermissionDeniedError(absl::StrCat("API token '", who.token_name, "' is limited to rooms: ",
                                                  absl::StrJoin(who.token_rooms, ", ")));
}

}  // namespace

bool TokenReachesRoom(const Identity& who, absl::string_view room) {
  if (!who.api_token || who.token_rooms.empty()) return true;
  return std::find(who.token_rooms.begin(), who.token_rooms.end(), room) != who.token_rooms.end();
}

absl::Status CheckTokenScope(const Identity& who, int action_bit, absl::string_view room) {
  if (!who.api_token) return absl::OkStatus();
  if (who.token_actions != 0 && (who.token_actions & action_bit) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("API token '", who.token_name, "' lacks the '", ScopeName(action_bit), "' scope"));
  }
  if (!room.empty() && !TokenReachesRoom(who, room)) return LimitedToRooms(who);
  return absl::OkStatus();
}

absl::Status CheckTokenAllRooms(const Identity& who) {
  if (!who.api_token || who.token_rooms.empty()) return absl::OkStatus();
  return LimitedToRooms(who);
}

absl::Status CheckEventScope(const Identity& who, const ClientEvent& event) {
  if (!who.api_token) return absl::OkStatus();
  switch (event.event_case()) {
    // read
    case ClientEvent::kJoin:
      return CheckTokenScope(who, kTokenRead, event.join().room());
    case ClientEvent::kLeave:
      return CheckTokenScope(who, kTokenRead, event.leave().room());
    case ClientEvent::kHistory:
      return CheckTokenScope(who, kTokenRead, event.history().room());
    case ClientEvent::kGetRoom:
      return CheckTokenScope(who, kTokenRead, event.get_room().name());
    case ClientEvent::kListMembers:
      return CheckTokenScope(who, kTokenRead, event.list_members().room());
    case ClientEvent::kListRooms:
    case ClientEvent::kListInvites:
    case ClientEvent::kSearchUsers:
    case ClientEvent::kGetUsers:
    case ClientEvent::kPing:
      return CheckTokenScope(who, kTokenRead, "");
    // post
    case ClientEvent::kSend:
      return CheckTokenScope(who, kTokenPost, event.send().room());
    case ClientEvent::kTyping:
      return CheckTokenScope(who, kTokenPost, event.typing().room());
    case ClientEvent::kDeleteMessage:
      return CheckTokenScope(who, kTokenPost, event.delete_message().room());
    // manage
    case ClientEvent::kCreateRoom:
      return CheckTokenScope(who, kTokenManage, event.create_room().name());
    case ClientEvent::kUpdateRoom:
      return CheckTokenScope(who, kTokenManage, event.update_room().room());
    case ClientEvent::kDeleteRoom:
      return CheckTokenScope(who, kTokenManage, event.delete_room().room());
    case ClientEvent::kInvite:
      return CheckTokenScope(who, kTokenManage, event.invite().room());
    case ClientEvent::kRespondInvite:
      return CheckTokenScope(who, kTokenManage, event.respond_invite().room());
    case ClientEvent::kLeaveRoom:
      return CheckTokenScope(who, kTokenManage, event.leave_room().room());
    case ClientEvent::kKick:
      return CheckTokenScope(who, kTokenManage, event.kick().room());
    case ClientEvent::kBan:
      return CheckTokenScope(who, kTokenManage, event.ban().room());
    case ClientEvent::kUnban:
      return CheckTokenScope(who, kTokenManage, event.unban().room());
    case ClientEvent::kSetRole:
      return CheckTokenScope(who, kTokenManage, event.set_role().room());
    case ClientEvent::kOpenDirect: {
      absl::Status st = CheckTokenScope(who, kTokenManage, "");
      return st.ok() ? CheckTokenAllRooms(who) : st;
    }
    default:
      return absl::OkStatus();
  }
}

}  // namespace chat::core
