// The one-shot subcommands: register, login, logout, whoami, rooms, create,
// send, history. (Membership and moderation: member_commands.cc,
// room_commands.cc.)
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "account_text.h"
#include "app.h"
#include "chat/json_codec.h"
#include "chat/validate.h"
#include "client.h"
#include "command_util.h"
#include "exit_codes.h"
#include "live_client.h"
#include "prompt.h"
#include "room_text.h"

namespace chat::cli {
namespace {

std::string ExpiryText(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M %Z", ToAbslTime(ts), absl::LocalTimeZone());
}

absl::StatusOr<std::string> UsernameArg(const Context& ctx) {
  std::string username;
  if (!ctx.args.args.empty()) {
    username = ctx.args.args[0];
  } else if (isatty(STDIN_FILENO) == 1 && !ctx.args.Has("password-stdin")) {
    auto line = PromptLine("Username: ", true);
    if (!line.ok()) return line.status();
    username = *line;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("missing USERNAME; ", UsageLine(*FindCommand(ctx.args.command))));
  }
  if (absl::Status s = ValidateUsername(username); !s.ok()) return s;
  return username;
}

}  // namespace

int RunRegister(const Context& ctx) {
  auto username = UsernameArg(ctx);
  if (!username.ok()) return Fail(username.status());
  auto password = ReadPassword(ctx.args.Has("password-stdin"), /*confirm=*/true);
  if (!password.ok()) return Fail(password.status());
  if (absl::Status s = ValidatePassword(*password); !s.ok()) return Fail(s);
  chat::v1::RegisterRequest request;
  request.set_username(*username);
  request.set_password(*password);
  if (auto code = ctx.args.Get("invite-code")) {
    std::string trimmed(absl::StripAsciiWhitespace(*code));
    if (trimmed.empty()) return Fail(absl::InvalidArgumentError("--invite-code must not be empty"));
    request.set_invite_code(trimmed);
  }
  ChatClient client(ctx.servers, "", ctx.client_options);
  auto response = client.Register(request);
  if (!response.ok()) return Fail(response.status());
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat("registered ", ctx.style.Bold(response->username()), " on ", ctx.server,
                          "; log in with: chat login ", response->username(), "\n"));
  }
  return kExitOk;
}

int RunLogin(const Context& ctx) {
  auto username = UsernameArg(ctx);
  if (!username.ok()) return Fail(username.status());
  auto password = ReadPassword(ctx.args.Has("password-stdin"), /*confirm=*/false);
  if (!password.ok()) return Fail(password.status());
  chat::v1::LoginRequest request;
  request.set_username(*username);
  request.set_password(*password);
  request.set_client(ClientName());  // for `chat sessions` (and the web UI's list)
  ChatClient client(ctx.servers, "", ctx.client_options);
  auto response = client.Login(request);
  if (!response.ok()) return Fail(response.status());
  auto store = CredentialStore::Open();
  if (!store.ok()) return Fail(store.status());
  Credential credential;
  credential.server = ctx.server;
  credential.username = response->username();
  credential.token = response->token();
  credential.expires_at_unix = response->expires_at().seconds();
  store->Put(credential);
  if (absl::Status s = store->Save(); !s.ok()) return Fail(s);
  if (ctx.json) {
    chat::v1::LoginResponse shown = *response;
    shown.clear_token();  // the token stays in the credentials file
    PrintJson(shown);
  } else {
    PrintOut(absl::StrCat("logged in as ", ctx.style.Bold(response->username()), " on ", ctx.server,
                          " (session expires ", ExpiryText(response->expires_at()), ")\n"));
  }
  return kExitOk;
}

int RunLogout(const Context& ctx) {
  if (!ctx.api_token.empty()) {
    return Fail(absl::InvalidArgumentError(
        "logout ends a saved login, not an API token (--token/CHAT_TOKEN); revoke a token with 'chat token revoke ID'"));
  }
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  absl::Status status = client.Logout();
  // A token chat-core no longer knows is as good as revoked: forget it too.
  if (!status.ok() && !absl::IsUnauthenticated(status)) return Fail(status);
  auto store = CredentialStore::Open();
  if (!store.ok()) return Fail(store.status());
  store->Remove(credential->server);
  if (absl::Status s = store->Save(); !s.ok()) return Fail(s);
  if (ctx.json) {
    PrintJson(chat::v1::LogoutResponse());
  } else {
    PrintOut(absl::StrCat("logged out ", credential->username, " from ", credential->server,
                          status.ok() ? "" : " (the session had already ended)", "\n"));
  }
  return kExitOk;
}

