// DelayedCalls: runs functions later, on a thread of its own, each at its time
// (used to let a slowed-down login wait for its turn instead of refusing it).
//
// Threading: thread-safe; calls run on the class's thread, one at a time, in
// order of their time; they must be short (hand real work to another thread).
// Lifetime: Stop() (or destruction) runs every call still waiting at once with
// `cancelled` true, so each one answers whoever waits on it; RunAt after Stop
// runs the call at once, cancelled, on the caller's thread.
#ifndef CHAT_CORE_SRC_DELAYED_CALLS_H_
#define CHAT_CORE_SRC_DELAYED_CALLS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chat::core {

class DelayedCalls {
 public:
  using Call = std::function<void(bool cancelled)>;

  DelayedCalls() = default;
  ~DelayedCalls() { Stop(); }
  DelayedCalls(const DelayedCalls&) = delete;
  DelayedCalls& operator=(const DelayedCalls&) = delete;

  // Runs `call(false)` at `when` (or soon after).
  void RunAt(absl::Time when, Call call) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs what waits, cancelled, and ends the thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Calls waiting now.
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop();

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  // By time, then by arrival.
  std::multimap<absl::Time, Call> calls_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_DELAYED_CALLS_H_
