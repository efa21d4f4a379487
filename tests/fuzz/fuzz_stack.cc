#include "fuzz_stack.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "chat/log.h"

namespace chat::fuzz {
namespace {

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// connect(), finished even when a signal interrupts it: libFuzzer's
// -timeout sends SIGALRM every timeout/2 s, and an interrupted connect goes on
// in the background (connect(2), EINTR). 0, or -1 with errno.
int Connect(int fd, const sockaddr_in& addr) {
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return 0;
  if (errno != EINTR) return -1;
  pollfd p{fd, POLLOUT, 0};
  while (poll(&p, 1, -1) < 0) {
    if (errno != EINTR) return -1;
  }
  int error = 0;
  socklen_t len = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return -1;
  errno = error;
  return error == 0 ? 0 : -1;
}

}  // namespace

FuzzStack& FuzzStack::Get() {
  static FuzzStack* stack = new FuzzStack();  // never destroyed: the process exits
  return *stack;
}

FuzzStack::FuzzStack() {
  // A web root with the shapes the static handler tells apart (index.html,
  // assets/ with long caching, other files, a directory).
  char dir[] = "/tmp/fuzz-web-XXXXXX";
  if (mkdtemp(dir) == nullptr) std::abort();
  web_root_ = dir;
  WriteFile(web_root_ + "/index.html", "<!doctype html><title>chat</title>");
  WriteFile(web_root_ + "/assets/app.js", "console.log('chat')");
  WriteFile(web_root_ + "/favicon.svg", "<svg/>");
  WriteFile(web_root_ + "/docs/readme.txt", "docs");
  // A line per connection and stream would drown libFuzzer's own output; the
  // CHAT_FUZZ_LOG environment variable (debug, info...) brings them back.
  LogLevel level = LogLevel::kError;
  if (const char* env = std::getenv("CHAT_FUZZ_LOG")) ParseLogLevel(env, &level);
  SetLogLevel(level);

  core::CoreOptions core_options = testing::TestCoreOptions();
  core_options.services.gateway_secret = kGatewaySecret;
  env_ = std::make_unique<testing::BridgeEnv>(
      [this](bridge::BridgeOptions& o) {
        o.gateway_secret = kGatewaySecret;
        o.web_root = web_root_;
        // Inputs come fast and from one address: the limits that would refuse
        // all of them after the first few are lifted, so the fuzzer reaches
        // the code behind them (the limits have tests of their own).
        o.events_per_second = 1e6;
        o.event_burst = 1e6;
        o.max_connections_per_ip = 100000;
        o.webhook_posts_per_10s_per_ip = 0;
        o.handshake_timeout = absl::Seconds(3);
        o.idle_timeout = absl::Seconds(3);
      },
      core_options);
  alice_ = env_->Login("alice");
  bob_ = env_->Login("bob");
  if (alice_.empty() || bob_.empty()) {
    std::fprintf(stderr, "fuzz stack: cannot log in\n");
    std::abort();
  }
}

std::string FuzzStack::Substitute(absl::string_view s) const {
  return absl::StrReplaceAll(s, {{"$A", alice_}, {"$B", bob_}});
}

Exchange RawExchange(int port, absl::string_view request, std::chrono::milliseconds deadline) {
  Exchange out;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Thousands of exchanges a second: a loaded machine can run out of local
  // ports for a moment (EADDRNOTAVAIL). That is the machine, not a finding,
  // so it waits and tries again; any other failure is the bridge's.
  for (int attempt = 0;; ++attempt) {
    if (Connect(fd, addr) == 0) break;
    if (errno != EADDRNOTAVAIL || attempt == 100) {
      std::perror("fuzz: connect to the bridge");
      std::abort();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The server may answer and close before reading everything (an error
  // reply): a failed send is then simply the end of the request.
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  const auto until = std::chrono::steady_clock::now() + deadline;
  char buf[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // EOF, or a reset after unread bytes: closed either way
      out.closed = true;
      break;
    }
    if (out.response.size() < (1u << 20)) out.response.append(buf, static_cast<size_t>(n));
  }
  // The client half-closed first, so a plain close would leave this port in
  // TIME_WAIT for a minute; a reset frees it (the exchange is over).
  const linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(fd);
  return out;
}

std::vector<std::string> SplitNul(absl::string_view input, size_t max_parts) {
  std::vector<std::string> parts;
  if (input.empty()) return parts;
  for (absl::string_view part : absl::StrSplit(input, '\0')) {
    if (parts.size() == max_parts) break;
    parts.emplace_back(part);
  }
  return parts;
}

}  // namespace chat::fuzz
