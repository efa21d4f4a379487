// GatewayServiceImpl: chat.v1.GatewayService, one stream per ws-bridge carrying
// many browser sessions (docs/architecture.md, "Two ways in to chat-core").
// Each stream has one Outbox (room events cross it once per bridge) and one
// Session per browser; chat-core authenticates every session by its token.
//
// Threading: gRPC's callback threads; reactions never block.
// Lifetime: owned by CoreServer; outlives the grpc::Server. Each stream's
// reactor deletes itself in OnDone, after closing its sessions.
#ifndef CHAT_CORE_SRC_GATEWAY_SERVICE_H_
#define CHAT_CORE_SRC_GATEWAY_SERVICE_H_

#include "authenticator.h"
#include "chat/v1/chat.grpc.pb.h"
#include "hub.h"
#include "service_options.h"
#include "stream_reactor.h"

namespace chat::core {

class GatewayServiceImpl final
    : public chat::v1::GatewayService::WithRawCallbackMethod_Gateway<chat::v1::GatewayService::Service> {
 public:
  GatewayServiceImpl(Hub* hub, const Authenticator* auth, const ServiceOptions* options)
      : hub_(hub), auth_(auth), options_(options) {}

  // PERMISSION_DENIED without the gateway credential; UNAVAILABLE while
  // shutting down.
  RawServerReactor* Gateway(grpc::CallbackServerContext* ctx) override;

 private:
  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_GATEWAY_SERVICE_H_
