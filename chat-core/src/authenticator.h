// Authenticator: the one place a call's identity is decided. Every ChatService
// and AuthService call, every Connect stream and every gateway stream asks it.
//
// Threading: thread-safe (reads only; Accounts is thread-safe).
// Lifetime: owned by CoreServer; outlives the gRPC server and every call.
#ifndef CHAT_CORE_SRC_AUTHENTICATOR_H_
#define CHAT_CORE_SRC_AUTHENTICATOR_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "accounts.h"
#include "identity.h"

namespace chat::core {

// The first value of metadata `key` of a server call; empty if absent.
absl::string_view CallMetadata(const grpc::ServerContextBase& ctx, absl::string_view key);

class Authenticator {
 public:
  // `gateway_secret` (empty: gateway streams from loopback only) must outlive this.
  Authenticator(Accounts* accounts, const std::string* gateway_secret)
      : accounts_(accounts), gateway_secret_(gateway_secret) {}

  // The caller of a call: `authorization: Bearer <token>`, or a guest in guest
  // mode. UNAUTHENTICATED with a reason otherwise.
  absl::StatusOr<Identity> Authenticate(const grpc::ServerContextBase& ctx) const;
  // The same, from a call's metadata as `metadata(key)` gives it (empty if absent).
  absl::StatusOr<Identity> Authenticate(
      absl::FunctionRef<absl::string_view(absl::string_view)> metadata) const;
  // Does the call carry a valid gateway credential (or, with no secret set, come
  // from loopback)?
  bool IsGateway(const grpc::ServerContextBase& ctx) const;
  // The client's address without its port; a gateway may forward its browser's
  // with `x-forwarded-for`.
  std::string Peer(const grpc::ServerContextBase& ctx) const;

 private:
  Accounts* const accounts_;
  const std::string* const gateway_secret_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_AUTHENTICATOR_H_
