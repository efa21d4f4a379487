#include "authenticator.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace chat::core {
namespace {
constexpr char kGatewaySecretHeader[] = "x-chat-gateway-secret";
}  // namespace

absl::string_view CallMetadata(const grpc::ServerContextBase& ctx, absl::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

absl::StatusOr<Identity> Authenticator::Authenticate(const grpc::ServerContextBase& ctx) const {
  return Authenticate([&ctx](absl::string_view key) { return CallMetadata(ctx, key); });
}

absl::StatusOr<Identity> Authenticator::Authenticate(
    absl::FunctionRef<absl::string_view(absl::string_view)> metadata) const {
  return accounts_->Authenticate(metadata("authorization"), metadata("x-chat-user"));
}

bool Authenticator::IsGateway(const grpc::ServerContextBase& ctx) const {
  if (!gateway_secret_->empty()) {
    absl::string_view given = CallMetadata(ctx, kGatewaySecretHeader);
    return given.size() == gateway_secret_->size() &&
           sodium_memcmp(given.data(), gateway_secret_->data(), given.size()) == 0;
  }
  std::string peer = ctx.peer();
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "ipv6:%5B::1%5D") || absl::StartsWith(peer, "unix:");
}

std::string Authenticator::Peer(const grpc::ServerContextBase& ctx) const {
  absl::string_view forwarded = CallMetadata(ctx, "x-forwarded-for");
  if (!forwarded.empty() && IsGateway(ctx)) {
    return std::string(absl::StripAsciiWhitespace(forwarded.substr(0, forwarded.find(','))));
  }
  // "ipv4:127.0.0.1:5555" -> "ipv4:127.0.0.1": the port changes per connection.
  std::string peer = ctx.peer();
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos && colon > peer.find(':')) peer.resize(colon);
  return peer;
}

}  // namespace chat::core
