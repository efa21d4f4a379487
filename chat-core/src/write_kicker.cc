#include "write_kicker.h"

#include <grpc/support/time.h>

#include <chrono>

#include "outbox.h"
#include "work_queue.h"

namespace chat::core {

struct WriteKicker::Lane {
  // Outboxes whose next write this lane starts.
  WorkQueue<std::shared_ptr<Outbox>> pending;
  grpc::ServerCompletionQueue* queue = nullptr;
  // Operations being started on the queue, and whether it is shutting down: a
  // start counts itself before it looks at `closing`, and Stop sets `closing`
  // before it waits for the count to reach zero, so no start is missed and none
  // holds a lock while gRPC does the work (a write's syscall included).
  std::atomic<int> starting{0};
  std::atomic<bool> closing{false};
  // Requests for new calls whose tag has not come back.
  std::atomic<int> requests{0};
  std::thread thread;
};

// An alarm that fires at once on the lane's queue: wakes its thread for a kick.
struct WriteKicker::WakeTag final : CqTag {
  void Run(bool) override { delete this; }
  grpc::Alarm alarm;
};

WriteKicker::WriteKicker(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) AddLane(nullptr);
}

WriteKicker::WriteKicker(std::vector<grpc::ServerCompletionQueue*> queues) {
  for (grpc::ServerCompletionQueue* queue : queues) AddLane(queue);
  if (lanes_.empty()) AddLane(nullptr);
}

void WriteKicker::AddLane(grpc::ServerCompletionQueue* queue) {
  auto lane = std::make_unique<Lane>();
  Lane* raw = lane.get();
  lane->queue = queue;
  lane->thread = std::thread([this, raw] { raw->queue != nullptr ? RunQueue(*raw) : Run(*raw); });
  lanes_.push_back(std::move(lane));
}

WriteKicker::~WriteKicker() { Stop(); }

size_t WriteKicker::AssignLane() { return next_lane_.fetch_add(1, std::memory_order_relaxed) % lanes_.size(); }

void WriteKicker::Kick(size_t lane_index, std::shared_ptr<Outbox> outbox) {
  Lane& lane = *lanes_[lane_index % lanes_.size()];
  // A lane blocked in its completion queue is woken by an alarm; a plain one
  // by the push itself. Once stopped, kicks are dropped.
  if (lane.pending.Push(outbox) == PushResult::kQueuedWakeConsumer && lane.queue != nullptr) {
    auto* tag = new WakeTag;
    // A deadline already past fires within Set. (Not "now": gRPC rounds a deadline
    // up to the next millisecond, and the alarm would wait for its timer thread.)
    tag->alarm.Set(lane.queue, gpr_time_0(GPR_CLOCK_MONOTONIC), static_cast<CqTag*>(tag));
  }
}

bool WriteKicker::StartOnQueue(size_t lane_index,
                               absl::FunctionRef<void(grpc::ServerCompletionQueue*)> start) {
  Lane& lane = *lanes_[lane_index % lanes_.size()];
  if (lane.queue == nullptr) return false;
  lane.starting.fetch_add(1);
  bool open = !lane.closing.load();
  if (open) start(lane.queue);
  lane.starting.fetch_sub(1);
  return open;
}

bool WriteKicker::StartRequestOnQueue(size_t lane_index,
                                      absl::FunctionRef<void(grpc::ServerCompletionQueue*)> start) {
  Lane& lane = *lanes_[lane_index % lanes_.size()];
  lane.requests.fetch_add(1);
  bool started = StartOnQueue(lane_index, start);
  if (!started) lane.requests.fetch_sub(1);
  return started;
}

void WriteKicker::RequestReturned(size_t lane_index) { lanes_[lane_index % lanes_.size()]->requests.fetch_sub(1); }

void WriteKicker::Run(Lane& lane) {
  std::vector<std::shared_ptr<Outbox>> batch;
  while (lane.pending.PopBatch(SIZE_MAX, batch) > 0) {
    for (auto& o : batch) o->StartKickedWrite();
    batch.clear();
  }
}

void WriteKicker::RunQueue(Lane& lane) {
  std::vector<std::shared_ptr<Outbox>> batch;
  const gpr_timespec at_once = gpr_time_0(GPR_CLOCK_MONOTONIC);
  const gpr_timespec forever = gpr_inf_future(GPR_CLOCK_MONOTONIC);
  for (;;) {
    // Kicks first, then every completion already there (most are of the writes
    // just started), and block only when neither is left. Finding no kick
    // marks the lane idle, so the next kick wakes it.
    bool block = lane.pending.TryPopBatch(SIZE_MAX, batch, WorkQueue<std::shared_ptr<Outbox>>::OnEmpty::kMarkIdle) == 0;
    for (auto& o : batch) o->StartKickedWrite();
    batch.clear();
    // At most kEventsPerPass completions before looking at the kicks again: a
    // backlogged stream's completion starts its next write, whose completion is
    // soon in the queue again, so the queue may never run dry under load.
    constexpr int kEventsPerPass = 256;
    for (int n = 0; n < kEventsPerPass; ++n) {
      void* tag = nullptr;
      bool ok = false;
      auto status = lane.queue->AsyncNext(&tag, &ok, block && n == 0 ? forever : at_once);
      if (status == grpc::CompletionQueue::SHUTDOWN) return;
      if (status == grpc::CompletionQueue::TIMEOUT) break;
      static_cast<CqTag*>(tag)->Run(ok);
      if (block) {
        lane.pending.ClearIdle();  // awake: kicks need no alarm until it blocks again
        block = false;
      }
    }
  }
}

void WriteKicker::Stop() {
  for (auto& lane : lanes_) {
    bool shut_queue = lane->queue != nullptr && !lane->pending.closed();
    lane->pending.Close();
    if (shut_queue) {
      lane->closing.store(true);
      while (lane->starting.load() != 0) std::this_thread::yield();
      // The server has failed the requests still waiting; their tags come out on
      // the lane's thread, which is still polling. (A request matched just before
      // the server's shutdown comes out with a call whose first operation gRPC
      // starts on this queue then.)
      while (lane->requests.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      lane->queue->Shutdown();
    }
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

}  // namespace chat::core
