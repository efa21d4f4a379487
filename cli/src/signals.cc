#include "signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chat::cli {
namespace {

// Guards the handler and the cleanup below. Constant-initialised, so it is
// usable from any static initialiser and never destroyed.
ABSL_CONST_INIT absl::Mutex mu(absl::kConstInit);

std::function<void(int)>& Handler() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
  static auto* handler = new std::function<void(int)>;
  return *handler;
}
std::function<void()>& Cleanup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
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
    absl::MutexLock lock(&mu);
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
  absl::MutexLock lock(&mu);
  previous_ = std::move(Handler());
  Handler() = std::move(handler);
}

ScopedSignalHandler::~ScopedSignalHandler() {
  absl::MutexLock lock(&mu);
  Handler() = std::move(previous_);
}

ScopedExitCleanup::ScopedExitCleanup(std::function<void()> cleanup) {
  absl::MutexLock lock(&mu);
  previous_ = std::move(Cleanup());
  Cleanup() = std::move(cleanup);
}

ScopedExitCleanup::~ScopedExitCleanup() {
  absl::MutexLock lock(&mu);
  Cleanup() = std::move(previous_);
}

}  // namespace chat::cli