int RunWhoAmI(const Context& ctx) {
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  auto response = client.WhoAmI();
  if (!response.ok()) return Fail(response.status());
  // The session may have been renewed since the login (it is while in use).
  RememberExpiry(*credential, response->expires_at());
  if (ctx.json) {
    PrintJson(*response);
    return kExitOk;
  }
  std::string expiry = ExpiryText(response->expires_at());
  std::string display = response->display_name().empty()
                            ? ""
                            : absl::StrCat(" (", Sanitize(response->display_name(), false), ")");
  std::string what = response->guest() ? " (guest)" : "";
  if (response->kind() == chat::v1::ACCOUNT_KIND_BOT) what = " (bot)";
  if (response->admin()) absl::StrAppend(&what, " (server admin)");
  std::string how;
  if (response->has_api_token()) {
    const auto& t = response->api_token();
    how = absl::StrCat(" with API token '", Sanitize(t.name(), false), "' (", t.id(), "; rooms: ",
                       t.rooms().empty() ? "all" : Sanitize(absl::StrJoin(t.rooms(), ","), false),
                       "; actions: ", TokenActionsText(t.actions()), ")");
  }
  // The node that answered (with several, the first that was up).
  PrintOut(absl::StrCat(ctx.style.Bold(response->username()), display, what, " on ",
                        client.address(client.preferred()), how,
                        expiry.empty() ? (response->has_api_token() ? " (never expires)" : "")
                                       : absl::StrCat(response->has_api_token() ? " (expires " : " (session expires ",
                                                      expiry, ")"),
                        "\n"));
  return kExitOk;
}

int RunRooms(const Context& ctx) {
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  int64_t wanted = std::numeric_limits<int64_t>::max();
  if (ctx.args.Has("limit")) {
    auto limit = IntOption(ctx, "limit", 1, std::numeric_limits<int32_t>::max());
    if (!limit.ok()) return Fail(limit.status());
    wanted = *limit;
  }
  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  // Page after page (each at most kMaxRoomsPage rooms), until the last or --limit.
  std::vector<chat::v1::Room> rooms;
  chat::v1::ListRoomsRequest request;
  bool more = false;
  do {
    request.set_limit(static_cast<int32_t>(std::min<int64_t>(kMaxRoomsPage, wanted - static_cast<int64_t>(rooms.size()))));
    auto page = client.ListRooms(request);
    if (!page.ok()) return Fail(page.status());
    for (auto& room : *page->mutable_rooms()) rooms.push_back(std::move(room));
    more = !page->next_cursor().empty();
    request.set_cursor(page->next_cursor());
    if (more && page->rooms().empty()) {
      return Fail(absl::InternalError("chat-core sent an empty page with a next cursor"));
    }
  } while (more && static_cast<int64_t>(rooms.size()) < wanted);
  if (ctx.json) {
    for (const auto& room : rooms) {
      if (!PrintJson(room)) break;
    }
    return kExitOk;
  }
  PrintOut(FormatRoomsTable(rooms, credential->username, ctx.style));
  return kExitOk;
}

int RunCreate(const Context& ctx) {
  const std::string& name = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(name); !s.ok()) return Fail(s);
  if (absl::StartsWith(name, "dm.")) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("room names starting with 'dm.' belong to direct rooms (chat dm USER), not '", name, "'")));
  }
  chat::v1::CreateRoomRequest request;
  request.set_name(name);
  if (ctx.args.Has("private")) request.set_kind(chat::v1::ROOM_KIND_PRIVATE);
  if (auto topic = ctx.args.Get("topic")) {
    if (absl::Status s = ValidateShortText(*topic, "the topic"); !s.ok()) return Fail(s);
    request.set_topic(*topic);
  }
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  auto room = client.CreateRoom(request);
  if (!room.ok()) return Fail(room.status());
  if (ctx.json) {
    PrintJson(*room);
  } else if (room->kind() == chat::v1::ROOM_KIND_PRIVATE) {
    PrintOut(absl::StrCat("created private room ", ctx.style.Bold(room->name()),
                          " (invite members with: chat invite ", room->name(), " USER)\n"));
  } else {
    PrintOut(absl::StrCat("created room ", ctx.style.Bold(room->name()), "\n"));
  }
  return kExitOk;
}

