#include "tls_front.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "chat/tls_files.h"

namespace chat::bridge {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

constexpr char kLog[] = "tls";
// How long a closing connection waits for the browser's end after the bridge's.
constexpr absl::Duration kLingerTimeout = absl::Seconds(5);
// The most plaintext one TLS record carries.
constexpr size_t kRecord = 16 * 1024;

absl::StatusOr<std::shared_ptr<ssl::context>> MakeContext(const std::string& cert_file, const std::string& key_file,
                                                          std::string* describe) {
  auto id = LoadPemIdentity(cert_file, key_file, "--tls_cert/--tls_key");
  if (!id.ok()) return id.status();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // OpenSSL's own record buffers (~34 KiB) go back while a connection is idle,
  // which most chat connections are most of the time.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // A connection whose browser vanished without a close_notify just ends.
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  error_code ec;
  ctx->use_certificate_chain(net::buffer(id->cert_chain), ec);
  if (!ec) ctx->use_private_key(net::buffer(id->private_key), ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert/--tls_key: ", cert_file, " and ", key_file, " are unusable: ", ec.message()));
  }
  *describe = absl::StrCat(id->subject, ", valid until ",
                           absl::FormatTime("%Y-%m-%d", id->not_after, absl::UTCTimeZone()));
  return ctx;
}

// One TLS connection: browser <-TLS-> pipe <-plaintext-> the bridge's end of a
// socketpair. OpenSSL works on the TCP descriptor itself (non-blocking, no
// memory BIOs), and buffers exist only while bytes are on their way, so an idle
// connection costs the SSL object and little else. "Up" is what the browser
// sends, "down" what the bridge writes. Everything runs on the connection's
// strand: Pump() moves bytes until every direction would block, then waits for
// what blocked it. See tls_front.h.
class TlsPipe : public std::enable_shared_from_this<TlsPipe> {
 public:
  TlsPipe(tcp::socket socket, std::shared_ptr<ssl::context> context)
      : context_(std::move(context)),
        tcp_(std::move(socket)),
        inner_(tcp_.get_executor()),
        timer_(tcp_.get_executor()),
        stall_(tcp_.get_executor()),
        ssl_(SSL_new(context_->native_handle())) {}
  ~TlsPipe() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  void Start(absl::Duration timeout, absl::Duration stall_timeout, std::shared_ptr<void> hold,
             absl::AnyInvocable<void(tcp::socket)> ready) {
    stall_timeout_ = stall_timeout;
    hold_ = std::move(hold);
    error_code ec;
    tcp_.non_blocking(true, ec);
    if (ssl_ == nullptr || ec || SSL_set_fd(ssl_, tcp_.native_handle()) != 1) {
      ERR_clear_error();
      return Close();
    }
    SSL_set_accept_state(ssl_);
    ready_ = std::move(ready);
    timer_.expires_after(absl::ToChronoNanoseconds(timeout));
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec && !self->handshaken_) {
        CHAT_LOG_DEBUG(kLog, "TLS handshake timed out");
        self->Close();
      }
    });
    net::dispatch(tcp_.get_executor(), [self = shared_from_this()] { self->Pump(); });
  }

 private:
  enum Need { kNothing, kTcpRead, kTcpWrite, kInnerRead, kInnerWrite };

  // What SSL_* asks for after a result of `r`: a wait, or kNothing for a
  // failure or the end of the stream (`*ended` set).
  Need SslNeed(int r, bool* ended) {
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        return kTcpRead;
      case SSL_ERROR_WANT_WRITE:
        return kTcpWrite;
      default:
        ERR_clear_error();
        *ended = true;
        return kNothing;
    }
  }

  void Pump() {
    if (closed_) return;
    bool progress = true;
    Need up_need = kNothing;
    Need down_need = kNothing;
    while (progress && !closed_) {
      progress = false;
      up_need = down_need = kNothing;
      if (!handshaken_) {
        int r = SSL_do_handshake(ssl_);
        if (r != 1) {
          bool failed = false;
          up_need = SslNeed(r, &failed);
          if (failed) {
            CHAT_LOG_DEBUG(kLog, "TLS handshake failed");
            return Close();
          }
          break;
        }
        if (!OnHandshake()) return;
        progress = true;
      }
      if (!up_done_) progress |= StepUp(&up_need);
      if (!down_done_) progress |= StepDown(&down_need);
      if (up_done_ && down_done_) return Close();
    }
    Arm(up_need);
    Arm(down_need);
  }

  bool OnHandshake() {
    handshaken_ = true;
    timer_.cancel();
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
      CHAT_LOG_WARN(kLog, "cannot make a socketpair for a TLS connection: %s", std::strerror(errno));
      Close();
      return false;
    }
    error_code ec;
    inner_.assign(net::local::stream_protocol(), fds[0], ec);
    if (!ec) inner_.non_blocking(true, ec);
    tcp::socket plaintext(tcp_.get_executor());
    if (!ec) plaintext.assign(tcp::v4(), fds[1], ec);
    if (ec) {
      CHAT_LOG_WARN(kLog, "cannot use a socketpair for a TLS connection: %s", ec.message());
      if (!plaintext.is_open()) ::close(fds[1]);
      if (!inner_.is_open()) ::close(fds[0]);
      Close();
      return false;
    }
    auto ready = std::move(ready_);
    ready(std::move(plaintext));
    return true;
  }

  // Browser -> bridge: decrypt into a buffer, then hand it to the bridge.
  bool StepUp(Need* need) {
    if (up_len_ == 0) {
      if (up_ == nullptr) up_ = std::make_unique<std::array<char, kRecord>>();
      int r = SSL_read(ssl_, up_->data(), static_cast<int>(up_->size()));
      if (r <= 0) {
        bool ended = false;
        *need = SslNeed(r, &ended);
        up_.reset();
        if (ended) UpDone();
        return ended;
      }
      up_off_ = 0;
      up_len_ = static_cast<size_t>(r);
    }
    ssize_t n = ::send(inner_.native_handle(), up_->data() + up_off_, up_len_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *need = kInnerWrite;
        return false;
      }
      UpDone();  // the bridge closed its end: nobody to give it to
      return true;
    }
    up_off_ += static_cast<size_t>(n);
    up_len_ -= static_cast<size_t>(n);
    if (up_len_ == 0) up_.reset();
    return true;
  }

  // Bridge -> browser: read what the bridge wrote, then encrypt it out.
  bool StepDown(Need* need) {
    if (down_len_ == 0) {
      if (down_ == nullptr) down_ = std::make_unique<std::array<char, kRecord>>();
      ssize_t n = ::recv(inner_.native_handle(), down_->data(), down_->size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        down_.reset();
        *need = kInnerRead;
        return false;
      }
      if (n <= 0) {  // the bridge closed its end (or it broke)
        down_.reset();
        DownDone();
        return true;
      }
      down_len_ = static_cast<size_t>(n);
    }
    int r = SSL_write(ssl_, down_->data(), static_cast<int>(down_len_));
    if (r <= 0) {
      bool ended = false;
      *need = SslNeed(r, &ended);
      if (ended) {  // the browser is gone: stop both ways
        up_done_ = true;
        DownDone();
      }
      return ended;
    }
    down_len_ = 0;  // SSL_write writes all of it (no partial writes)
    down_.reset();
    return true;
  }

  void UpDone() {
    up_done_ = true;
    error_code ignored;
    inner_.shutdown(net::socket_base::shutdown_send, ignored);
  }

  // End the TLS stream (close_notify, best effort), half-close TCP, and give
  // the browser a moment to close its side.
  void DownDone() {
    if (down_done_) return;
    down_done_ = true;
    if (!up_done_) {
      SSL_shutdown(ssl_);
      ERR_clear_error();
    }
    error_code ignored;
    tcp_.shutdown(net::socket_base::shutdown_send, ignored);
    inner_.close(ignored);
    timer_.expires_after(absl::ToChronoNanoseconds(std::min(kLingerTimeout, stall_timeout_)));
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->Close();
    });
  }

  void Arm(Need need) {
    if (closed_ || need == kNothing) return;
    const int bit = 1 << need;
    if (armed_ & bit) return;
    armed_ |= bit;
    if (need == kTcpWrite) WatchStall();
    auto on_ready = [self = shared_from_this(), bit, need](const error_code& ec) {
      self->armed_ &= ~bit;
      if (need == kTcpWrite) self->stall_.cancel();
      if (ec) {
        if (ec != net::error::operation_aborted) self->Close();
        return;
      }
      self->Pump();
    };
    switch (need) {
      case kTcpRead:
        return tcp_.async_wait(net::socket_base::wait_read, std::move(on_ready));
      case kTcpWrite:
        return tcp_.async_wait(net::socket_base::wait_write, std::move(on_ready));
      case kInnerRead:
        return inner_.async_wait(net::socket_base::wait_read, std::move(on_ready));
      case kInnerWrite:
        return inner_.async_wait(net::socket_base::wait_write, std::move(on_ready));
      case kNothing:
        return;
    }
  }

  // A browser that takes no bytes for stall_timeout_ while the bridge has some
  // for it is gone or hostile: without this its connection would outlive the
  // session (which the bridge closes at --max_queued_bytes) for ever, holding
  // three descriptors outside --max_connections.
  void WatchStall() {
    stall_.expires_after(absl::ToChronoNanoseconds(stall_timeout_));
    stall_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec) return;
      CHAT_LOG_DEBUG(kLog, "closing a TLS connection whose browser took nothing for %s",
                     absl::FormatDuration(self->stall_timeout_));
      self->Close();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    timer_.cancel();
    stall_.cancel();
    inner_.close(ignored);
    tcp_.close(ignored);
    hold_.reset();
  }

  std::shared_ptr<ssl::context> context_;  // outlives ssl_
  tcp::socket tcp_;
  net::local::stream_protocol::socket inner_;
  net::steady_timer timer_;
  net::steady_timer stall_;
  absl::Duration stall_timeout_;
  std::shared_ptr<void> hold_;  // released when the connection is closed
  SSL* ssl_;
  absl::AnyInvocable<void(tcp::socket)> ready_;
  bool handshaken_ = false;
  bool up_done_ = false;
  bool down_done_ = false;
  bool closed_ = false;
  int armed_ = 0;  // bits of Need with a wait outstanding
  std::unique_ptr<std::array<char, kRecord>> up_;
  size_t up_off_ = 0;
  size_t up_len_ = 0;
  std::unique_ptr<std::array<char, kRecord>> down_;
  size_t down_len_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsFront>> TlsFront::Create(std::string cert_file, std::string key_file) {
  std::unique_ptr<TlsFront> front(new TlsFront(std::move(cert_file), std::move(key_file)));
  if (absl::Status st = front->Reload(); !st.ok()) return st;
  return front;
}

absl::Status TlsFront::Reload() {
  std::string describe;
  auto ctx = MakeContext(cert_file_, key_file_, &describe);
  if (!ctx.ok()) return ctx.status();
  absl::MutexLock lock(&mu_);
  context_ = *std::move(ctx);
  describe_ = std::move(describe);
  return absl::OkStatus();
}

std::string TlsFront::Describe() const {
  absl::MutexLock lock(&mu_);
  return describe_;
}

void TlsFront::Accept(Socket socket, absl::Duration timeout, absl::Duration stall_timeout,
                      std::shared_ptr<void> hold, absl::AnyInvocable<void(Socket)> ready) {
  std::shared_ptr<ssl::context> context;
  {
    absl::MutexLock lock(&mu_);
    context = context_;
  }
  std::make_shared<TlsPipe>(std::move(socket), std::move(context))->Start(timeout, stall_timeout, std::move(hold), std::move(ready));
}

}  // namespace chat::bridge
