// File descriptors: the process limit ws-bridge needs for --max_connections
// (FitDescriptorLimit, run by main at start-up), and the reserve descriptor
// that lets the accept loop close waiting connections cleanly when the process
// is out of descriptors (DescriptorReserve). docs/security.md, "Threat model".
//
// Threading: FitDescriptorLimit from main's thread before any other starts; a
// DescriptorReserve from one strand (the acceptor's). Lifetime: the reserve's
// descriptor is closed by its destructor.
#ifndef CHAT_WS_BRIDGE_SRC_DESCRIPTOR_LIMIT_H_
#define CHAT_WS_BRIDGE_SRC_DESCRIPTOR_LIMIT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "bridge_options.h"

namespace chat::bridge {

// Descriptors the bridge holds besides its connections' own: the listener,
// epoll, timers, gRPC's channels to chat-core, io_uring, the metrics server,
// the reserve, and static files while they are being sent.
inline constexpr uint64_t kDescriptorMargin = 128;

// Per connection: its socket; with TLS also the socketpair of its TLS pipe.
uint64_t DescriptorsPerConnection(const BridgeOptions& options);
// max_connections × DescriptorsPerConnection + kDescriptorMargin.
uint64_t DescriptorsNeeded(const BridgeOptions& options);

// Raises the soft RLIMIT_NOFILE to DescriptorsNeeded(*options), as far as the
// hard limit allows (never lowers it). Returns "" when the need is met; when
// the hard limit is lower, lowers options->max_connections to what fits and
// returns a warning line saying so. FAILED_PRECONDITION (one line, naming the
// limit) if not even one connection fits.
absl::StatusOr<std::string> FitDescriptorLimit(BridgeOptions* options);

class DescriptorReserve {
 public:
  // Holds /dev/null open (nothing if that fails: ShedPending then only works
  // while some other descriptor is free).
  DescriptorReserve();
  ~DescriptorReserve();
  DescriptorReserve(const DescriptorReserve&) = delete;
  DescriptorReserve& operator=(const DescriptorReserve&) = delete;

  // Gives the reserve up, accepts and closes up to `max` connections waiting
  // on the non-blocking listening socket `listen_fd` (each client sees its
  // connection closed instead of waiting in the backlog), then takes the
  // reserve back. Returns how many were closed.
  int ShedPending(int listen_fd, int max);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_DESCRIPTOR_LIMIT_H_
