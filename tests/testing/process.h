// Real processes for end-to-end tests: start a binary, read its stdout line by
// line with a deadline, signal it, reap it. Used to run the real chat-core,
// ws-bridge and chat binaries.
//
// Threading: one test thread per object. Lifetime: the destructor kills (SIGKILL)
// and reaps a child that is still running.
#ifndef CHAT_TESTS_TESTING_PROCESS_H_
#define CHAT_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chat::testing {

// The directory holding the built binaries (chat-core/, ws-bridge/, cli/ under it).
std::string BuildDir();
// bin: "chat-core", "ws-bridge" or "chat".
std::string BinaryPath(const std::string& bin);

// A loopback port nothing listens on now, for a server a test starts later on
// it (or never). Taken below the kernel's ephemeral range, so that other
// tests' port-0 listeners and outgoing connections cannot take it meanwhile.
int PortForLater();

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;
    // Added to (or replacing in) the parent's environment.
    std::map<std::string, std::string> env;
    // Written to the child's stdin, then stdin is closed (nullopt: /dev/null).
    std::optional<std::string> stdin_data;
    // Capture stderr too (else it goes to the test's stderr).
    bool capture_stderr = false;
    // When the tests run as root (as CI does), chat-core and ws-bridge get
    // --allow_root right after argv[0], since they refuse root without it.
    // false: start them exactly as given (the test of that refusal).
    bool allow_root = true;
  };

  static std::unique_ptr<ChildProcess> Start(Options options);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The next stdout line starting with `prefix` (earlier lines are kept in
  // stdout()); nullopt at EOF or timeout.
  std::optional<std::string> WaitForLine(const std::string& prefix,
                                         std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Waits for exit; returns the exit code (128 + signal if killed), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Everything read so far, after Wait() all of it.
  const std::string& stdout_text() const { return out_; }
  const std::string& stderr_text() const { return err_; }

 private:
  ChildProcess() = default;
  bool ReadSome(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  size_t scanned_ = 0;
  std::optional<int> exit_code_;
};

// Runs a command to completion (with stdin), capturing stdout and stderr.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult RunCommand(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env = {},
                     const std::optional<std::string>& stdin_data = std::nullopt,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The real chat-core binary on port 0 with a database file.
class CoreProcess {
 public:
  // Starts `chat-core --listen=127.0.0.1:<port> --db=<db>` plus extra flags;
  // port 0 picks a free one. Aborts the test on failure.
  static std::unique_ptr<CoreProcess> Start(const std::string& db, std::vector<std::string> extra_flags = {},
                                            int port = 0);
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  ChildProcess* process() { return process_.get(); }
  // SIGKILL, no goodbye.
  void Kill9();
  // SIGTERM and wait; returns the exit code.
  int Stop();

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
  int port_ = 0;
};

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_PROCESS_H_
