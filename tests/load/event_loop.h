// One epoll thread of the load generator and the client connections it owns:
// non-blocking sockets with TCP_NODELAY and SO_TIMESTAMPNS, up to 512 KiB per
// read, every read stamped with when its bytes reached the socket (ReadTime),
// writes queued while a socket is full. What the bytes mean is the
// WireProtocol's business. The sender loop also has a timerfd that wakes it at
// each message's scheduled time (ClientLoops::SendDue).
#ifndef CHAT_TESTS_LOAD_EVENT_LOOP_H_
#define CHAT_TESTS_LOAD_EVENT_LOOP_H_

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bench_stats.h"
#include "wire_protocol.h"

namespace chat::bench {

// Threading: Run (started by Start) owns every connection's I/O on the loop's
// thread; Connect, Senders and SetupTimes may be called from any thread (they
// take mu_); ArmTimer from any thread. Lifetime: owned by ClientLoops;
// on_timer runs only on the loop's thread and never after Stop returns; the
// connections stay, sockets open, until the process ends.
class EventLoop : public ClientIo {
 public:
  EventLoop(WireProtocol* protocol, Stats* stats);
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Makes this the sender loop (before Start): a timerfd, armed by ArmTimer,
  // whose expiry runs `on_timer` on the loop's thread; 1 µs timer slack.
  void EnableTimer(std::function<void()> on_timer);
  // Wakes the loop at `at_ns` (CLOCK_MONOTONIC); 0 disarms.
  void ArmTimer(int64_t at_ns);

  void Start();
  // Asks the loop's thread to end (within one 20 ms epoll wait); Stop also
  // waits for it.
  void RequestStop() { stop_ = true; }
  void Stop();

  // Starts a non-blocking connect of `c` to `addr` and watches it.
  void Connect(std::unique_ptr<Conn> c, const sockaddr_in& addr);
  // The sender connections (a copy: the loop may add more).
  std::vector<Conn*> Senders();
  // As ClientPool::SetupTimes, for this loop's connections.
  void SetupTimes(std::vector<double>* out_ms, int64_t after_ns);
  // From any thread: `c` (one of this loop's) stops or starts reading, within a
  // loop pass (at most one 20 ms epoll wait). A stopped connection's socket
  // leaves EPOLLIN, so the kernel's receive buffer fills and the server backs up.
  void SetReading(Conn* c, bool reading);

  // ClientIo, on the loop's thread.
  void Write(Conn* c, const std::string& bytes) override;
  void Dead(Conn* c) override;

 private:
  void Run();
  void WantOut(Conn* c, bool on);
  void OnWritable(Conn* c);
  void OnReadable(Conn* c, std::vector<char>& buf);
  // On the loop's thread: SetReading's work; epoll's interest in `c` as its
  // state wants it.
  void ApplyReading(Conn* c, bool reading);
  void Interest(Conn* c);

  WireProtocol* const protocol_;
  Stats* const stats_;
  const int epoll_;
  int timer_ = -1;  // the sender loop only
  std::function<void()> on_timer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // CLOCK_REALTIME minus CLOCK_MONOTONIC (ns), taken once per loop pass: moves
  // the kernel's receive timestamps (wall-clock time) onto the monotonic clock.
  // The loop's thread only.
  int64_t real_minus_mono_ = 0;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  std::vector<Conn*> senders_ ABSL_GUARDED_BY(mu_);
  // Work posted from other threads, run at the start of the next loop pass.
  std::vector<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_EVENT_LOOP_H_
