// ThreadSanitizer builds only (CHAT_TSAN): tells TSan how gRPC hands an
// operation's tag from the thread that starts the operation to the thread that
// completes it.
//
// Debian's libgrpc is built without TSan. When a thread starts a batch
// (grpc_call_start_batch) and another thread later gets its completion, from a
// completion queue or as a callback, everything between is libgrpc's own
// locking and atomics, which TSan never sees. So TSan takes the tag object
// (written by the starter, run or deleted by the completer) and whatever the
// starter wrote before for racing with the completer. This file interposes the
// C calls through which gRPC's C++ layer and our code hand tags to libgrpc, and
// adds the edge gRPC guarantees ("the completion of an operation happens after
// it was started"):
//   - starting an operation on a tag (grpc_call_start_batch, the server's
//     request calls, grpc_cq_begin_op and grpc_cq_end_op, which gRPC's alarms
//     and server use) is a release on the tag's address;
//   - taking a completion from a queue (grpc_completion_queue_next and _pluck)
//     is an acquire on the event's tag;
//   - a callback completion has no call to interpose: libgrpc runs the tag's
//     functor_run itself. For gRPC's own callback tags (the StaticRun functions
//     of grpc++'s headers and library, looked up by name below), the release
//     also puts a trampoline in functor_run that acquires on the tag and then
//     runs the real one.
// Each edge is one that gRPC's API promises, from the start of an operation to
// its own completion, so no race between two different operations is hidden.
// Like absl_sync_tsan.cc, the definitions here are exported (CMakeLists.txt) so
// that libgrpc++'s calls reach them too.
#include <dlfcn.h>
#include <grpc/grpc.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "tsan_edges.h"

