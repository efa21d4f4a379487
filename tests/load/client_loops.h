// The epoll clients of a run: receivers spread round-robin over --threads
// receiver loops, senders on a loop of their own that wakes on a timerfd at
// each message's scheduled time, so a busy receiver loop never delays a send
// and no sleep granularity is added to latency. Message k of a sender is
// scheduled at start + k / (rate per sender); latency counts from that time,
// not from when the send got to it (no coordinated omission).
#ifndef CHAT_TESTS_LOAD_CLIENT_LOOPS_H_
#define CHAT_TESTS_LOAD_CLIENT_LOOPS_H_

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bench_stats.h"
#include "client_pool.h"
#include "event_loop.h"
#include "wire_protocol.h"

namespace chat::bench {

// Threading: as ClientPool (the scenario's thread calls it); SendDue runs on the
// sender loop's thread, under send_mu_ like SetRate. Lifetime: owned by the
// run; owns the protocol and the loops; Stop ends every loop thread.
class ClientLoops : public ClientPool {
 public:
  // Threading: a plain value. Lifetime: copied into the ClientLoops.
  struct Options {
    std::string host;  // IPv4 address
    int port = 0;
    // Receivers' host:port, in turn (empty: host and port).
    std::vector<std::string> receiver_addrs;
    int receiver_threads = 1;
    // The room when rooms <= 1; else receiver i joins bench-<i % rooms>.
    std::string room;
    int rooms = 1;
    int message_size = 64;  // bytes of each message's text
  };
  // Starts the loops' threads.
  ClientLoops(const Options& options, std::unique_ptr<WireProtocol> protocol, Stats* stats);

  void Open(bool sender, int sender_id, int index) override;
  // Opens receiver `index` watched by `watch` (its deliveries go there, not into
  // the run's Stats), with SO_RCVBUF `rcvbuf` (0: the default). One at a time:
  // SetReading applies to the last one opened.
  void OpenWatched(int index, int rcvbuf, Watch* watch);
  // The watched receiver stops (false) or starts (true) reading.
  void SetReading(bool reading);
  void SetRate(double rate, int step) override;
  void SetupTimes(std::vector<double>* out_ms, int64_t after_ns) override;
  void Stop() override;

 private:
  EventLoop& send_loop() { return *loops_.back(); }
  static sockaddr_in Resolve(const std::string& host, int port);
  std::string RoomName(int index) const;
  // On the sender loop: sends every message that is due, then arms the timer
  // for the next one.
  void SendDue();

  const Options options_;
  sockaddr_in addr_{};
  std::vector<sockaddr_in> receiver_addrs_;
  const std::unique_ptr<WireProtocol> protocol_;
  Stats* const stats_;
  // Receiver loops, then the sender loop.
  std::vector<std::unique_ptr<EventLoop>> loops_;
  int next_loop_ = 0;  // the scenario's thread only
  // The watched receiver and its loop (the scenario's thread only; null: none).
  Conn* watched_ = nullptr;
  EventLoop* watched_loop_ = nullptr;
  std::atomic<int> next_id_{0};
  // Held by a pass of SendDue and by SetRate: guards the rate and its schedule
  // below, and keeps a new rate from starting while a pass still sends.
  absl::Mutex send_mu_;
  double rate_ ABSL_GUARDED_BY(send_mu_) = 0;
  int step_ ABSL_GUARDED_BY(send_mu_) = 0;
  int64_t rate_start_ns_ ABSL_GUARDED_BY(send_mu_) = 0;
  // Bumped by SetRate; SendDue resets the senders' counts when it sees a new one.
  int rate_gen_ ABSL_GUARDED_BY(send_mu_) = 0;
  int seen_gen_ ABSL_GUARDED_BY(send_mu_) = 0;
  // Per sender: messages sent at the current rate, and counters over the run.
  int64_t sent_by_[kMaxSenders] ABSL_GUARDED_BY(send_mu_) = {};
  int64_t counter_[kMaxSenders] ABSL_GUARDED_BY(send_mu_) = {};
};

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_CLIENT_LOOPS_H_
