// The parts of `chat`'s command table for private rooms, direct messages,
// membership and moderation (issue #28; command_table.cc) and for accounts,
// bots, API tokens and webhooks (issue #29; account_command_table.cc), spliced
// into the table by args.cc.
// Stateless, thread-safe.
#ifndef CHAT_CLI_SRC_COMMAND_TABLE_H_
#define CHAT_CLI_SRC_COMMAND_TABLE_H_

#include <vector>

#include "args.h"

namespace chat::cli {

// Appends the membership and moderation subcommands to `commands`.
void AddMembershipCommands(std::vector<CommandSpec>* commands);
// Appends passwd, sessions, profile, account, invite-code, bot, token, hook.
void AddAccountCommands(std::vector<CommandSpec>* commands);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_COMMAND_TABLE_H_
