// Exit codes of the `chat` binary and the mapping from a status to one of them.
// Stateless, thread-safe (plain functions and constants).
#ifndef CHAT_CLI_SRC_EXIT_CODES_H_
#define CHAT_CLI_SRC_EXIT_CODES_H_

#include "absl/status/status.h"

namespace chat::cli {

// Documented in docs/cli.md; scripts rely on them, so never renumber.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,            // anything not listed below
  kExitUsage = 2,            // bad command line or invalid argument
  kExitUnauthenticated = 3,  // not logged in, bad password, token expired/revoked
  kExitNotFound = 4,         // no such room (or user)
  kExitUnavailable = 5,      // chat-core unreachable, restarting or too slow
  kExitAlreadyExists = 6,    // room or username already taken
  kExitTls = 7,              // TLS failed: certificate not trusted, expired, wrong name, not a TLS port
};

ExitCode ExitCodeFor(absl::StatusCode code);
// As above, but a TlsError is kExitTls.
ExitCode ExitCodeFor(const absl::Status& status);

// UNAVAILABLE with `message`, marked as a TLS failure (exit code 7).
absl::Status TlsError(absl::string_view message);
bool IsTlsError(const absl::Status& status);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_EXIT_CODES_H_
