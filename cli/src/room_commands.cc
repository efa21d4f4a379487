// Subcommands about rooms, messages and accounts added with private rooms and
// moderation: dm, topic, archive, unarchive, delete-room, delete, users,
// disable, enable.
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "app.h"
#include "chat/validate.h"
#include "command_util.h"
#include "exit_codes.h"
#include "live_client.h"
#include "prompt.h"
#include "room_text.h"

namespace chat::cli {

int RunDirect(const Context& ctx) {
  std::optional<std::string> text = ctx.args.Get("message");
  if (text) {
    if (text->empty()) return Fail(absl::InvalidArgumentError("--message must not be empty"));
    if (!chat::IsValidUtf8(*text)) return Fail(absl::InvalidArgumentError("the message is not valid UTF-8"));
  }
  for (const auto& user : ctx.args.args) {
    if (absl::Status s = ValidateUsername(user); !s.ok()) return Fail(s);
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  const std::string& me = session->credential.username;
  auto users = DirectUsers(ctx.args.args, me);
  if (!users.ok()) return Fail(users.status());
  chat::v1::OpenDirectRequest request;
  for (const auto& user : *users) request.add_users(user);
  auto room = session->client->OpenDirect(request);
  if (!room.ok()) {
    return Fail(ActionError(room.status(), absl::StrCat("open a direct conversation with ", absl::StrJoin(*users, ", "))));
  }
  if (!text) {
    if (ctx.json) {
      PrintJson(*room);
      return kExitOk;
    }
    // Only the name in a pipe: `chat send $(chat dm bob) hi`.
    std::string out = absl::StrCat(room->name(), "\n");
    if (ctx.stdout_tty) {
      absl::StrAppend(&out, ctx.style.Dim(absl::StrCat("(with ", DirectPeers(*room, me), ": chat ", room->name(),
                                                       " to chat, chat send ", room->name(), " TEXT to post)")),
                      "\n");
    }
    PrintOut(out);
    return kExitOk;
  }
  chat::v1::SendMessageRequest send;
  send.set_room(room->name());
  send.set_text(*text);
  send.set_client_msg_id(RandomClientMsgId());
  auto response = SendWithRetries(*session->client, send);
  if (!response.ok()) return Fail(response.status());
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat("sent #", response->message().seq(), " to ", room->name(), " (with ",
                          DirectPeers(*room, me), ")\n"));
  }
  return kExitOk;
}

int RunTopic(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  const bool set = ctx.args.args.size() > 1;
  std::string topic = absl::StrJoin(ctx.args.args.begin() + 1, ctx.args.args.end(), " ");
  if (set) {
    if (absl::Status s = ValidateShortText(topic, "the topic"); !s.ok()) return Fail(s);
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  if (!set) {
    auto info = session->client->GetRoom(room);
    if (!info.ok()) return Fail(info.status());
    if (ctx.json) {
      PrintJson(*info);
    } else if (!info->topic().empty()) {
      PrintOut(absl::StrCat(Sanitize(info->topic(), false), "\n"));
    } else if (ctx.stdout_tty) {
      PrintOut(absl::StrCat(ctx.style.Dim("(no topic)"), "\n"));
    }
    return kExitOk;
  }
  chat::v1::UpdateRoomRequest request;
  request.set_room(room);
  request.set_topic(topic);
  auto info = session->client->UpdateRoom(request);
  if (!info.ok()) return Fail(ActionError(info.status(), absl::StrCat("set the topic of ", room)));
  if (ctx.json) {
    PrintJson(*info);
  } else {
    PrintOut(topic.empty() ? absl::StrCat("cleared the topic of ", room, "\n")
                           : absl::StrCat("the topic of ", room, " is now: ", Sanitize(info->topic(), false), "\n"));
  }
  return kExitOk;
}

// archive (archived = true) and unarchive.
int RunSetArchived(const Context& ctx, bool archived) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::UpdateRoomRequest request;
  request.set_room(room);
  request.set_archived(archived);
  auto info = session->client->UpdateRoom(request);
  if (!info.ok()) return Fail(ActionError(info.status(), absl::StrCat(archived ? "archive " : "unarchive ", room)));
  if (ctx.json) {
    PrintJson(*info);
  } else {
    PrintOut(archived ? absl::StrCat("archived ", room, ": it is read-only now ('chat unarchive ", room,
                                     "' undoes it)\n")
                      : absl::StrCat(room, " accepts messages again\n"));
  }
  return kExitOk;
}

