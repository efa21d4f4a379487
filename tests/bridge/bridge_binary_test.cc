// The real ws-bridge binary at start-up: every way it can be set up wrong ends
// in one clear line on stderr and a non-zero exit, never a crash (a crash
// would show as 128 + the signal, 139 for SIGSEGV).
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bridge.h"
#include "bridge_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Runs ws-bridge with `flags`, expecting it to refuse to start with `message`
// (and `exit_code`, 2 for a bad flag, 1 for what only starting can find out).
void ExpectRefused(const std::vector<std::string>& flags, const std::string& message, int exit_code) {
  std::vector<std::string> argv = {BinaryPath("ws-bridge")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string what = absl::StrJoin(flags, " ");
  RunResult r = RunCommand(argv, {{"CHAT_GATEWAY_SECRET", ""}}, std::nullopt, std::chrono::seconds(20));
  EXPECT_NE(r.exit_code, 0) << what;
  EXPECT_NE(r.exit_code, 139) << what << ": crashed";
  EXPECT_LT(r.exit_code, 128) << what << ": killed by a signal";
  EXPECT_EQ(r.exit_code, exit_code) << what << "\n" << r.err;
  EXPECT_THAT(r.err, StartsWith("ws-bridge: ")) << what;
  EXPECT_THAT(r.err, HasSubstr(message)) << what;
  std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 1u) << what << ": one line, got:\n" << r.err;
  EXPECT_EQ(r.out, "") << what << ": it must not say it is listening";
}

TEST(BridgeBinaryTest, ABadListenAddressIsOneLineNotACrash) {
  ExpectRefused({"--listen=foo"}, "--listen must be host:port, got 'foo'", 2);
  ExpectRefused({"--listen=127.0.0.1:99999"}, "--listen must be host:port, got '127.0.0.1:99999'", 2);
  ExpectRefused({"--listen=300.1.2.3:8080"}, "bad listen address '300.1.2.3'", 2);
  ExpectRefused({"--listen=:8080"}, "bad listen address ''", 2);
}

TEST(BridgeBinaryTest, APortInUseIsOneLineNotACrash) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string address = absl::StrCat("127.0.0.1:", taken.local_endpoint().port());
  ExpectRefused({"--listen=" + address}, absl::StrCat("cannot listen on ", address, ": "), 1);
}

TEST(BridgeBinaryTest, ABadCoreListIsRefused) {
  ExpectRefused({"--listen=127.0.0.1:0", "--core="}, "--core must name at least one chat-core address", 2);
  ExpectRefused({"--listen=127.0.0.1:0", "--core=nohost"}, "--core must be host:port, got 'nohost'", 2);
  ExpectRefused({"--listen=127.0.0.1:0", "--core=127.0.0.1:50051,b:x"}, "--core must be host:port, got 'b:x'", 2);
}

TEST(BridgeBinaryTest, AnUnreadableSecretFileIsOneLine) {
  TempDir dir;
  ExpectRefused({"--listen=127.0.0.1:0", "--gateway_secret_file=" + dir.File("missing")},
                "cannot read gateway secret file " + dir.File("missing"), 2);
  std::ofstream(dir.File("short")) << "short\n";
  ExpectRefused({"--listen=127.0.0.1:0", "--gateway_secret_file=" + dir.File("short")},
                "is shorter than 16 characters", 2);
}

TEST(BridgeBinaryTest, AWebRootThatIsNoDirectoryIsOneLine) {
  TempDir dir;
  ExpectRefused({"--listen=127.0.0.1:0", "--web_root=" + dir.File("missing")},
                "--web_root=" + dir.File("missing") + " does not exist", 2);
  std::ofstream(dir.File("file")) << "x";
  ExpectRefused({"--listen=127.0.0.1:0", "--web_root=" + dir.File("file")},
                "--web_root=" + dir.File("file") + " is not a directory", 2);
}

