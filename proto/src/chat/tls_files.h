// TLS material read from PEM files, checked with OpenSSL before anything uses
// it, so that a wrong path, a key that does not belong to its certificate or an
// expired certificate is one clear line at start-up (docs/security.md, "TLS"),
// not a handshake failure that a client reports later.
//
// Shared by chat-core (its gRPC port), ws-bridge (HTTPS/WSS and its channel to
// chat-core) and the CLI. Thread-safe: plain functions over files.
#ifndef CHAT_PROTO_SRC_CHAT_TLS_FILES_H_
#define CHAT_PROTO_SRC_CHAT_TLS_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chat {

// A certificate chain and its private key, as PEM text.
struct PemIdentity {
  std::string cert_chain;
  std::string private_key;
  // The leaf certificate's subject, e.g. "CN=chat.example.com", and when it
  // stops being valid.
  std::string subject;
  absl::Time not_after;
};

// Reads `cert_file` (a PEM chain, leaf first) and `key_file` (its PEM private
// key). INVALID_ARGUMENT naming the file if either cannot be read or parsed,
// if the key does not match the certificate, or if the certificate is not
// valid yet or any more (`flag` names the flags in the message, e.g.
// "--tls_cert/--tls_key").
absl::StatusOr<PemIdentity> LoadPemIdentity(const std::string& cert_file, const std::string& key_file,
                                            const std::string& flag);

// Reads a bundle of PEM CA certificates (at least one). INVALID_ARGUMENT
// naming `flag` otherwise.
absl::StatusOr<std::string> LoadPemCaBundle(const std::string& file, const std::string& flag);

// The system's trust store (Debian: /etc/ssl/certs/ca-certificates.crt), or ""
// if there is none (gRPC then uses its own roots).
std::string SystemCaBundle();

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_TLS_FILES_H_
