// TlsFront: HTTPS and WSS for ws-bridge (--tls_cert/--tls_key).
//
// Each accepted connection does its TLS handshake here; after it, a TlsPipe
// (tls_front.cc) copies bytes between the TLS stream and one end of a Unix
// socketpair, and the other end goes to an HttpSession as if it were the TCP
// connection. So everything above the transport (HTTP, the WebSocket, the
// gateway's direct writes and io_uring batches into a socket, the slow-browser
// limits) runs unchanged over TLS; the cost is one more copy per byte and two
// more file descriptors per TLS connection (docs/architecture.md, "TLS in
// ws-bridge"). A browser that stops reading fills the pipe's socket, which the
// bridge sees as a full socket exactly as on plain TCP.
//
// Threading: Accept and Reload from any thread; a pipe runs on its
// connection's strand. Lifetime: a pipe holds itself (shared_ptr) while its
// operations run and the certificate context it started with; Reload affects
// only later connections. Owned by the Bridge, which stops its io_context
// before destroying it.
#ifndef CHAT_WS_BRIDGE_SRC_TLS_FRONT_H_
#define CHAT_WS_BRIDGE_SRC_TLS_FRONT_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chat::bridge {

class TlsFront {
 public:
  using Socket = boost::asio::ip::tcp::socket;

  // Loads and checks the PEM certificate chain and key; INVALID_ARGUMENT
  // naming the flag and file if they are unusable.
  static absl::StatusOr<std::unique_ptr<TlsFront>> Create(std::string cert_file, std::string key_file);

  // Re-reads the files (SIGHUP). On an error the current certificate stays in
  // use and the error is returned.
  absl::Status Reload();
  // The serving certificate's subject and expiry, for the log.
  std::string Describe() const;

  // Runs the TLS handshake on `socket` (within `timeout`), then calls `ready`
  // on the socket's executor with the plaintext end: a tcp::socket object that
  // holds a Unix stream socket. On a failed or late handshake the connection is
  // closed and `ready` is destroyed uncalled. A browser that takes no bytes for
  // `stall_timeout` while some wait for it is disconnected. `hold` (the
  // connection's slot in --max_connections) is kept until the TCP connection
  // is closed, which may be after the session above it has ended.
  void Accept(Socket socket, absl::Duration timeout, absl::Duration stall_timeout, std::shared_ptr<void> hold,
              absl::AnyInvocable<void(Socket plaintext)> ready);

 private:
  TlsFront(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

  const std::string cert_file_;
  const std::string key_file_;
  mutable absl::Mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_ ABSL_GUARDED_BY(mu_);
  std::string describe_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_TLS_FRONT_H_
