// API token scopes (docs/protocol.md, "API token scopes"): what a request made
// with an API token may do. A token may be limited to actions (read, post,
// manage: store.h's kToken* bits) and to rooms; a login session, a guest and
// a token without limits may do everything their account may. These checks
// come before the room rules (RoomAccess), on both ways in: ChatService's
// unary calls (chat_service.cc) and a live session's events (Session).
//
// Threading: pure functions. Lifetime: nothing kept.
#ifndef CHAT_CORE_SRC_TOKEN_SCOPE_H_
#define CHAT_CORE_SRC_TOKEN_SCOPE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "chat/v1/chat.pb.h"
#include "identity.h"
#include "store.h"

namespace chat::core {

// OK, or PERMISSION_DENIED "API token 'ci' lacks the 'post' scope" when `who`
// uses an API token without the action `action_bit` (kTokenRead, kTokenPost or
// kTokenManage), or "API token 'ci' is limited to rooms: a, b" when `room`
// (empty: the request names none) is not one of its rooms.
absl::Status CheckTokenScope(const Identity& who, int action_bit, absl::string_view room);

// OK unless `who` uses a token limited to rooms (then the "limited to rooms"
// error): for what reaches beyond named rooms (OpenDirect makes a new one).
absl::Status CheckTokenAllRooms(const Identity& who);

// May `who`'s credential reach `room` (ListRooms lists only those)?
bool TokenReachesRoom(const Identity& who, absl::string_view room);

// The scope check of one live-session event, by the table of actions: OK for
// an event it does not know (the session answers that as unknown).
absl::Status CheckEventScope(const Identity& who, const chat::v1::ClientEvent& event);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_TOKEN_SCOPE_H_
