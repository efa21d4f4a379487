// Direct gRPC clients on the gRPC C++ library (--grpc_client=library), for
// comparison with the generator's own HTTP/2 client: one callback-API Connect
// stream per client, --streams_per_channel of them on a channel, and a sender
// thread that sleeps until each message's scheduled time. The library needs
// most of a core to receive 25,000 messages a second over 1,000 channels, which
// is why the suite uses the h2 client (grpc_h2_protocol.cc).
#ifndef CHAT_TESTS_LOAD_GRPC_LIBRARY_CLIENTS_H_
#define CHAT_TESTS_LOAD_GRPC_LIBRARY_CLIENTS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bench_stats.h"
#include "chat/v1/chat.grpc.pb.h"
#include "client_pool.h"

namespace chat::bench {

// Threading: reactions run on gRPC's threads; Write may be called from any
// thread (mu_ guards the write queue). Lifetime: owned by GrpcLibClients, which
// cancels it and waits for OnDone before deleting it.
// One client: a Connect stream that joins `room` and counts what it receives.
class GrpcConn : public grpc::ClientBidiReactor<chat::v1::ClientEvent, chat::v1::ServerEvent> {
 public:
  GrpcConn(chat::v1::ChatService::Stub* stub, const std::string& name, const std::string& room, int grpc_batch,
           bool sender, int sender_id, Stats* stats);
  // Queues an event; at most one write is in flight.
  void Write(chat::v1::ClientEvent ev);
  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& s) override;
  void Cancel() { ctx_.TryCancel(); }
  // Waits up to 10 s for OnDone.
  void WaitDone();
  bool sender() const { return sender_; }
  int sender_id() const { return sender_id_; }
  double setup_ms() const { return joined_ns_ ? (joined_ns_ - started_ns_) / 1e6 : -1; }
  int64_t started_ns() const { return started_ns_; }

 private:
  void OnEvent(const chat::v1::ServerEvent& event);

  Stats* const stats_;
  grpc::ClientContext ctx_;
  chat::v1::ServerEvent in_;  // the read in flight
  absl::Mutex mu_;
  std::deque<chat::v1::ClientEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> joined_{false};
  const bool sender_;
  const int sender_id_;
  OrderState order_;  // the reading reaction only
  int64_t started_ns_ = 0;
  int64_t joined_ns_ = 0;
};

// Threading: as ClientPool; the sender thread (started by SetRate, joined by
// the next SetRate) is the only other thread it runs. Lifetime: owned by the
// run; its destructor stops sending, cancels every stream and waits for them.
class GrpcLibClients : public ClientPool {
 public:
  // Threading: a plain value. Lifetime: copied into the GrpcLibClients.
  struct Options {
    std::string addr;  // host:port
    std::string room;
    int grpc_batch = 1;
    int streams_per_channel = 1;
    bool bdp_probe = true;
    int message_size = 64;
  };
  GrpcLibClients(Options options, Stats* stats) : options_(std::move(options)), stats_(stats) {}
  ~GrpcLibClients() override;

  // Receivers all join options.room (the library clients do not spread over rooms).
  void Open(bool sender, int sender_id, int index) override;
  void SetRate(double rate, int step) override;
  void SetupTimes(std::vector<double>* out_ms, int64_t after_ns) override;
  // Nothing to stop: the streams run until the destructor cancels them.
  void Stop() override {}

 private:
  void StopSending();

  const Options options_;
  Stats* const stats_;
  std::vector<std::unique_ptr<chat::v1::ChatService::Stub>> stubs_;
  int streams_on_last_ = 0;
  std::vector<GrpcConn*> conns_;
  std::vector<GrpcConn*> senders_;
  std::thread sender_thread_;
  std::atomic<bool> stop_{false};
  int64_t counter_[kMaxSenders] = {};  // the sender thread only
};

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_GRPC_LIBRARY_CLIENTS_H_
