#include "core_tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "chat/tls_files.h"

namespace chat::core {
namespace {
constexpr char kLog[] = "tls";
}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CoreServerCredentials(const CoreTlsOptions& tls) {
  if (!tls.enabled()) {
    if (!tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  auto id = LoadPemIdentity(tls.cert_file, tls.key_file, "--tls_cert/--tls_key");
  if (!id.ok()) return id.status();
  if (!tls.client_ca_file.empty()) {
    if (auto ca = LoadPemCaBundle(tls.client_ca_file, "--tls_client_ca"); !ca.ok()) return ca.status();
  }
  if (tls.reload_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError("--tls_reload_interval must be at least 1s");
  }
  const auto days_left = (id->not_after - absl::Now()) / absl::Hours(24);
  CHAT_LOG_INFO(kLog, "serving gRPC over TLS as %s (certificate valid for %d more days)%s", id->subject,
                static_cast<int>(days_left),
                tls.client_ca_file.empty()          ? ""
                : tls.client_cert_optional          ? "; client certificates verified when given"
                                                    : "; client certificates required");
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file,
      static_cast<unsigned>(absl::ToInt64Seconds(tls.reload_interval)));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(tls.client_cert_optional
                                      ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

bool IsGatewayCertificate(const grpc::ServerContextBase& ctx, const CoreTlsOptions& tls) {
  if (tls.client_ca_file.empty()) return false;
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return false;
  if (tls.gateway_cert_names.empty()) return true;
  // The peer identity is the certificate's DNS SANs, or its CN if it has none.
  auto names = auth->GetPeerIdentity();
  std::vector<grpc::string_ref> all(names.begin(), names.end());
  for (const auto& n : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) all.push_back(n);
  return std::any_of(all.begin(), all.end(), [&](const grpc::string_ref& name) {
    return std::find(tls.gateway_cert_names.begin(), tls.gateway_cert_names.end(),
                     std::string(name.data(), name.size())) != tls.gateway_cert_names.end();
  });
}

}  // namespace chat::core
