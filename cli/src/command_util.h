// Helpers the one-shot subcommands share: options as numbers, JSON lines,
// errors that say what failed, a logged-in client.
// Stateless; called from the main thread.
#ifndef CHAT_CLI_SRC_COMMAND_UTIL_H_
#define CHAT_CLI_SRC_COMMAND_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "app.h"
#include "client.h"
#include "google/protobuf/message.h"

namespace chat::cli {

// Most bytes of a topic or a kick/ban reason (chat-core's limit).
inline constexpr size_t kMaxTopicBytes = 256;

// Option `name` (which must be present) as a number in [min, max], or
// INVALID_ARGUMENT naming the option.
absl::StatusOr<int64_t> IntOption(const Context& ctx, const std::string& name, int64_t min, int64_t max);

// The JSON line for a proto on stdout; false if stdout is gone.
bool PrintJson(const google::protobuf::Message& message);

// chat-core's answer to an action, with the action in front:
// "cannot kick bob from general: <chat-core's words>". Failures to reach or
// authenticate with chat-core keep their own wording (they say what to do).
absl::Status ActionError(const absl::Status& status, absl::string_view action);

// Checks free text given on the command line (a topic, a reason): valid UTF-8,
// at most kMaxTopicBytes. `what` names it in the error.
absl::Status ValidateShortText(absl::string_view text, absl::string_view what);

// SendMessage, tried up to three times while chat-core is unavailable (each
// attempt round every node), always with the request's client_msg_id, so a
// send that did reach a node before a failure is not stored twice.
absl::StatusOr<chat::v1::SendMessageResponse> SendWithRetries(ChatClient& client,
                                                              const chat::v1::SendMessageRequest& request);

// One action of a command with actions ("chat bot create NAME"): its name,
// the synopsis of its arguments, how many it takes after the action, and which
// of the command's options go with it.
struct SubAction {
  std::string name;
  std::string synopsis;  // e.g. "NAME"
  int args = 0;
  std::vector<std::string> options;
};
// The action named by the first argument (or `default_action` when there is
// none and it is not empty), checked against `actions`: its argument count and
// that every option given (global ones aside) goes with it. INVALID_ARGUMENT
// with the usage of the command otherwise.
absl::StatusOr<const SubAction*> ParseSubAction(const ParsedArgs& args, const std::vector<SubAction>& actions,
                                                const std::string& default_action = "");

// Asks "QUESTION [y/N] " on the terminal; CANCELLED with `not_done` unless the
// answer is y or yes.
absl::Status ConfirmOnTerminal(const std::string& question, const std::string& not_done);

// The stored login and a client that uses it.
struct Session {
  Credential credential;
  std::unique_ptr<ChatClient> client;
};
absl::StatusOr<Session> OpenSession(const Context& ctx);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_COMMAND_UTIL_H_
