#include "write_kicker.h"

#include <functional>

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

void WriteKicker::Kick(std::shared_ptr<Outbox> outbox) {
  size_t i = std::hash<const void*>()(outbox.get()) % lanes_.size();
  Lane& lane = *lanes_[i];
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
