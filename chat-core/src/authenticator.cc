#include "authenticator.h"

#include <sodium.h>

#include <utility>

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

absl::Status Authenticator::Serving() const {
  if (serving_.load()) return absl::OkStatus();
  return absl::UnavailableError("chat-core is starting (waiting for its database); retry shortly");
}

void Authenticator::Authenticate(const grpc::ServerContextBase& ctx, IdentityCallback done) const {
  Authenticate(CallMetadata(ctx, "authorization"), CallMetadata(ctx, "x-chat-user"), std::move(done));
}

void Authenticator::Authenticate(absl::string_view authorization, absl::string_view guest_user,
                                 IdentityCallback done) const {
  if (absl::Status st = Serving(); !st.ok()) return done(st);
  accounts_->Authenticate(authorization, guest_user, std::move(done));
}

void Authenticator::AuthenticateToken(absl::string_view token, absl::string_view guest_name,
                                      IdentityCallback done) const {
  if (absl::Status st = Serving(); !st.ok()) return done(st);
  accounts_->AuthenticateToken(token, guest_name, std::move(done));
}

bool Authenticator::IsGateway(const grpc::ServerContextBase& ctx) const {
  const bool by_certificate = tls_ != nullptr && !tls_->client_ca_file.empty();
  if (by_certificate && IsGatewayCertificate(ctx, *tls_)) return true;
  if (!gateway_secret_->empty()) {
    absl::string_view given = CallMetadata(ctx, kGatewaySecretHeader);
    return given.size() == gateway_secret_->size() &&
           sodium_memcmp(given.data(), gateway_secret_->data(), given.size()) == 0;
  }
  if (by_certificate) return false;
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
