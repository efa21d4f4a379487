// The interactive mode's typed lines: a message to send, or a command (/join,
// /leave, /rooms, /who, /members, /accept, /decline, /help, /quit).
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chat/json_codec.h"
#include "chat/validate.h"
#include "interactive_session.h"
#include "room_text.h"

namespace chat::cli {
namespace {

constexpr char kHelp[] =
    "commands: /join ROOM, /leave [ROOM], /rooms, /who [ROOM], /members [ROOM], "
    "/accept ROOM, /decline ROOM, /help, /quit "
    "(start a message with // to send a leading /)";

}  // namespace

absl::Status InteractiveSession::JoinRoom(const std::string& room) {
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return s;
  if (live_.InRoom(room)) {
    SetCurrent(room);
    Info(absl::StrCat("now talking in #", room));
    return absl::OkStatus();
  }
  auto info = client_->GetRoom(room);
  if (!info.ok()) return info.status();
  {
    absl::MutexLock lock(&mu_);
    announced_.erase(room);
  }
  narrator_.TrackRoom(*info);
  SetCurrent(room);
  // since_seq N back from the newest: the backlog, then live, with no gap.
  live_.Join(room, std::max<int64_t>(0, info->last_seq() - backlog_));
  return absl::OkStatus();
}

void InteractiveSession::LeaveRoom(const std::string& room) {
  if (!live_.InRoom(room)) {
    Error(absl::FailedPreconditionError(absl::StrCat("not in #", room)));
    return;
  }
  live_.Leave(room);
  Info(absl::StrCat("left #", room));
  if (room == current()) {
    std::vector<std::string> rooms = live_.Rooms();
    SetCurrent(rooms.empty() ? "" : rooms[0]);
    if (!rooms.empty()) Info(absl::StrCat("now talking in #", rooms[0]));
  }
}

void InteractiveSession::ListRooms() {
  // The first page (chat-core's default size, 1000); 'chat rooms' lists them all.
  auto rooms = client_->ListRooms();
  if (!rooms.ok()) return Error(rooms.status());
  if (!rooms->next_cursor().empty()) {
    Info(absl::StrCat("the first ", rooms->rooms_size(), " rooms by name; 'chat rooms' lists them all"));
  }
  if (ctx_.json) {
    for (const auto& r : rooms->rooms()) terminal_.Print(chat::ToJson(r));
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rooms->rooms()) {
    std::string kind = RoomKindName(r.kind());
    if (r.kind() == chat::v1::ROOM_KIND_DIRECT) absl::StrAppend(&kind, " (", DirectPeers(r, username_), ")");
    rows.push_back({live_.InRoom(r.name()) ? "*" : " ", r.name(), kind, absl::StrCat(r.member_count()),
                    absl::StrCat(r.last_seq())});
  }
  std::string table = FormatTable({" ", "ROOM", "KIND", "ONLINE", "MESSAGES"}, rows, ctx_.style);
  if (!table.empty() && table.back() == '\n') table.pop_back();
  terminal_.Print(table);
}

void InteractiveSession::Who(const std::string& room) {
  if (!live_.InRoom(room)) {
    Error(absl::FailedPreconditionError(absl::StrCat("not in #", room, " (/join ", room, " first)")));
    return;
  }
  std::vector<std::string> members = live_.Members(room);
  std::string line = absl::StrCat("in #", room, " (", members.size(), "): ",
                                  Sanitize(absl::StrJoin(members, ", "), false));
  if (ctx_.json) {
    chat::v1::Joined who;
    who.set_room(room);
    for (const auto& m : members) who.add_members(m);
    who.set_member_count(static_cast<int32_t>(members.size()));
    terminal_.Print(chat::ToJson(who));
    return;
  }
  terminal_.Print(line);
}

void InteractiveSession::Members(const std::string& room) {
  chat::v1::ListMembersRequest request;
  request.set_room(room);
  // The first page (up to 1000); 'chat members' fetches them all.
  auto members = client_->ListMembers(request);
  if (!members.ok()) return Error(members.status());
  if (ctx_.json) {
    terminal_.Print(chat::ToJson(*members));
    return;
  }
  std::string table = FormatMembersTable(*members, ctx_.style);
  if (!table.empty() && table.back() == '\n') table.pop_back();
  terminal_.Print(table);
}

void InteractiveSession::RespondInvite(const std::string& room, bool accept) {
  chat::v1::RespondInviteRequest request;
  request.set_room(room);
  request.set_accept(accept);
  auto event = client_->RespondInvite(request);
  if (!event.ok()) return Error(event.status());
  if (!accept) {
    Info(absl::StrCat("declined the invitation to #", room));
    return;
  }
  if (absl::Status s = JoinRoom(room); !s.ok()) Error(s);
}

void InteractiveSession::Say(const std::string& text) {
  std::string room = current();
  if (room.empty()) {
    Error(absl::FailedPreconditionError("join a room first (/join ROOM)"));
    return;
  }
  if (!chat::IsValidUtf8(text)) {
    Error(absl::InvalidArgumentError("the message is not valid UTF-8"));
    return;
  }
  // The message shows up when chat-core echoes it (with its seq and time).
  live_.Send(room, text);
}

bool InteractiveSession::HandleLine(const std::string& raw_line) {
  std::string line(absl::StripTrailingAsciiWhitespace(raw_line));
  if (absl::StripAsciiWhitespace(line).empty()) return true;
  if (line[0] != '/' || absl::StartsWith(line, "//")) {
    Say(line[0] == '/' ? line.substr(1) : line);
    return true;
  }
  std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  const std::string& cmd = words[0];
  std::string arg = words.size() > 1 ? words[1] : "";
  if (cmd == "/quit" || cmd == "/exit" || cmd == "/q") return false;
  if (cmd == "/help") {
    Info(kHelp);
  } else if (cmd == "/join") {
    if (arg.empty()) {
      Error(absl::InvalidArgumentError("usage: /join ROOM"));
    } else if (absl::Status s = JoinRoom(arg); !s.ok()) {
      Error(s);
    }
  } else if (cmd == "/leave" || cmd == "/part") {
    std::string room = arg.empty() ? current() : arg;
    if (room.empty()) {
      Error(absl::InvalidArgumentError("usage: /leave ROOM"));
    } else {
      LeaveRoom(room);
    }
  } else if (cmd == "/rooms") {
    ListRooms();
  } else if (cmd == "/accept" || cmd == "/decline") {
    if (arg.empty()) {
      Error(absl::InvalidArgumentError(absl::StrCat("usage: ", cmd, " ROOM")));
    } else if (absl::Status s = ValidateRoomName(arg); !s.ok()) {
      Error(s);
    } else {
      RespondInvite(arg, cmd == "/accept");
    }
  } else if (cmd == "/members") {
    std::string room = arg.empty() ? current() : arg;
    if (room.empty()) {
      Error(absl::InvalidArgumentError("usage: /members ROOM"));
    } else {
      Members(room);
    }
  } else if (cmd == "/who" || cmd == "/names") {
    std::string room = arg.empty() ? current() : arg;
    if (room.empty()) {
      Error(absl::InvalidArgumentError("usage: /who ROOM"));
    } else {
      Who(room);
    }
  } else {
    Error(absl::InvalidArgumentError(absl::StrCat("unknown command ", cmd, " (try /help)")));
  }
  return true;
}

}  // namespace chat::cli
