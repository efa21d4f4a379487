// Session: the room management, membership and moderation events (and user
// lookups), each answered by the Membership method a gRPC call of the same
// name uses. Session::Handle checked the API token's scope already.
#include <memory>
#include <utility>

#include "membership.h"
#include "session.h"

namespace chat::core {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

}  // namespace

// The answer to one event: the result in the ServerEvent field `field`, or
// an error event naming `kind`.
template <typename T>
Answer<T> Session::AnswerWith(const std::shared_ptr<Session>& self, const ReplyTo& ref, const char* kind,
                          T* (ServerEvent::*field)()) {
  return [self, ref, kind, field](absl::StatusOr<T> r) {
    if (!r.ok()) return self->EmitError(r.status(), kind, ref);
    ServerEvent ev;
    *(ev.*field)() = std::move(*r);
    self->Reply(ref, std::move(ev));
  };
}

bool Session::HandleRoomRequest(const ReplyTo& ref, const ClientEvent& event) {
  Membership& m = hub_->membership();
  auto self = shared_from_this();
  switch (event.event_case()) {
    case ClientEvent::kCreateRoom:
      m.CreateRoom(identity_, event.create_room(), AnswerWith(self, ref, "createRoom", &ServerEvent::mutable_room));
      return true;
    case ClientEvent::kGetRoom:
      m.GetRoom(identity_, event.get_room(), AnswerWith(self, ref, "getRoom", &ServerEvent::mutable_room));
      return true;
    case ClientEvent::kOpenDirect:
      m.OpenDirect(identity_, event.open_direct(), AnswerWith(self, ref, "openDirect", &ServerEvent::mutable_room));
      return true;
    case ClientEvent::kUpdateRoom:
      m.UpdateRoom(identity_, event.update_room(), AnswerWith(self, ref, "updateRoom", &ServerEvent::mutable_room));
      return true;
    case ClientEvent::kDeleteRoom:
      m.DeleteRoom(identity_, event.delete_room(), AnswerWith(self, ref, "deleteRoom", &ServerEvent::mutable_room_deleted));
      return true;
    case ClientEvent::kInvite:
      m.Invite(identity_, event.invite(), AnswerWith(self, ref, "invite", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kRespondInvite:
      m.RespondInvite(identity_, event.respond_invite(), AnswerWith(self, ref, "respondInvite", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kListInvites:
      m.ListInvites(identity_, event.list_invites(), AnswerWith(self, ref, "listInvites", &ServerEvent::mutable_invites));
      return true;
    case ClientEvent::kLeaveRoom:
      m.LeaveRoom(identity_, event.leave_room(), AnswerWith(self, ref, "leaveRoom", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kKick:
      m.Kick(identity_, event.kick(), AnswerWith(self, ref, "kick", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kBan:
      m.Ban(identity_, event.ban(), AnswerWith(self, ref, "ban", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kUnban:
      m.Unban(identity_, event.unban(), AnswerWith(self, ref, "unban", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kSetRole:
      m.SetRole(identity_, event.set_role(), AnswerWith(self, ref, "setRole", &ServerEvent::mutable_membership));
      return true;
    case ClientEvent::kListMembers:
      m.ListMembers(identity_, event.list_members(), AnswerWith(self, ref, "listMembers", &ServerEvent::mutable_members));
      return true;
    case ClientEvent::kDeleteMessage:
      m.DeleteMessage(identity_, event.delete_message(), AnswerWith(self, ref, "deleteMessage", &ServerEvent::mutable_message_deleted));
      return true;
    case ClientEvent::kSearchUsers:
      m.SearchUsers(identity_, event.search_users(), AnswerWith(self, ref, "searchUsers", &ServerEvent::mutable_users));
      return true;
    case ClientEvent::kGetUsers:
      m.GetUsers(identity_, event.get_users(), AnswerWith(self, ref, "getUsers", &ServerEvent::mutable_profiles));
      return true;
    default:
      return false;
  }
}

}  // namespace chat::core
