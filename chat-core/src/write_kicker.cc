#include "write_kicker.h"

#include <grpc/support/time.h>

#include <chrono>

#include "outbox.h"

namespace chat::core {

struct WriteKicker::Lane {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::shared_ptr<Outbox>> pending;
  bool stop = false;
  grpc::ServerCompletionQueue* queue = nullptr;
  // The lane's thread is (about to be) blocked in the queue: a kick must wake it.
  bool polling = false;
  // A wake-up alarm is set and has not come back yet.
  bool waking = false;
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
  explicit WakeTag(Lane* lane) : lane(lane) {}
  void Run(bool) override {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->waking = false;
    }
    delete this;
  }
  Lane* const lane;
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
  // (A lane used to be chosen by hashing the outbox's address, which put every
  // outbox on lane 0: std::hash of a pointer is the pointer, and they are all
  // 16-byte aligned.)
  Lane& lane = *lanes_[lane_index % lanes_.size()];
  bool wake;
  {
    std::lock_guard<std::mutex> lock(lane.mu);
    if (lane.stop) return;
    wake = lane.pending.empty();
    lane.pending.push_back(std::move(outbox));
    if (lane.queue != nullptr) {
      if (lane.polling) WakeLocked(lane);
      return;
    }
  }
  if (wake) lane.cv.notify_one();
}

void WriteKicker::WakeLocked(Lane& lane) {
  if (lane.waking || lane.stop) return;
  lane.waking = true;
  auto* tag = new WakeTag(&lane);
  // A deadline already past fires within Set. (Not "now": gRPC rounds a deadline
  // up to the next millisecond, and the alarm would wait for its timer thread.)
  tag->alarm.Set(lane.queue, gpr_time_0(GPR_CLOCK_MONOTONIC), static_cast<CqTag*>(tag));
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
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(lane.mu);
      lane.cv.wait(lock, [&] { return lane.stop || !lane.pending.empty(); });
      if (lane.pending.empty() && lane.stop) return;
      batch.swap(lane.pending);
    }
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
    // just started), and block only when neither is left.
    bool block;
    {
      std::lock_guard<std::mutex> lock(lane.mu);
      batch.swap(lane.pending);
      block = batch.empty();
      lane.polling = block;
    }
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
        std::lock_guard<std::mutex> lock(lane.mu);
        lane.polling = false;
        block = false;
      }
    }
  }
}

void WriteKicker::Stop() {
  for (auto& lane : lanes_) {
    bool shut_queue;
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      shut_queue = lane->queue != nullptr && !lane->stop;
      lane->stop = true;
    }
    lane->cv.notify_one();
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
