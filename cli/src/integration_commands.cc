// The integration subcommands (issue #29): bot create|list|delete, token
// create|list|revoke, hook create|list|revoke. They manage bots, API tokens and
// webhooks with a login session (chat-core refuses them to an API token, except
// `token list`, which lists the token's own account's tokens).
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "account_text.h"
#include "app.h"
#include "chat/validate.h"
#include "command_util.h"
#include "exit_codes.h"

namespace chat::cli {
namespace {

void Note(const std::string& text) {
  std::string line = absl::StrCat("chat: ", text, "\n");
  ssize_t unused = write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

// Prints `items` as JSON lines, or `table` (with `empty` on a terminal when
// there are none).
template <typename Items>
int PrintList(const Context& ctx, const Items& items, const std::string& table, const std::string& empty) {
  if (ctx.json) {
    for (const auto& item : items) {
      if (!PrintJson(item)) break;
    }
    return kExitOk;
  }
  if (items.empty()) {
    if (ctx.stdout_tty) PrintOut(absl::StrCat(ctx.style.Dim(empty), "\n"));
    return kExitOk;
  }
  PrintOut(table);
  return kExitOk;
}

int BotCreate(const Context& ctx, Session& session) {
  const std::string& name = ctx.args.args[1];
  chat::v1::CreateBotRequest request;
  request.set_name(name);
  request.set_display_name(ctx.args.Get("display-name").value_or(""));
  auto bot = session.client->CreateBot(request);
  if (!bot.ok()) return Fail(ActionError(bot.status(), absl::StrCat("create bot ", name)));
  if (ctx.json) {
    PrintJson(*bot);
  } else {
    PrintOut(absl::StrCat("created bot ", ctx.style.Bold(Sanitize(bot->username(), false)),
                          "; give it a token with: chat token create NAME --account ", bot->username(), "\n"));
  }
  return kExitOk;
}

int BotDelete(const Context& ctx, Session& session) {
  const std::string& name = ctx.args.args[1];
  if (!ctx.args.Has("yes")) {
    absl::Status ok = ConfirmOnTerminal(
        absl::StrCat("Delete bot '", name, "' with its API tokens and webhooks (its messages stay)?"),
        absl::StrCat("bot '", name, "' was not deleted"));
    if (!ok.ok()) return Fail(ok);
  }
  chat::v1::DeleteBotRequest request;
  request.set_name(name);
  auto response = session.client->DeleteBot(request);
  if (!response.ok()) return Fail(ActionError(response.status(), absl::StrCat("delete bot ", name)));
  if (ctx.json) {
    PrintJson(*response);
  } else {
    PrintOut(absl::StrCat("deleted bot ", name, "\n"));
  }
  return kExitOk;
}

int TokenCreate(const Context& ctx, Session& session) {
  auto request = TokenCreateRequest(ctx.args, absl::Now());
  if (!request.ok()) return Fail(request.status());
  auto created = session.client->CreateApiToken(*request);
  if (!created.ok()) return Fail(ActionError(created.status(), absl::StrCat("create API token '", request->name(), "'")));
  if (ctx.json) {
    PrintJson(*created);
    return kExitOk;
  }
  const auto& t = created->token();
  const std::string warning = "the secret is not shown again: store it now";
  if (!ctx.stdout_tty) {
    // In a pipe only the secret, for TOKEN=$(chat token create ...); the note on stderr.
    PrintOut(absl::StrCat(created->secret(), "\n"));
    Note(warning);
    return kExitOk;
  }
  PrintOut(absl::StrCat(
      "created API token '", Sanitize(t.name(), false), "' (id ", t.id(), ") for ", Sanitize(t.account(), false),
      "; rooms: ", t.rooms().empty() ? "all" : Sanitize(absl::StrJoin(t.rooms(), ","), false),
      "; actions: ", TokenActionsText(t.actions()), "; expires: ", TimeCell(t.expires_at(), "never"), "\n",
      "secret: ", ctx.style.Bold(created->secret()), "\n",
      ctx.style.Dim(absl::StrCat("(", warning, ". Use it as CHAT_TOKEN=... chat send ROOM TEXT, or send it as "
                                 "'authorization: Bearer ...'; 'chat token revoke ", t.id(), "' ends it)")),
      "\n"));
  return kExitOk;
}

int HookCreate(const Context& ctx, Session& session) {
  const std::string& room = ctx.args.args[1];
  if (absl::Status s = ValidateRoomName(room); !s.ok()) return Fail(s);
  auto bot = ctx.args.Get("bot");
  if (!bot) return Fail(absl::InvalidArgumentError("missing --bot BOT: the bot the webhook posts as"));
  if (absl::Status s = ValidateUsername(*bot); !s.ok()) return Fail(absl::InvalidArgumentError(absl::StrCat("--bot: ", s.message())));
  chat::v1::CreateWebhookRequest request;
  request.set_room(room);
  request.set_bot(*bot);
  std::string name = ctx.args.Get("name").value_or("");
  if (absl::Status s = ValidateShortText(name, "the webhook's name"); !s.ok()) return Fail(s);
  request.set_name(name);
  auto created = session.client->CreateWebhook(request);
  if (!created.ok()) {
    return Fail(ActionError(created.status(), absl::StrCat("create a webhook for ", *bot, " in ", room)));
  }
  if (ctx.json) {
    PrintJson(*created);
    return kExitOk;
  }
  std::string base = ctx.args.Get("url").value_or("");
  if (const char* env = std::getenv("CHAT_WEB_URL"); base.empty() && env != nullptr) base = env;
  PrintOut(DescribeNewWebhook(*created, base));
  return kExitOk;
}

}  // namespace

int RunBot(const Context& ctx) {
  static const std::vector<SubAction> kActions = {
      {"create", "NAME", 1, {"display-name"}},
      {"list", "", 0, {}},
      {"delete", "NAME", 1, {"yes"}},
  };
  auto action = ParseSubAction(ctx.args, kActions);
  if (!action.ok()) return Fail(action.status());
  const std::string& what = (*action)->name;
  if (what != "list") {
    if (absl::Status s = ValidateUsername(ctx.args.args[1]); !s.ok()) return Fail(s);
  }
  if (what == "delete" && !ctx.args.Has("yes") && isatty(STDIN_FILENO) != 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "refusing to delete bot '", ctx.args.args[1], "' without confirmation: stdin is not a terminal (add --yes)")));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  if (what == "create") return BotCreate(ctx, *session);
  if (what == "delete") return BotDelete(ctx, *session);
  auto bots = session->client->ListBots(chat::v1::ListBotsRequest());
  if (!bots.ok()) return Fail(ActionError(bots.status(), "list your bots"));
  return PrintList(ctx, bots->bots(), FormatBotsTable(*bots, ctx.style), "(no bots; make one with: chat bot create NAME)");
}

