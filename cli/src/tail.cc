// `chat tail ROOM...`: live messages, resumed after drops.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/match.h"
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
#include "room_text.h"
#include "signals.h"

namespace chat::cli {
namespace {

// Prints what the LiveClient delivers: messages (and deletions, as tombstones)
// on stdout, what else happens in the rooms followed on stderr.
// Threading: callbacks on the dispatcher thread; result() after the LiveClient
// has closed. Lifetime: outlives the LiveClient it observes.
class TailPrinter : public LiveObserver {
 public:
  // `rooms`: the rooms followed, as GetRoom described them; `credential`:
  // whose session (its expiry is saved when chat-core renews it).
  TailPrinter(const Context& ctx, std::map<std::string, chat::v1::Room> rooms, Credential credential)
      : ctx_(ctx), rooms_(std::move(rooms)), credential_(std::move(credential)), me_(credential_.username) {
    layout_.with_room = rooms_.size() > 1;
  }

  void set_client(LiveClient* client) { client_ = client; }

  void OnEvent(const chat::v1::ServerEvent& event) override {
    if (event.has_message()) {
      const auto& m = event.message();
      std::string line;
      if (ctx_.json) {
        line = chat::ToJson(m);
      } else {
        layout_.author_width = std::max(layout_.author_width, AuthorWidth(m));
        layout_.seq_width = std::max(layout_.seq_width, absl::StrCat("#", m.seq()).size());
        line = FormatMessage(m, layout_, ctx_.style);
      }
      Print(line);
    } else if (event.has_message_deleted()) {
      const auto& d = event.message_deleted();
      if (ctx_.json) {
        // The tombstone, as history shows it from now on.
        chat::v1::Message tombstone;
        tombstone.set_room(d.room());
        tombstone.set_seq(d.seq());
        tombstone.set_deleted(true);
        Print(chat::ToJson(tombstone));
      } else {
        layout_.seq_width = std::max(layout_.seq_width, absl::StrCat("#", d.seq()).size());
        Print(FormatDeletion(d, layout_, ctx_.style));
      }
    } else if (event.has_membership()) {
      const auto& m = event.membership();
      if (rooms_.count(m.room()) == 0) return;  // another room of the user's
      // Being put out of a followed room is told by the `left` that follows.
      bool about_me = absl::EqualsIgnoreCase(m.user(), me_);
      if (about_me && (m.kind() == chat::v1::MembershipEvent::KICKED ||
                       m.kind() == chat::v1::MembershipEvent::BANNED ||
                       m.kind() == chat::v1::MembershipEvent::LEFT)) {
        return;
      }
      Notice(DescribeMembership(m, me_));
    } else if (event.has_room_changed()) {
      const auto& changed = event.room_changed();
      auto it = rooms_.find(changed.room().name());
      if (it == rooms_.end() || changed.kind() != chat::v1::RoomChanged::UPDATED) return;
      for (const auto& sentence : DescribeRoomUpdate(&it->second, changed.room())) Notice(sentence);
      it->second = changed.room();
    } else if (event.has_left() && !event.left().reason().empty()) {
      OnPutOut(event.left());
    } else if (event.has_session_renewed()) {
      // tail keeps running past the old expiry; later commands must know it too.
      RememberExpiry(credential_, event.session_renewed().expires_at());
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

  // chat-core ended the session in a room: tail goes on with the other rooms;
  // when none is left it ends, with the status of the first room it was put
  // out of (your own `chat leave` is no error).
  void OnPutOut(const chat::v1::Left& left) {
    if (rooms_.erase(left.room()) == 0) return;
    absl::Status status = LeftStatus(left);
    if (!status.ok() && put_out_.ok()) put_out_ = status;
    Notice(DescribeLeft(left));
    if (rooms_.empty()) Finish(put_out_, /*told=*/true);
  }

  absl::Status result() {
    absl::MutexLock lock(&mu_);
    return result_;
  }
  // Whether result() was already told on stderr.
  bool result_told() {
    absl::MutexLock lock(&mu_);
    return result_told_;
  }

 private:
  static void Notice(const std::string& text) {
    std::string line = absl::StrCat("chat: ", OneLine(text), "\n");
    ssize_t unused = write(STDERR_FILENO, line.data(), line.size());
    (void)unused;
  }

  void Finish(const absl::Status& status, bool told = false) {
    {
      absl::MutexLock lock(&mu_);
      if (result_.ok()) {
        result_ = status;
        result_told_ = told;
      }
    }
    client_->Stop();
  }

  void Print(const std::string& line) {
    if (!PrintOut(absl::StrCat(line, "\n"))) {
      // Whoever reads us is gone (e.g. `chat tail | head`): stop quietly.
      client_->Stop();
    }
  }

  const Context& ctx_;
  // The rooms still followed, as last described by chat-core.
  std::map<std::string, chat::v1::Room> rooms_;
  const Credential credential_;
  const std::string me_;
  absl::Status put_out_;
  LiveClient* client_ = nullptr;
  MessageLayout layout_;
  absl::Mutex mu_;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
  bool result_told_ ABSL_GUARDED_BY(mu_) = false;
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
  std::map<std::string, chat::v1::Room> infos;
  for (const auto& room : rooms) {
    auto info = client.GetRoom(room);
    if (!info.ok()) return Fail(info.status());
    int64_t start = since ? *since : std::max<int64_t>(0, info->last_seq() - backlog);
    if (start > info->last_seq()) {
      return Fail(absl::OutOfRangeError(absl::StrCat("--since ", start, " is ahead of ", room,
                                                     "'s newest message (#", info->last_seq(), ")")));
    }
    starts.emplace_back(room, start);
    infos[room] = *std::move(info);
  }

  TailPrinter printer(ctx, std::move(infos), *credential);
  LiveClient live(&client, &printer);
  printer.set_client(&live);
  // Ctrl-C and SIGTERM are the normal way to end tail.
  ScopedSignalHandler on_signal([&live](int sig) {
    if (sig != SIGWINCH) live.Stop();
  });
  for (const auto& [room, start] : starts) live.Join(room, start);
  live.Start();
  live.WaitUntilClosed();
  absl::Status result = printer.result();
  if (result.ok()) return kExitOk;
  return printer.result_told() ? ExitCodeFor(result) : Fail(result);
}

}  // namespace chat::cli
