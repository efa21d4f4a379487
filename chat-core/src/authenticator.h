// Authenticator: the one place a call's identity is decided. Every ChatService
// and AuthService call, every Connect stream and every gateway stream asks it.
// It also refuses every call with UNAVAILABLE until the node serves (a node on
// PostgreSQL waits for the database first).
//
// Threading: thread-safe (Accounts is). Answers come before the call returns,
// or (a token another node issued) on a store thread.
// Lifetime: owned by CoreServer; outlives the gRPC server and every call.
#ifndef CHAT_CORE_SRC_AUTHENTICATOR_H_
#define CHAT_CORE_SRC_AUTHENTICATOR_H_

#include <grpcpp/server_context.h>

#include <atomic>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "accounts.h"
#include "core_tls.h"
#include "identity.h"

namespace chat::core {

// The first value of metadata `key` of a server call; empty if absent.
absl::string_view CallMetadata(const grpc::ServerContextBase& ctx, absl::string_view key);

class Authenticator {
 public:
  // `gateway_secret` (empty: gateway streams from loopback only) and `tls` (may
  // be null: no client certificates) must outlive this.
  Authenticator(Accounts* accounts, const std::string* gateway_secret, const CoreTlsOptions* tls = nullptr)
      : accounts_(accounts), gateway_secret_(gateway_secret), tls_(tls) {}

  // The caller of a call: `authorization: Bearer <token>`, or a guest in guest
  // mode. UNAUTHENTICATED with a reason otherwise.
  void Authenticate(const grpc::ServerContextBase& ctx, IdentityCallback done) const;
  // The same from those two metadata values (empty if absent).
  void Authenticate(absl::string_view authorization, absl::string_view guest_user, IdentityCallback done) const;
  // A browser session's token (or guest name) that a gateway hands over.
  void AuthenticateToken(absl::string_view token, absl::string_view guest_name, IdentityCallback done) const;
  // OK once the node serves; UNAVAILABLE before.
  absl::Status Serving() const;
  void SetServing(bool serving) { serving_.store(serving); }
  // Does the call carry a valid gateway credential: the secret, or a client
  // certificate the TLS client CA signed (CoreTlsOptions); or, with neither
  // configured, does it come from loopback?
  bool IsGateway(const grpc::ServerContextBase& ctx) const;
  // The client's address without its port; a gateway may forward its browser's
  // with `x-forwarded-for`.
  std::string Peer(const grpc::ServerContextBase& ctx) const;

 private:
  Accounts* const accounts_;
  const std::string* const gateway_secret_;
  const CoreTlsOptions* const tls_;
  std::atomic<bool> serving_{true};
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_AUTHENTICATOR_H_