int RunArchive(const Context& ctx) { return RunSetArchived(ctx, true); }
int RunUnarchive(const Context& ctx) { return RunSetArchived(ctx, false); }

int RunDeleteRoom(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  const bool ask = !ctx.args.Has("yes");
  if (ask && isatty(STDIN_FILENO) != 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "refusing to delete room '", room, "' without confirmation: stdin is not a terminal (add --yes)")));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  if (ask) {
    // Asking first also reports a missing room before the question.
    auto info = session->client->GetRoom(room);
    if (!info.ok()) return Fail(info.status());
    auto answer = PromptLine(absl::StrCat("Delete room '", room, "' and its ", info->last_seq(),
                                          " messages, for everyone, for good? [y/N] "),
                             /*echo=*/true);
    if (!answer.ok()) return Fail(answer.status());
    std::string yes = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*answer));
    if (yes != "y" && yes != "yes") {
      return Fail(absl::CancelledError(absl::StrCat("room '", room, "' was not deleted")));
    }
  }
  chat::v1::DeleteRoomRequest request;
  request.set_room(room);
  auto response = session->client->DeleteRoom(request);
  if (!response.ok()) return Fail(ActionError(response.status(), absl::StrCat("delete room ", room)));
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat("deleted room ", room, "\n"));
  }
  return kExitOk;
}

int RunDeleteMessage(const Context& ctx) {
  const std::string& room = ctx.args.args[0];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  std::string seq_text(absl::StripPrefix(ctx.args.args[1], "#"));
  int64_t seq;
  if (!absl::SimpleAtoi(seq_text, &seq) || seq < 1) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("SEQ must be a message number >= 1, not '", Sanitize(ctx.args.args[1], false), "'")));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::DeleteMessageRequest request;
  request.set_room(room);
  request.set_seq(seq);
  auto deleted = session->client->DeleteMessage(request);
  if (!deleted.ok()) return Fail(ActionError(deleted.status(), absl::StrCat("delete #", seq, " in ", room)));
  if (ctx.json) {
    PrintJson(*deleted);
  } else {
    PrintOut(absl::StrCat("deleted #", seq, " in ", room, "\n"));
  }
  return kExitOk;
}

int RunUsers(const Context& ctx) {
  const std::string& prefix = ctx.args.args[0];
  if (prefix.empty()) return Fail(absl::InvalidArgumentError("PREFIX must not be empty"));
  if (!chat::IsValidUtf8(prefix)) return Fail(absl::InvalidArgumentError("PREFIX is not valid UTF-8"));
  chat::v1::SearchUsersRequest request;
  request.set_prefix(prefix);
  if (ctx.args.Has("limit")) {
    auto limit = IntOption(ctx, "limit", 1, 20);
    if (!limit.ok()) return Fail(limit.status());
    request.set_limit(static_cast<int32_t>(*limit));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  auto users = session->client->SearchUsers(request);
  if (!users.ok()) return Fail(ActionError(users.status(), "search users"));
  if (ctx.json) {
    PrintJson(*users);
    return kExitOk;
  }
  std::string out;
  for (const auto& user : users->users()) absl::StrAppend(&out, Sanitize(user, false), "\n");
  if (out.empty() && ctx.stdout_tty) out = absl::StrCat(ctx.style.Dim("(no users)"), "\n");
  PrintOut(out);
  return kExitOk;
}

// disable (disabled = true) and enable.
int RunSetDisabled(const Context& ctx, bool disabled) {
  const std::string& user = ctx.args.args[0];
  if (absl::Status s = ValidateUsername(user); !s.ok()) return Fail(s);
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  chat::v1::DisableAccountRequest request;
  request.set_username(user);
  request.set_disabled(disabled);
  auto response = session->client->DisableAccount(request);
  if (!response.ok()) {
    return Fail(ActionError(response.status(), absl::StrCat(disabled ? "disable " : "enable ", user)));
  }
  std::string name = Sanitize(response->username().empty() ? user : response->username(), false);
  if (ctx.json) {
    PrintJson(*response);
  } else if (disabled) {
    PrintOut(absl::StrCat("disabled ", name, " (", response->sessions_ended(),
                          response->sessions_ended() == 1 ? " live session" : " live sessions",
                          " ended); they cannot log in until 'chat enable ", name, "'\n"));
  } else {
    PrintOut(absl::StrCat("enabled ", name, "; they may log in again\n"));
  }
  return kExitOk;
}

int RunDisable(const Context& ctx) { return RunSetDisabled(ctx, true); }
int RunEnable(const Context& ctx) { return RunSetDisabled(ctx, false); }

}  // namespace chat::cli
