// ConnectReactor: one Connect stream (one client session) on gRPC's public
// callback API, on raw ByteBuffers so room events are serialized once.
// Selected with CoreOptions::connect_api = kCallback, and the only choice on a
// gRPC other than the one connect_core_call.h was written for.
//
// Threading: reactions run on gRPC's callback threads and never block; the
// Outbox starts writes under its lock (see stream_reactor.h).
// Lifetime: gRPC owns it until OnDone, where it ends its session and deletes
// itself.
#ifndef CHAT_CORE_SRC_CONNECT_REACTOR_H_
#define CHAT_CORE_SRC_CONNECT_REACTOR_H_

#include <grpcpp/server_context.h>

#include "authenticator.h"
#include "hub.h"
#include "service_options.h"
#include "stream_reactor.h"

namespace chat::core {

// A new Connect stream's reactor (one that refuses it if it cannot start).
RawServerReactor* NewConnectReactor(grpc::CallbackServerContext* ctx, Hub* hub, const Authenticator* auth,
                                    const ServiceOptions* options);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CONNECT_REACTOR_H_
