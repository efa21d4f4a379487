// Connection floods against the real ws-bridge binary (docs/security.md,
// "Threat model"): one address cannot take every connection
// (--max_connections_per_ip), running out of file descriptors makes the accept
// loop back off instead of spinning, and the open-file limit is fitted to
// --max_connections at start-up. The flood comes from 127.0.0.2 and the
// bystander from 127.0.0.3 (all of 127.0.0.0/8 is loopback on Linux).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge_context.h"
#include "descriptor_limit.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"
#include "test_certs.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A TCP connection from `source` (an address of this host) to 127.0.0.1:port,
// or -1 if it cannot be made within `timeout`.
int ConnectFrom(const std::string& source, int port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  // Closed with a reset, so thousands of closes leave no TIME_WAIT holding
  // ports that other tests running at the same time need.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
    ::close(fd);
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
      err != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// GET /healthz from `source`; the whole response, or nullopt if none came.
std::optional<std::string> HealthFrom(const std::string& source, int port) {
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  const int fd = ConnectFrom(source, port, std::chrono::seconds(3));
  if (fd < 0) return std::nullopt;
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) != 1) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (out.empty()) return std::nullopt;
  return out;
}

// Asks /healthz from `source` until `want` is in the answer, for up to `timeout`.
bool HealthSays(const std::string& source, int port, const std::string& want, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  do {
    auto r = HealthFrom(source, port);
    if (r && r->find(want) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (Clock::now() < deadline);
  return false;
}

// Whether the peer closed `fd` (EOF or reset), waiting up to `timeout`.
bool ClosedByPeer(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// utime + stime of process `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  std::vector<std::string> f = absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  if (f.size() < 13) return -1;
  return static_cast<double>(std::stoll(f[11]) + std::stoll(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int OpenDescriptors(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"))) ++n;
  return n;
}

// The "Max open files" soft and hard limits from /proc/<pid>/limits.
std::string OpenFileLimits(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/limits"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) == 0) {
      std::vector<std::string> f = absl::StrSplit(line.substr(14), ' ', absl::SkipEmpty());
      if (f.size() >= 2) return f[0] + " " + f[1];
    }
  }
  return "";
}

class ConnectionFloodTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int fd : flood_) ::close(fd);
  }

  // A real chat-core and a real ws-bridge in front of it with `flags`, ready:
  // its gateway is up (/healthz says ok).
  void StartBridge(const std::vector<std::string>& flags) {
    core_ = CoreProcess::Start(dir_.File("chat.db"));
    ASSERT_NE(core_, nullptr);
    ChildProcess::Options o;
    o.argv = {BinaryPath("ws-bridge"), "--listen=127.0.0.1:0", "--core=" + core_->address(), "--log_level=warning"};
    o.argv.insert(o.argv.end(), flags.begin(), flags.end());
    o.capture_stderr = true;
    bridge_ = ChildProcess::Start(o);
    ASSERT_NE(bridge_, nullptr);
    auto line = bridge_->WaitForLine("ws-bridge listening on 127.0.0.1:", std::chrono::seconds(20));
    ASSERT_TRUE(line.has_value()) << bridge_->stderr_text();
    port_ = std::stoi(line->substr(line->rfind(':') + 1));
    ASSERT_TRUE(HealthSays("127.0.0.3", port_, "HTTP/1.1 200", std::chrono::seconds(20)));
  }

  // Opens `n` connections from 127.0.0.2 and keeps them (the bridge may close
  // some at once). Returns how many the kernel let us open.
  int Flood(int n) {
    int opened = 0;
    for (int i = 0; i < n; ++i) {
      const int fd = ConnectFrom("127.0.0.2", port_, std::chrono::milliseconds(500));
      if (fd < 0) continue;
      flood_.push_back(fd);
      ++opened;
    }
    return opened;
  }

  // How many flood connections the bridge closed, waiting up to `timeout` for
  // at least `want` of them.
  int FloodClosed(int want, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<bool> closed(flood_.size(), false);
    int n = 0;
    do {
      for (size_t i = 0; i < flood_.size(); ++i) {
        if (!closed[i] && ClosedByPeer(flood_[i], std::chrono::milliseconds(0))) {
          closed[i] = true;
          ++n;
        }
      }
      if (n >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (Clock::now() < deadline);
    return n;
  }

  void EndFlood() {
    for (int fd : flood_) ::close(fd);
    flood_.clear();
  }

  TempDir dir_;
  std::unique_ptr<CoreProcess> core_;
  std::unique_ptr<ChildProcess> bridge_;
  int port_ = 0;
  std::vector<int> flood_;
};

// 300 connections from one address against --max_connections=100: without a
// per-address cap they would take all 100 and the bystander would be closed
// at the door. With --max_connections_per_ip=20 the flood keeps 20, the rest
// are closed at once, the bystander is served, the bridge is idle again
// within a second of the flood's end, and the address's count is released.
TEST_F(ConnectionFloodTest, OneAddressCannotTakeEveryConnection) {
  StartBridge({"--max_connections=100", "--max_connections_per_ip=20"});
  ASSERT_EQ(Flood(300), 300);
  // The 20 it keeps would only be closed by --handshake_timeout (5s).
  EXPECT_EQ(FloodClosed(280, std::chrono::seconds(4)), 280) << "the flood did not keep exactly its 20";
  EXPECT_TRUE(HealthSays("127.0.0.3", port_, "HTTP/1.1 200", std::chrono::seconds(3)))
      << "the bystander was not served during the flood";
  // Churn: open and drop 2,000 connections as fast as we can.
  int churned = 0;
  for (int i = 0; i < 2000; ++i) {
    const int fd = ConnectFrom("127.0.0.2", port_, std::chrono::milliseconds(500));
    if (fd >= 0) {
      ::close(fd);
      ++churned;
    }
  }
  EXPECT_GE(churned, 1900);
  EXPECT_TRUE(HealthSays("127.0.0.3", port_, "HTTP/1.1 200", std::chrono::seconds(3)));
  EndFlood();

  const double before = CpuSeconds(bridge_->pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double idle = CpuSeconds(bridge_->pid()) - before;
  EXPECT_LT(idle, 0.2) << "CPU-seconds in the second after the flood";
  std::printf("flood from one address: %d churned connections; %.3f CPU-s in the second after\n", churned, idle);
  // Every flood connection is released: the health check's own is the only one.
  EXPECT_TRUE(HealthSays("127.0.0.2", port_, "\"connections\":1}", std::chrono::seconds(3)))
      << "127.0.0.2's connections were not all released";
}

// Out of file descriptors: the bridge's limit is lowered under it to leave
// room for 8 connections, and 200 arrive and stay. The accept loop must not
// spin (it did: about one CPU-second per second), the waiting connections are
// closed (not left hanging), and once the flood ends a request is served
// again with the limit still low.
TEST_F(ConnectionFloodTest, OutOfDescriptorsBacksOffAndRecovers) {
  StartBridge({"--max_connections_per_ip=0"});
  const pid_t pid = bridge_->pid();
  rlimit old{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0);
  const rlimit low{static_cast<rlim_t>(OpenDescriptors(pid) + 8), old.rlim_max};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &low, nullptr), 0) << std::strerror(errno);

  const double before = CpuSeconds(pid);
  const auto start = Clock::now();
  Flood(200);
  EXPECT_GE(FloodClosed(150, std::chrono::seconds(5)), 150) << "waiting connections were left hanging";
  // Hold the flood for a second in all.
  std::this_thread::sleep_until(start + std::chrono::seconds(1));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double used = CpuSeconds(pid) - before;
  EXPECT_LT(used, 0.2 * seconds) << "CPU-seconds over " << seconds << " s at the descriptor limit";
  std::printf("at the descriptor limit: %.3f CPU-s over %.2f s with 200 connections held\n", used, seconds);
  EndFlood();
  EXPECT_TRUE(HealthSays("127.0.0.3", port_, "HTTP/1.1 200", std::chrono::seconds(5)))
      << "not served after the flood: " << bridge_->stderr_text();
  bridge_->Signal(SIGTERM);
  EXPECT_EQ(bridge_->Wait(std::chrono::seconds(20)), 0) << bridge_->stderr_text();
  EXPECT_THAT(bridge_->stderr_text(), HasSubstr("out of file descriptors or memory (Too many open files)"));
}

// Over TLS the slot lives in the TLS pipe: a connection still in its
// handshake counts for its address, and the count is released when the TCP
// connection closes. 10 bare TCP connections from 127.0.0.2 with a cap of 5:
// 5 are closed at once, 5 wait in their handshake (--handshake_timeout=20s);
// once the client closes them, 5 more are taken again.
TEST_F(ConnectionFloodTest, TlsConnectionsCountUntilTheirTcpConnectionCloses) {
  TestCerts certs = MakeTestCerts();
  ChildProcess::Options o;
  o.argv = {BinaryPath("ws-bridge"),         "--listen=127.0.0.1:0",        "--core=127.0.0.1:1",
            "--log_level=error",             "--max_connections_per_ip=5", "--handshake_timeout=20s",
            "--tls_cert=" + certs.server_cert(), "--tls_key=" + certs.server_key()};
  o.capture_stderr = true;
  bridge_ = ChildProcess::Start(o);
  ASSERT_NE(bridge_, nullptr);
  auto line = bridge_->WaitForLine("ws-bridge listening on 127.0.0.1:", std::chrono::seconds(20));
  ASSERT_TRUE(line.has_value()) << bridge_->stderr_text();
  port_ = std::stoi(line->substr(line->rfind(':') + 1));

  ASSERT_EQ(Flood(10), 10);
  EXPECT_EQ(FloodClosed(5, std::chrono::seconds(3)), 5);
  EXPECT_EQ(FloodClosed(6, std::chrono::milliseconds(300)), 5) << "a connection in its TLS handshake was let go";
  EndFlood();
  // The pipes see the close and release their slots; then 5 fit again.
  bool taken_again = false;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!taken_again && Clock::now() < deadline) {
    ASSERT_EQ(Flood(5), 5);
    taken_again = FloodClosed(1, std::chrono::milliseconds(300)) == 0;
    EndFlood();
  }
  EXPECT_TRUE(taken_again) << "127.0.0.2's TLS connections were not released when they closed";
}

