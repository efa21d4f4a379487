#include "room_sequencer.h"

#include <algorithm>

namespace chat::bridge {

RoomSequencer::Verdict RoomSequencer::Offer(const std::string& room, int64_t seq, Frame& frame, bool live) {
  Room* st;
  if (live) {
    auto it = rooms_.find(room);
    if (it == rooms_.end() || !it->second.live) return Verdict::kDrop;
    st = &it->second;
  } else {
    st = &rooms_[room];
  }
  if (st->have_seq && seq <= st->last_seq) return Verdict::kDrop;
  if (st->have_seq && seq != st->last_seq + 1) {
    st->held.emplace(seq, std::move(frame));
    if (st->held.size() > max_held_) return Verdict::kTooFar;
    return st->request == 0 ? Verdict::kFill : Verdict::kHold;
  }
  st->last_seq = seq;
  st->have_seq = true;
  return st->held.empty() ? Verdict::kDeliver : Verdict::kDeliverAndDrain;
}

bool RoomSequencer::TakeReady(const std::string& room, Frame* frame) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return false;
  Room& st = it->second;
  while (!st.held.empty() && st.held.begin()->first <= st.last_seq + 1) {
    auto node = st.held.extract(st.held.begin());
    if (node.key() == st.last_seq + 1) {
      st.last_seq = node.key();
      *frame = std::move(node.mapped());
      return true;
    }
  }
  return false;
}

void RoomSequencer::Joined(const std::string& room, int64_t latest_seq) {
  Room& st = rooms_[room];
  st.live = true;
  st.rejoin = false;
  if (!st.have_seq) {
    st.last_seq = latest_seq;
    st.have_seq = true;
  }
}

void RoomSequencer::Left(const std::string& room) { rooms_.erase(room); }

bool RoomSequencer::IsLive(const std::string& room) const {
  auto it = rooms_.find(room);
  return it != rooms_.end() && it->second.live;
}

int64_t RoomSequencer::LastSeq(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.last_seq;
}

size_t RoomSequencer::held(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.held.size();
}

uint64_t RoomSequencer::Outstanding(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.request;
}

void RoomSequencer::Asked(const std::string& room, uint64_t request, Ask ask) {
  Room& st = rooms_[room];
  st.request = request;
  st.ask = ask;
}

std::optional<std::pair<std::string, RoomSequencer::Ask>> RoomSequencer::Answered(uint64_t request) {
  if (request == 0) return std::nullopt;
  for (auto& [name, st] : rooms_) {
    if (st.request != request) continue;
    st.request = 0;
    return std::make_pair(name, st.ask);
  }
  return std::nullopt;
}

RoomSequencer::FillOutcome RoomSequencer::AfterFill(const std::string& room, int64_t before) const {
  auto it = rooms_.find(room);
  if (it == rooms_.end() || it->second.held.empty() || it->second.request != 0) return FillOutcome::kDone;
  return it->second.last_seq == before ? FillOutcome::kStuck : FillOutcome::kFill;
}

void RoomSequencer::Lost() {
  for (auto& [name, st] : rooms_) {
    st.rejoin = st.live || st.rejoin;
    st.live = false;
    st.held.clear();
    st.request = 0;
  }
}

std::vector<std::pair<std::string, int64_t>> RoomSequencer::RoomsToRejoin() const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [name, st] : rooms_) {
    if (st.rejoin) out.emplace_back(name, st.last_seq);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace chat::bridge
