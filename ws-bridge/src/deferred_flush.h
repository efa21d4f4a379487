// DeferredFlush: presence can wait a moment, a message cannot. A session that
// queues an event that may wait (a member joined or left) and has no write
// scheduled registers here once, for a number of ticks of `delay`; when they
// have passed, the session writes out what it has queued. A burst of joins in
// a room then reaches each member as one frame instead of one frame (one
// socket write) per join. An urgent event queued meanwhile starts the write at
// once and carries the waiting events with it, in order. The timer ticks only
// while some session is waiting.
//
// Threading: Add is thread-safe (called under a session's mutex, from gRPC
// threads); the timer runs on its own strand. Lock order: session -> here.
// Lifetime: owned by the Bridge; Stop, then destroy, before the io_context.
#ifndef CHAT_WS_BRIDGE_SRC_DEFERRED_FLUSH_H_
#define CHAT_WS_BRIDGE_SRC_DEFERRED_FLUSH_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chat::bridge {

class WsSession;

class DeferredFlush {
 public:
  DeferredFlush(boost::asio::io_context& io, absl::Duration delay);
  DeferredFlush(const DeferredFlush&) = delete;
  DeferredFlush& operator=(const DeferredFlush&) = delete;

  // The session's queue is written (WsSession::FlushDeferred) at the
  // `ticks`-th tick from now, between (ticks - 1) and ticks times `delay`
  // away; false once stopped (the caller writes at once instead).
  bool Add(std::weak_ptr<WsSession> session, uint32_t ticks = 1);
  // No more flushes (shutdown closes every session anyway).
  void Stop();

 private:
  // Strand.
  void Arm();
  void Fire(const boost::system::error_code&);

  const absl::Duration delay_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  absl::Mutex mu_;
  // Waiting sessions by the tick they are due at.
  std::map<uint64_t, std::vector<std::weak_ptr<WsSession>>> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t tick_ ABSL_GUARDED_BY(mu_) = 0;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_DEFERRED_FLUSH_H_
