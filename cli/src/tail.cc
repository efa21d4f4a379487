// `chat tail ROOM...`: live messages, resumed after drops.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "app.h"
#include "chat/json_codec.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "client.h"
#include "exit_codes.h"
#include "live_client.h"
#include "signals.h"

namespace chat::cli {
namespace {

// Prints what the LiveClient delivers. Threading: callbacks on the dispatcher
// thread; result() after the LiveClient has closed. Lifetime: outlives the
// LiveClient it observes.
class TailPrinter : public LiveObserver {
 public:
  TailPrinter(const Context& ctx, bool many_rooms) : ctx_(ctx) {
    layout_.with_room = many_rooms;
  }

  void set_client(LiveClient* client) { client_ = client; }

  void OnEvent(const chat::v1::ServerEvent& event) override {
    if (event.has_message()) {
      const auto& m = event.message();
      std::string line;
      if (ctx_.json) {
        line = chat::ToJson(m);
      } else {
        layout_.author_width = std::max(layout_.author_width, DisplayWidth(m.author()));
        layout_.seq_width = std::max(layout_.seq_width, absl::StrCat("#", m.seq()).size());
        line = FormatMessage(m, layout_, ctx_.style);
      }
      if (!PrintOut(absl::StrCat(line, "\n"))) {
        // Whoever reads us is gone (e.g. `chat tail | head`): stop quietly.
        client_->Stop();
      }
    } else if (event.has_error()) {
      const auto& e = event.error();
      absl::Status status(FromErrorCode(e.code()),
                          e.room().empty() ? e.message() : absl::StrCat(e.room(), ": ", e.message()));
      if (e.event() == "join") {
        // The room cannot be followed (deleted? no access?): give up.
        Finish(status);
      } else {
        Fail(status);
      }
    }
  }

  // Connection notices go to stderr, so stdout stays pure messages.
  void OnDisconnected(const absl::Status& status, const std::string& next) override {
    Notice(absl::StrCat("connection lost (", status.message(), "); reconnecting to ", next));
  }
  void OnReconnected(const std::string& address) override {
    Notice(absl::StrCat("reconnected to ", address, "; resuming after the last message shown"));
  }
  void OnNotice(const std::string& text) override { Notice(text); }
  void OnClosed(const absl::Status& status) override { Finish(status); }

  absl::Status result() {
    absl::MutexLock lock(&mu_);
    return result_;
  }

 private:
  static void Notice(const std::string& text) {
    std::string line = absl::StrCat("chat: ", OneLine(text), "\n");
    ssize_t unused = write(STDERR_FILENO, line.data(), line.size());
    (void)unused;
  }

  void Finish(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (result_.ok()) result_ = status;
    }
    client_->Stop();
  }

  const Context& ctx_;
  LiveClient* client_ = nullptr;
  MessageLayout layout_;
  absl::Mutex mu_;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

int RunTail(const Context& ctx) {
  const auto& rooms = ctx.args.args;
  for (const auto& room : rooms) {
    if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  }
  int64_t backlog = 10;
  std::optional<int64_t> since;
  if (auto n = ctx.args.Get("lines")) {
    if (!absl::SimpleAtoi(*n, &backlog) || backlog < 0) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--lines must be a number >= 0, not '", *n, "'")));
    }
  }
  if (auto s = ctx.args.Get("since")) {
    int64_t value;
    if (!absl::SimpleAtoi(*s, &value) || value < 0) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--since must be a seq >= 0, not '", *s, "'")));
    }
    since = value;
  }
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return Fail(credential.status());
  ChatClient client(ctx.servers, credential->token, ctx.client_options);

  // Where each room starts: --since, or N back from its newest message. Asking
  // first also turns a missing room or a dead server into a clear error.
  std::vector<std::pair<std::string, int64_t>> starts;
  for (const auto& room : rooms) {
    auto info = client.GetRoom(room);
    if (!info.ok()) return Fail(info.status());
    int64_t start = since ? *since : std::max<int64_t>(0, info->last_seq() - backlog);
    if (start > info->last_seq()) {
      return Fail(absl::OutOfRangeError(absl::StrCat("--since ", start, " is ahead of ", room,
                                                     "'s newest message (#", info->last_seq(), ")")));
    }
    starts.emplace_back(room, start);
  }

  TailPrinter printer(ctx, rooms.size() > 1);
  LiveClient live(&client, &printer);
  printer.set_client(&live);
  // Ctrl-C and SIGTERM are the normal way to end tail.
  ScopedSignalHandler on_signal([&live](int sig) {
    if (sig != SIGWINCH) live.Stop();
  });
  for (const auto& [room, start] : starts) live.Join(room, start);
  live.Start();
  live.WaitUntilClosed();
  return printer.result().ok() ? kExitOk : Fail(printer.result());
}

}  // namespace chat::cli
