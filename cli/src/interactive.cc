// `chat ROOM` / `chat join ROOM`: the interactive mode: its input loop and how
// it shows live events (the typed commands: interactive_commands.cc).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "app.h"
#include "chat/json_codec.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "exit_codes.h"
#include "interactive_session.h"
#include "line_editor.h"
#include "signals.h"

namespace chat::cli {

void InteractiveSession::OnEvent(const chat::v1::ServerEvent& event) {
  if (event.has_joined() || (event.has_error() && event.error().event() == "join")) {
    absl::MutexLock lock(&mu_);
    first_join_done_ = true;
  }
  // The session lives on past its old expiry: later commands must know.
  if (event.has_session_renewed()) RememberExpiry(credential_, event.session_renewed().expires_at());
  if (ctx_.json) {
    terminal_.Print(chat::ToJson(event));
    return;
  }
  switch (event.event_case()) {
    case chat::v1::ServerEvent::kMessage: {
      narrator_.SawMessage(event.message());
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
    case chat::v1::ServerEvent::kMembership:
    case chat::v1::ServerEvent::kRoomChanged:
    case chat::v1::ServerEvent::kMessageDeleted:
    case chat::v1::ServerEvent::kLeft:
      for (const auto& line : narrator_.Narrate(event)) Info(line);
      if (event.has_left() && !event.left().reason().empty()) PutOut(event.left().room());
      break;
    default:
      // Acks (the message itself was shown), typing, ...
      break;
  }
}

void InteractiveSession::PutOut(const std::string& room) {
  {
    absl::MutexLock lock(&mu_);
    announced_.erase(room);
  }
  // The LiveClient has dropped the room already.
  if (room != current()) return;
  std::vector<std::string> rooms = live_.Rooms();
  SetCurrent(rooms.empty() ? "" : rooms[0]);
  Info(rooms.empty() ? std::string("not in any room now (/join ROOM)") : absl::StrCat("now talking in #", rooms[0]));
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
  InteractiveSession session(ctx, &client, *credential, raw, backlog);
  return session.Run(room);
}

}  // namespace chat::cli
