// AuthClient: the AuthService calls behind the bridge's HTTP API (/api/login,
// /api/register, /api/logout, /api/me, /api/info, /api/account/{Method},
// /api/hooks/{id}), made to a chat-core node that answers: first the node that
// answered last, then, while the answer is UNAVAILABLE (the node is down), each
// other node once, all within one deadline (docs/architecture.md, "Fail-over
// between chat-core nodes"). Every call goes through one generic stub by the
// method's name, so a method of AuthService needs no code of its own here.
//
// Threading: thread-safe; `done` runs on a gRPC thread and must not block.
// Lifetime: owned by the Bridge; a call in flight holds the stubs it needs, so
// it may finish after the AuthClient is gone. Shutdown waits until each call
// has let go of them, so that the channels go with the AuthClient, on the
// thread that destroys it, never on a gRPC thread (auth_client.cc says why).
#ifndef CHAT_WS_BRIDGE_SRC_AUTH_CLIENT_H_
#define CHAT_WS_BRIDGE_SRC_AUTH_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "chat/v1/chat.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace chat::bridge {

class AuthClient {
 public:
  // Who the call is for: the browser's address (x-forwarded-for) and, for
  // calls on behalf of a logged-in browser, its session or API token (""
  // sends no authorization). The gateway secret goes with every call; chat-core
  // believes x-forwarded-for only from a gateway, and PostWebhook needs it.
  struct Caller {
    std::string peer;
    std::string token;
  };
  template <typename Response>
  using Done = std::function<void(const grpc::Status& status, const Response& response)>;
  // The response is a message of the method's output type (empty on an error).
  using AnyDone = std::function<void(const grpc::Status& status, std::unique_ptr<google::protobuf::Message> response)>;

  // One channel per chat-core node, in --core order.
  AuthClient(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout,
             std::string gateway_secret);

  void Register(const Caller& caller, chat::v1::RegisterRequest request, Done<chat::v1::RegisterResponse> done);
  void Login(const Caller& caller, chat::v1::LoginRequest request, Done<chat::v1::LoginResponse> done);
  void Logout(const Caller& caller, Done<chat::v1::LogoutResponse> done);
  void WhoAmI(const Caller& caller, Done<chat::v1::WhoAmIResponse> done);
  void ServerInfo(const Caller& caller, Done<chat::v1::ServerInfoResponse> done);
  void PostWebhook(const Caller& caller, chat::v1::PostWebhookRequest request,
                   Done<chat::v1::PostWebhookResponse> done);
  // Any method of AuthService; `request` must be of its input type.
  void Call(const Caller& caller, const google::protobuf::MethodDescriptor* method,
            std::unique_ptr<google::protobuf::Message> request, AnyDone done);

  // Cancels every call in flight and waits (up to `wait`) until each has
  // answered and let go of its callback, and with it what the callback holds
  // (an HTTP session, its socket, its connection slot): the bridge calls it
  // before it destroys what those refer to. Later calls answer CANCELLED at
  // once. Found by AddressSanitizer: a login answered after the bridge was
  // gone freed a session whose slot pointed into the freed context.
  void Shutdown(absl::Duration wait = absl::Seconds(5));

  struct Nodes;
  struct InFlight;

 private:
  std::shared_ptr<Nodes> nodes_;
  std::shared_ptr<InFlight> in_flight_;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_AUTH_CLIENT_H_
