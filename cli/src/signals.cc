#include "signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace chat::cli {
namespace {

std::mutex& Mu() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
std::function<void(int)>& Handler() {
  static auto* handler = new std::function<void(int)>;
  return *handler;
}
std::function<void()>& Cleanup() {
  static auto* cleanup = new std::function<void()>;
  return *cleanup;
}

sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGWINCH);
  return set;
}

void SignalLoop() {
  sigset_t set = WatchedSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    // Handlers run under the lock, so a ScopedSignalHandler's destructor waits
    // for a running handler (handlers only set flags and wake threads).
    std::lock_guard<std::mutex> lock(Mu());
    if (Handler()) {
      Handler()(sig);
      continue;
    }
    if (sig == SIGWINCH) continue;
    if (Cleanup()) Cleanup()();
    // Conventional status for death by signal; stdout may hold half a line.
    _exit(128 + sig);
  }
}

}  // namespace

void InstallSignalThread() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(SignalLoop).detach();
}

ScopedSignalHandler::ScopedSignalHandler(std::function<void(int)> handler) {
  std::lock_guard<std::mutex> lock(Mu());
  previous_ = std::move(Handler());
  Handler() = std::move(handler);
}

ScopedSignalHandler::~ScopedSignalHandler() {
  std::lock_guard<std::mutex> lock(Mu());
  Handler() = std::move(previous_);
}

ScopedExitCleanup::ScopedExitCleanup(std::function<void()> cleanup) {
  std::lock_guard<std::mutex> lock(Mu());
  previous_ = std::move(Cleanup());
  Cleanup() = std::move(cleanup);
}

ScopedExitCleanup::~ScopedExitCleanup() {
  std::lock_guard<std::mutex> lock(Mu());
  Cleanup() = std::move(previous_);
}

}  // namespace chat::cli
