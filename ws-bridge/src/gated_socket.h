// GatedSocket: the TCP socket under a session's WebSocket stream, with a gate
// that lets another thread write a whole frame straight to the socket.
//
// The gateway's thread fans each room message out to every local session.
// Handing each write to the session's strand costs two scheduler round trips
// and, most of the time, waking an I/O thread per socket. Writing the frame
// right there costs one sendmsg (docs/architecture.md, ws-bridge).
//
// Writing beside Beast is only safe at a frame boundary and while Beast writes
// nothing. Beast writes everything of its own (the handshake, pongs,
// keep-alive pings, the close frame) through async_write_some here, so the gate
// counts those writes, and it shuts for good once a close frame goes out or
// the socket is torn down or closed. A write is counted until its handler has
// returned, so a frame Beast writes in several pieces never shows a zero count
// in between.
//
// The frame a direct write puts on the wire is what Beast would write: a
// single unmasked text frame (a server does not mask; the bridge negotiates no
// permessage-deflate and does not fragment). If the socket took only part of
// it, the rest becomes a prefix that goes out before anything else: the next
// write through async_write_some, or FlushPrefix on the strand, sends it
// first, and the gate stays shut for direct writes until it has gone.
//
// A direct write can also go into a SendBatch (AddText), which writes to many
// sockets in one system call. Until the batch is flushed, the frame counts as
// written as far as the session is concerned: the gate is held for it, so
// Beast's next write waits, and closing the socket waits, until the batch has
// sent it; whatever the socket did not take (all of it, if the socket was
// full) becomes the prefix and goes out from the strand, as above.
//
// Threading: async_read_some, async_write_some, FlushPrefix, shutdown and
// close on the session's strand; TryWriteText and AddText from any thread
// (AddText from the batch's own thread). Lifetime: the
// socket and the gate's state are shared with the prefix's pending write and
// its waiter, so they outlive the session if they must: a waiter can be
// Beast's keep-alive ping, which holds no reference to the session. A waiter
// whose prefix failed, or whose socket has been closed, gets an error instead
// of a write.
#ifndef CHAT_WS_BRIDGE_SRC_GATED_SOCKET_H_
#define CHAT_WS_BRIDGE_SRC_GATED_SOCKET_H_

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

struct io_uring;

namespace chat::bridge {

class SendBatch;

class GatedSocket {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;

  explicit GatedSocket(socket_type&& socket) : gate_(std::make_shared<Gate>(std::move(socket))) {}

  executor_type get_executor() noexcept { return gate_->socket.get_executor(); }
  // For socket options and endpoints; never write or close through it.
  socket_type& socket() { return gate_->socket; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return gate_->socket.async_read_some(buffers, std::forward<Token>(token));
  }

  // Every write of Beast's (and http::async_write's) comes through here.
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    auto ex = boost::asio::get_associated_executor(handler, gate_->socket.get_executor());
    auto counted = boost::asio::bind_executor(ex, Counted<std::decay_t<Handler>>{gate_, std::forward<Handler>(handler)});
    absl::MutexLock lock(&gate_->mu);
    if (StartsCloseFrame(buffers)) gate_->open = false;
    ++gate_->writes;
    if (!gate_->prefix.empty() && !gate_->prefix_busy) StartPrefixLocked(gate_);
    if (gate_->prefix_busy || gate_->batched) {
      // Beast has one write in flight at most, so there is one waiter at most.
      auto held = std::make_shared<decltype(counted)>(std::move(counted));
      gate_->waiter = [gate = gate_, buffers, held](const boost::system::error_code& ec) {
        if (ec || !gate->socket.is_open()) {
          // Called from the prefix's completion on the strand: complete at once.
          (*held)(ec ? ec : boost::asio::error::operation_aborted, 0);
          return;
        }
        gate->socket.async_write_some(buffers, std::move(*held));
      };
      return;
    }
    gate_->socket.async_write_some(buffers, std::move(counted));
  }

  enum class Direct {
    kWritten,  // the whole frame is on the socket
    kPartly,   // the rest is the prefix: call FlushPrefix on the strand
    kNot,      // nothing written (gate shut, socket full or broken): write it the usual way
  };
  // Writes `payload` as one text frame if the gate is open.
  Direct TryWriteText(std::string_view payload);
  // Adds `payload`, as one text frame, to `batch` if the gate is open and the
  // batch has room; true: the frame is the socket's now (see above). false:
  // nothing done; write it the usual way.
  bool AddText(SendBatch& batch, std::shared_ptr<const std::string> payload);

  // After the handshake: direct writes may start.
  void Open();
  // For good: no more direct writes (a close is under way). Waits for a batch
  // that holds a frame of this socket to send it.
  void Shut();
  // Strand: sends the prefix a partial direct write left, unless a write took it.
  void FlushPrefix();
  // Bytes of direct writes the socket has not taken yet: the prefix, waiting
  // or being written (any thread; takes the gate's lock).
  size_t unsent_bytes();

  void shutdown(socket_type::shutdown_type what, boost::system::error_code& ec);
  void close(boost::system::error_code& ec);

