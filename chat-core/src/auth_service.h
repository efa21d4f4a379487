// AuthService: chat.v1.AuthService (register, login, logout, who-am-I) on
// gRPC's callback API. Hashing runs on Accounts' threads, never on gRPC's.
//
// Threading: handlers run on gRPC's callback threads and never block.
// Lifetime: owned by CoreServer; outlives the grpc::Server.
#ifndef CHAT_CORE_SRC_AUTH_SERVICE_H_
#define CHAT_CORE_SRC_AUTH_SERVICE_H_

#include <memory>

#include "accounts.h"
#include "authenticator.h"
#include "chat/v1/chat.grpc.pb.h"
#include "hub.h"

namespace chat::core {

// Logout revokes the caller's token and ends the live sessions that use it
// (through the hub); so does a login for the sessions it pushed past the
// user's cap. Register and Login are keyed by the caller's address
// (Authenticator::Peer: a gateway's x-forwarded-for).
std::unique_ptr<chat::v1::AuthService::CallbackService> NewAuthService(Hub* hub, Accounts* accounts,
                                                                       const Authenticator* auth);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_AUTH_SERVICE_H_