namespace {

using chat::tsan::Acquire;
using chat::tsan::Release;

void* Next(const char* name) { return chat::tsan::Next(name, "libgrpc or libgrpc++"); }

using Run = void (*)(grpc_completion_queue_functor*, int);

// gRPC's callback tags: grpc++'s header copies (in our program) and the
// library's own (in libgrpc++).
constexpr const char* kStaticRuns[] = {
    "_ZN4grpc8internal22CallbackWithSuccessTag9StaticRunEP29grpc_completion_queue_functori",
    "_ZN4grpc6Server15CallbackRequestINS_21CallbackServerContextEE15CallbackCallTag9StaticRunEP29grpc_"
    "completion_queue_functori",
    "_ZN4grpc6Server15CallbackRequestINS_28GenericCallbackServerContextEE15CallbackCallTag9StaticRunEP29grpc_"
    "completion_queue_functori",
};
constexpr size_t kMaxRuns = 2 * std::size(kStaticRuns);

struct Runs {
  std::array<Run, kMaxRuns> real{};
  size_t n = 0;
};

const Runs& KnownRuns() {
  static const Runs runs = [] {
    Runs r;
    void* grpcpp = dlopen("libgrpc++.so.1.51", RTLD_LAZY | RTLD_NOLOAD);
    for (const char* name : kStaticRuns) {
      for (void* handle : {RTLD_DEFAULT, grpcpp}) {
        if (handle == nullptr) continue;
        auto fn = reinterpret_cast<Run>(dlsym(handle, name));
        if (fn == nullptr) continue;
        bool seen = false;
        for (size_t i = 0; i < r.n; ++i) seen = seen || r.real[i] == fn;
        if (!seen && r.n < kMaxRuns) r.real[r.n++] = fn;
      }
    }
    return r;
  }();
  return runs;
}

template <size_t I>
void Trampoline(grpc_completion_queue_functor* functor, int ok) {
  Acquire(functor);
  KnownRuns().real[I](functor, ok);
}

template <size_t... I>
constexpr std::array<Run, kMaxRuns> MakeTrampolines(std::index_sequence<I...>) {
  return {&Trampoline<I>...};
}
constexpr std::array<Run, kMaxRuns> kTrampolines = MakeTrampolines(std::make_index_sequence<kMaxRuns>());

// Releases on `tag`; if it is one of gRPC's callback tags, its completion will
// acquire. Tags of completion-queue calls are any pointer (or small integers,
// which are not dereferenced); a callback tag's first word is its functor_run.
// Not instrumented: functor_run is gRPC's field, written by grpc++'s headers
// when the tag is set up and read by libgrpc (uninstrumented) when the
// operation completes; the edges made here order those.
__attribute__((no_sanitize("thread"))) void Started(void* tag) {
  Release(tag);
  const auto address = reinterpret_cast<uintptr_t>(tag);
  if (address < 65536 || address % alignof(void*) != 0) return;
  auto* functor = static_cast<grpc_completion_queue_functor*>(tag);
  const Runs& runs = KnownRuns();
  for (size_t i = 0; i < runs.n; ++i) {
    if (functor->functor_run == runs.real[i]) {
      functor->functor_run = kTrampolines[i];
      return;
    }
  }
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static const auto real = reinterpret_cast<decltype(&grpc_call_start_batch)>(Next("grpc_call_start_batch"));
  Started(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call, grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification, void* tag_new) {
  static const auto real =
      reinterpret_cast<decltype(&grpc_server_request_call)>(Next("grpc_server_request_call"));
  Started(tag_new);
  return real(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification, tag_new);
}

grpc_call_error grpc_server_request_registered_call(grpc_server* server, void* registered_method,
                                                    grpc_call** call, gpr_timespec* deadline,
                                                    grpc_metadata_array* request_metadata,
                                                    grpc_byte_buffer** optional_payload,
                                                    grpc_completion_queue* cq_bound_to_call,
                                                    grpc_completion_queue* cq_for_notification,
                                                    void* tag_new) {
  static const auto real = reinterpret_cast<decltype(&grpc_server_request_registered_call)>(
      Next("grpc_server_request_registered_call"));
  Started(tag_new);
  return real(server, registered_method, call, deadline, request_metadata, optional_payload, cq_bound_to_call,
              cq_for_notification, tag_new);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline, void* reserved) {
  static const auto real =
      reinterpret_cast<decltype(&grpc_completion_queue_next)>(Next("grpc_completion_queue_next"));
  grpc_event ev = real(cq, deadline, reserved);
  if (ev.type == GRPC_OP_COMPLETE) Acquire(ev.tag);
  return ev;
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  static const auto real =
      reinterpret_cast<decltype(&grpc_completion_queue_pluck)>(Next("grpc_completion_queue_pluck"));
  grpc_event ev = real(cq, tag, deadline, reserved);
  if (ev.type == GRPC_OP_COMPLETE) Acquire(ev.tag);
  return ev;
}

}  // extern "C"

// grpc_cq_begin_op and grpc_cq_end_op are C++ functions of libgrpc, not in
// its public headers (src/core/lib/surface/completion_queue.h declares them),
// which libgrpc++'s alarms and server call with their own tags. An alarm's
// completion comes from gRPC's timer thread: releasing at both ends gives its
// taker the edges of the setter and of the timer.
struct grpc_cq_completion;
bool grpc_cq_begin_op(grpc_completion_queue* cq, void* tag);
void grpc_cq_end_op(grpc_completion_queue* cq, void* tag, absl::Status error,
                    void (*done)(void* done_arg, grpc_cq_completion* storage), void* done_arg,
                    grpc_cq_completion* storage, bool internal);

bool grpc_cq_begin_op(grpc_completion_queue* cq, void* tag) {
  static const auto real = reinterpret_cast<decltype(&grpc_cq_begin_op)>(
      Next("_Z16grpc_cq_begin_opP21grpc_completion_queuePv"));
  Started(tag);
  return real(cq, tag);
}

void grpc_cq_end_op(grpc_completion_queue* cq, void* tag, absl::Status error,
                    void (*done)(void* done_arg, grpc_cq_completion* storage), void* done_arg,
                    grpc_cq_completion* storage, bool internal) {
  static const auto real = reinterpret_cast<decltype(&grpc_cq_end_op)>(
      Next("_Z14grpc_cq_end_opP21grpc_completion_queuePvN4absl7debian36StatusEPFvS1_P18grpc_cq_completionES1_S6_b"));
  Started(tag);
  real(cq, tag, std::move(error), done, done_arg, storage, internal);
}

// A server reactor's OnDone runs on a thread of gRPC's executor, which
// libgrpc++ hands a closure (ServerCallbackCall::ScheduleOnDone) once the last
// reaction has finished; after it, gRPC's call objects are destroyed. The
// closure is run by libgrpc, so the edge from the last reaction to OnDone is
// made by wrapping the closure: the wrapper's callback acquires, then runs the
// original. Only closures shaped as libgrpc++ makes them (cb_arg pointing at
// the closure itself, cb in libgrpc++) are wrapped; the layout is Debian's
// libgrpc's grpc_closure (src/core/lib/iomgr/closure.h, built without NDEBUG:
// next, cb, cb_arg, error, then the debug fields, 0x48 bytes in all).
struct grpc_closure;
namespace grpc_core {
enum class ExecutorType : int;
enum class ExecutorJobType : int;
class Executor {
 public:
  static void Run(grpc_closure* closure, absl::Status error, ExecutorType type, ExecutorJobType job_type);
};
}  // namespace grpc_core

namespace {

constexpr size_t kClosureSize = 0x48;
constexpr size_t kCbOffset = 8;
constexpr size_t kCbArgOffset = 16;
using ClosureCb = void (*)(void*, absl::Status);

struct WrappedClosure {
  alignas(void*) unsigned char closure[kClosureSize];
  const unsigned char* original;
};

template <typename T>
T Field(const unsigned char* closure, size_t offset) {
  T value;
  std::memcpy(&value, closure + offset, sizeof value);
  return value;
}

void RunWrapped(void* arg, absl::Status error) {
  auto* wrapped = static_cast<WrappedClosure*>(arg);
  Acquire(wrapped);
  const auto cb = Field<ClosureCb>(wrapped->original, kCbOffset);
  void* const cb_arg = Field<void*>(wrapped->original, kCbArgOffset);
  cb(cb_arg, std::move(error));
  delete wrapped;
}

bool FromGrpcpp(const void* code) {
  Dl_info info{};
  return dladdr(code, &info) != 0 && info.dli_fname != nullptr &&
         std::strstr(info.dli_fname, "libgrpc++.so") != nullptr;
}

}  // namespace

void grpc_core::Executor::Run(grpc_closure* closure, absl::Status error, ExecutorType type,
                              ExecutorJobType job_type) {
  static const auto real = reinterpret_cast<decltype(&grpc_core::Executor::Run)>(
      Next("_ZN9grpc_core8Executor3RunEP12grpc_closureN4absl7debian36StatusENS_12ExecutorTypeENS_"
           "15ExecutorJobTypeE"));
  const auto* bytes = reinterpret_cast<const unsigned char*>(closure);
  if (closure != nullptr && Field<const void*>(bytes, kCbArgOffset) == closure &&
      FromGrpcpp(Field<const void*>(bytes, kCbOffset))) {
    auto* wrapped = new WrappedClosure;
    std::memcpy(wrapped->closure, bytes, kClosureSize);
    const ClosureCb run = &RunWrapped;
    void* const self = wrapped;
    std::memcpy(wrapped->closure + kCbOffset, &run, sizeof run);
    std::memcpy(wrapped->closure + kCbArgOffset, &self, sizeof self);
    wrapped->original = bytes;
    Release(wrapped);
    real(reinterpret_cast<grpc_closure*>(wrapped->closure), std::move(error), type, job_type);
    return;
  }
  real(closure, std::move(error), type, job_type);
}

// The last reaction of a server call ends in ServerCallbackCall::MaybeDone,
// whose reference count (callbacks_outstanding_, an atomic in grpc++'s
// headers) orders every reaction before OnDone. Our copies of that inline code
// are instrumented, but libgrpc++ has its own (the OnCancel path), which is
// not; and the count's last decrement may be one TSan does not see. The
// decrement that reaches zero calls ScheduleOnDone (out of line, in
// libgrpc++), so it acquires what every instrumented decrement released on the
// count before OnDone is handed to the executor. callbacks_outstanding_ is the
// third member (after the vtable pointer and on_cancel_conditions_remaining_,
// grpcpp/support/server_callback.h).
namespace grpc::internal {
class ServerCallbackCall {
 public:
  void ScheduleOnDone(bool inline_ondone);
};
}  // namespace grpc::internal

void grpc::internal::ServerCallbackCall::ScheduleOnDone(bool inline_ondone) {
  using Fn = void (*)(ServerCallbackCall*, bool);
  static const auto real = reinterpret_cast<Fn>(Next("_ZN4grpc8internal18ServerCallbackCall14ScheduleOnDoneEb"));
  constexpr size_t kCallbacksOutstanding = sizeof(void*) + sizeof(int);
  Acquire(reinterpret_cast<const char*>(this) + kCallbacksOutstanding);
  real(this, inline_ondone);
}

// A server's shutdown waits until every callback call has let go of the server
// (grpc::Server's shutdown_refs_outstanding_, an atomic in libgrpc++): each
// call drops its reference when its OnDone has run, and only the last drop
// takes the server's mutex. So every drop releases on the server, and the wait
// in Shutdown acquires once it is over: what the calls did happens before
// whatever the owner frees after Shutdown (the services they ran in).
namespace grpc {
class Server {
 public:
  void UnrefWithPossibleNotify();
  void UnrefAndWaitLocked();
};
}  // namespace grpc

void grpc::Server::UnrefWithPossibleNotify() {
  using Fn = void (*)(Server*);
  static const auto real = reinterpret_cast<Fn>(Next("_ZN4grpc6Server23UnrefWithPossibleNotifyEv"));
  Release(this);
  real(this);
}

void grpc::Server::UnrefAndWaitLocked() {
  using Fn = void (*)(Server*);
  static const auto real = reinterpret_cast<Fn>(Next("_ZN4grpc6Server18UnrefAndWaitLockedEv"));
  Release(this);
  real(this);
  Acquire(this);
}