  // Beast's customization points: the socket closes and tears down through the
  // gate, never behind its back.
  friend void beast_close_socket(GatedSocket& s) {
    boost::system::error_code ec;
    s.close(ec);
  }
  template <class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, GatedSocket& s, TeardownHandler&& handler) {
    s.Shut();
    boost::beast::websocket::async_teardown(role, s.gate_->socket, std::forward<TeardownHandler>(handler));
  }

 private:
  friend class SendBatch;

  struct Gate {
    explicit Gate(socket_type&& s) : socket(std::move(s)) {}
    socket_type socket;
    absl::Mutex mu;
    bool open ABSL_GUARDED_BY(mu) = false;
    // Writes through async_write_some or of the prefix whose handlers have not returned.
    int writes ABSL_GUARDED_BY(mu) = 0;
    std::string prefix ABSL_GUARDED_BY(mu);
    bool prefix_busy ABSL_GUARDED_BY(mu) = false;
    // The size of the prefix being written (while prefix_busy).
    size_t prefix_writing ABSL_GUARDED_BY(mu) = 0;
    std::function<void(const boost::system::error_code&)> waiter ABSL_GUARDED_BY(mu);
    // A frame of this socket is in a SendBatch that has not sent it yet.
    bool batched ABSL_GUARDED_BY(mu) = false;

    // A whole frame may go straight onto the socket now.
    bool DirectWritable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return open && writes == 0 && !prefix_busy && prefix.empty() && !batched;
    }
    // Of the frame `header` + `payload`, the first `sent` bytes went out: the
    // rest becomes the prefix.
    void KeepUnsent(std::string_view header, std::string_view payload, size_t sent)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      if (sent < header.size()) {
        prefix.assign(header.substr(sent));
        sent = header.size();
      }
      prefix.append(payload.substr(sent - header.size()));
    }
  };

  template <class Handler>
  struct Counted {
    std::shared_ptr<Gate> gate;
    Handler handler;
    void operator()(const boost::system::error_code& ec, size_t n) {
      handler(ec, n);
      absl::MutexLock lock(&gate->mu);
      --gate->writes;
    }
  };

  template <class ConstBuffers>
  static bool StartsCloseFrame(const ConstBuffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b(*it);
      // 0x88: FIN and opcode 8 (close). A data frame's later piece that starts
      // with this byte only shuts the gate early, which costs speed, not order.
      if (b.size() > 0) return *static_cast<const unsigned char*>(b.data()) == 0x88;
    }
    return false;
  }

  // The header of a text frame of `len` bytes, into `header` (10 bytes); its size.
  static size_t TextHeader(uint64_t len, unsigned char* header);
  static void StartPrefixLocked(const std::shared_ptr<Gate>& gate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate->mu);
  // On the strand, after a batch sent a frame: the prefix it left, or else
  // Beast's write that waited for it.
  static void ResumeAfterBatch(const std::shared_ptr<Gate>& gate);

  std::shared_ptr<Gate> gate_;
};

// Sends queued frames to many sockets with one io_uring submission instead of
// one sendmsg each (each send is non-blocking: a full socket fails at once and
// its frame goes to the strand).
// Threading: one per thread (ForThisThread); that thread adds frames (through
// GatedSocket::AddText) and then calls Flush before it waits for anything.
// Lifetime: thread_local; flushed and freed when its thread ends.
class SendBatch {
 public:
  static constexpr size_t kCapacity = 256;

  // This thread's batch, or nullptr if io_uring cannot be had here (an old
  // kernel, or a seccomp profile that refuses it): then write one sendmsg at
  // a time. Logs the reason once per process.
  static SendBatch* ForThisThread();

  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  bool full() const { return size_ == kCapacity; }
  size_t size() const { return size_; }
  // Sends what was added and waits until every send is done; each frame's
  // unsent part (if any) is handed to its socket's strand. If waiting fails,
  // it waits again for the sends the kernel took (a frame is never released or
  // sent a second time while the kernel may be reading it), and the batch is
  // broken: ForThisThread gives this thread none from then on. A send whose
  // completion still does not come is abandoned (Abandon).
  void Flush();

 private:
  friend class GatedSocket;
  struct Entry {
    std::shared_ptr<GatedSocket::Gate> gate;
    std::shared_ptr<const std::string> payload;
    unsigned char header[10];
    size_t header_size = 0;
    iovec iov[2];
    msghdr msg;
  };

  explicit SendBatch(std::unique_ptr<io_uring> ring);
  // Queues the sendmsg of entries_[size_], filled in by the caller, which
  // holds its gate.
  void Push(int fd);
  // The send of `e` is over: `result` bytes went (negative: an error, none did).
  static void Finish(Entry& e, long result);
  // The send of `e` was taken by the kernel but its completion never came:
  // its socket is shut down and the entry keeps its memory.
  static void Abandon(Entry& e);

  std::unique_ptr<io_uring> ring_;
  std::unique_ptr<Entry[]> entries_;
  size_t size_ = 0;
  bool broken_ = false;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_GATED_SOCKET_H_
