// The command line of `chat`: the table of subcommands and their options, the
// parser, and the --help texts generated from the table.
// Stateless, thread-safe: the table is immutable, parsing has no side effects.
#ifndef CHAT_CLI_SRC_ARGS_H_
#define CHAT_CLI_SRC_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace chat::cli {

struct OptionSpec {
  std::string name;        // long name without dashes, e.g. "limit"
  char short_name = 0;     // e.g. 'n'; 0 for none
  std::string value_name;  // empty: a boolean flag
  std::string help;
};

struct CommandSpec {
  std::string name;
  std::string synopsis;  // arguments after the name, e.g. "ROOM [TEXT...]"
  std::string group;     // heading in `chat --help`
  std::string summary;   // one line
  std::string description;
  std::vector<OptionSpec> options;
  int min_args = 0;
  int max_args = 0;  // -1: unlimited
  std::vector<std::string> examples;
};

const std::vector<CommandSpec>& Commands();
const CommandSpec* FindCommand(const std::string& name);
const std::vector<OptionSpec>& GlobalOptions();

struct ParsedArgs {
  // The subcommand ("" when none was given).
  std::string command;
  // True when the command was implied: `chat ROOM` means `chat join ROOM`.
  bool implied_join = false;
  std::vector<std::string> args;
  // Options by long name; flags map to "". A repeated option keeps its last
  // value here and every value in `repeated`.
  std::map<std::string, std::string> options;
  std::map<std::string, std::vector<std::string>> repeated;
  bool help = false;
  bool version = false;

  bool Has(const std::string& name) const { return options.count(name) > 0; }
  std::optional<std::string> Get(const std::string& name) const;
  // Every value given for option `name`, in order (empty if none).
  std::vector<std::string> GetAll(const std::string& name) const;
};

// Parses argv[1..]. Global options may come before or after the command; `--`
// ends the options. Errors are INVALID_ARGUMENT with a one-line message.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& argv);

std::string MainHelp();
std::string CommandHelp(const CommandSpec& command);
// One line for usage errors: "usage: chat send ROOM [TEXT...]".
std::string UsageLine(const CommandSpec& command);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_ARGS_H_
