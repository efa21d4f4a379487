// chat-core's TLS: the server credentials of its gRPC port, and who counts as a
// gateway by certificate (docs/security.md, "TLS").
//
// The certificate and key are re-read by gRPC when the files change (checked
// every reload_interval), so a renewed certificate needs no restart; a client
// CA makes clients prove who they are, and a bridge whose certificate that CA
// signed may open the Gateway stream without the shared secret.
#ifndef CHAT_CORE_SRC_CORE_TLS_H_
#define CHAT_CORE_SRC_CORE_TLS_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chat::core {

struct CoreTlsOptions {
  // PEM files; both empty: plaintext gRPC.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle: clients must present a certificate it signed (mTLS).
  std::string client_ca_file;
  // With client_ca_file: ask for a certificate and verify it if given, but let
  // clients without one in (CLI users with tokens, while bridges use mTLS).
  bool client_cert_optional = false;
  // With client_ca_file: the certificate names (CN or a DNS SAN) that may open
  // the Gateway stream without the secret; empty: any certificate the client CA
  // signed.
  std::vector<std::string> gateway_cert_names;
  // How often gRPC looks for changed certificate and key files.
  absl::Duration reload_interval = absl::Seconds(60);

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// Checks the files (readable, parse, key matches, not expired) and builds the
// credentials; InsecureServerCredentials if TLS is off. INVALID_ARGUMENT naming
// the flag and file otherwise.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CoreServerCredentials(const CoreTlsOptions& tls);

// Whether the call came over mTLS with a verified client certificate whose
// name is allowed to act as a gateway (see gateway_cert_names).
bool IsGatewayCertificate(const grpc::ServerContextBase& ctx, const CoreTlsOptions& tls);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CORE_TLS_H_