// IPv4 (also as IPv4-mapped IPv6) counts by the whole address, IPv6 by its
// /64, so rotating through one's own /64 does not escape the cap.
TEST(ConnectionSlotTest, AddressesAreCountedByIpv4OrIpv6Slash64) {
  namespace ip = boost::asio::ip;
  using bridge::ConnectionSlot;
  EXPECT_EQ(ConnectionSlot::AddressKey(ip::make_address("192.0.2.7")),
            ConnectionSlot::AddressKey(ip::make_address("::ffff:192.0.2.7")));
  EXPECT_NE(ConnectionSlot::AddressKey(ip::make_address("192.0.2.7")),
            ConnectionSlot::AddressKey(ip::make_address("192.0.2.8")));
  EXPECT_EQ(ConnectionSlot::AddressKey(ip::make_address("2001:db8:1:2::1")),
            ConnectionSlot::AddressKey(ip::make_address("2001:db8:1:2:ffff:1:2:3")));
  EXPECT_NE(ConnectionSlot::AddressKey(ip::make_address("2001:db8:1:2::1")),
            ConnectionSlot::AddressKey(ip::make_address("2001:db8:1:3::1")));
  // Distinct from every IPv4 address (a different length).
  EXPECT_NE(ConnectionSlot::AddressKey(ip::make_address("::c000:207")).size(), 4u);
}