int RunSend(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  std::string text;
  if (ctx.args.args.size() > 1) {
    text = absl::StrJoin(ctx.args.args.begin() + 1, ctx.args.args.end(), " ");
  } else {
    if (isatty(STDIN_FILENO) == 1) {
      return Fail(absl::InvalidArgumentError(
          "missing TEXT: give it as arguments or on stdin (chat send ROOM TEXT...)"));
    }
    auto all = ReadAllStdin();
    if (!all.ok()) return Fail(all.status());
    text = std::move(*all);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
  }
  if (text.empty()) return Fail(absl::InvalidArgumentError("the message is empty"));
  if (!chat::IsValidUtf8(text)) return Fail(absl::InvalidArgumentError("the message is not valid UTF-8"));
  std::string id = ctx.args.Get("id").value_or("");
  if (ctx.args.Has("id")) {
    if (id.empty()) return Fail(absl::InvalidArgumentError("--id must not be empty"));
    if (absl::Status s = ValidateClientMsgId(id); !s.ok()) return Fail(s);
  } else {
    id = RandomClientMsgId();
  }
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());

  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  chat::v1::SendMessageRequest request;
  request.set_room(room);
  request.set_text(text);
  request.set_client_msg_id(id);
  auto response = SendWithRetries(client, request);
  if (!response.ok()) return Fail(response.status());
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat(response->duplicate() ? "already sent as #" : "sent #",
                          response->message().seq(), " to ", room,
                          response->duplicate() ? " (duplicate)" : "", "\n"));
  }
  return kExitOk;
}

int RunHistory(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  chat::v1::GetHistoryRequest request;
  request.set_room(room);
  request.set_order(chat::v1::HISTORY_ORDER_OLDEST_FIRST);
  if (ctx.args.Has("before") && ctx.args.Has("after")) {
    return Fail(absl::InvalidArgumentError("give --before or --after, not both"));
  }
  if (ctx.args.Has("before")) {
    auto before = IntOption(ctx, "before", 1, INT64_MAX);
    if (!before.ok()) return Fail(before.status());
    request.set_before_seq(*before);
  }
  if (ctx.args.Has("after")) {
    auto after = IntOption(ctx, "after", 0, INT64_MAX);
    if (!after.ok()) return Fail(after.status());
    request.set_after_seq(*after);
  }
  if (ctx.args.Has("limit")) {
    auto limit = IntOption(ctx, "limit", 1, kMaxHistoryLimit);
    if (!limit.ok()) return Fail(limit.status());
    request.set_limit(static_cast<int32_t>(*limit));
  }
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  auto response = client.GetHistory(request);
  if (!response.ok()) return Fail(response.status());

  if (ctx.json) {
    for (const auto& m : response->messages()) {
      if (!PrintJson(m)) break;
    }
    return kExitOk;
  }
  const auto& messages = response->messages();
  std::string out;
  // Hints for people only: they would be noise in a pipe.
  bool hints = ctx.stdout_tty;
  if (hints && messages.empty()) absl::StrAppend(&out, ctx.style.Dim("(no messages)"), "\n");
  bool newer = request.cursor_case() == chat::v1::GetHistoryRequest::kAfterSeq;
  if (hints && response->has_more() && !newer && !messages.empty()) {
    absl::StrAppend(&out, ctx.style.Dim(absl::StrCat("(older: chat history ", room, " --before ",
                                                     messages[0].seq(), ")")),
                    "\n");
  }
  MessageLayout layout;
  layout.with_date = true;
  for (const auto& m : messages) {
    layout.seq_width = std::max(layout.seq_width, absl::StrCat("#", m.seq()).size());
    layout.author_width = std::max(layout.author_width, AuthorWidth(m));
  }
  for (const auto& m : messages) absl::StrAppend(&out, FormatMessage(m, layout, ctx.style), "\n");
  if (hints && response->has_more() && newer && !messages.empty()) {
    absl::StrAppend(&out, ctx.style.Dim(absl::StrCat("(newer: chat history ", room, " --after ",
                                                     messages[messages.size() - 1].seq(), ")")),
                    "\n");
  }
  PrintOut(out);
  return kExitOk;
}

}  // namespace chat::cli
