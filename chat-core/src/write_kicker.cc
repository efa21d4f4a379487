#include "write_kicker.h"


#include "outbox.h"

namespace chat::core {

WriteKicker::WriteKicker(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    auto lane = std::make_unique<Lane>();
    Lane* raw = lane.get();
    lane->thread = std::thread([this, raw] { Run(*raw); });
    lanes_.push_back(std::move(lane));
  }
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
  }
  if (wake) lane.cv.notify_one();
}

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

void WriteKicker::Stop() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->stop = true;
    }
    lane->cv.notify_one();
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

}  // namespace chat::core
