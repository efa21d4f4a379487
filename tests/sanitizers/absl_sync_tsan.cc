// ThreadSanitizer builds only (CHAT_TSAN): tells TSan what absl::Mutex and
// absl::CondVar do.
//
// Debian's libabsl is built without TSan, so its Mutex synchronises through
// atomics and futexes that TSan never sees. Without help, every field guarded
// by an absl::Mutex that two threads touch would be reported as a race, in our
// code and in gRPC's (whose own locks are absl::Mutex too). This file
// interposes the out-of-line Mutex and CondVar entry points: each definition
// here is found by the dynamic linker before libabsl_synchronization's, for
// our code and for every shared library that calls them (libgrpc included),
// forwards to the real one found with dlsym(RTLD_NEXT), and adds TSan's
// happens-before annotations on the mutex's address:
//   - leaving a critical section (Unlock, and before any wait that gives the
//     mutex up) is a release;
//   - entering one (Lock, TryLock that succeeded, after a wait) is an acquire;
//   - a Condition is evaluated by absl under the mutex but possibly on another
//     thread (the unlocking one), so each evaluation is wrapped: it acquires
//     what the waiter published (the Condition and what it points at live on
//     the waiter's stack) and the mutex's edges before it asks the real
//     Condition, and releases the mutex's edges after, since absl may give the
//     mutex up again without a call this file sees.
// Because critical sections of one mutex are totally ordered, these edges are
// exactly the ones the real lock makes: no real race is hidden, and the
// guarded-field false positives go away. TSan's lock-order (deadlock)
// detection does not see these mutexes; -Wthread-safety covers lock discipline
// at compile time instead.

#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tsan_edges.h"

// These definitions stand in for absl's own, whose declarations carry lock
// annotations (ABSL_EXCLUSIVE_LOCK_FUNCTION...) that a forwarding body cannot
// satisfy in the analysis' eyes: the real locking happens behind dlsym.
#pragma clang diagnostic ignored "-Wthread-safety-analysis"

namespace {

#define CHAT_STR2(x) #x
#define CHAT_STR(x) CHAT_STR2(x)

// "_ZN4absl" + <len><inline namespace> + rest: the Itanium-mangled name of an
// absl member function, e.g. Real("5Mutex4LockEv").
std::string Mangled(const char* rest) {
  const std::string ns = CHAT_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "_ZN4absl" + std::to_string(ns.size()) + ns + rest;
}

void* Real(const char* rest, bool is_const = false) {
  std::string name = Mangled(rest);
  if (is_const) name.insert(3, "K");  // _ZN -> _ZNK
  return chat::tsan::Next(name.c_str(), "libabsl");
}

using chat::tsan::Acquire;
using chat::tsan::Release;

// A Condition that acquires the mutex's edges before asking the real one.
// The waiter releases on the Guarded's own address once it is filled in; the
// Condition made of it uses absl's untemplated constructor, so that absl's own
// (uninstrumented) code, not ours, reads the Condition's fields.
struct Guarded {
  const absl::Condition* cond;
  const absl::Mutex* mu;
};
bool EvalGuarded(void* arg) {
  Acquire(arg);
  const auto* g = static_cast<const Guarded*>(arg);
  Acquire(g->mu);
  const bool ready = g->cond->Eval();
  Release(g->mu);
  return ready;
}
absl::Condition Publish(Guarded& g) {
  Release(&g);
  return absl::Condition(&EvalGuarded, static_cast<void*>(&g));
}

using Plain = void (*)(absl::Mutex*);
using Try = bool (*)(absl::Mutex*);
using When = void (*)(absl::Mutex*, const absl::Condition&);
using WhenFor = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using WhenUntil = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using WaitForFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);
using WaitUntilFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);
using NotifyFn = void (*)(absl::Notification*);
using NoteWaitFn = void (*)(const absl::Notification*);
using NoteWaitForFn = bool (*)(const absl::Notification*, absl::Duration);
using NoteWaitUntilFn = bool (*)(const absl::Notification*, absl::Time);

