#include "process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "gtest/gtest.h"

extern char** environ;

namespace chat::testing {

int PortForLater() {
  int ephemeral_low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> ephemeral_low;
  const int low = 10000, high = std::max(low + 1000, ephemeral_low);
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = std::uniform_int_distribution<int>(low, high - 1)(rng);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (free) return port;
  }
  ADD_FAILURE() << "no free port below " << high;
  return 0;
}

#ifndef CHAT_BUILD_DIR
#error "CHAT_BUILD_DIR must be defined by CMake"
#endif

std::string BuildDir() {
  if (const char* env = std::getenv("CHAT_BUILD_DIR")) return env;
  return CHAT_BUILD_DIR;
}

std::string BinaryPath(const std::string& bin) {
  if (bin == "chat-core") return BuildDir() + "/chat-core/chat-core";
  if (bin == "ws-bridge") return BuildDir() + "/ws-bridge/ws-bridge";
  if (bin == "chat") return BuildDir() + "/cli/chat";
  return BuildDir() + "/" + bin;
}

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "chat-test-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::unique_ptr<ChildProcess> ChildProcess::Start(Options options) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(in_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return nullptr;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdin_data) {
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (options.capture_stderr) posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  if (options.allow_root && geteuid() == 0 && !options.argv.empty()) {
    std::string name = std::filesystem::path(options.argv[0]).filename().string();
    if (name == "chat-core" || name == "ws-bridge") options.argv.insert(options.argv.begin() + 1, "--allow_root");
  }
  std::vector<char*> argv;
  for (auto& a : options.argv) argv.push_back(a.data());
  argv.push_back(nullptr);

  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  int rc = posix_spawn(&child->pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(in_pipe[0]);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << options.argv[0] << ": " << std::strerror(rc);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(in_pipe[1]);
    return nullptr;
  }
  if (options.stdin_data) {
    // Small inputs only: written whole before the child reads.
    size_t off = 0;
    signal(SIGPIPE, SIG_IGN);
    while (off < options.stdin_data->size()) {
      ssize_t n = write(in_pipe[1], options.stdin_data->data() + off, options.stdin_data->size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
  close(in_pipe[1]);
  child->out_fd_ = out_pipe[0];
  if (options.capture_stderr) {
    child->err_fd_ = err_pipe[0];
  } else {
    close(err_pipe[0]);
  }
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

bool ChildProcess::ReadSome(std::chrono::milliseconds timeout) {
  pollfd fds[2];
  int n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) return false;
  int rc = poll(fds, n, static_cast<int>(timeout.count()));
  if (rc < 0 && errno == EINTR) return true;  // try again
  if (rc <= 0) return false;
  bool any = false;
  for (int i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    char buf[65536];
    ssize_t got = read(fds[i].fd, buf, sizeof buf);
    bool is_out = fds[i].fd == out_fd_;
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got > 0) {
      (is_out ? out_ : err_).append(buf, static_cast<size_t>(got));
      any = true;
    } else {
      close(fds[i].fd);
      (is_out ? out_fd_ : err_fd_) = -1;
      any = true;
    }
  }
  return any;
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& prefix,
                                                     std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl;
    while ((nl = out_.find('\n', scanned_)) != std::string::npos) {
      std::string line = out_.substr(scanned_, nl - scanned_);
      scanned_ = nl + 1;
      if (line.rfind(prefix, 0) == 0) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (out_fd_ < 0 && err_fd_ < 0)) return std::nullopt;
    if (!ReadSome(left) && out_fd_ < 0) return std::nullopt;
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) kill(pid_, sig);
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Keep draining the pipes so the child never blocks on a full one.
    while (ReadSome(std::chrono::milliseconds(0))) {
    }
    int status;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      while (ReadSome(std::chrono::milliseconds(50))) {
      }
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    ReadSome(std::chrono::milliseconds(10));
    if (out_fd_ < 0 && err_fd_ < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

RunResult RunCommand(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env,
                     const std::optional<std::string>& stdin_data,
                     std::chrono::milliseconds timeout) {
  ChildProcess::Options o;
  o.argv = argv;
  o.env = env;
  o.stdin_data = stdin_data;
  o.capture_stderr = true;
  auto child = ChildProcess::Start(o);
  RunResult r;
  if (!child) return r;
  auto code = child->Wait(timeout);
  if (!code) {
    ADD_FAILURE() << argv[0] << " did not exit within " << timeout.count() << " ms";
    child->Signal(SIGKILL);
    code = child->Wait(std::chrono::seconds(5));
  }
  r.exit_code = code.value_or(-1);
  r.out = child->stdout_text();
  r.err = child->stderr_text();
  return r;
}

std::unique_ptr<CoreProcess> CoreProcess::Start(const std::string& db,
                                                std::vector<std::string> extra_flags, int port) {
  ChildProcess::Options o;
  o.argv = {BinaryPath("chat-core"), "--listen=127.0.0.1:" + std::to_string(port), "--db=" + db,
            "--pwhash_memlimit_kib=64", "--pwhash_opslimit=1", "--log_level=debug"};
  for (auto& f : extra_flags) o.argv.push_back(std::move(f));
  auto p = std::unique_ptr<CoreProcess>(new CoreProcess());
  p->process_ = ChildProcess::Start(o);
  if (!p->process_) return nullptr;
  auto line = p->process_->WaitForLine("chat-core listening on ", std::chrono::seconds(20));
  if (!line) {
    ADD_FAILURE() << "chat-core did not start: " << p->process_->stdout_text();
    return nullptr;
  }
  p->address_ = line->substr(std::strlen("chat-core listening on "));
  p->port_ = std::stoi(p->address_.substr(p->address_.rfind(':') + 1));
  return p;
}

void CoreProcess::Kill9() {
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

int CoreProcess::Stop() {
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(15)).value_or(-1);
}

}  // namespace chat::testing
