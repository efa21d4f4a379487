#include "cli_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::map<std::string, std::string> CliEnv(const User& user) {
  return {{"XDG_CONFIG_HOME", user.config->path()},
          {"HOME", user.config->path()},
          {"CHAT_SERVER", ""},
          {"CHAT_PASSWORD", ""},
          {"NO_COLOR", ""},
          {"TZ", "UTC"}};
}

RunResult RunChat(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                  const std::optional<std::string>& stdin_data, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {chat::testing::BinaryPath("chat")};
  argv.insert(argv.end(), args.begin(), args.end());
  return chat::testing::RunCommand(argv, env, stdin_data, timeout);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

void ExpectOneLineError(const RunResult& r) {
  EXPECT_THAT(r.err, ::testing::StartsWith("chat: "));
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
}

std::vector<chat::v1::Message> ReadUntilSeq(ChildProcess* tail, int64_t seq,
                                            std::chrono::milliseconds timeout) {
  std::vector<chat::v1::Message> out;
  for (;;) {
    auto line = tail->WaitForLine("{", timeout);
    if (!line) {
      ADD_FAILURE() << "no message #" << seq << "; stdout:\n"
                    << tail->stdout_text() << "\nstderr:\n" << tail->stderr_text();
      return out;
    }
    out.push_back(ParseJson<chat::v1::Message>(*line));
    if (out.back().seq() >= seq) return out;
  }
}

void ReadUntilSeq(ChildProcess* tail, int64_t seq, std::vector<chat::v1::Message>* seen) {
  std::vector<chat::v1::Message> more = ReadUntilSeq(tail, seq);
  seen->insert(seen->end(), more.begin(), more.end());
}

std::vector<int64_t> Seqs(const std::vector<chat::v1::Message>& messages) {
  std::vector<int64_t> seqs;
  for (const auto& m : messages) seqs.push_back(m.seq());
  return seqs;
}

std::string LastLine(const std::string& screen) {
  std::vector<std::string> lines = Lines(screen);
  while (!lines.empty() && absl::StripTrailingAsciiWhitespace(lines.back()).empty()) lines.pop_back();
  return lines.empty() ? "" : std::string(absl::StripTrailingAsciiWhitespace(lines.back()));
}

namespace {

// Binds a TCP socket to 127.0.0.1:port (0: any); returns it, or -1.
int BindLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

// The first port of the kernel's ephemeral range (outgoing connections).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

}  // namespace

std::unique_ptr<HeldPort> HeldPort::Open(bool listen) {
  std::unique_ptr<HeldPort> held(new HeldPort());
  if (listen) {
    held->fd_ = BindLoopback(0);
    if (held->fd_ >= 0 && ::listen(held->fd_, 64) != 0) held->Release();
  } else {
    // A random free port below the ephemeral range (and above 10000, away from
    // the usual fixed ports when the range allows).
    int high = EphemeralLow();
    int low = high > 12000 ? 10000 : 1024;
    std::mt19937 random(std::random_device{}());
    for (int attempt = 0; attempt < 200 && held->fd_ < 0 && high > low; ++attempt) {
      held->fd_ = BindLoopback(std::uniform_int_distribution<int>(low, high - 1)(random));
    }
  }
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (held->fd_ < 0 || getsockname(held->fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot hold a port: " << std::strerror(errno);
    return held;
  }
  held->port_ = ntohs(addr.sin_port);
  return held;
}

HeldPort::~HeldPort() { Release(); }

std::string HeldPort::address() const { return absl::StrCat("127.0.0.1:", port_); }

void HeldPort::Release() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void CliTest::SetUp() {
  core_ = CoreProcess::Start(data_.File("chat.db"));
  ASSERT_NE(core_, nullptr);
}

void CliTest::TearDown() {
  if (core_) core_->Stop();
}

void CliTest::UseTwoNodes() {
  first_node_ = server();
  second_port_ = HeldPort::Refusing();
  server_list_ = absl::StrCat(first_node_, ",", second_port_->address());
}

void CliTest::StartSecondNode() {
  second_port_->Release();
  core_ = CoreProcess::Start(data_.File("chat.db"), {}, second_port_->port());
  ASSERT_NE(core_, nullptr);
  ASSERT_EQ(server(), second_port_->address());
}

RunResult CliTest::Chat(const User& user, std::vector<std::string> args,
                        const std::optional<std::string>& stdin_data,
                        std::map<std::string, std::string> extra_env) {
  args.insert(args.begin(), "--server=" + ServerFlag());
  auto env = CliEnv(user);
  for (auto& [k, v] : extra_env) env[k] = v;
  return RunChat(args, env, stdin_data);
}

void CliTest::Login(const User& user) {
  RunResult reg = Chat(user, {"register", user.name, "--password-stdin"}, std::string(kPassword) + "\n");
  ASSERT_TRUE(reg.exit_code == 0 || reg.exit_code == 6) << reg.err;
  RunResult login = Chat(user, {"login", user.name}, std::nullopt, {{"CHAT_PASSWORD", kPassword}});
  ASSERT_EQ(login.exit_code, 0) << login.err;
}

void CliTest::CreateRoom(const User& user, const std::string& room) {
  RunResult r = Chat(user, {"create", room});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

int64_t CliTest::Send(const User& user, const std::string& room, const std::string& text) {
  RunResult r = Chat(user, {"send", "--json", room, text});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto response = ParseJson<chat::v1::SendMessageResponse>(r.out);
  return response.message().seq();
}

std::unique_ptr<ChildProcess> CliTest::Start(const User& user, std::vector<std::string> args) {
  ChildProcess::Options o;
  o.argv = {chat::testing::BinaryPath("chat"), "--server=" + ServerFlag()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = CliEnv(user);
  o.capture_stderr = true;
  return ChildProcess::Start(o);
}

void CliTest::RestartCore(bool kill9) {
  int port = core_->port();
  if (kill9) {
    core_->Kill9();
  } else {
    EXPECT_EQ(core_->Stop(), 0);
  }
  core_ = CoreProcess::Start(data_.File("chat.db"), {}, port);
  ASSERT_NE(core_, nullptr);
}

bool Tmux::Available() { return !FindInPath("tmux").empty(); }

Tmux::Tmux() {
  static std::atomic<int> counter{0};
  socket_ = absl::StrCat("chat-cli-test-", getpid(), "-", counter++);
}

Tmux::~Tmux() { Run({"kill-server"}); }

RunResult Tmux::Run(std::vector<std::string> args) {
  std::vector<std::string> argv = {FindInPath("tmux"), "-L", socket_, "-f", "/dev/null"};
  argv.insert(argv.end(), args.begin(), args.end());
  return chat::testing::RunCommand(argv, {}, std::nullopt, 10s);
}

bool Tmux::Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  std::vector<std::string> parts = {"exec", "env"};
  for (const auto& [k, v] : env) parts.push_back(ShellQuote(k + "=" + v));
  parts.push_back("sh");
  parts.push_back("-c");
  std::vector<std::string> quoted;
  for (const auto& a : argv) quoted.push_back(ShellQuote(a));
  parts.push_back(ShellQuote(absl::StrCat(absl::StrJoin(quoted, " "),
                                          "; echo \"[exit $?]\"; exec sleep 600")));
  RunResult r = Run({"new-session", "-d", "-s", "main", "-x", "100", "-y", "30",
                     absl::StrJoin(parts, " ")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0;
}

void Tmux::Type(const std::string& text) { Run({"send-keys", "-t", "main", "-l", text}); }

void Tmux::Keys(const std::vector<std::string>& keys) {
  std::vector<std::string> args = {"send-keys", "-t", "main"};
  args.insert(args.end(), keys.begin(), keys.end());
  Run(args);
}

std::string Tmux::Screen() { return Run({"capture-pane", "-p", "-t", "main"}).out; }

std::vector<std::string> Tmux::ScreenLines() {
  std::vector<std::string> lines = Lines(Screen());
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::optional<std::string> Tmux::WaitFor(const std::function<bool(const std::string&)>& pred,
                                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string screen;
  for (;;) {
    screen = Screen();
    if (pred(screen)) return screen;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(30ms);
  }
  ADD_FAILURE() << "timed out; the screen is:\n" << screen;
  return std::nullopt;
}

std::optional<std::string> Tmux::WaitForText(const std::string& text,
                                             std::chrono::milliseconds timeout) {
  return WaitFor([&](const std::string& s) { return s.find(text) != std::string::npos; }, timeout);
}

void Tmux::Resize(int columns, int rows) {
  Run({"resize-window", "-t", "main", "-x", std::to_string(columns), "-y", std::to_string(rows)});
}

}  // namespace chat::cli::testing