int RunToken(const Context& ctx) {
  static const std::vector<SubAction> kActions = {
      {"create", "NAME", 1, {"account", "room", "actions", "expires"}},
      {"list", "", 0, {"account"}},
      {"revoke", "ID", 1, {}},
  };
  auto action = ParseSubAction(ctx.args, kActions);
  if (!action.ok()) return Fail(action.status());
  const std::string& what = (*action)->name;
  if (what == "revoke" && ctx.args.args[1].empty()) {
    return Fail(absl::InvalidArgumentError("the token ID must not be empty (see 'chat token list')"));
  }
  if (what == "list" && ctx.args.Has("account")) {
    if (absl::Status s = ValidateUsername(*ctx.args.Get("account")); !s.ok()) return Fail(s);
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  if (what == "create") return TokenCreate(ctx, *session);
  if (what == "revoke") {
    const std::string& id = ctx.args.args[1];
    chat::v1::RevokeApiTokenRequest request;
    request.set_id(id);
    auto response = session->client->RevokeApiToken(request);
    if (!response.ok()) return Fail(ActionError(response.status(), absl::StrCat("revoke API token ", id)));
    if (ctx.json) {
      PrintJson(*response);
    } else {
      int n = response->streams_ended();
      PrintOut(absl::StrCat("revoked API token ", id,
                            n == 0 ? "" : absl::StrCat(" (", n, n == 1 ? " live stream" : " live streams", " ended)"),
                            "\n"));
    }
    return kExitOk;
  }
  chat::v1::ListApiTokensRequest request;
  request.set_account(ctx.args.Get("account").value_or(""));
  auto tokens = session->client->ListApiTokens(request);
  if (!tokens.ok()) return Fail(ActionError(tokens.status(), "list API tokens"));
  return PrintList(ctx, tokens->tokens(), FormatTokensTable(*tokens, ctx.style),
                   "(no API tokens; make one with: chat token create NAME)");
}

int RunHook(const Context& ctx) {
  static const std::vector<SubAction> kActions = {
      {"create", "ROOM --bot BOT", 1, {"bot", "name", "url"}},
      {"list", "", 0, {}},
      {"revoke", "ID", 1, {}},
  };
  auto action = ParseSubAction(ctx.args, kActions);
  if (!action.ok()) return Fail(action.status());
  const std::string& what = (*action)->name;
  if (what == "revoke" && ctx.args.args[1].empty()) {
    return Fail(absl::InvalidArgumentError("the webhook ID must not be empty (see 'chat hook list')"));
  }
  auto session = OpenSession(ctx);
  if (!session.ok()) return Fail(session.status());
  if (what == "create") return HookCreate(ctx, *session);
  if (what == "revoke") {
    const std::string& id = ctx.args.args[1];
    chat::v1::RevokeWebhookRequest request;
    request.set_id(id);
    auto response = session->client->RevokeWebhook(request);
    if (!response.ok()) return Fail(ActionError(response.status(), absl::StrCat("revoke webhook ", id)));
    if (ctx.json) {
      PrintJson(*response);
    } else {
      PrintOut(absl::StrCat("revoked webhook ", id, "\n"));
    }
    return kExitOk;
  }
  auto hooks = session->client->ListWebhooks();
  if (!hooks.ok()) return Fail(ActionError(hooks.status(), "list webhooks"));
  return PrintList(ctx, hooks->webhooks(), FormatWebhooksTable(*hooks, ctx.style),
                   "(no webhooks; make one with: chat hook create ROOM --bot BOT)");
}

}  // namespace chat::cli
