// WriteKicker: a small pool of threads that start the writes of room fan-out.
//
// Publishing a room message only queues the shared frame on each subscriber's
// Outbox (cheap); the gRPC write that sends it (expensive: the transport's
// framing and a syscall per connection) is started by a kicker thread. So the
// store's completion thread is not the one doing a thousand writes per message,
// fan-out uses every core, and while an outbox waits for its kick, further
// messages pile up behind it and leave together (buffer_hint).
//
// Threading: thread-safe. An outbox is always kicked by the same thread, so its
// frames keep their order. Lifetime: owned by the Hub's owner; Stop() joins the
// threads after running the kicks already queued.
#ifndef CHAT_CORE_SRC_WRITE_KICKER_H_
#define CHAT_CORE_SRC_WRITE_KICKER_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace chat::core {

class Outbox;

class WriteKicker {
 public:
  explicit WriteKicker(int threads);
  ~WriteKicker();
  WriteKicker(const WriteKicker&) = delete;
  WriteKicker& operator=(const WriteKicker&) = delete;

  // The lane (thread) for a new outbox: round robin, so streams spread evenly.
  size_t AssignLane();
  // Starts `outbox`'s next write on the thread of `lane`. May be called with the
  // outbox's lock held (takes only the pool's own lock).
  void Kick(size_t lane, std::shared_ptr<Outbox> outbox);
  void Stop();

 private:
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::shared_ptr<Outbox>> pending;
    bool stop = false;
    std::thread thread;
  };
  void Run(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<size_t> next_lane_{0};
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_WRITE_KICKER_H_
