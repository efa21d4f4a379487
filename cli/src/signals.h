// Signals for the whole process: SIGINT, SIGTERM, SIGHUP and SIGWINCH are
// blocked in every thread (call InstallSignalThread() first thing in main, before
// gRPC starts threads) and taken by one thread with sigwait(), which runs the
// current handler. Without a handler SIGINT/SIGTERM/SIGHUP exit at once (after
// running the registered cleanup, e.g. restoring the terminal) and SIGWINCH is
// ignored. SIGPIPE is ignored: writes to a closed pipe fail with EPIPE instead.
//
// Threading: thread-safe; handlers run on the signal thread. Lifetime: the
// thread lives until the process exits; a ScopedSignalHandler uninstalls its
// handler when destroyed.
#ifndef CHAT_CLI_SRC_SIGNALS_H_
#define CHAT_CLI_SRC_SIGNALS_H_

#include <functional>

namespace chat::cli {

void InstallSignalThread();

// While alive, `handler(signo)` runs for the signals instead of the default.
class ScopedSignalHandler {
 public:
  explicit ScopedSignalHandler(std::function<void(int)> handler);
  ~ScopedSignalHandler();
  ScopedSignalHandler(const ScopedSignalHandler&) = delete;
  ScopedSignalHandler& operator=(const ScopedSignalHandler&) = delete;

 private:
  std::function<void(int)> previous_;
};

// While alive, `cleanup` runs before the default handler exits the process
// (e.g. to turn echo back on during a password prompt).
class ScopedExitCleanup {
 public:
  explicit ScopedExitCleanup(std::function<void()> cleanup);
  ~ScopedExitCleanup();
  ScopedExitCleanup(const ScopedExitCleanup&) = delete;
  ScopedExitCleanup& operator=(const ScopedExitCleanup&) = delete;

 private:
  std::function<void()> previous_;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_SIGNALS_H_
