#include "account_text.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chat/validate.h"

namespace chat::cli {
namespace {

// A token or webhook id, cut to the table; the whole id is in --json.
std::string Cell(absl::string_view text) { return text.empty() ? std::string("-") : Sanitize(text, false); }

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text, absl::string_view what) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a duration such as 90m, 12h, 30d or 2w, not '",
                                                   Sanitize(text, false), "'"));
  };
  if (text.size() < 2) return bad();
  const char unit = absl::ascii_tolower(static_cast<unsigned char>(text.back()));
  int64_t count;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &count) || count <= 0 ||
      !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return bad();
  }
  // Bounded so that the sums below cannot overflow (100 years is plenty).
  if (count > 100 * 366 * 86400LL) return bad();
  switch (unit) {
    case 's':
      return absl::Seconds(count);
    case 'm':
      return absl::Minutes(count);
    case 'h':
      return absl::Hours(count);
    case 'd':
      return absl::Hours(24 * count);
    case 'w':
      return absl::Hours(24 * 7 * count);
    default:
      return bad();
  }
}

absl::StatusOr<absl::Time> ParseExpiry(absl::string_view text, absl::Time now, absl::string_view what) {
  absl::Time when;
  std::string error;
  const std::string s(absl::StripAsciiWhitespace(text));
  if (absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &when, &error) ||
      absl::ParseTime(absl::RFC3339_full, s, absl::UTCTimeZone(), &when, &error)) {
    if (when <= now) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", s, " is not in the future"));
    }
    return when;
  }
  if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0])) && !absl::StrContains(s, '-')) {
    auto duration = ParseDurationText(s, what);
    if (!duration.ok()) return duration.status();
    return now + *duration;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      what, " must be a duration (30d, 12h, 90m) or a date (2027-01-01), not '", Sanitize(text, false), "'"));
}

absl::StatusOr<std::vector<chat::v1::TokenAction>> ParseTokenActions(absl::string_view text) {
  std::vector<chat::v1::TokenAction> actions;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::string word = absl::AsciiStrToLower(absl::StripAsciiWhitespace(part));
    chat::v1::TokenAction action;
    if (word == "read") {
      action = chat::v1::TOKEN_ACTION_READ;
    } else if (word == "post") {
      action = chat::v1::TOKEN_ACTION_POST;
    } else if (word == "manage") {
      action = chat::v1::TOKEN_ACTION_MANAGE;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--actions: unknown action '", Sanitize(word, false),
                                                     "' (the actions are read, post, manage)"));
    }
    if (std::find(actions.begin(), actions.end(), action) == actions.end()) actions.push_back(action);
  }
  if (actions.empty()) {
    return absl::InvalidArgumentError("--actions needs at least one of read, post, manage");
  }
  return actions;
}

std::string TokenActionName(chat::v1::TokenAction action) {
  switch (action) {
    case chat::v1::TOKEN_ACTION_READ:
      return "read";
    case chat::v1::TOKEN_ACTION_POST:
      return "post";
    case chat::v1::TOKEN_ACTION_MANAGE:
      return "manage";
    default:
      return absl::StrCat("action ", static_cast<int>(action));
  }
}

std::string TokenActionsText(const google::protobuf::RepeatedField<int>& actions) {
  if (actions.empty()) return "all";
  std::vector<std::string> names;
  for (int a : actions) names.push_back(TokenActionName(static_cast<chat::v1::TokenAction>(a)));
  return absl::StrJoin(names, ",");
}

absl::StatusOr<std::vector<std::string>> ParseRoomList(const std::vector<std::string>& values) {
  std::vector<std::string> rooms;
  for (const auto& value : values) {
    for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      std::string room(absl::StripAsciiWhitespace(part));
      if (absl::Status s = ValidateRoomName(room); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--room: ", s.message()));
      }
      if (std::find(rooms.begin(), rooms.end(), room) == rooms.end()) rooms.push_back(room);
    }
  }
  return rooms;
}

std::string AccountKindName(chat::v1::AccountKind kind) {
  return kind == chat::v1::ACCOUNT_KIND_BOT ? "bot" : "user";
}

std::string TimeCell(const google::protobuf::Timestamp& ts, absl::string_view unset) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return std::string(unset);
  return FormatTime(ts, true);
}

std::string FormatSessionsTable(const chat::v1::ListSessionsResponse& sessions, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sessions.sessions()) {
    rows.push_back({absl::StrCat(s.current() ? "* " : "  ", Cell(s.id())), TimeCell(s.created_at(), "-"),
                    TimeCell(s.last_used_at(), "-"), TimeCell(s.expires_at(), "-"), Cell(s.peer()),
                    HeadColumns(Cell(s.client()), 40)});
  }
  return FormatTable({"  ID", "CREATED", "LAST USED", "EXPIRES", "FROM", "CLIENT"}, rows, style);
}

std::string FormatBotsTable(const chat::v1::ListBotsResponse& bots, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : bots.bots()) {
    rows.push_back({Cell(b.username()), Cell(b.display_name()), Cell(b.owner()), TimeCell(b.created_at(), "-")});
  }
  return FormatTable({"BOT", "DISPLAY NAME", "OWNER", "CREATED"}, rows, style);
}

