#include "command_util.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "chat/json_codec.h"
#include "chat/validate.h"
#include "exit_codes.h"
#include "prompt.h"

namespace chat::cli {

absl::StatusOr<int64_t> IntOption(const Context& ctx, const std::string& name, int64_t min, int64_t max) {
  std::string text = *ctx.args.Get(name);
  int64_t value;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a number from ", min, " to ", max, ", not '", text, "'"));
  }
  return value;
}

bool PrintJson(const google::protobuf::Message& message) {
  return PrintOut(absl::StrCat(chat::ToJson(message), "\n"));
}

absl::Status ActionError(const absl::Status& status, absl::string_view action) {
  if (status.ok() || IsTlsError(status) || absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
      absl::IsUnauthenticated(status)) {
    return status;
  }
  return absl::Status(status.code(), absl::StrCat("cannot ", action, ": ", status.message()));
}

absl::Status ValidateShortText(absl::string_view text, absl::string_view what) {
  if (!chat::IsValidUtf8(text)) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
  if (text.size() > kMaxTopicBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is too long: ", text.size(), " bytes, at most ", kMaxTopicBytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<chat::v1::SendMessageResponse> SendWithRetries(ChatClient& client,
                                                              const chat::v1::SendMessageRequest& request) {
  absl::StatusOr<chat::v1::SendMessageResponse> response;
  absl::Duration pause = absl::Milliseconds(200);
  for (int attempt = 1;; ++attempt) {
    response = client.SendMessage(request);
    if (response.ok() || attempt == 3 || !absl::IsUnavailable(response.status())) return response;
    absl::SleepFor(pause);
    pause *= 2;
  }
}

absl::StatusOr<const SubAction*> ParseSubAction(const ParsedArgs& args, const std::vector<SubAction>& actions,
                                                const std::string& default_action) {
  std::vector<std::string> forms;
  for (const auto& a : actions) forms.push_back(absl::StrCat(a.name, a.synopsis.empty() ? "" : " ", a.synopsis));
  const std::string usage = absl::StrCat("usage: chat ", args.command, " ", absl::StrJoin(forms, " | "));
  std::string name = args.args.empty() ? default_action : args.args[0];
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("missing action; ", usage));
  const SubAction* action = nullptr;
  for (const auto& a : actions) {
    if (a.name == name) action = &a;
  }
  if (action == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown action '", name, "' for 'chat ", args.command, "'; ", usage));
  }
  const int given = args.args.empty() ? 0 : static_cast<int>(args.args.size()) - 1;
  if (given != action->args) {
    return absl::InvalidArgumentError(absl::StrCat(given < action->args ? "missing arguments" : "too many arguments",
                                                   " for 'chat ", args.command, " ", name, "'; usage: chat ",
                                                   args.command, " ", name,
                                                   action->synopsis.empty() ? "" : " ", action->synopsis));
  }
  const CommandSpec* command = FindCommand(args.command);
  for (const auto& [option, value] : args.options) {
    bool own = false;
    for (const auto& o : command != nullptr ? command->options : std::vector<OptionSpec>{}) own |= o.name == option;
    if (own && std::find(action->options.begin(), action->options.end(), option) == action->options.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("option --", option, " does not go with 'chat ", args.command, " ", name, "'"));
    }
  }
  return action;
}

absl::Status ConfirmOnTerminal(const std::string& question, const std::string& not_done) {
  auto answer = PromptLine(absl::StrCat(question, " [y/N] "), /*echo=*/true);
  if (!answer.ok()) return answer.status();
  std::string yes = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*answer));
  if (yes != "y" && yes != "yes") return absl::CancelledError(not_done);
  return absl::OkStatus();
}

absl::StatusOr<Session> OpenSession(const Context& ctx) {
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return credential.status();
  Session session;
  session.credential = *std::move(credential);
  session.client = std::make_unique<ChatClient>(ctx.servers, session.credential.token, ctx.client_options);
  return session;
}

}  // namespace chat::cli
