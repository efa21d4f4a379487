// The clients of one run, whatever they speak: the scenarios open them, set
// the senders' rate step by step, and read how long each took to join.
// ClientLoops (epoll loops, every protocol) and GrpcLibClients (the gRPC C++
// library, --grpc_client=library) are the two kinds.
#ifndef CHAT_TESTS_LOAD_CLIENT_POOL_H_
#define CHAT_TESTS_LOAD_CLIENT_POOL_H_

#include <cstdint>
#include <vector>

namespace chat::bench {

// Threading: every method is called from the scenario's thread; the clients
// themselves run on threads of their own. Lifetime: owned by the run; after
// Stop() no client thread touches the run's Stats.
class ClientPool {
 public:
  virtual ~ClientPool() = default;
  // Opens one client: sender `sender_id` (joins the first room), or receiver
  // number `index` (which picks its room when the clients spread over rooms).
  virtual void Open(bool sender, int sender_id, int index) = 0;
  // From now on all senders together send `rate` messages/s, tagged with
  // `step`; 0 stops. Returns once no message of the previous rate can still be
  // sent, so the caller may count what was sent.
  virtual void SetRate(double rate, int step) = 0;
  // Appends the connect-to-joined time (ms) of each client opened at or after
  // `after_ns` (NowNs) that has joined.
  virtual void SetupTimes(std::vector<double>* out_ms, int64_t after_ns) = 0;
  // Stops the client threads that Stop can stop (the epoll loops).
  virtual void Stop() = 0;
};

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_CLIENT_POOL_H_
