// WriteKicker: a small pool of threads that start the writes of room fan-out
// (docs/architecture.md, "The hot path").
//
// Publishing a room message only queues the shared frame on each subscriber's
// Outbox (cheap); the gRPC write that sends it (expensive: the transport's
// framing and a syscall per connection) is started by a kicker thread. So the
// store's completion thread is not the one doing a thousand writes per message,
// fan-out uses every core, and while an outbox waits for its kick, further
// messages pile up behind it and leave together (buffer_hint).
//
// With completion queues (the server's Connect streams), each lane's thread also
// polls its own queue and runs the completions of the streams on it. A write
// that a lane starts usually completes within the call that starts it, and its
// completion then waits in the lane's own queue for the same thread, instead of
// waking one of gRPC's callback threads per write (which cost more than the
// write itself; docs/architecture.md, "Fan-out lanes").
//
// Threading: thread-safe. An outbox is always kicked by the same thread, so its
// frames keep their order. Lifetime: owned by the Hub's owner. Stop() joins the
// threads: without queues after running the kicks already queued; with queues it
// drops kicks not yet run, waits until every requested call's tag is back, and
// then shuts the queues down and drains them. The grpc::Server must have been
// shut down first (it fails the requests still waiting).
#ifndef CHAT_CORE_SRC_WRITE_KICKER_H_
#define CHAT_CORE_SRC_WRITE_KICKER_H_

#include <grpcpp/alarm.h>
#include <grpcpp/completion_queue.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"

namespace chat::core {

class Outbox;

// What a lane's completion queue hands back: every tag put on a lane's queue is
// one of these, or (for batches started on gRPC core's C API) a
// grpc::internal::CompletionQueueTag whose FinalizeResult hands back one.
class CqTag {
 public:
  virtual void Run(bool ok) = 0;

 protected:
  ~CqTag() = default;
};

class WriteKicker {
 public:
  // Lanes with plain threads (no completion queues).
  explicit WriteKicker(int threads);
  // One lane per queue; its thread polls the queue. The queues must outlive this.
  explicit WriteKicker(std::vector<grpc::ServerCompletionQueue*> queues);
  ~WriteKicker();
  WriteKicker(const WriteKicker&) = delete;
  WriteKicker& operator=(const WriteKicker&) = delete;

  size_t lanes() const { return lanes_.size(); }
  // The lane (thread) for a new outbox: round robin, so streams spread evenly.
  size_t AssignLane();
  // Starts `outbox`'s next write on the thread of `lane`. May be called with the
  // outbox's lock held (takes only the pool's own lock).
  void Kick(size_t lane, std::shared_ptr<Outbox> outbox);
  // Runs `start(queue)` with the lane's queue unless the queue is shutting down
  // (then false): every operation on a call bound to a lane's queue starts
  // through this, so none starts after the queue's shutdown. Takes no lock;
  // `start` must only start gRPC operations. It runs before this returns, hence
  // a FunctionRef: nothing is allocated per write.
  bool StartOnQueue(size_t lane, absl::FunctionRef<void(grpc::ServerCompletionQueue*)> start);
  // As StartOnQueue, for a request for a new call: counted until its tag is back
  // (RequestReturned), because gRPC starts an operation of the new call on the
  // queue when that tag comes out, and that must not happen after its shutdown.
  bool StartRequestOnQueue(size_t lane, absl::FunctionRef<void(grpc::ServerCompletionQueue*)> start);
  void RequestReturned(size_t lane);
  void Stop();

 private:
  struct Lane;
  struct WakeTag;
  // A lane polling `queue`, or a plain one (nullptr).
  void AddLane(grpc::ServerCompletionQueue* queue);
  void Run(Lane& lane);
  void RunQueue(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<size_t> next_lane_{0};
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_WRITE_KICKER_H_
