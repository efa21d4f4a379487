// Lowering the CPU priority of the calling thread, so that background work
// (password hashing, bulk history reads) yields the cores to chat traffic when
// they are busy and still gets every idle cycle. Linux applies nice and the
// scheduling policy per thread. Best effort: a failure leaves the thread as it
// was (a process already near nice 19 just stays where it is).
//
// Threading: affects only the calling thread. Lifetime: for the thread's life.
#ifndef CHAT_PROTO_SRC_CHAT_THREAD_PRIORITY_H_
#define CHAT_PROTO_SRC_CHAT_THREAD_PRIORITY_H_

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace chat {

// `levels` nice levels below where the thread is now (at most 19).
inline void LowerThisThreadsPriority(int levels) {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && now < 19) (void)setpriority(PRIO_PROCESS, tid, std::min(19, now + levels));
}

// SCHED_IDLE: runs only on a core nothing else wants (far below nice 19, which
// still takes about 1.5% of a busy core). For work that may wait for minutes
// when the machine is saturated. Falls back to nice 19 if refused.
inline void MakeThisThreadIdle() {
  sched_param param{};
  param.sched_priority = 0;
  if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) LowerThisThreadsPriority(19);
}

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_THREAD_PRIORITY_H_
