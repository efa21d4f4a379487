// InteractiveSession: the interactive mode of `chat` (`chat ROOM`), shared by
// interactive.cc (the input loop and live events) and interactive_commands.cc
// (what a typed line does: sending, /join, /leave, /rooms, /who, ...).
#ifndef CHAT_CLI_SRC_INTERACTIVE_SESSION_H_
#define CHAT_CLI_SRC_INTERACTIVE_SESSION_H_

#include <unistd.h>

#include <atomic>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "app.h"
#include "client.h"
#include "event_narrator.h"
#include "live_client.h"
#include "terminal.h"

namespace chat::cli {

// One interactive session: the input loop on the calling thread, events from
// the LiveClient printed above the input line.
//
// Threading: Run() on the main thread; LiveObserver callbacks on the LiveClient
// dispatcher; the signal handler on the signal thread. Shared state is under mu_
// or atomic. Lifetime: Run() returns after the LiveClient has stopped.
class InteractiveSession : public LiveObserver {
 public:
  // `credential`: whose session it is (its expiry is saved when renewed).
  InteractiveSession(const Context& ctx, ChatClient* client, Credential credential, bool raw,
                     int64_t backlog)
      : ctx_(ctx),
        client_(client),
        credential_(std::move(credential)),
        username_(credential_.username),
        backlog_(backlog),
        terminal_(raw),
        narrator_(username_),
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
  void Members(const std::string& room);
  void RespondInvite(const std::string& room, bool accept);
  // chat-core ended the session in `room` (kicked, banned, deleted).
  void PutOut(const std::string& room);

  const Context& ctx_;
  ChatClient* const client_;
  const Credential credential_;
  const std::string username_;
  const int64_t backlog_;
  Terminal terminal_;
  EventNarrator narrator_;
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

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_INTERACTIVE_SESSION_H_
