// AuthService: chat.v1.AuthService (register, login, logout, who-am-I, and
// the account lifecycle of #29: passwords, sessions, profiles, deletion,
// invites, bots, API tokens, webhooks) on gRPC's callback API. Hashing runs
// on Accounts' threads, never on gRPC's. auth_service_impl.h holds the class.
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
#include "service_options.h"

namespace chat::core {

// Logout revokes the caller's token and ends the live sessions that use it
// (through the hub); so does a login for the sessions it pushed past the
// user's cap. Register and Login are keyed by the caller's address
// (Authenticator::Peer: a gateway's x-forwarded-for). Revocations (sessions,
// tokens, password changes, deletions) end this node's streams of the revoked
// tokens; other nodes hear of them through the store's revocation notices.
// `options` (webhook rate, per-user caps) must outlive the service.
std::unique_ptr<chat::v1::AuthService::CallbackService> NewAuthService(Hub* hub, Accounts* accounts,
                                                                       const Authenticator* auth,
                                                                       const ServiceOptions* options);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_AUTH_SERVICE_H_
