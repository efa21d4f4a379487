// The membership and moderation subcommands: invite, invites, accept, decline,
// leave, members, kick, ban, unban, role.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "app.h"
#include "chat/validate.h"
#include "command_util.h"
#include "exit_codes.h"
#include "room_text.h"

namespace chat::cli {
namespace {

// ROOM and USER arguments (the first two), checked before asking chat-core.
absl::Status CheckRoomAndUser(const Context& ctx) {
  if (absl::Status s = ValidateRoomName(ctx.args.args[0]); !s.ok()) return s;
  return ValidateUsername(ctx.args.args[1]);
}

// The user an event is about, in chat-core's spelling, else as typed.
std::string EventUser(const chat::v1::MembershipEvent& event, const std::string& typed) {
  return Sanitize(event.user().empty() ? typed : event.user(), false);
}

// Prints `event` as JSON, or `text` for people.
int Report(const Context& ctx, const chat::v1::MembershipEvent& event, const std::string& text) {
  if (ctx.json) {
    PrintJson(event);
  } else {
    PrintOut(absl::StrCat(text, "\n"));
  }
  return kExitOk;
}

}  // namespace

int RunInvite(const Context& ctx) {
  if (absl::Status s = CheckRoomAndUser(ctx); !s.ok()) return Fail(s);
  const std::string& room = ctx.args.args[0];
  const std::string& user = ctx.args.args[1];
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::InviteRequest request;
  request.set_room(room);
  request.set_user(user);
  auto event = session->client->Invite(request);
  if (!event.ok()) return Fail(ActionError(event.status(), absl::StrCat("invite ", user, " to ", room)));
  return Report(ctx, *event,
                absl::StrCat("invited ", EventUser(*event, user), " to ", room,
                             " (they answer with 'chat accept ", room, "' or 'chat decline ", room, "')"));
}

int RunInvites(const Context& ctx) {
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  auto invites = session->client->ListInvites();
  if (!invites.ok()) return Fail(invites.status());
  if (ctx.json) {
    for (const auto& invite : invites->invites()) {
      if (!PrintJson(invite)) break;
    }
    return kExitOk;
  }
  if (invites->invites().empty()) {
    // Nothing in a pipe: an empty list is no lines.
    if (ctx.stdout_tty) PrintOut(absl::StrCat(ctx.style.Dim("(no invitations)"), "\n"));
    return kExitOk;
  }
  std::string out = FormatInvitesTable(*invites, ctx.style);
  if (ctx.stdout_tty) {
    absl::StrAppend(&out, ctx.style.Dim("(answer with: chat accept ROOM, chat decline ROOM)"), "\n");
  }
  PrintOut(out);
  return kExitOk;
}

// accept (accept = true) and decline.
int RunRespondInvite(const Context& ctx, bool accept) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::RespondInviteRequest request;
  request.set_room(room);
  request.set_accept(accept);
  auto event = session->client->RespondInvite(request);
  if (!event.ok()) {
    return Fail(ActionError(event.status(), absl::StrCat(accept ? "accept" : "decline", " the invitation to ", room)));
  }
  return Report(ctx, *event,
                accept ? absl::StrCat("you are now a member of ", room, " (chat there: chat ", room, ")")
                       : absl::StrCat("declined the invitation to ", room));
}

int RunAccept(const Context& ctx) { return RunRespondInvite(ctx, true); }
int RunDecline(const Context& ctx) { return RunRespondInvite(ctx, false); }

int RunLeaveRoom(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::LeaveRoomRequest request;
  request.set_room(room);
  auto event = session->client->LeaveRoom(request);
  if (!event.ok()) return Fail(ActionError(event.status(), absl::StrCat("leave ", room)));
  return Report(ctx, *event, absl::StrCat("you are no longer a member of ", room));
}

