// The real servers the networked fuzz targets drive: one chat-core (in-memory
// SQLite, a gateway secret) and one ws-bridge in front of it, both in-process
// on port 0, built once per fuzzing process and never torn down (libFuzzer
// exits the process). Two users are registered and logged in, so inputs can
// name their tokens (FuzzStack::Substitute) instead of having to guess one.
//
// Threading: Get() and the helpers are called from libFuzzer's thread only.
// Lifetime: the stack lives until the process exits.
#ifndef CHAT_TESTS_FUZZ_FUZZ_STACK_H_
#define CHAT_TESTS_FUZZ_FUZZ_STACK_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "bridge_fixture.h"

namespace chat::fuzz {

inline constexpr char kGatewaySecret[] = "fuzz-gateway-secret-0123456789abcdef";

class FuzzStack {
 public:
  static FuzzStack& Get();

  testing::BridgeEnv& env() { return *env_; }
  int bridge_port() { return env_->port(); }
  // Session tokens of the users "alice" and "bob".
  const std::string& alice() const { return alice_; }
  const std::string& bob() const { return bob_; }
  // How many times the bridge's gateway stream to chat-core has been
  // (re)connected. An input that makes it go up broke the stream that carries
  // every browser's session: a finding, not a normal refusal.
  // (While it is down, connected is false: checked too, as the input may end
  // before the bridge has reconnected.)
  uint64_t gateway_connects() {
    const bridge::GatewayStats g = env_->bridge().stats().gateway;
    return g.connected ? g.connects : ~uint64_t{0};
  }
  // `s` with "$A" and "$B" replaced by alice's and bob's tokens.
  std::string Substitute(absl::string_view s) const;

 private:
  FuzzStack();
  std::string web_root_;
  std::unique_ptr<testing::BridgeEnv> env_;
  std::string alice_;
  std::string bob_;
};

// The outcome of one raw exchange on a fresh TCP connection.
struct Exchange {
  bool closed = false;  // the server closed the connection in time
  std::string response;
};

// Connects to 127.0.0.1:port, writes `request`, half-closes, and reads until
// the server closes the connection or `deadline` passes.
Exchange RawExchange(int port, absl::string_view request, std::chrono::milliseconds deadline);

// `input` split at NUL bytes, at most `max_parts` parts (the rest dropped).
std::vector<std::string> SplitNul(absl::string_view input, size_t max_parts);

}  // namespace chat::fuzz

#endif  // CHAT_TESTS_FUZZ_FUZZ_STACK_H_
