// `chat ROOM` / `chat join ROOM`: the interactive mode.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "app.h"
#include "chat/json_codec.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "client.h"
#include "exit_codes.h"
#include "line_editor.h"
#include "live_client.h"
#include "signals.h"
#include "terminal.h"

namespace chat::cli {
namespace {

constexpr char kHelp[] =
    "commands: /join ROOM, /leave [ROOM], /rooms, /who [ROOM], /help, /quit "
    "(start a message with // to send a leading /)";

// One interactive session: the input loop on the calling thread, events from
// the LiveClient printed above the input line.
//
// Threading: Run() on the main thread; LiveObserver callbacks on the LiveClient
// dispatcher; the signal handler on the signal thread. Shared state is under mu_
// or atomic. Lifetime: Run() returns after the LiveClient has stopped.
class InteractiveSession : public LiveObserver {
 public:
  InteractiveSession(const Context& ctx, ChatClient* client, std::string username, bool raw,
                     int64_t backlog)
      : ctx_(ctx),
        client_(client),
        username_(std::move(username)),
        backlog_(backlog),
        terminal_(raw),
        live_(client, this) {}

  ~InteractiveSession() override {
    if (wake_[0] >= 0) close(wake_[0]);
    if (wake_[1] >= 0) close(wake_[1]);
  }

  int Run(const std::string& first_room);

  // LiveObserver.
  void OnEvent(const chat::v1::ServerEvent& event) override;
  // The connection state: a line when it is lost and when it is back, and
  // meanwhile the node being tried in front of the prompt.
  void OnDisconnected(const absl::Status& status, const std::string& next) override {
    Info(absl::StrCat("connection lost (", status.message(), "); reconnecting to ", next, "..."));
    OnReconnecting(next);
  }
  void OnReconnecting(const std::string& address) override {
    SetStatus(absl::StrCat("reconnecting to ", address, "..."));
  }
  void OnReconnected(const std::string& address) override {
    SetStatus("");
    Info(absl::StrCat("reconnected to ", address));
  }
  void OnNotice(const std::string& text) override { Info(text); }
  void OnClosed(const absl::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      closed_ = status;
    }
    Wake();
  }