int RunMembers(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  // Every page, merged into one answer.
  chat::v1::ListMembersResponse all;
  all.set_room(room);
  chat::v1::ListMembersRequest request;
  request.set_room(room);
  for (;;) {
    auto page = session->client->ListMembers(request);
    if (!page.ok()) return Fail(page.status());
    all.mutable_members()->MergeFrom(page->members());
    all.mutable_invited()->MergeFrom(page->invited());
    all.mutable_banned()->MergeFrom(page->banned());
    if (page->next_cursor().empty()) break;
    if (page->members().empty() && page->invited().empty() && page->banned().empty()) {
      return Fail(absl::InternalError("chat-core sent an empty page of members with a next cursor"));
    }
    request.set_cursor(page->next_cursor());
  }
  if (ctx.json) {
    PrintJson(all);
  } else {
    PrintOut(FormatMembersTable(all, ctx.style));
  }
  return kExitOk;
}

// kick (ban = false) and ban.
int RunRemove(const Context& ctx, bool ban) {
  if (absl::Status s = CheckRoomAndUser(ctx); !s.ok()) return Fail(s);
  const std::string& room = ctx.args.args[0];
  const std::string& user = ctx.args.args[1];
  std::string reason = ctx.args.Get("reason").value_or("");
  if (absl::Status s = ValidateShortText(reason, "the reason"); !s.ok()) return Fail(s);
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  absl::StatusOr<chat::v1::MembershipEvent> event;
  if (ban) {
    chat::v1::BanRequest request;
    request.set_room(room);
    request.set_user(user);
    request.set_reason(reason);
    event = session->client->Ban(request);
  } else {
    chat::v1::KickRequest request;
    request.set_room(room);
    request.set_user(user);
    request.set_reason(reason);
    event = session->client->Kick(request);
  }
  if (!event.ok()) {
    return Fail(ActionError(event.status(), absl::StrCat(ban ? "ban " : "kick ", user, " from ", room)));
  }
  std::string why = reason.empty() ? "" : absl::StrCat(" (", Sanitize(reason, false), ")");
  return Report(ctx, *event,
                ban ? absl::StrCat("banned ", EventUser(*event, user), " from ", room, why,
                                   "; 'chat unban ", room, " ", user, "' lets them back")
                    : absl::StrCat("kicked ", EventUser(*event, user), " from ", room, why));
}

int RunKick(const Context& ctx) { return RunRemove(ctx, false); }
int RunBan(const Context& ctx) { return RunRemove(ctx, true); }

int RunUnban(const Context& ctx) {
  if (absl::Status s = CheckRoomAndUser(ctx); !s.ok()) return Fail(s);
  const std::string& room = ctx.args.args[0];
  const std::string& user = ctx.args.args[1];
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::UnbanRequest request;
  request.set_room(room);
  request.set_user(user);
  auto event = session->client->Unban(request);
  if (!event.ok()) return Fail(ActionError(event.status(), absl::StrCat("unban ", user, " in ", room)));
  return Report(ctx, *event, absl::StrCat("unbanned ", EventUser(*event, user), " in ", room));
}

int RunRole(const Context& ctx) {
  if (absl::Status s = CheckRoomAndUser(ctx); !s.ok()) return Fail(s);
  const std::string& room = ctx.args.args[0];
  const std::string& user = ctx.args.args[1];
  auto role = ParseRole(ctx.args.args[2]);
  if (!role.ok()) return Fail(role.status());
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::SetRoleRequest request;
  request.set_room(room);
  request.set_user(user);
  request.set_role(*role);
  auto event = session->client->SetRole(request);
  if (!event.ok()) {
    return Fail(ActionError(event.status(), absl::StrCat("make ", user, " ", RoleName(*role), " of ", room)));
  }
  std::string who = EventUser(*event, user);
  return Report(ctx, *event,
                *role == chat::v1::ROLE_OWNER
                    ? absl::StrCat(who, " is now the owner of ", room, "; the previous owner is a moderator")
                    : absl::StrCat(who, " is now a ", RoleName(*role), " of ", room));
}

}  // namespace chat::cli