// The Notification's std::atomic<bool> notified_yet_, which follows its Mutex:
// HasBeenNotified() is inline (instrumented, in our code) and loads it with
// acquire, so Notify() also releases on that address.
static_assert(sizeof(absl::Notification) == sizeof(absl::Mutex) + alignof(absl::Mutex));
const void* NotifiedFlag(const absl::Notification* n) {
  return reinterpret_cast<const char*>(n) + sizeof(absl::Mutex);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = reinterpret_cast<Plain>(Real("5Mutex4LockEv"));
  real(this);
  Acquire(this);
}

void Mutex::ReaderLock() {
  static const auto real = reinterpret_cast<Plain>(Real("5Mutex10ReaderLockEv"));
  real(this);
  Acquire(this);
}

void Mutex::Unlock() {
  static const auto real = reinterpret_cast<Plain>(Real("5Mutex6UnlockEv"));
  Release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = reinterpret_cast<Plain>(Real("5Mutex12ReaderUnlockEv"));
  Release(this);
  real(this);
}

bool Mutex::TryLock() {
  static const auto real = reinterpret_cast<Try>(Real("5Mutex7TryLockEv"));
  const bool got = real(this);
  if (got) Acquire(this);
  return got;
}

bool Mutex::ReaderTryLock() {
  static const auto real = reinterpret_cast<Try>(Real("5Mutex13ReaderTryLockEv"));
  const bool got = real(this);
  if (got) Acquire(this);
  return got;
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = reinterpret_cast<When>(Real("5Mutex8LockWhenERKNS0_9ConditionE"));
  Guarded g{&cond, this};
  real(this, Publish(g));
  Acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      reinterpret_cast<When>(Real("5Mutex14ReaderLockWhenERKNS0_9ConditionE"));
  Guarded g{&cond, this};
  real(this, Publish(g));
  Acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = reinterpret_cast<WhenFor>(
      Real("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  Guarded g{&cond, this};
  const bool ok = real(this, Publish(g), timeout);
  Acquire(this);  // held either way
  return ok;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = reinterpret_cast<WhenFor>(
      Real("5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  Guarded g{&cond, this};
  const bool ok = real(this, Publish(g), timeout);
  Acquire(this);
  return ok;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = reinterpret_cast<WhenUntil>(
      Real("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  Guarded g{&cond, this};
  const bool ok = real(this, Publish(g), deadline);
  Acquire(this);
  return ok;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = reinterpret_cast<WhenUntil>(
      Real("5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  Guarded g{&cond, this};
  const bool ok = real(this, Publish(g), deadline);
  Acquire(this);
  return ok;
}

// Await may give the mutex up while it waits: release first, acquire after.
void Mutex::Await(const Condition& cond) {
  static const auto real = reinterpret_cast<When>(Real("5Mutex5AwaitERKNS0_9ConditionE"));
  Guarded g{&cond, this};
  Release(this);
  real(this, Publish(g));
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = reinterpret_cast<WhenFor>(
      Real("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  Guarded g{&cond, this};
  Release(this);
  const bool ok = real(this, Publish(g), timeout);
  Acquire(this);
  return ok;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = reinterpret_cast<WhenUntil>(
      Real("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  Guarded g{&cond, this};
  Release(this);
  const bool ok = real(this, Publish(g), deadline);
  Acquire(this);
  return ok;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = reinterpret_cast<WaitFn>(Real("7CondVar4WaitEPNS0_5MutexE"));
  Release(mu);
  real(this, mu);
  Acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static const auto real = reinterpret_cast<WaitForFn>(
      Real("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  Release(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const auto real = reinterpret_cast<WaitUntilFn>(
      Real("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
  Release(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquire(mu);
  return timed_out;
}

// absl::Notification's own code (in libabsl) may see the notification done
// without locking its Mutex, so its edge is annotated here: Notify() releases,
// a wait that returns acquires.
void Notification::Notify() {
  static const auto real = reinterpret_cast<NotifyFn>(Real("12Notification6NotifyEv"));
  Release(this);
  Release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real = reinterpret_cast<NoteWaitFn>(Real("12Notification19WaitForNotificationEv", true));
  real(this);
  Acquire(this);
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static const auto real = reinterpret_cast<NoteWaitForFn>(
      Real("12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true));
  const bool notified = real(this, timeout);
  Acquire(this);
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static const auto real = reinterpret_cast<NoteWaitUntilFn>(
      Real("12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true));
  const bool notified = real(this, deadline);
  Acquire(this);
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
