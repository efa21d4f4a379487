// Secrets and public ids of credentials (docs/security.md, "API tokens"):
// random secrets in base64url, random hex ids, and the public id of a stored
// session or API token (the lower-case hex of the first 8 bytes of its token
// hash), so a list can name a credential without showing anything that lets
// one use it. Also the rules for names and display names of #29.
//
// Threading: stateless, thread-safe (libsodium must be initialized: Accounts'
// Init does it). Lifetime: plain functions.
#ifndef CHAT_CORE_SRC_TOKENS_H_
#define CHAT_CORE_SRC_TOKENS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chat::core {

// An API token's secret starts with this, so a leaked one is easy to spot
// (secret scanners) and tell from a login token.
inline constexpr char kApiTokenPrefix[] = "chat_";
// Longest display name, token name and webhook name, in bytes.
inline constexpr size_t kMaxDisplayNameBytes = 64;
inline constexpr size_t kMaxCredentialNameBytes = 64;
// Longest LoginRequest.client kept.
inline constexpr size_t kMaxClientBytes = 256;

// `bytes` random bytes, base64url without padding.
std::string RandomBase64Url(size_t bytes);
// `bytes` random bytes, lower-case hex.
std::string RandomHex(size_t bytes);
// The public id of a credential: hex of the first 8 bytes of its token hash.
std::string PublicId(absl::string_view token_hash);

// INVALID_ARGUMENT naming `what` unless `name` is valid UTF-8 of at most
// `max_bytes` bytes without control characters (and, unless `may_be_empty`,
// not empty).
absl::Status ValidateLabel(absl::string_view what, absl::string_view name, size_t max_bytes, bool may_be_empty);

// `text` cut to at most `max_bytes` bytes at a UTF-8 character boundary, with
// control characters replaced by spaces (for what a client names itself).
std::string CleanLabel(absl::string_view text, size_t max_bytes);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_TOKENS_H_
