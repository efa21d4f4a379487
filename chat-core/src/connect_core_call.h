// Connect streams on gRPC core's C API: the default way chat-core serves
// ChatService.Connect, because a long-lived idle stream costs less memory there
// than on the C++ callback or async API (docs/architecture.md, "Connect on
// gRPC core's C API"). It relies on gRPC internals (a method registered by
// path, and completion-queue tags of gRPC's codegen layer), so it is compiled
// only for the gRPC release it was written and tested for; elsewhere
// kConnectOnCoreApi (service_options.h) is false and chat-core serves Connect on the public
// callback API (connect_reactor.h).
//
// Threading: every call is bound to one fan-out lane; its completions run on
// that lane's thread (WriteKicker). Lifetime: the method belongs to the
// service; each call deletes itself when it is over.
#ifndef CHAT_CORE_SRC_CONNECT_CORE_CALL_H_
#define CHAT_CORE_SRC_CONNECT_CORE_CALL_H_

#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/server.h>

#include "authenticator.h"
#include "hub.h"
#include "service_options.h"

namespace chat::core {


// ChatService.Connect's path as a raw method for the service to add (it owns
// it) in place of the generated Connect method, which it marks generic: the
// server then registers the path with gRPC core and takes no calls for it.
grpc::internal::RpcServiceMethod* NewConnectCoreMethod();

// Takes Connect calls for `method` on every fan-out lane's completion queue.
// Call once, after `server` (which the method's service is registered on)
// started; calls stop coming when the server shuts down.
void StartConnectCoreCalls(grpc::Server* server, grpc::internal::RpcServiceMethod* method, Hub* hub,
                           const Authenticator* auth, const ServiceOptions* options);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CONNECT_CORE_CALL_H_
