#include "grpc_library_clients.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace chat::bench {

GrpcConn::GrpcConn(chat::v1::ChatService::Stub* stub, const std::string& name, const std::string& room,
                   int grpc_batch, bool sender, int sender_id, Stats* stats)
    : stats_(stats), sender_(sender), sender_id_(sender_id) {
  ctx_.AddMetadata("x-chat-user", name);
  if (grpc_batch > 1) ctx_.AddMetadata("x-chat-batch", absl::StrCat(grpc_batch));
  started_ns_ = NowNs();
  stub->async()->Connect(&ctx_, this);
  AddHold();
  StartRead(&in_);
  chat::v1::ClientEvent join;
  join.mutable_join()->set_room(room);
  Write(std::move(join));
  StartCall();
}

void GrpcConn::Write(chat::v1::ClientEvent ev) {
  absl::MutexLock lock(&mu_);
  if (done_) return;
  queue_.push_back(std::move(ev));
  if (!writing_) {
    writing_ = true;
    StartWrite(&queue_.front());
  }
}

void GrpcConn::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  queue_.pop_front();
  if (ok && !queue_.empty()) {
    StartWrite(&queue_.front());
  } else {
    writing_ = false;
  }
}

void GrpcConn::OnReadDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    if (joined_) {
      stats_->disconnects.fetch_add(1);
    } else {
      stats_->failed.fetch_add(1);
    }
    if (!done_) {
      done_ = true;
      RemoveHold();
    }
    return;
  }
  if (in_.has_batch()) {
    for (const auto& event : in_.batch().events()) OnEvent(event);
  } else {
    OnEvent(in_);
  }
  StartRead(&in_);
}

void GrpcConn::OnEvent(const chat::v1::ServerEvent& event) {
  if (event.has_joined() && !joined_) {
    joined_ = true;
    joined_ns_ = NowNs();
    stats_->joined.fetch_add(1);
  } else if (event.has_message() && !sender_ && joined_) {
    const std::string& t = event.message().text();
    Account(t.data(), t.size(), &order_, ReadTime::Now(), stats_);
  } else if (event.has_error()) {
    stats_->errors.fetch_add(1);
  }
}

void GrpcConn::OnDone(const grpc::Status& /*s*/) {
  absl::MutexLock lock(&mu_);
  finished_ = true;
}

void GrpcConn::WaitDone() {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&finished_), absl::Seconds(10));
}

GrpcLibClients::~GrpcLibClients() {
  StopSending();
  for (auto* c : conns_) c->Cancel();
  for (auto* c : conns_) c->WaitDone();
  for (auto* c : conns_) delete c;
}

void GrpcLibClients::Open(bool sender, int sender_id, int /*index*/) {
  int per = std::max(1, options_.streams_per_channel);
  if (stubs_.empty() || streams_on_last_ >= per) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", static_cast<int>(stubs_.size()));
    if (!options_.bdp_probe) args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    stubs_.push_back(chat::v1::ChatService::NewStub(
        grpc::CreateCustomChannel(options_.addr, grpc::InsecureChannelCredentials(), args)));
    streams_on_last_ = 0;
  }
  ++streams_on_last_;
  auto* c = new GrpcConn(stubs_.back().get(), absl::StrCat("grpc-", conns_.size()), options_.room,
                         options_.grpc_batch, sender, sender_id, stats_);
  conns_.push_back(c);
  if (sender) senders_.push_back(c);
}

void GrpcLibClients::SetRate(double rate, int step) {
  StopSending();
  if (rate <= 0) return;
  stop_ = false;
  sender_thread_ = std::thread([this, rate, step] {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int64_t start = NowNs();
    double per_sender = rate / senders_.size();
    std::vector<int64_t> sent(senders_.size(), 0);
    while (!stop_) {
      int64_t now = NowNs();
      int64_t next = INT64_MAX;
      for (size_t i = 0; i < senders_.size(); ++i) {
        int64_t due = static_cast<int64_t>((now - start) / 1e9 * per_sender) + 1;
        while (sent[i] < due) {
          int64_t sched = start + static_cast<int64_t>(sent[i] * 1e9 / per_sender);
          int id = senders_[i]->sender_id();
          int64_t counter = counter_[id]++;
          chat::v1::ClientEvent ev;
          auto* s = ev.mutable_send();
          s->set_room(options_.room);
          s->set_text(MakePayload(step, id, counter, sched, options_.message_size));
          s->set_client_msg_id(absl::StrCat(id, "-", counter));
          senders_[i]->Write(std::move(ev));
          ++sent[i];
          stats_->sent[step].fetch_add(1, std::memory_order_relaxed);
        }
        next = std::min(next, start + static_cast<int64_t>(std::ceil(sent[i] * 1e9 / per_sender)));
      }
      timespec ts{static_cast<time_t>(next / 1000000000), static_cast<long>(next % 1000000000)};
      // Short sleeps so StopSending is prompt.
      int64_t cap = NowNs() + 20000000;
      if (next > cap) ts = {static_cast<time_t>(cap / 1000000000), static_cast<long>(cap % 1000000000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
  });
}

void GrpcLibClients::StopSending() {
  stop_ = true;
  if (sender_thread_.joinable()) sender_thread_.join();
}

void GrpcLibClients::SetupTimes(std::vector<double>* out_ms, int64_t after_ns) {
  for (auto* c : conns_) {
    if (c->setup_ms() >= 0 && c->started_ns() >= after_ns) out_ms->push_back(c->setup_ms());
  }
}

}  // namespace chat::bench
