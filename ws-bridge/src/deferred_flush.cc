#include "deferred_flush.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <iterator>

#include "ws_session.h"

namespace chat::bridge {

namespace net = boost::asio;

DeferredFlush::DeferredFlush(net::io_context& io, absl::Duration delay)
    : delay_(delay), strand_(net::make_strand(io)), timer_(strand_) {}

bool DeferredFlush::Add(std::weak_ptr<WsSession> session, uint32_t ticks) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  pending_[tick_ + std::max<uint32_t>(ticks, 1)].push_back(std::move(session));
  if (armed_) return true;
  armed_ = true;
  net::post(strand_, [this] { Arm(); });
  return true;
}

void DeferredFlush::Arm() {
  timer_.expires_after(absl::ToChronoNanoseconds(delay_));
  timer_.async_wait(net::bind_executor(strand_, [this](const boost::system::error_code& ec) { Fire(ec); }));
}

void DeferredFlush::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    pending_.clear();
  }
  net::post(strand_, [this] { timer_.cancel(); });
}

void DeferredFlush::Fire(const boost::system::error_code&) {
  std::vector<std::weak_ptr<WsSession>> due;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {  // (only Stop cancels the timer)
      armed_ = false;
      return;
    }
    ++tick_;
    while (!pending_.empty() && pending_.begin()->first <= tick_) {
      auto& sessions = pending_.begin()->second;
      due.insert(due.end(), std::make_move_iterator(sessions.begin()), std::make_move_iterator(sessions.end()));
      pending_.erase(pending_.begin());
    }
    armed_ = !pending_.empty();
    if (armed_) Arm();
  }
  for (auto& weak : due) {
    if (auto session = weak.lock()) session->FlushDeferred();
  }
}

}  // namespace chat::bridge
