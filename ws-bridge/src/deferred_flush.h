// DeferredFlush: presence can wait a moment, a message cannot. A session that
// queues an event that may wait (a member joined or left) and has no write
// scheduled registers here once; every `delay` the registered sessions write
// out what they have queued. A burst of joins in a room then reaches each
// member as one frame instead of one frame (one socket write) per join. An
// urgent event queued meanwhile starts the write at once and carries the
// waiting events with it, in order.
//
// Threading: Add is thread-safe (called under a session's mutex, from gRPC
// threads); the timer runs on its own strand. Lock order: session -> here.
// Lifetime: owned by the Bridge; Stop, then destroy, before the io_context.
#ifndef CHAT_WS_BRIDGE_SRC_DEFERRED_FLUSH_H_
#define CHAT_WS_BRIDGE_SRC_DEFERRED_FLUSH_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chat::bridge {

class WsSession;

class DeferredFlush {
 public:
  DeferredFlush(boost::asio::io_context& io, std::chrono::milliseconds delay);
  DeferredFlush(const DeferredFlush&) = delete;
  DeferredFlush& operator=(const DeferredFlush&) = delete;

  // The session's queue is written within `delay` (WsSession::FlushDeferred);
  // false once stopped (the caller writes at once instead).
  bool Add(std::weak_ptr<WsSession> session);
  // No more flushes (shutdown closes every session anyway).
  void Stop();

 private:
  void Fire(const boost::system::error_code&);

  const std::chrono::milliseconds delay_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<WsSession>> pending_ ABSL_GUARDED_BY(mu_);
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_DEFERRED_FLUSH_H_
