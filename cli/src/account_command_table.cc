// The command table's entries for the account lifecycle and integrations
// (issue #29): passwd, sessions, profile, account, invite-code, bot, token,
// hook. Commands with sub-actions ("chat bot create NAME") take the action as
// their first argument; account_commands.cc and integration_commands.cc check it.
#include "command_table.h"

namespace chat::cli {

void AddAccountCommands(std::vector<CommandSpec>* commands) {
  std::vector<CommandSpec>& c = *commands;
  const OptionSpec password_stdin{"password-stdin", 0, "",
                                  "read the password(s) from stdin, one a line"};
  const OptionSpec yes{"yes", 'y', "", "do not ask for confirmation"};

  c.push_back({"passwd", "", "Account", "change your password (ends your other sessions)",
               "Changes the password of the account you are logged in as. Asks for the\n"
               "current password and the new one (twice), without echo. Scripts give\n"
               "them with --password-stdin (the current password on the first line of\n"
               "stdin, the new one on the second) or in CHAT_PASSWORD and\n"
               "CHAT_NEW_PASSWORD. Every other login session of the account ends (this\n"
               "one stays); API tokens stay. Prints how many sessions ended.",
               {password_stdin},
               0,
               0,
               {"chat passwd", "printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | chat passwd --password-stdin"}});
  c.push_back({"sessions", "[revoke ...]", "Account", "list your login sessions; end some",
               "Lists the login sessions of your account: id, when it logged in, when\n"
               "it was last used, when it expires, the address it came from and the\n"
               "client it named; '*' marks the one this chat uses. A session is renewed\n"
               "while it is used, up to chat-core's --session_max_age.\n"
               "  chat sessions revoke ID       ends session ID (its live streams too)\n"
               "  chat sessions revoke --others ends every session but this one\n"
               "(--revoke ID and --revoke-others do the same.)",
               {{"others", 0, "", "with 'revoke': every session but this one"},
                {"revoke", 0, "ID", "end session ID"},
                {"revoke-others", 0, "", "end every session but this one"}},
               0,
               2,
               {"chat sessions", "chat sessions revoke 3f9c0a7d5e2b4c11", "chat sessions revoke --others",
                "chat sessions --json | jq -r 'select(.current|not) | .id'"}});
  c.push_back({"profile", "", "Account", "show or set your display name",
               "Shows your username, display name and account kind. With\n"
               "--display-name, sets the display name (at most 64 bytes; '' clears it),\n"
               "shown beside your username; the username stays your identity. With\n"
               "--bot NAME, shows or sets the display name of a bot of yours.",
               {{"display-name", 0, "TEXT", "set the display name ('' clears it)"},
                {"bot", 0, "NAME", "a bot of yours instead of you"}},
               0,
               0,
               {"chat profile", "chat profile --display-name 'Alice Liddell'",
                "chat profile --bot ci-bot --display-name 'CI'"}});
  c.push_back({"account", "delete", "Account", "delete your account (asks first)",
               "chat account delete: deletes the account you are logged in as, for good.\n"
               "Every session and API token of it and of its bots ends, its bots and\n"
               "webhooks are deleted, its password and display name are erased. Its\n"
               "messages stay, shown as by a deleted user, and the username stays\n"
               "taken. Asks for the password (as 'chat login' does) and, unless --yes,\n"
               "for the username typed out as confirmation (a script without a\n"
               "terminal must give --yes). Afterwards the saved login is forgotten.",
               {password_stdin, yes},
               1,
               1,
               {"chat account delete", "CHAT_PASSWORD=... chat account delete --yes"}});
  c.push_back({"invite-code", "create", "Account", "make a single-use registration code",
               "chat invite-code create: makes an invite code for a server that\n"
               "registers by invitation (chat-core --registration=invite); the new user\n"
               "gives it to 'chat register --invite-code CODE'. Server admins may, and\n"
               "users when chat-core runs with --users_may_invite. The code is shown\n"
               "only this once.",
               {{"valid", 0, "DURATION", "how long it stays valid: 1h to 30d, e.g. 12h, 7d (default 7d)"}},
               1,
               1,
               {"chat invite-code create", "chat invite-code create --valid 24h --json | jq -r .code"}});

  c.push_back({"bot", "create|list|delete", "Integrations", "manage your bot accounts",
               "A bot is an account you own for a program: it has no password and\n"
               "cannot log in; it acts through API tokens (chat token create --account\n"
               "BOT) and webhooks (chat hook create). Its messages are tagged [bot].\n"
               "  chat bot create NAME [--display-name TEXT]   NAME as a username\n"
               "  chat bot list                                your bots\n"
               "  chat bot delete NAME [--yes]                 delete a bot, its tokens and\n"
               "                                               webhooks (asks first)",
               {{"display-name", 0, "TEXT", "with 'create': the bot's display name"}, yes},
               1,
               2,
               {"chat bot create ci-bot --display-name 'CI'", "chat bot list", "chat bot delete ci-bot --yes"}});
  c.push_back({"token", "create|list|revoke", "Integrations", "manage API tokens",
               "An API token lets a program act as you or as one of your bots without\n"
               "a password, limited to some rooms and actions if you like:\n"
               "  CHAT_TOKEN=chat_... chat send ROOM TEXT     (or --token chat_...)\n"
               "  chat token create NAME [--account BOT] [--room ROOM]... [--actions LIST]\n"
               "                    [--expires WHEN]   prints the secret, only this once\n"
               "  chat token list [--account BOT]      yours and your bots' tokens\n"
               "  chat token revoke ID                 ends it (and its live streams)\n"
               "Actions: read (join, history, rooms, members, users), post (send,\n"
               "delete messages), manage (create and change rooms, invite, kick, ban,\n"
               "roles, direct rooms); default all three. WHEN: a duration from now\n"
               "(90m, 12h, 30d) or a date (2027-01-01, UTC); default: never expires.",
               {{"account", 0, "BOT", "a bot of yours instead of you"},
                {"room", 0, "ROOM", "only this room (repeat, or comma-separated, for several)"},
                {"actions", 0, "LIST", "only these actions: read,post,manage"},
                {"expires", 0, "WHEN", "expiry: 30d, 12h, 90m or a date 2027-01-01"}},
               1,
               2,
               {"chat token create deploy --account ci-bot --room ops --actions post --expires 90d",
                "chat token list", "chat token revoke 3f9c0a7d5e2b4c11"}});
  c.push_back({"hook", "create|list|revoke", "Integrations", "manage incoming webhooks",
               "An incoming webhook lets a service that only speaks HTTP post into a\n"
               "room as one of your bots: POST {\"text\": \"...\"} (JSON) to ws-bridge at\n"
               "/api/hooks/ID/SECRET (or /api/hooks/ID with the header\n"
               "X-Chat-Webhook-Secret: SECRET).\n"
               "  chat hook create ROOM --bot BOT [--name NAME]  prints the id, the\n"
               "                         secret (only this once) and the URL to post to\n"
               "  chat hook list         your webhooks\n"
               "  chat hook revoke ID    stops it\n"
               "The bot must be allowed to post in ROOM (a member of a private room).\n"
               "With --url (or CHAT_WEB_URL) naming ws-bridge, e.g.\n"
               "https://chat.example.com, the full URL and a curl command are shown.",
               {{"bot", 0, "BOT", "with 'create': the bot that posts"},
                {"name", 0, "NAME", "with 'create': a name to tell hooks apart"},
                {"url", 0, "URL", "ws-bridge's base URL, for the example (default: $CHAT_WEB_URL)"}},
               1,
               2,
               {"chat hook create ops --bot ci-bot --name jenkins", "chat hook list",
                "chat hook revoke 9a0b1c2d3e4f5061"}});
}

}  // namespace chat::cli
