// The account lifecycle subcommands (issue #29): passwd, sessions, profile,
// account delete, invite-code create. Each needs a login session: chat-core
// refuses them to an API token, and says so.
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "account_text.h"
#include "app.h"
#include "chat/validate.h"
#include "command_util.h"
#include "exit_codes.h"
#include "prompt.h"

namespace chat::cli {
namespace {

// Bounds of CreateInviteRequest.valid_for (chat-core checks them too).
constexpr absl::Duration kMinInviteValidity = absl::Hours(1);
constexpr absl::Duration kMaxInviteValidity = absl::Hours(24 * 30);

std::string SessionsEnded(int n, absl::string_view which) {
  return n == 1 ? absl::StrCat("1 ", which, "session ended") : absl::StrCat(n, " ", which, "sessions ended");
}

// `chat sessions revoke ...` and the --revoke/--revoke-others spellings.
int RevokeSessions(const Context& ctx, Session& session, const std::string& id, bool others) {
  chat::v1::RevokeSessionRequest request;
  bool current = false;
  if (others) {
    request.set_all_others(true);
  } else {
    // Revoking the session this chat uses ends its saved login: find out first.
    auto list = session.client->ListSessions();
    if (!list.ok()) return Fail(ActionError(list.status(), "list your sessions"));
    for (const auto& s : list->sessions()) current |= s.id() == id && s.current();
    request.set_id(id);
  }
  auto response = session.client->RevokeSession(request);
  if (!response.ok()) {
    return Fail(ActionError(response.status(), others ? std::string("end your other sessions")
                                                      : absl::StrCat("end session ", id)));
  }
  if (current && !session.credential.api_token) {
    if (auto store = CredentialStore::Open(); store.ok()) {
      store->Remove(session.credential.server);
      if (absl::Status s = store->Save(); !s.ok()) return Fail(s);
    }
  }
  if (ctx.json) {
    PrintJson(*response);
  } else if (others) {
    PrintOut(absl::StrCat(SessionsEnded(response->sessions_ended(), "other "), "\n"));
  } else {
    PrintOut(absl::StrCat("ended session ", id, current ? " (the one this chat used: log in again)" : "", "\n"));
  }
  return kExitOk;
}

}  // namespace

int RunPasswd(const Context& ctx) {
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  const bool from_stdin = ctx.args.Has("password-stdin");
  auto old_password = ReadNamedPassword("Current password: ", "CHAT_PASSWORD", from_stdin, false);
  if (!old_password.ok()) return Fail(old_password.status());
  auto new_password = ReadNamedPassword("New password: ", "CHAT_NEW_PASSWORD", from_stdin, true);
  if (!new_password.ok()) return Fail(new_password.status());
  if (absl::Status s = ValidatePassword(*new_password); !s.ok()) return Fail(s);
  chat::v1::ChangePasswordRequest request;
  request.set_old_password(*old_password);
  request.set_new_password(*new_password);
  auto response = session->client->ChangePassword(request);
  if (!response.ok()) return Fail(ActionError(response.status(), "change the password"));
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat("password changed for ", ctx.style.Bold(session->credential.username), "; ",
                          SessionsEnded(response->sessions_ended(), "other "), "\n"));
  }
  return kExitOk;
}

int RunSessions(const Context& ctx) {
  auto call = ParseSessionsArgs(ctx.args);
  if (!call.ok()) return Fail(call.status());
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  if (call->others || !call->id.empty()) return RevokeSessions(ctx, *session, call->id, call->others);

  auto list = session->client->ListSessions();
  if (!list.ok()) return Fail(ActionError(list.status(), "list your sessions"));
  if (ctx.json) {
    for (const auto& s : list->sessions()) {
      if (!PrintJson(s)) break;
    }
    return kExitOk;
  }
  std::string out = FormatSessionsTable(*list, ctx.style);
  if (ctx.stdout_tty) {
    absl::StrAppend(&out, ctx.style.Dim("(* this chat; end one with: chat sessions revoke ID, or all others with: "
                                        "chat sessions revoke --others)"),
                    "\n");
  }
  PrintOut(out);
  return kExitOk;
}

