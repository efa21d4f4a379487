// AuthClient: the AuthService calls behind the bridge's HTTP API (/api/login,
// /api/register, /api/logout, /api/me), made to a chat-core node that answers:
// first the node that answered last, then, while the answer is UNAVAILABLE
// (the node is down), each other node once, all within one deadline
// (docs/architecture.md, "Fail-over between chat-core nodes").
//
// Threading: thread-safe; `done` runs on a gRPC thread and must not block.
// Lifetime: owned by the Bridge; a call in flight holds the stubs it needs, so
// it may finish after the AuthClient is gone.
#ifndef CHAT_WS_BRIDGE_SRC_AUTH_CLIENT_H_
#define CHAT_WS_BRIDGE_SRC_AUTH_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::bridge {

class AuthClient {
 public:
  // Who the call is for: the browser's address (x-forwarded-for) and, for
  // logout and me, its session token ("" sends no authorization).
  struct Caller {
    std::string peer;
    std::string token;
  };
  template <typename Response>
  using Done = std::function<void(const grpc::Status& status, const Response& response)>;

  // One channel per chat-core node, in --core order.
  AuthClient(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout,
             std::string gateway_secret);

  void Register(const Caller& caller, chat::v1::RegisterRequest request, Done<chat::v1::RegisterResponse> done);
  void Login(const Caller& caller, chat::v1::LoginRequest request, Done<chat::v1::LoginResponse> done);
  void Logout(const Caller& caller, Done<chat::v1::LogoutResponse> done);
  void WhoAmI(const Caller& caller, Done<chat::v1::WhoAmIResponse> done);

  struct Nodes;

 private:
  std::shared_ptr<Nodes> nodes_;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_AUTH_CLIENT_H_
