// Reading what a user types at a prompt: a username, or a password with echo
// off (restored even on Ctrl-C), or a password given by a script.
// Stateless; call from the main thread only (touches the terminal and stdin).
#ifndef CHAT_CLI_SRC_PROMPT_H_
#define CHAT_CLI_SRC_PROMPT_H_

#include <string>

#include "absl/status/statusor.h"

namespace chat::cli {

// One line from stdin (without the newline); NOT_FOUND at end of input.
absl::StatusOr<std::string> ReadStdinLine();
// All of stdin.
absl::StatusOr<std::string> ReadAllStdin();

// Prints `prompt` on stderr and reads a line from the terminal on stdin.
// INVALID_ARGUMENT if stdin is not a terminal.
absl::StatusOr<std::string> PromptLine(const std::string& prompt, bool echo);

// The password, from (in order): stdin when from_stdin, $CHAT_PASSWORD, or a
// prompt without echo on a terminal (asked twice when confirm).
absl::StatusOr<std::string> ReadPassword(bool from_stdin, bool confirm);

// The same for a password with its own prompt (e.g. "New password: ") and
// variable (e.g. "CHAT_NEW_PASSWORD"); from_stdin reads the next line of stdin.
absl::StatusOr<std::string> ReadNamedPassword(const std::string& prompt, const char* env_name,
                                              bool from_stdin, bool confirm);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_PROMPT_H_
