#include "command_util.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/json_codec.h"
#include "chat/validate.h"
#include "exit_codes.h"

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

absl::StatusOr<Session> OpenSession(const Context& ctx) {
  auto credential = RequireLogin(ctx);
  if (!credential.ok()) return credential.status();
  Session session;
  session.credential = *std::move(credential);
  session.client = std::make_unique<ChatClient>(ctx.servers, session.credential.token, ctx.client_options);
  return session;
}

}  // namespace chat::cli
