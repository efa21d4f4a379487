#include "gated_socket.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>

namespace chat::bridge {

GatedSocket::Direct GatedSocket::TryWriteText(std::string_view payload) {
  // FIN + text, then the payload length in the shortest form RFC 6455 allows.
  unsigned char header[10];
  size_t header_size;
  const uint64_t len = payload.size();
  header[0] = 0x81;
  if (len < 126) {
    header[1] = static_cast<unsigned char>(len);
    header_size = 2;
  } else if (len <= 0xffff) {
    header[1] = 126;
    header[2] = static_cast<unsigned char>(len >> 8);
    header[3] = static_cast<unsigned char>(len);
    header_size = 4;
  } else {
    header[1] = 127;
    for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
    header_size = 10;
  }
  iovec iov[2] = {{header, header_size}, {const_cast<char*>(payload.data()), payload.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;

  absl::MutexLock lock(&gate_->mu);
  if (!gate_->open || gate_->writes > 0 || gate_->prefix_busy || !gate_->prefix.empty()) return Direct::kNot;
  ssize_t n;
  do {
    n = ::sendmsg(gate_->socket.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  // Full (EAGAIN) or broken: nothing went out; the strand's write waits for
  // room or reports the error.
  if (n <= 0) return Direct::kNot;
  const size_t total = header_size + payload.size();
  if (static_cast<size_t>(n) == total) return Direct::kWritten;
  size_t sent = static_cast<size_t>(n);
  if (sent < header_size) {
    gate_->prefix.assign(reinterpret_cast<const char*>(header) + sent, header_size - sent);
    sent = header_size;
  }
  gate_->prefix.append(payload.substr(sent - header_size));
  return Direct::kPartly;
}

void GatedSocket::Open() {
  absl::MutexLock lock(&gate_->mu);
  gate_->open = true;
}

void GatedSocket::Shut() {
  absl::MutexLock lock(&gate_->mu);
  gate_->open = false;
}

void GatedSocket::FlushPrefix() {
  absl::MutexLock lock(&gate_->mu);
  if (!gate_->prefix.empty() && !gate_->prefix_busy) StartPrefixLocked();
}

void GatedSocket::StartPrefixLocked() {
  gate_->prefix_busy = true;
  ++gate_->writes;
  auto bytes = std::make_shared<std::string>(std::move(gate_->prefix));
  gate_->prefix.clear();
  // The handler holds the gate, and with it the socket this write refers to.
  boost::asio::async_write(
      gate_->socket, boost::asio::buffer(*bytes),
      boost::asio::bind_executor(gate_->socket.get_executor(), [gate = gate_, bytes](const boost::system::error_code& ec, size_t) {
        std::function<void(const boost::system::error_code&)> waiter;
        {
          absl::MutexLock lock(&gate->mu);
          gate->prefix_busy = false;
          --gate->writes;
          waiter = std::move(gate->waiter);
          gate->waiter = nullptr;
        }
        // On an error the waiter gets it: its frame cannot follow a broken one.
        if (waiter) waiter(ec);
      }));
}

void GatedSocket::shutdown(socket_type::shutdown_type what, boost::system::error_code& ec) {
  Shut();
  gate_->socket.shutdown(what, ec);
}

void GatedSocket::close(boost::system::error_code& ec) {
  // Shut first, under the gate's lock: a direct write in progress finishes
  // before the descriptor can be closed (and reused by another connection).
  Shut();
  gate_->socket.close(ec);
}

}  // namespace chat::bridge
