#include "cli_test_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "chat/v1/chat.pb.h"

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

void CliTest::SetUp() {
  core_ = CoreProcess::Start(data_.File("chat.db"));
  ASSERT_NE(core_, nullptr);
}

void CliTest::TearDown() {
  if (core_) core_->Stop();
}

RunResult CliTest::Chat(const User& user, std::vector<std::string> args,
                        const std::optional<std::string>& stdin_data,
                        std::map<std::string, std::string> extra_env) {
  args.insert(args.begin(), "--server=" + server());
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
  o.argv = {chat::testing::BinaryPath("chat"), "--server=" + server()};
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