TEST(DescriptorLimitTest, TlsConnectionsNeedThreeDescriptors) {
  bridge::BridgeOptions o;
  o.max_connections = 1000;
  EXPECT_EQ(bridge::DescriptorsNeeded(o), 1000u + bridge::kDescriptorMargin);
  o.tls_cert = "cert.pem";
  o.tls_key = "key.pem";
  EXPECT_EQ(bridge::DescriptorsNeeded(o), 3000u + bridge::kDescriptorMargin);
}

// ws-bridge under `prlimit --nofile=<soft>:<hard>`.
std::unique_ptr<ChildProcess> StartLimited(const std::string& nofile, const std::vector<std::string>& flags) {
  ChildProcess::Options o;
  o.argv = {"/usr/bin/prlimit", "--nofile=" + nofile, BinaryPath("ws-bridge")};
  if (::geteuid() == 0) o.argv.push_back("--allow_root");
  o.argv.push_back("--listen=127.0.0.1:0");
  o.argv.push_back("--core=127.0.0.1:1");
  o.argv.insert(o.argv.end(), flags.begin(), flags.end());
  o.capture_stderr = true;
  return ChildProcess::Start(o);
}

TEST(DescriptorLimitTest, TheSoftLimitIsRaisedToWhatMaxConnectionsNeeds) {
  auto child = StartLimited("256:4096", {"--max_connections=1000"});
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("ws-bridge listening on", std::chrono::seconds(20)).has_value());
  EXPECT_EQ(OpenFileLimits(child->pid()), "1128 4096");  // 1000 × 1 + 128
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(std::chrono::seconds(20)), 0);
  EXPECT_EQ(child->stderr_text().find("open-file limit"), std::string::npos) << child->stderr_text();
}

TEST(DescriptorLimitTest, ALowHardLimitServesFewerWithAWarning) {
  auto child = StartLimited("256:1000", {"--max_connections=10000"});
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("ws-bridge listening on", std::chrono::seconds(20)).has_value());
  EXPECT_EQ(OpenFileLimits(child->pid()), "1000 1000");
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(std::chrono::seconds(20)), 0);
  EXPECT_THAT(child->stderr_text(),
              HasSubstr("the open-file limit (ulimit -Hn: 1000) is below the 10128 descriptors that "
                        "--max_connections=10000 needs (1 per connection + 128): serving at most 872 connections"));
}

TEST(DescriptorLimitTest, NoRoomForAnyConnectionIsOneLine) {
  auto child = StartLimited("64:64", {});
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->Wait(std::chrono::seconds(20)), 1);
  EXPECT_EQ(child->stdout_text(), "");
  EXPECT_THAT(child->stderr_text(), ::testing::StartsWith("ws-bridge: the open-file limit (ulimit -Hn: 64) leaves "
                                                          "no room for connections"));
  std::vector<std::string> lines = absl::StrSplit(child->stderr_text(), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 1u) << child->stderr_text();
}

}  // namespace
}  // namespace chat::testing
