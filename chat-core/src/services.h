// The gRPC services of chat-core: ChatService, GatewayService and AuthService.
// They authenticate each call in one place (Authenticator), convert between
// absl::Status and grpc::Status at this edge, and hand the work to the Hub and
// Accounts. Connect and Gateway use raw ByteBuffer streams, so a room message is
// serialized once and the same bytes go to every stream.
//
// Threading: handlers and reactors run on gRPC's callback threads (Connect's on
// the hub's fan-out lanes) and never block.
// Lifetime: owned by CoreServer; they must outlive the grpc::Server.
#ifndef CHAT_CORE_SRC_SERVICES_H_
#define CHAT_CORE_SRC_SERVICES_H_

#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/server.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "accounts.h"
#include "chat/v1/chat.grpc.pb.h"
#include "hub.h"
#include "outbox.h"
#include "session.h"

namespace chat::core {

struct ServiceOptions {
  SessionOptions connect_session;
  SessionOptions gateway_session;
  OutboxLimits connect_outbox;
  OutboxLimits gateway_outbox;
  // Empty: gateway streams are accepted from loopback peers only.
  std::string gateway_secret;
  size_t max_sessions_per_gateway = 200000;
};

// The one place a call's identity is decided.
class Authenticator {
 public:
  Authenticator(Accounts* accounts, const std::string* gateway_secret)
      : accounts_(accounts), gateway_secret_(gateway_secret) {}
  absl::StatusOr<Identity> Authenticate(const grpc::ServerContextBase& ctx) const;
  // The same, from a call's metadata as `metadata(key)` gives it (empty if absent).
  absl::StatusOr<Identity> Authenticate(absl::FunctionRef<absl::string_view(absl::string_view)> metadata) const;
  // Does the call carry a valid gateway credential (or, with no secret set, come
  // from loopback)?
  bool IsGateway(const grpc::ServerContextBase& ctx) const;
  // The client's address; a gateway may forward its browser's with
  // `x-forwarded-for`.
  std::string Peer(const grpc::ServerContextBase& ctx) const;

 private:
  Accounts* const accounts_;
  const std::string* const gateway_secret_;
};

// The callback service. Connect is served on gRPC core's C API instead (see
// ConnectCall in services.cc): the generated Connect method is left out of the
// registration ("generic"), and ChatServiceImpl registers the same path as a
// method of its own, whose core registration it uses to take calls.
using ChatServiceBase = chat::v1::ChatService::WithCallbackMethod_CreateRoom<
    chat::v1::ChatService::WithCallbackMethod_ListRooms<
        chat::v1::ChatService::WithCallbackMethod_GetRoom<
            chat::v1::ChatService::WithCallbackMethod_SendMessage<
                chat::v1::ChatService::WithCallbackMethod_GetHistory<
                    chat::v1::ChatService::WithGenericMethod_Connect<
                        chat::v1::ChatService::Service>>>>>>;

class ChatServiceImpl final : public ChatServiceBase {
 public:
  ChatServiceImpl(Hub* hub, const Authenticator* auth, const ServiceOptions* options);

  grpc::ServerUnaryReactor* CreateRoom(grpc::CallbackServerContext* ctx,
                                       const chat::v1::CreateRoomRequest* req,
                                       chat::v1::Room* resp) override;
  grpc::ServerUnaryReactor* ListRooms(grpc::CallbackServerContext* ctx,
                                      const chat::v1::ListRoomsRequest* req,
                                      chat::v1::ListRoomsResponse* resp) override;
  grpc::ServerUnaryReactor* GetRoom(grpc::CallbackServerContext* ctx,
                                    const chat::v1::GetRoomRequest* req,
                                    chat::v1::Room* resp) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const chat::v1::SendMessageRequest* req,
                                        chat::v1::SendMessageResponse* resp) override;
  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* ctx,
                                       const chat::v1::GetHistoryRequest* req,
                                       chat::v1::GetHistoryResponse* resp) override;
  // Starts taking Connect streams on the hub's fan-out lanes' queues (call once,
  // after `server`, which this service is registered on, started).
  void StartConnectCalls(grpc::Server* server);

 private:
  // Connect, as registered with the server (owned by grpc::Service).
  grpc::internal::RpcServiceMethod* connect_method_;
  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
};

class GatewayServiceImpl final
    : public chat::v1::GatewayService::WithRawCallbackMethod_Gateway<
          chat::v1::GatewayService::Service> {
 public:
  GatewayServiceImpl(Hub* hub, Accounts* accounts, const Authenticator* auth,
                     const ServiceOptions* options)
      : hub_(hub), accounts_(accounts), auth_(auth), options_(options) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Gateway(
      grpc::CallbackServerContext* ctx) override;

 private:
  Hub* const hub_;
  Accounts* const accounts_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
};

class AuthServiceImpl final : public chat::v1::AuthService::CallbackService {
 public:
  AuthServiceImpl(Hub* hub, Accounts* accounts, const Authenticator* auth)
      : hub_(hub), accounts_(accounts), auth_(auth) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx,
                                     const chat::v1::RegisterRequest* req,
                                     chat::v1::RegisterResponse* resp) override;
  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* ctx,
                                  const chat::v1::LoginRequest* req,
                                  chat::v1::LoginResponse* resp) override;
  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* ctx,
                                   const chat::v1::LogoutRequest* req,
                                   chat::v1::LogoutResponse* resp) override;
  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx,
                                   const chat::v1::WhoAmIRequest* req,
                                   chat::v1::WhoAmIResponse* resp) override;

 private:
  Hub* const hub_;
  Accounts* const accounts_;
  const Authenticator* const auth_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SERVICES_H_