int RunProfile(const Context& ctx) {
  std::string bot = ctx.args.Get("bot").value_or("");
  if (ctx.args.Has("bot")) {
    if (absl::Status s = ValidateUsername(bot); !s.ok()) return Fail(s);
  }
  std::optional<std::string> display_name = ctx.args.Get("display-name");
  if (display_name) {
    if (!chat::IsValidUtf8(*display_name)) return Fail(absl::InvalidArgumentError("the display name is not valid UTF-8"));
    if (display_name->size() > 64) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("the display name is too long: ", display_name->size(), " bytes, at most 64")));
    }
    if (std::any_of(display_name->begin(), display_name->end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      return Fail(absl::InvalidArgumentError("the display name must not contain control characters"));
    }
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  const std::string who = bot.empty() ? session->credential.username : bot;
  chat::v1::UserProfile profile;
  if (display_name) {
    chat::v1::UpdateProfileRequest request;
    request.set_display_name(*display_name);
    request.set_username(bot);
    auto updated = session->client->UpdateProfile(request);
    if (!updated.ok()) return Fail(ActionError(updated.status(), absl::StrCat("set the display name of ", who)));
    profile = *std::move(updated);
  } else {
    chat::v1::GetUsersRequest request;
    request.add_usernames(who);
    auto users = session->client->GetUsers(request);
    if (!users.ok()) return Fail(ActionError(users.status(), absl::StrCat("look up ", who)));
    if (users->users().empty()) return Fail(absl::NotFoundError(absl::StrCat("no such user '", who, "'")));
    profile = users->users(0);
  }
  if (ctx.json) {
    PrintJson(profile);
    return kExitOk;
  }
  std::string out = absl::StrCat(
      "username:     ", ctx.style.Bold(Sanitize(profile.username(), false)), "\n",  //
      "display name: ", profile.display_name().empty() ? ctx.style.Dim("(none)") : Sanitize(profile.display_name(), false),
      "\n",  //
      "kind:         ", AccountKindName(profile.kind()), "\n");
  if (!profile.owner().empty()) absl::StrAppend(&out, "owner:        ", Sanitize(profile.owner(), false), "\n");
  if (profile.created_at().seconds() != 0) {
    absl::StrAppend(&out, "created:      ", TimeCell(profile.created_at(), "-"), "\n");
  }
  PrintOut(out);
  return kExitOk;
}

int RunAccount(const Context& ctx) {
  static const std::vector<SubAction> kActions = {{"delete", "", 0, {"password-stdin", "yes"}}};
  auto action = ParseSubAction(ctx.args, kActions);
  if (!action.ok()) return Fail(action.status());
  const bool ask = !ctx.args.Has("yes");
  if (ask && isatty(STDIN_FILENO) != 1) {
    return Fail(absl::InvalidArgumentError(
        "refusing to delete the account without confirmation: stdin is not a terminal (add --yes)"));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  const std::string& me = session->credential.username;
  auto password = ReadPassword(ctx.args.Has("password-stdin"), /*confirm=*/false);
  if (!password.ok()) return Fail(password.status());
  if (ask) {
    auto typed = PromptLine(absl::StrCat("This deletes the account '", me,
                                         "' for good: its sessions, API tokens, bots and webhooks end;\n"
                                         "its messages stay, shown as by a deleted user. Type the username to confirm: "),
                            /*echo=*/true);
    if (!typed.ok()) return Fail(typed.status());
    if (!ConfirmsUsername(*typed, me)) {
      return Fail(absl::CancelledError(absl::StrCat("the account '", me, "' was not deleted")));
    }
  }
  chat::v1::DeleteAccountRequest request;
  request.set_password(*password);
  auto response = session->client->DeleteAccount(request);
  if (!response.ok()) return Fail(ActionError(response.status(), absl::StrCat("delete the account ", me)));
  // The saved token died with the account.
  if (!session->credential.api_token) {
    auto store = CredentialStore::Open();
    if (!store.ok()) return Fail(store.status());
    store->Remove(session->credential.server);
    if (absl::Status s = store->Save(); !s.ok()) return Fail(s);
  }
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat("deleted the account ", me, " on ", ctx.server,
                          "; the saved login is forgotten (the name stays taken)\n"));
  }
  return kExitOk;
}

int RunInviteCode(const Context& ctx) {
  static const std::vector<SubAction> kActions = {{"create", "", 0, {"valid"}}};
  auto action = ParseSubAction(ctx.args, kActions);
  if (!action.ok()) return Fail(action.status());
  chat::v1::CreateInviteRequest request;
  if (auto valid = ctx.args.Get("valid")) {
    auto duration = ParseDurationText(*valid, "--valid");
    if (!duration.ok()) return Fail(duration.status());
    if (*duration < kMinInviteValidity || *duration > kMaxInviteValidity) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--valid must be from 1h to 30d, not ", *valid)));
    }
    request.mutable_valid_for()->set_seconds(absl::ToInt64Seconds(*duration));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  auto code = session->client->CreateInvite(request);
  if (!code.ok()) return Fail(ActionError(code.status(), "create an invite code"));
  if (ctx.json) {
    PrintJson(*code);
  } else if (!ctx.stdout_tty) {
    // In a pipe only the code, for CODE=$(chat invite-code create).
    PrintOut(absl::StrCat(code->code(), "\n"));
  } else {
    PrintOut(absl::StrCat("invite code: ", ctx.style.Bold(Sanitize(code->code(), false)), "\n",
                          ctx.style.Dim(absl::StrCat("(single use, valid until ", TimeCell(code->expires_at(), "?"),
                                                     "; not shown again. The new user runs: chat register NAME "
                                                     "--invite-code CODE)")),
                          "\n"));
  }
  return kExitOk;
}

}  // namespace chat::cli
