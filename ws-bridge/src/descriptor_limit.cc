#include "descriptor_limit.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chat::bridge {

uint64_t DescriptorsPerConnection(const BridgeOptions& options) { return options.tls_cert.empty() ? 1 : 3; }

uint64_t DescriptorsNeeded(const BridgeOptions& options) {
  return static_cast<uint64_t>(options.max_connections) * DescriptorsPerConnection(options) + kDescriptorMargin;
}

absl::StatusOr<std::string> FitDescriptorLimit(BridgeOptions* options) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("cannot read the open-file limit: ", std::strerror(errno)));
  }
  const uint64_t need = DescriptorsNeeded(*options);
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= need) return std::string();
  const bool hard_enough = limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= need;
  const rlim_t target = hard_enough ? static_cast<rlim_t>(need) : limit.rlim_max;
  if (target > limit.rlim_cur) {
    rlimit raised{target, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      return absl::InternalError(absl::StrCat("cannot raise the open-file limit to ", target, ": ", std::strerror(errno)));
    }
  }
  if (hard_enough) return std::string();
  const uint64_t per = DescriptorsPerConnection(*options);
  const std::string what = absl::StrCat(need, " descriptors that --max_connections=", options->max_connections,
                                        " needs (", per, " per connection", per > 1 ? " with TLS" : "", " + ",
                                        kDescriptorMargin, ")");
  const uint64_t fits = target > kDescriptorMargin ? (target - kDescriptorMargin) / per : 0;
  if (fits == 0) {
    return absl::FailedPreconditionError(absl::StrCat("the open-file limit (ulimit -Hn: ", limit.rlim_max,
                                                      ") leaves no room for connections: raise it to the ", what,
                                                      " (systemd: LimitNOFILE=)"));
  }
  options->max_connections = static_cast<size_t>(fits);
  return absl::StrCat("the open-file limit (ulimit -Hn: ", limit.rlim_max, ") is below the ", what,
                      ": serving at most ", fits, " connections; raise it (systemd: LimitNOFILE=) to allow more");
}

DescriptorReserve::DescriptorReserve() : fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

DescriptorReserve::~DescriptorReserve() {
  if (fd_ >= 0) ::close(fd_);
}

int DescriptorReserve::ShedPending(int listen_fd, int max) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  int shed = 0;
  for (int tries = 0; tries < max; ++tries) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;  // EAGAIN: nothing waits; EMFILE: another thread took the spare
    }
    ::close(fd);
    ++shed;
  }
  fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return shed;
}

}  // namespace chat::bridge