std::string FormatTokensTable(const chat::v1::ListApiTokensResponse& tokens, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : tokens.tokens()) {
    std::string rooms = t.rooms().empty() ? "all" : Sanitize(absl::StrJoin(t.rooms(), ","), false);
    rows.push_back({Cell(t.id()), Cell(t.account()), Cell(t.name()), HeadColumns(rooms, 30),
                    TokenActionsText(t.actions()), TimeCell(t.created_at(), "-"), TimeCell(t.expires_at(), "never"),
                    TimeCell(t.last_used_at(), "never")});
  }
  return FormatTable({"ID", "ACCOUNT", "NAME", "ROOMS", "ACTIONS", "CREATED", "EXPIRES", "LAST USED"}, rows, style);
}

std::string FormatWebhooksTable(const chat::v1::ListWebhooksResponse& hooks, const Style& style) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : hooks.webhooks()) {
    rows.push_back({Cell(h.id()), Cell(h.room()), Cell(h.bot()), Cell(h.name()), Cell(h.created_by()),
                    TimeCell(h.created_at(), "-")});
  }
  return FormatTable({"ID", "ROOM", "BOT", "NAME", "CREATED BY", "CREATED"}, rows, style);
}

std::string WebhookPath(absl::string_view id, absl::string_view secret) {
  return absl::StrCat("/api/hooks/", id, "/", secret);
}

std::string DescribeNewWebhook(const chat::v1::CreateWebhookResponse& created, absl::string_view base_url) {
  const auto& hook = created.webhook();
  // chat-core's own values (hex id, base64url secret); sanitized all the same.
  std::string id = Sanitize(hook.id(), false);
  std::string secret = Sanitize(created.secret(), false);
  std::string path = WebhookPath(id, secret);
  std::string out = absl::StrCat("created webhook ", id, " posting as ", Sanitize(hook.bot(), false), " into ",
                                 Sanitize(hook.room(), false), "\n",  //
                                 "secret: ", secret, "\n",            //
                                 "(the secret is not shown again; 'chat hook revoke ", id, "' stops the hook)\n");
  std::string base(absl::StripSuffix(absl::StripAsciiWhitespace(base_url), "/"));
  if (base.empty()) {
    absl::StrAppend(&out, "post to ws-bridge at: ", path, "\n");
  } else {
    absl::StrAppend(&out, "post to: ", base, path, "\n", "example:\n",
                    "  curl -X POST -H 'Content-Type: application/json' -d '{\"text\":\"hello\"}' \\\n    '", base,
                    path, "'\n");
  }
  return out;
}

absl::StatusOr<SessionsCall> ParseSessionsArgs(const ParsedArgs& args) {
  const absl::Status usage = absl::InvalidArgumentError(
      "usage: chat sessions | chat sessions revoke ID | chat sessions revoke --others");
  SessionsCall call;
  if (args.args.empty()) {
    if (args.Has("others")) return usage;
    if (args.Has("revoke") && args.Has("revoke-others")) {
      return absl::InvalidArgumentError("give --revoke ID or --revoke-others, not both");
    }
    call.others = args.Has("revoke-others");
    call.id = args.Get("revoke").value_or("");
    if (args.Has("revoke") && call.id.empty()) return absl::InvalidArgumentError("--revoke needs a session ID");
    return call;
  }
  if (args.args[0] != "revoke" || args.Has("revoke") || args.Has("revoke-others")) return usage;
  call.others = args.Has("others");
  if (call.others != (args.args.size() == 1)) return usage;
  if (!call.others) {
    call.id = args.args[1];
    if (call.id.empty()) return absl::InvalidArgumentError("the session ID must not be empty (see 'chat sessions')");
  }
  return call;
}

absl::StatusOr<chat::v1::CreateApiTokenRequest> TokenCreateRequest(const ParsedArgs& args, absl::Time now) {
  chat::v1::CreateApiTokenRequest request;
  const std::string& name = args.args.at(1);
  if (name.empty() || name.size() > 64 || !IsValidUtf8(name)) {
    return absl::InvalidArgumentError("the token NAME must be 1-64 bytes of UTF-8");
  }
  request.set_name(name);
  if (auto account = args.Get("account")) {
    if (absl::Status s = ValidateUsername(*account); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--account: ", s.message()));
    }
    request.set_account(*account);
  }
  auto rooms = ParseRoomList(args.GetAll("room"));
  if (!rooms.ok()) return rooms.status();
  for (auto& room : *rooms) request.add_rooms(std::move(room));
  if (auto actions = args.Get("actions")) {
    auto parsed = ParseTokenActions(*actions);
    if (!parsed.ok()) return parsed.status();
    for (auto a : *parsed) request.add_actions(a);
  }
  if (auto expires = args.Get("expires")) {
    auto when = ParseExpiry(*expires, now, "--expires");
    if (!when.ok()) return when.status();
    request.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(*when));
  }
  return request;
}

bool ConfirmsUsername(absl::string_view typed, absl::string_view username) {
  return !username.empty() && absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(typed), username);
}

}  // namespace chat::cli
