// How a unary callback handler ends its call. Every handler follows one shape:
// authenticate (or not), run the work (now or on a store/hashing thread), copy
// the result into the response, finish exactly once with the status.
//
//   return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
//     hub_->CreateRoom(req->name(), who.user, Respond(resp, done));
//   });
//
// Threading: UnaryDone may be called from any thread, once.
// Lifetime: the reactor belongs to gRPC; the response object lives until the
// call finishes, so a callback may write it until it calls done.
#ifndef CHAT_CORE_SRC_UNARY_CALL_H_
#define CHAT_CORE_SRC_UNARY_CALL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "authenticator.h"
#include "chat/status.h"
#include "identity.h"

namespace chat::core {

// Ends a unary call with an absl::Status (converted at this edge). Cheap to
// copy into callbacks; call it exactly once.
class UnaryDone {
 public:
  explicit UnaryDone(grpc::ServerUnaryReactor* reactor) : reactor_(reactor) {}
  void operator()(const absl::Status& status) const { reactor_->Finish(ToGrpcStatus(status)); }
  // The response is filled in: finish with OK.
  void Succeed() const { (*this)(absl::OkStatus()); }

 private:
  grpc::ServerUnaryReactor* reactor_;
};

// A call that is over before it started: refused with `status`.
inline grpc::ServerUnaryReactor* FailNow(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  UnaryDone{reactor}(status);
  return reactor;
}

// Runs `body(done)` once the node serves (else UNAVAILABLE); the body must
// call done exactly once, now or later.
template <typename Body>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const Authenticator& auth, Body&& body) {
  if (absl::Status st = auth.Serving(); !st.ok()) return FailNow(ctx, st);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  body(UnaryDone(reactor));
  return reactor;
}

// Authenticates the caller; a caller without valid credentials gets
// UNAUTHENTICATED with the reason. Otherwise runs `body(identity, done)`,
// now or (a token another node issued) on a store thread: the body must
// capture what it uses by value (request and response pointers stay valid
// until done is called).
template <typename Body>
grpc::ServerUnaryReactor* AuthenticatedUnary(grpc::CallbackServerContext* ctx, const Authenticator& auth,
                                             Body body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auth.Authenticate(*ctx, [reactor, body = std::move(body)](absl::StatusOr<Identity> who) mutable {
    if (!who.ok()) return UnaryDone(reactor)(who.status());
    body(*who, UnaryDone(reactor));
  });
  return reactor;
}

// A callback for a StatusOr<T> result: on success moves the value into
// *response; then ends the call with the status.
template <typename T>
std::function<void(absl::StatusOr<T>)> Respond(T* response, UnaryDone done) {
  return [response, done](absl::StatusOr<T> result) {
    if (result.ok()) *response = std::move(*result);
    done(result.status());
  };
}

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_UNARY_CALL_H_
