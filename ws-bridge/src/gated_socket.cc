#include "gated_socket.h"

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "chat/log.h"

namespace chat::bridge {
namespace {
constexpr char kLog[] = "bridge";
// Failed waits in a row for the completions of sends the kernel took, before
// SendBatch gives up on them (Flush).
constexpr int kMaxWaitFailures = 64;

// io_uring_wait_cqe, with a test-only seam: CHAT_TEST_IO_URING_WAIT_FAILURES=N
// in the environment makes the first N waits of the process fail with EIO
// before waiting (tests/bridge/io_uring_failure_test.py), so the error path
// runs against real sockets.
int WaitCqe(io_uring* ring, io_uring_cqe** cqe) {
  static std::atomic<long> injected{[] {
    const char* v = std::getenv("CHAT_TEST_IO_URING_WAIT_FAILURES");
    long n = v == nullptr ? 0 : std::strtol(v, nullptr, 10);
    if (n > 0) CHAT_LOG_WARN(kLog, "CHAT_TEST_IO_URING_WAIT_FAILURES=%ld: failing that many io_uring waits (a test hook)", n);
    return n > 0 ? n : 0L;
  }()};
  if (injected.load(std::memory_order_relaxed) > 0 && injected.fetch_sub(1) > 0) return -EIO;
  return io_uring_wait_cqe(ring, cqe);
}
}  // namespace

size_t GatedSocket::TextHeader(uint64_t len, unsigned char* header) {
  // FIN + text, then the payload length in the shortest form RFC 6455 allows.
  header[0] = 0x81;
  if (len < 126) {
    header[1] = static_cast<unsigned char>(len);
    return 2;
  }
  if (len <= 0xffff) {
    header[1] = 126;
    header[2] = static_cast<unsigned char>(len >> 8);
    header[3] = static_cast<unsigned char>(len);
    return 4;
  }
  header[1] = 127;
  for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
  return 10;
}

GatedSocket::Direct GatedSocket::TryWriteText(std::string_view payload) {
  unsigned char header[10];
  const size_t header_size = TextHeader(payload.size(), header);
  iovec iov[2] = {{header, header_size}, {const_cast<char*>(payload.data()), payload.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;

  absl::MutexLock lock(&gate_->mu);
  if (!gate_->DirectWritable()) return Direct::kNot;
  ssize_t n;
  do {
    n = ::sendmsg(gate_->socket.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  // Full (EAGAIN) or broken: nothing went out; the strand's write waits for
  // room or reports the error.
  if (n <= 0) return Direct::kNot;
  const size_t total = header_size + payload.size();
  if (static_cast<size_t>(n) == total) return Direct::kWritten;
  gate_->KeepUnsent(std::string_view(reinterpret_cast<const char*>(header), header_size), payload,
                    static_cast<size_t>(n));
  return Direct::kPartly;
}

bool GatedSocket::AddText(SendBatch& batch, std::shared_ptr<const std::string> payload) {
  if (batch.full() || batch.broken_) return false;
  absl::MutexLock lock(&gate_->mu);
  if (!gate_->DirectWritable()) return false;
  gate_->batched = true;
  SendBatch::Entry& e = batch.entries_[batch.size_];
  e.gate = gate_;
  e.header_size = TextHeader(payload->size(), e.header);
  e.iov[0] = {e.header, e.header_size};
  e.iov[1] = {const_cast<char*>(payload->data()), payload->size()};
  e.payload = std::move(payload);
  e.msg = msghdr{};
  e.msg.msg_iov = e.iov;
  e.msg.msg_iovlen = 2;
  batch.Push(gate_->socket.native_handle());
  return true;
}

void GatedSocket::ResumeAfterBatch(const std::shared_ptr<Gate>& gate) {
  std::function<void(const boost::system::error_code&)> waiter;
  {
    absl::MutexLock lock(&gate->mu);
    // The prefix's write hands over to the waiter itself when it is done.
    if (!gate->prefix.empty() && !gate->prefix_busy) StartPrefixLocked(gate);
    if (gate->prefix_busy || gate->batched) return;
    waiter = std::move(gate->waiter);
    gate->waiter = nullptr;
  }
  if (waiter) waiter(boost::system::error_code());
}

void GatedSocket::Open() {
  absl::MutexLock lock(&gate_->mu);
  gate_->open = true;
}

void GatedSocket::Shut() {
  absl::MutexLock lock(&gate_->mu);
  gate_->open = false;
  // A batch sends, or fails, without waiting for the peer, so this is short.
  gate_->mu.Await(absl::Condition(
      +[](Gate* g) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !g->batched; }, gate_.get()));
}

void GatedSocket::FlushPrefix() {
  absl::MutexLock lock(&gate_->mu);
  if (!gate_->prefix.empty() && !gate_->prefix_busy) StartPrefixLocked(gate_);
}

size_t GatedSocket::unsent_bytes() {
  absl::MutexLock lock(&gate_->mu);
  return gate_->prefix.size() + gate_->prefix_writing;
}

void GatedSocket::StartPrefixLocked(const std::shared_ptr<Gate>& gate) {
  gate->prefix_busy = true;
  ++gate->writes;
  auto bytes = std::make_shared<std::string>(std::move(gate->prefix));
  gate->prefix.clear();
  gate->prefix_writing = bytes->size();
  // The handler holds the gate, and with it the socket this write refers to.
  boost::asio::async_write(
      gate->socket, boost::asio::buffer(*bytes),
      boost::asio::bind_executor(gate->socket.get_executor(), [gate, bytes](const boost::system::error_code& ec, size_t) {
        std::function<void(const boost::system::error_code&)> waiter;
        {
          absl::MutexLock lock(&gate->mu);
          gate->prefix_busy = false;
          gate->prefix_writing = 0;
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
  // Shut first, under the gate's lock: a direct write in progress, or a
  // batch holding a frame of this socket, finishes before the descriptor can be
  // closed (and reused by another connection).
  Shut();
  gate_->socket.close(ec);
}

// ---------------------------------------------------------------------------

SendBatch* SendBatch::ForThisThread() {
  // Whether io_uring works here, found out by the first thread that asks:
  // 0 unknown, 1 yes, 2 no.
  static std::atomic<int> available{0};
  thread_local std::unique_ptr<SendBatch> batch;
  if (batch != nullptr) return batch->broken_ ? nullptr : batch.get();
  if (available.load(std::memory_order_relaxed) == 2) return nullptr;
  auto ring = std::make_unique<io_uring>();
  // The ring takes a whole batch; twice as many completions fit.
  int rc = io_uring_queue_init(kCapacity, ring.get(), 0);
  if (rc < 0) {
    if (available.exchange(2) != 2) {
      CHAT_LOG_WARN(kLog, "io_uring is not available (%s); room messages are written with one sendmsg per socket",
                    std::strerror(-rc));
    }
    return nullptr;
  }
  available.store(1, std::memory_order_relaxed);
  batch.reset(new SendBatch(std::move(ring)));
  return batch.get();
}

SendBatch::SendBatch(std::unique_ptr<io_uring> ring)
    : ring_(std::move(ring)), entries_(new Entry[kCapacity]) {}

SendBatch::~SendBatch() {
  Flush();
  io_uring_queue_exit(ring_.get());
}

void SendBatch::Push(int fd) {
  Entry& e = entries_[size_];
  // The ring has room for kCapacity entries, and AddText stops at that.
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  io_uring_prep_sendmsg(sqe, fd, &e.msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, size_);
  ++size_;
}

void SendBatch::Flush() {
  if (size_ == 0) return;
  // Each send is non-blocking, so the kernel does them all inside this call;
  // waiting for all of them waits for nothing else.
  size_t submitted = 0;
  while (submitted < size_) {
    int rc = io_uring_submit_and_wait(ring_.get(), static_cast<unsigned>(size_ - submitted));
    if (rc == -EINTR) continue;
    if (rc <= 0) {
      // Never seen; if it happens, the sends not taken must never be taken
      // later: this thread stops batching (its ring goes with the thread).
      CHAT_LOG_ERROR(kLog, "io_uring submission failed (%s); writing one sendmsg per socket from now on",
                     std::strerror(rc < 0 ? -rc : EIO));
      broken_ = true;
      break;
    }
    submitted += static_cast<size_t>(rc);
  }
  std::unique_ptr<bool[]> done(new bool[size_]());
  size_t got = 0;
  for (int failures = 0; got < submitted;) {
    io_uring_cqe* cqe = nullptr;
    int rc = WaitCqe(ring_.get(), &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) {
      // The sends the kernel took may still be reading their frames: keep
      // waiting for their completions (the ring is drained) before anything
      // of theirs is released or sent again. This thread batches no more.
      if (failures == 0) {
        CHAT_LOG_ERROR(kLog, "io_uring completion failed (%s); waiting for the %d sends under way, then writing "
                       "one sendmsg per socket from now on", std::strerror(-rc), static_cast<int>(submitted - got));
      }
      broken_ = true;
      if (++failures < kMaxWaitFailures) continue;
      break;
    }
    failures = 0;
    const uint64_t i = io_uring_cqe_get_data64(cqe);
    const long result = cqe->res;
    io_uring_cqe_seen(ring_.get(), cqe);
    if (i >= size_ || done[i]) continue;
    done[i] = true;
    ++got;
    Finish(entries_[i], result);
  }
  for (size_t i = 0; i < size_; ++i) {
    if (done[i]) continue;
    if (i < submitted) {
      // Taken by the kernel, and no completion came: how much of the frame
      // went is unknown, so its socket cannot go on (Abandon).
      Abandon(entries_[i]);
    } else {
      // Never taken (the submission failed; nothing submits this ring again):
      // the frame goes to the strand whole.
      Finish(entries_[i], -EIO);
    }
  }
  if (got < submitted) {
    CHAT_LOG_ERROR(kLog, "io_uring: no completion for %d sends; their connections are closed",
                   static_cast<int>(submitted - got));
  }
  size_ = 0;
}

void SendBatch::Abandon(Entry& e) {
  // The entry keeps the frame, its header and the gate (and with it the
  // socket object) for as long as this batch lives: the kernel may still read
  // them. Nothing reuses the entry: the batch is broken.
  const std::shared_ptr<GatedSocket::Gate>& gate = e.gate;
  {
    absl::MutexLock lock(&gate->mu);
    // The descriptor is still the socket's: closing it waits for `batched`.
    // Shut both ways, the send under way fails if it has not run yet, and the
    // session's next read and write fail, so it tears down.
    ::shutdown(gate->socket.native_handle(), SHUT_RDWR);
    gate->open = false;
    gate->batched = false;
  }
  boost::asio::post(gate->socket.get_executor(), [gate] { GatedSocket::ResumeAfterBatch(gate); });
}

void SendBatch::Finish(Entry& e, long result) {
  std::shared_ptr<GatedSocket::Gate> gate = std::move(e.gate);
  std::shared_ptr<const std::string> payload = std::move(e.payload);
  bool resume = false;
  {
    absl::MutexLock lock(&gate->mu);
    gate->batched = false;
    // Whatever did not go (all of it after an error: EAGAIN on a full socket,
    // or a broken one, which the strand's write then reports) is the prefix.
    gate->KeepUnsent(std::string_view(reinterpret_cast<const char*>(e.header), e.header_size), *payload,
                     result > 0 ? static_cast<size_t>(result) : 0);
    resume = !gate->prefix.empty() || gate->waiter != nullptr;
  }
  if (resume) {
    boost::asio::post(gate->socket.get_executor(), [gate] { GatedSocket::ResumeAfterBatch(gate); });
  }
}

}  // namespace chat::bridge
