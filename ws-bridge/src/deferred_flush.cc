#include "deferred_flush.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "ws_session.h"

namespace chat::bridge {

namespace net = boost::asio;

DeferredFlush::DeferredFlush(net::io_context& io, std::chrono::milliseconds delay)
    : delay_(delay), strand_(net::make_strand(io)), timer_(strand_) {}

bool DeferredFlush::Add(std::weak_ptr<WsSession> session) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  pending_.push_back(std::move(session));
  if (armed_) return true;
  armed_ = true;
  net::post(strand_, [this] {
    timer_.expires_after(delay_);
    timer_.async_wait(net::bind_executor(strand_, [this](const boost::system::error_code& ec) { Fire(ec); }));
  });
  return true;
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
    armed_ = false;
    if (stopped_) return;  // (only Stop cancels the timer)
    due.swap(pending_);
  }
  for (auto& weak : due) {
    if (auto session = weak.lock()) session->FlushDeferred();
  }
}

}  // namespace chat::bridge