 private:
  void Info(const std::string& text) {
    if (ctx_.json) return;
    terminal_.Print(ctx_.style.Dim(absl::StrCat("-- ", OneLine(text))));
  }
  void Error(const absl::Status& status) {
    if (!terminal_.raw()) {
      // Line mode is for scripts: errors on stderr; the first sets the exit code.
      {
        absl::MutexLock lock(&mu_);
        if (first_error_.ok()) first_error_ = status;
      }
      Fail(status);
      return;
    }
    terminal_.Print(ctx_.style.Red(absl::StrCat("error: ", OneLine(status.message()))));
  }
  void Wake() {
    char c = 1;
    ssize_t unused = write(wake_[1], &c, 1);
    (void)unused;
  }
  std::string current() {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  void SetCurrent(const std::string& room) {
    {
      absl::MutexLock lock(&mu_);
      current_ = room;
    }
    UpdatePrompt();
  }
  void SetStatus(const std::string& status) {
    {
      absl::MutexLock lock(&mu_);
      status_ = status;
    }
    UpdatePrompt();
  }
  // "(status) #room> ": the status only while there is one.
  void UpdatePrompt() {
    std::string room;
    std::string status;
    {
      absl::MutexLock lock(&mu_);
      room = current_;
      status = status_.empty() ? "" : absl::StrCat("(", status_, ") ");
    }
    std::string label = room.empty() ? "" : absl::StrCat("#", room);
    terminal_.SetPrompt(absl::StrCat(ctx_.style.Dim(status), ctx_.style.Cyan(label), "> "),
                        DisplayWidth(status) + DisplayWidth(label) + 2);
  }

  absl::Status JoinRoom(const std::string& room);
  // Returns false to quit.
  bool HandleLine(const std::string& line);
  void Say(const std::string& text);
  void ListRooms();
  void Who(const std::string& room);
  void LeaveRoom(const std::string& room);

  const Context& ctx_;
  ChatClient* const client_;
  const std::string username_;
  const int64_t backlog_;
  Terminal terminal_;
  LiveClient live_;
  int wake_[2] = {-1, -1};
  std::atomic<int> signal_{0};
  std::atomic<bool> resized_{false};

  absl::Mutex mu_;
  std::string current_ ABSL_GUARDED_BY(mu_);
  std::string status_ ABSL_GUARDED_BY(mu_);  // connection state, "" when connected
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> announced_ ABSL_GUARDED_BY(mu_);
  bool first_join_done_ ABSL_GUARDED_BY(mu_) = false;
};

void InteractiveSession::OnEvent(const chat::v1::ServerEvent& event) {
  if (event.has_joined() || (event.has_error() && event.error().event() == "join")) {
    absl::MutexLock lock(&mu_);
    first_join_done_ = true;
  }
  if (ctx_.json) {
    terminal_.Print(chat::ToJson(event));
    return;
  }
  switch (event.event_case()) {
    case chat::v1::ServerEvent::kMessage: {
      bool other_room = event.message().room() != current();
      terminal_.Print(FormatChatMessage(event.message(), other_room, ctx_.style));
      break;
    }
    case chat::v1::ServerEvent::kJoined: {
      const auto& j = event.joined();
      {
        absl::MutexLock lock(&mu_);
        // Rejoins after a reconnect are not news.
        if (!announced_.insert(j.room()).second) break;
      }
      std::vector<std::string> members(j.members().begin(), j.members().end());
      Info(absl::StrCat("joined #", j.room(), " (", j.member_count(), " online: ",
                        Sanitize(absl::StrJoin(members, ", "), false), ")"));
      break;
    }
    case chat::v1::ServerEvent::kMember: {
      const auto& m = event.member();
      if (m.user() == username_) break;
      Info(absl::StrCat(Sanitize(m.user(), false),
                        m.kind() == chat::v1::MemberEvent::JOINED ? " joined #" : " left #", m.room()));
      break;
    }
    case chat::v1::ServerEvent::kError: {
      const auto& e = event.error();
      std::string what = e.event() == "send" ? "message not sent: " : "";
      Error(absl::Status(FromErrorCode(e.code()), absl::StrCat(what, e.message())));
      break;
    }
    default:
      // Acks (the message itself was shown), typing, left (announced locally), ...
      break;
  }
}

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
    rows.push_back({live_.InRoom(r.name()) ? "*" : " ", r.name(), absl::StrCat(r.member_count()),
                    absl::StrCat(r.last_seq())});
  }
  std::string table = FormatTable({" ", "ROOM", "ONLINE", "MESSAGES"}, rows, ctx_.style);
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

int InteractiveSession::Run(const std::string& first_room) {
  if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Fail(absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno))));
  }
  ScopedSignalHandler on_signal([this](int sig) {
    if (sig == SIGWINCH) {
      resized_ = true;
    } else {
      signal_ = sig;
    }
    Wake();
  });
  if (absl::Status s = terminal_.Enter(); !s.ok()) return Fail(s);
  UpdatePrompt();
  if (absl::Status s = JoinRoom(first_room); !s.ok()) {
    terminal_.Restore();
    return Fail(s);
  }
  live_.Start();
  {
    // Input waits for the first room (its backlog shown, its members known), so
    // a script's "/who" right after start sees them. Typing ahead is kept.
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return first_join_done_ || closed_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(15));
  }
  if (terminal_.raw()) Info(absl::StrCat("talking in #", first_room, " as ", username_, "; /help for commands"));

  LineEditor editor;
  std::string pending_input;  // line mode: bytes after the last newline
  bool stdin_open = true;
  bool quit = false;
  while (!quit) {
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int rc = poll(fds, stdin_open ? 2 : 1, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      char buf[64];
      while (read(wake_[0], buf, sizeof buf) > 0) {
      }
      if (signal_.load() != 0) break;
      if (resized_.exchange(false)) terminal_.UpdateSize();
      absl::MutexLock lock(&mu_);
      if (closed_.has_value()) break;
    }
    if (!stdin_open || fds[1].revents == 0) continue;
    char buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // End of input: in a pipe, the script is done; on a terminal, it hung up.
      stdin_open = false;
      if (!pending_input.empty()) quit = !HandleLine(pending_input);
      break;
    }
    if (!terminal_.raw()) {
      pending_input.append(buf, static_cast<size_t>(n));
      size_t nl;
      while (!quit && (nl = pending_input.find('\n')) != std::string::npos) {
        std::string line = pending_input.substr(0, nl);
        pending_input.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        quit = !HandleLine(line);
      }
      continue;
    }
    bool changed = false;
    for (ssize_t i = 0; i < n && !quit; ++i) {
      switch (editor.Feed(buf[i])) {
        case LineEditor::Action::kSubmit: {
          std::string line = editor.TakeLine();
          terminal_.SetInput("");
          changed = false;
          quit = !HandleLine(line);
          break;
        }
        case LineEditor::Action::kEof:
        case LineEditor::Action::kInterrupt:
          quit = true;
          break;
        case LineEditor::Action::kRedraw:
          terminal_.UpdateSize();
          break;
        case LineEditor::Action::kBell:
          terminal_.Bell();
          break;
        case LineEditor::Action::kChanged:
          changed = true;
          break;
        case LineEditor::Action::kNone:
          break;
      }
    }
    if (changed) terminal_.SetInput(editor.buffer());
  }

  // A normal end (not a signal or a dead session): let the last sends land.
  bool unsent = false;
  bool dead;
  {
    absl::MutexLock lock(&mu_);
    dead = closed_.has_value();
  }
  if (signal_.load() == 0 && !dead) unsent = !live_.WaitForSends(absl::Seconds(10));
  live_.Stop();
  live_.WaitUntilClosed();
  terminal_.Restore();

  absl::MutexLock lock(&mu_);
  if (closed_.has_value() && !closed_->ok()) return Fail(*closed_);
  if (unsent) {
    return Fail(absl::UnavailableError("some messages were not acknowledged by chat-core"));
  }
  if (!first_error_.ok()) return ExitCodeFor(first_error_);
  return kExitOk;
}

}  // namespace

int RunInteractive(const Context& ctx) {
  std::string room = ctx.args.args.empty() ? "lobby" : ctx.args.args[0];
  if (ctx.args.implied_join && !chat::ValidateRoomName(room).ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("'", room, "' is neither a command nor a room name (see 'chat --help')")));
  }
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  int64_t backlog = 20;
  if (auto n = ctx.args.Get("lines")) {
    if (!absl::SimpleAtoi(*n, &backlog) || backlog < 0) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--lines must be a number >= 0, not '", *n, "'")));
    }
  }
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  ChatClient client(ctx.servers, credential->token, ctx.client_options);
  // Check the room before touching the terminal, so errors are plain lines.
  auto info = client.GetRoom(room);
  if (!info.ok()) {
    if (ctx.args.implied_join && absl::IsNotFound(info.status())) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "'", room, "' is neither a command nor an existing room (see 'chat --help')")));
    }
    return Fail(info.status());
  }
  bool raw = !ctx.json && isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1;
  InteractiveSession session(ctx, &client, credential->username, raw, backlog);
  return session.Run(room);
}

}  // namespace chat::cli