// With everything right it starts, says where it listens, and stops cleanly
// on SIGTERM even though no chat-core ever answered.
TEST(BridgeBinaryTest, StartsWithoutACoreAndStopsOnSigterm) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("web"));
  std::ofstream(dir.File("web/index.html")) << "<!doctype html>";
  ChildProcess::Options o;
  o.argv = {BinaryPath("ws-bridge"), "--listen=127.0.0.1:0", "--core=127.0.0.1:1,127.0.0.1:2",
            "--web_root=" + dir.File("web")};
  o.capture_stderr = true;
  auto child = ChildProcess::Start(o);
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("ws-bridge listening on 127.0.0.1:", std::chrono::seconds(20)).has_value());
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(std::chrono::seconds(20)), 0) << child->stderr_text();
}

// The library refuses what main refuses, in the same words, so a test or an
// embedding program learns the same as the command line.
TEST(BridgeOptionsTest, TheLibraryGivesMainsErrors) {
  bridge::BridgeOptions ok;
  EXPECT_TRUE(bridge::ValidateBridgeOptions(ok).ok());
  struct Case {
    std::function<void(bridge::BridgeOptions&)> set;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.listen = "foo"; }, "--listen must be host:port, got 'foo'"},
      {[](auto& o) { o.core.clear(); }, "--core must name at least one chat-core address"},
      {[](auto& o) { o.threads = 0; }, "--threads must be at least 1"},
      {[](auto& o) { o.max_message_bytes = 10; }, "--max_message_bytes must be at least 256"},
      {[](auto& o) { o.max_connections = 0; }, "--max_connections must be at least 1"},
      {[](auto& o) { o.max_connections_per_ip = -1; }, "--max_connections_per_ip must be 0 (no cap) or positive"},
      {[](auto& o) { o.events_per_second = 0; }, "--events_per_second must be positive"},
      {[](auto& o) { o.event_burst = 0.5; }, "--event_burst must be at least 1"},
      {[](auto& o) { o.handshake_timeout = absl::ZeroDuration(); }, "--handshake_timeout must be at least 1ms"},
      {[](auto& o) { o.idle_timeout = -absl::Seconds(1); }, "--idle_timeout must be at least 1ms"},
      {[](auto& o) { o.max_queued_events = 15; }, "--max_queued_events must be at least 16"},
      {[](auto& o) { o.max_queued_bytes = 0; }, "--max_queued_bytes must be positive"},
      {[](auto& o) { o.socket_send_buffer = -1; }, "--socket_send_buffer must be"},
      {[](auto& o) { o.presence_delay = absl::Seconds(11); }, "--presence_delay must be between 0 and 10s"},
      {[](auto& o) { o.presence_max_delay = absl::Milliseconds(10); },
       "--presence_max_delay must be between --presence_delay and 10s"},
      {[](auto& o) { o.reconnect_max = absl::Milliseconds(1); }, "reconnect_max at least reconnect_min"},
      {[](auto& o) { o.core_keepalive_time = absl::Milliseconds(500); }, "--core_keepalive_time must be at least 1s"},
      {[](auto& o) { o.core_keepalive_timeout = absl::ZeroDuration(); }, "--core_keepalive_timeout at least 100ms"},
      {[](auto& o) { o.failover_timeout = absl::Hours(2); }, "--failover_timeout must be between 0 and 1h"},
      {[](auto& o) { o.web_root = "/no/such/dir"; }, "--web_root=/no/such/dir does not exist"},
  };
  for (const Case& c : cases) {
    bridge::BridgeOptions o;
    c.set(o);
    absl::Status s = bridge::ValidateBridgeOptions(o);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
    // Bridge::Start says the same, and a Bridge it refused leaves nothing behind.
    auto started = bridge::Bridge::Start(o);
    ASSERT_FALSE(started.ok()) << c.message;
    EXPECT_EQ(started.status().message(), s.message());
  }
}

}  // namespace
}  // namespace chat::testing
