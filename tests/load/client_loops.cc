#include "client_loops.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace chat::bench {

ClientLoops::ClientLoops(const Options& options, std::unique_ptr<WireProtocol> protocol, Stats* stats)
    : options_(options), protocol_(std::move(protocol)), stats_(stats) {
  addr_ = Resolve(options_.host, options_.port);
  for (const std::string& a : options_.receiver_addrs) {
    size_t colon = a.rfind(':');
    receiver_addrs_.push_back(Resolve(a.substr(0, colon), std::atoi(a.c_str() + colon + 1)));
  }
  for (int i = 0; i < options_.receiver_threads + 1; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(protocol_.get(), stats_));
  }
  send_loop().EnableTimer([this] { SendDue(); });
  for (auto& l : loops_) l->Start();
}

sockaddr_in ClientLoops::Resolve(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  return a;
}

std::string ClientLoops::RoomName(int index) const {
  if (options_.rooms <= 1) return options_.room;
  return absl::StrCat("bench-", index % options_.rooms);
}

void ClientLoops::OpenWatched(int index, int rcvbuf, Watch* watch) {
  auto c = std::make_unique<Conn>();
  c->watch = watch;
  c->rcvbuf = rcvbuf;
  c->room = RoomName(index);
  c->started_ns = NowNs();
  c->id = next_id_++;
  watched_ = c.get();
  watched_loop_ = loops_[next_loop_++ % (static_cast<int>(loops_.size()) - 1)].get();
  watched_loop_->Connect(std::move(c),
                         receiver_addrs_.empty() ? addr_ : receiver_addrs_[index % receiver_addrs_.size()]);
}

void ClientLoops::SetReading(bool reading) {
  if (watched_loop_ != nullptr) watched_loop_->SetReading(watched_, reading);
}

void ClientLoops::Open(bool sender, int sender_id, int index) {
  auto c = std::make_unique<Conn>();
  c->sender = sender;
  c->sender_id = sender_id;
  c->room = sender ? RoomName(0) : RoomName(index);
  c->creator = !sender && options_.rooms > 1 && index < options_.rooms && protocol_->CreatesRooms();
  int loop = sender ? static_cast<int>(loops_.size()) - 1 : next_loop_++ % (static_cast<int>(loops_.size()) - 1);
  c->started_ns = NowNs();
  c->id = next_id_++;
  const bool elsewhere = !sender && !receiver_addrs_.empty();
  loops_[loop]->Connect(std::move(c), elsewhere ? receiver_addrs_[index % receiver_addrs_.size()] : addr_);
}

void ClientLoops::SetRate(double rate, int step) {
  absl::MutexLock lock(&send_mu_);
  rate_ = rate;
  step_ = step;
  rate_start_ns_ = NowNs();
  ++rate_gen_;
  send_loop().ArmTimer(rate_start_ns_);
}

void ClientLoops::SetupTimes(std::vector<double>* out_ms, int64_t after_ns) {
  for (auto& l : loops_) l->SetupTimes(out_ms, after_ns);
}

void ClientLoops::Stop() {
  for (auto& l : loops_) l->RequestStop();
  for (auto& l : loops_) l->Stop();
}

void ClientLoops::SendDue() {
  absl::MutexLock sending(&send_mu_);
  const double rate = rate_;
  const int step = step_;
  const int64_t start = rate_start_ns_;
  std::vector<Conn*> senders = send_loop().Senders();
  if (rate_gen_ != seen_gen_) {
    seen_gen_ = rate_gen_;
    for (Conn* s : senders) sent_by_[s->sender_id] = 0;
  }
  if (rate <= 0 || senders.empty()) return;
  const double per_sender = rate / static_cast<double>(senders.size());
  int64_t now = NowNs();
  int64_t next = INT64_MAX;
  for (Conn* s : senders) {
    int64_t& sent = sent_by_[s->sender_id];
    // Message k is scheduled at start + k / rate: k + 1 are due at time `now`.
    int64_t due = static_cast<int64_t>((now - start) / 1e9 * per_sender) + 1;
    if (s->state != Conn::kJoined) {
      sent = std::max(sent, due);  // a sender that is not in the room skips its turn
    }
    std::string batch;
    thread_local std::vector<int64_t> scheduled;
    scheduled.clear();
    while (sent < due) {
      // The time this message was due, not when we got to it.
      int64_t sched = start + static_cast<int64_t>(sent * 1e9 / per_sender);
      int64_t counter = counter_[s->sender_id]++;
      protocol_->AppendSend(s, MakePayload(step, s->sender_id, counter, sched, options_.message_size), counter,
                            &batch);
      ++sent;
      stats_->sent[step].fetch_add(1, std::memory_order_relaxed);
      scheduled.push_back(sched);
    }
    send_loop().Write(s, batch);
    const int64_t written = NowNs(), measure_from = stats_->measure_from_ns.load(std::memory_order_relaxed);
    for (int64_t sched : scheduled) {
      if (sched >= measure_from) stats_->send_lag[step]->Add((written - sched) / 1000);
    }
    next = std::min(next, start + static_cast<int64_t>(std::ceil(sent * 1e9 / per_sender)));
  }
  // SetRate waits for this pass (send_mu_), then arms the timer for its own schedule.
  if (next != INT64_MAX) send_loop().ArmTimer(std::max(next, now + 1000));
}

}  // namespace chat::bench
