// Text for the account and integration commands (issue #29): parsing what the
// user types (durations, expiry dates, token actions, room lists) and the
// tables and lines printed for sessions, bots, API tokens and webhooks.
// Stateless, thread-safe: plain functions of their arguments.
#ifndef CHAT_CLI_SRC_ACCOUNT_TEXT_H_
#define CHAT_CLI_SRC_ACCOUNT_TEXT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "args.h"
#include "chat/v1/chat.pb.h"
#include "format.h"

namespace chat::cli {

// "90m", "12h", "30d", "2w" (a positive whole number and a unit s/m/h/d/w).
// INVALID_ARGUMENT naming `what` (e.g. "--valid") otherwise.
absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text, absl::string_view what);

// When an API token expires: a duration from `now` ("30d"), a date
// ("2027-01-01", midnight UTC) or a time ("2027-01-01T12:00:00Z"). Must be
// after `now`. INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<absl::Time> ParseExpiry(absl::string_view text, absl::Time now, absl::string_view what);

// "read,post,manage" (any case, any order, repeats ignored) as token actions.
absl::StatusOr<std::vector<chat::v1::TokenAction>> ParseTokenActions(absl::string_view text);
// "read", "post", "manage".
std::string TokenActionName(chat::v1::TokenAction action);
// "read,post"; "all" for none listed (a token without limits).
std::string TokenActionsText(const google::protobuf::RepeatedField<int>& actions);

// The rooms of --room options: each value may hold several, comma-separated;
// each a valid room name; repeats dropped (first kept).
absl::StatusOr<std::vector<std::string>> ParseRoomList(const std::vector<std::string>& values);

// "user", "bot".
std::string AccountKindName(chat::v1::AccountKind kind);

// A timestamp for a table: local "2006-01-02 15:04", or `unset` when it is not set.
std::string TimeCell(const google::protobuf::Timestamp& ts, absl::string_view unset);

// `chat sessions`: ID CREATED LAST USED EXPIRES FROM CLIENT, with "*" before
// the current one's id.
std::string FormatSessionsTable(const chat::v1::ListSessionsResponse& sessions, const Style& style);
// `chat bot list`: BOT DISPLAY NAME OWNER CREATED.
std::string FormatBotsTable(const chat::v1::ListBotsResponse& bots, const Style& style);
// `chat token list`: ID ACCOUNT NAME ROOMS ACTIONS CREATED EXPIRES LAST USED.
std::string FormatTokensTable(const chat::v1::ListApiTokensResponse& tokens, const Style& style);
// `chat hook list`: ID ROOM BOT NAME CREATED BY CREATED.
std::string FormatWebhooksTable(const chat::v1::ListWebhooksResponse& hooks, const Style& style);

// The path a webhook is posted to: "/api/hooks/ID/SECRET".
std::string WebhookPath(absl::string_view id, absl::string_view secret);
// What `chat hook create` prints after the hook is made: its id, the secret
// (shown once), the path, and with a ws-bridge base URL (may be empty) the
// full URL and a curl command.
std::string DescribeNewWebhook(const chat::v1::CreateWebhookResponse& created, absl::string_view base_url);

// What `chat sessions ...` asks for: to list (id empty, others false), to end
// session `id` (revoke ID, --revoke ID), or every other session (revoke
// --others, --revoke-others). INVALID_ARGUMENT with the usage otherwise.
struct SessionsCall {
  std::string id;
  bool others = false;
};
absl::StatusOr<SessionsCall> ParseSessionsArgs(const ParsedArgs& args);

// CreateApiTokenRequest from `chat token create NAME [--account BOT]
// [--room R]... [--actions LIST] [--expires WHEN]` (args[1] is NAME).
absl::StatusOr<chat::v1::CreateApiTokenRequest> TokenCreateRequest(const ParsedArgs& args, absl::Time now);

// The typed confirmation of `chat account delete` matches the username (any case, spaces around ignored).
bool ConfirmsUsername(absl::string_view typed, absl::string_view username);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_ACCOUNT_TEXT_H_
