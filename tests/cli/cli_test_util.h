// Helpers for end-to-end tests of the `chat` binary: a real chat-core per test
// (or two nodes of one, used one after the other), users with their own config
// directory (XDG_CONFIG_HOME), running `chat` to completion or in the
// background, and a tmux session to drive the interactive mode through a real
// pseudo-terminal.
//
// Threading: one test thread. Lifetime: a CliTest owns its chat-core (stopped in
// TearDown); a Tmux object kills its tmux server when destroyed; a HeldPort
// closes its socket when released or destroyed.
#ifndef CHAT_TESTS_CLI_CLI_TEST_UTIL_H_
#define CHAT_TESTS_CLI_CLI_TEST_UTIL_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/json_codec.h"
#include "chat/v1/chat.pb.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::cli::testing {

using chat::testing::ChildProcess;
using chat::testing::CoreProcess;
using chat::testing::RunResult;
using chat::testing::TempDir;
using namespace std::chrono_literals;

inline constexpr char kPassword[] = "correct horse battery";

// A user of the CLI: a name and a private config directory.
struct User {
  explicit User(std::string n) : name(std::move(n)), config(std::make_unique<TempDir>()) {}
  std::string name;
  std::unique_ptr<TempDir> config;
  std::string CredentialsPath() const { return config->path() + "/chat/credentials"; }
};

// The environment `chat` runs with: only the given config dir, no inherited
// CHAT_* settings, no colours unless asked.
std::map<std::string, std::string> CliEnv(const User& user);

// Runs the chat binary (argv without the program name).
RunResult RunChat(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                  const std::optional<std::string>& stdin_data = std::nullopt,
                  std::chrono::milliseconds timeout = 30s);

// The lines of `text` (without the trailing empty one).
std::vector<std::string> Lines(const std::string& text);

// Parses one JSON line into a message of type T, failing the test if it does not parse.
template <typename T>
T ParseJson(const std::string& line) {
  T message;
  absl::Status status = chat::FromJson(line, &message);
  EXPECT_TRUE(status.ok()) << status << " in: " << line;
  return message;
}

// An error is exactly one line on stderr, starting with "chat: ".
void ExpectOneLineError(const RunResult& r);

// Reads tail's JSON lines until one with `seq` arrives; returns every message read.
std::vector<chat::v1::Message> ReadUntilSeq(ChildProcess* tail, int64_t seq,
                                            std::chrono::milliseconds timeout = 15s);
// The same, adding them to *seen.
void ReadUntilSeq(ChildProcess* tail, int64_t seq, std::vector<chat::v1::Message>* seen);
std::vector<int64_t> Seqs(const std::vector<chat::v1::Message>& messages);

// The last non-empty line of a tmux screen, without trailing spaces.
std::string LastLine(const std::string& screen);

// A TCP socket on 127.0.0.1, to stand in for a node that is down or hangs.
// Threading: one test thread. Lifetime: held until Release() or destruction.
class HeldPort {
 public:
  // Only bound: connecting is refused, as to a node that is down, and the port
  // stays free for a chat-core started there after Release(). The port is below
  // the kernel's ephemeral range, so no outgoing connection of another process
  // on this machine can take it between Release() and chat-core's bind.
  static std::unique_ptr<HeldPort> Refusing() { return Open(false); }
  // Listening: the kernel accepts connections, but nothing ever reads or
  // answers them, as on a node that hangs.
  static std::unique_ptr<HeldPort> Hanging() { return Open(true); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  ~HeldPort();

  int port() const { return port_; }
  std::string address() const;
  // Closes the socket (the port is free from now on).
  void Release();

 private:
  HeldPort() = default;
  static std::unique_ptr<HeldPort> Open(bool listen);

  int fd_ = -1;
  int port_ = 0;
};

// A real chat-core (on a database file in a temp dir) for each test.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::string server() const { return core_->address(); }
  // What commands get as --server: the running core, or after UseTwoNodes() "A,B".
  std::string ServerFlag() const { return server_list_.empty() ? server() : server_list_; }
  // Two nodes of one cluster: A, the chat-core SetUp started, and B, an address
  // where nothing listens until StartSecondNode(). Commands get --server A,B.
  void UseTwoNodes();
  // Starts chat-core B on A's database file. A must be dead by then: two live
  // chat-cores on one SQLite file would give out the same seqs.
  void StartSecondNode();
  const std::string& first_node() const { return first_node_; }
  std::string second_node() const { return second_port_->address(); }
  // `chat --server <ServerFlag()> args...` as `user`.
  RunResult Chat(const User& user, std::vector<std::string> args,
                 const std::optional<std::string>& stdin_data = std::nullopt,
                 std::map<std::string, std::string> extra_env = {});
  // Registers (if new) and logs in `user`.
  void Login(const User& user);
  // Creates a room (as `user`, who must be logged in).
  void CreateRoom(const User& user, const std::string& room);
  // Sends a message and returns its seq.
  int64_t Send(const User& user, const std::string& room, const std::string& text);
  // Starts `chat --server <ServerFlag()> args...` in the background (stdout and stderr captured).
  std::unique_ptr<ChildProcess> Start(const User& user, std::vector<std::string> args);
  // Stops chat-core and starts it again on the same port and database.
  void RestartCore(bool kill9);

  TempDir data_;
  std::unique_ptr<CoreProcess> core_;
  std::string server_list_;
  std::string first_node_;
  std::unique_ptr<HeldPort> second_port_;
};

// A tmux server of its own with one 100x30 window running a command.
class Tmux {
 public:
  // Whether tmux can be used at all (else tests skip).
  static bool Available();
  Tmux();
  ~Tmux();
  // Runs `argv` (with `env`) in the window; when it exits, "[exit N]" is printed
  // and the window stays open.
  bool Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  // Literal text (no key names).
  void Type(const std::string& text);
  // Key names: "Enter", "C-c", "BSpace", ...
  void Keys(const std::vector<std::string>& keys);
  std::string Screen();
  // The screen without trailing empty lines, one entry per row.
  std::vector<std::string> ScreenLines();
  // Polls the screen until `pred` holds; returns the last screen seen.
  std::optional<std::string> WaitFor(const std::function<bool(const std::string&)>& pred,
                                     std::chrono::milliseconds timeout = 10s);
  std::optional<std::string> WaitForText(const std::string& text,
                                         std::chrono::milliseconds timeout = 10s);
  void Resize(int columns, int rows);

 private:
  RunResult Run(std::vector<std::string> args);
  std::string socket_;
};

}  // namespace chat::cli::testing

#endif  // CHAT_TESTS_CLI_CLI_TEST_UTIL_H_
