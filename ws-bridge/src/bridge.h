// Bridge: ws-bridge assembled — the io_context and its threads, the listener,
// the gateway stream to chat-core and the AuthService client. main.cc and the tests
// build it from a BridgeOptions.
//
// Threading: Start/Shutdown from one controlling thread. Lifetime: Start either
// returns a running bridge or an error (and nothing runs); Shutdown() (also run
// by the destructor) stops accepting, closes every WebSocket with 1001, ends the
// gateway stream and joins the threads.
#ifndef CHAT_WS_BRIDGE_SRC_BRIDGE_H_
#define CHAT_WS_BRIDGE_SRC_BRIDGE_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "auth_client.h"
#include "bridge_context.h"
#include "bridge_options.h"
#include "descriptor_limit.h"
#include "gateway.h"
#include "tls_front.h"

namespace chat::bridge {

// A snapshot of the bridge's counters (Bridge::stats()).
// Threading: a value. Lifetime: the caller's copy.
struct BridgeStats {
  GatewayStats gateway;
  int64_t connections = 0;
  uint64_t ws_opened = 0;
  uint64_t ws_closed = 0;
  int64_t ws_live = 0;
};

// The channel credentials to reach chat-core with (--core_tls, --core_ca,
// --core_cert/--core_key), or INVALID_ARGUMENT naming a bad file.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CoreChannelCredentials(const BridgeOptions& options);

class Bridge {
 public:
  // Checks the options (ValidateBridgeOptions), listens and connects; an
  // error says what is wrong in one line (a bad option, a port in use...).
  static absl::StatusOr<std::unique_ptr<Bridge>> Start(BridgeOptions options);
  ~Bridge();

  int port() const { return port_; }
  // Re-reads --tls_cert/--tls_key (SIGHUP); on an error the old certificate
  // stays. FAILED_PRECONDITION if TLS is off.
  absl::Status ReloadTls();
  std::string address() const;
  BridgeStats stats() const;
  void Shutdown();

 private:
  Bridge() = default;
  void DoAccept();
  // Takes an accepted connection, or closes it at once over a limit.
  void Admit(boost::asio::ip::tcp::socket socket);
  // Out of descriptors (or kernel memory): close what waits, accept again
  // after a backoff instead of at once (which would spin).
  void BackOffAccepting(const boost::system::error_code& ec);
  void ScheduleTrim();

  std::unique_ptr<boost::asio::io_context> io_;
  // BridgeContext::bulk, its work guard and its thread.
  std::unique_ptr<boost::asio::io_context> bulk_io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> bulk_guard_;
  std::thread bulk_thread_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<TlsFront> tls_;  // null: plain HTTP
  std::unique_ptr<boost::asio::steady_timer> trim_timer_;
  // On the acceptor's strand: the accept backoff, its current length, the
  // descriptor kept for closing connections when none is left, and when the
  // last "out of descriptors" warning was logged.
  std::unique_ptr<boost::asio::steady_timer> accept_timer_;
  absl::Duration accept_backoff_;
  std::unique_ptr<DescriptorReserve> reserve_;
  absl::Time last_descriptor_warning_ = absl::InfinitePast();
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<DeferredFlush> deferred_;
  std::unique_ptr<AuthClient> auth_;
  std::unique_ptr<BridgeContext> ctx_;
  std::vector<std::thread> threads_;
  std::string host_;
  int port_ = 0;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_BRIDGE_H_
