#include "args.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "command_table.h"
#include "exit_codes.h"

namespace chat::cli {
namespace {

std::vector<CommandSpec> BuildCommands() {
  const OptionSpec password_stdin{"password-stdin", 0, "",
                                  "read the password from the first line of stdin"};
  std::vector<CommandSpec> c;
  c.push_back({"register", "[USERNAME]", "Account", "create an account",
               "Creates an account on chat-core. The username is 3-32 characters of\n"
               "[a-zA-Z0-9_.-]; the password at least 8 characters. The password is\n"
               "prompted for (twice, without echo) on a terminal; scripts give it on\n"
               "stdin with --password-stdin or in the CHAT_PASSWORD variable.\n"
               "Registering does not log in: run 'chat login' next. A server that\n"
               "registers by invitation wants an invite code (chat invite-code create).",
               {password_stdin, {"invite-code", 0, "CODE", "the invite code (a server with --registration=invite)"}},
               0,
               1,
               {"chat register alice", "printf '%s\\n' \"$PW\" | chat register alice --password-stdin",
                "chat register alice --invite-code Xb3k..."}});
  c.push_back({"login", "[USERNAME]", "Account", "log in and remember the session token",
               "Logs in and stores the session token (mode 0600) in\n"
               "$XDG_CONFIG_HOME/chat/credentials (or ~/.config/chat/credentials),\n"
               "saved for the server list given (--server a:1,b:2). A later command\n"
               "uses the newest token whose list contains every address it is given.\n"
               "The list logged in with last becomes the default for later commands\n"
               "that give neither --server nor CHAT_SERVER.\n"
               "The password is read as for 'register'.",
               {password_stdin},
               0,
               1,
               {"chat login alice", "CHAT_PASSWORD=... chat --server chat.example:50051 login alice"}});
  c.push_back({"logout", "", "Account", "revoke the session token and forget it",
               "Revokes the stored token on chat-core (which also ends its live\n"
               "sessions) and removes it from the credentials file.",
               {},
               0,
               0,
               {"chat logout"}});
  c.push_back({"whoami", "", "Account", "show who you are logged in as",
               "Asks chat-core whom the stored token (or the API token of --token or\n"
               "CHAT_TOKEN) belongs to, its display name and kind, the token's scopes,\n"
               "and when it expires. A login session is renewed while it is used: the\n"
               "expiry shown is the current one (and is saved).",
               {},
               0,
               0,
               {"chat whoami", "chat whoami --json"}});
  c.push_back({"rooms", "", "Rooms", "list the rooms",
               "Lists the rooms you may see, by name: every public room and the private\n"
               "and direct rooms you are a member of, each with its kind (public,\n"
               "private, direct; archived ones say so), online members, newest seq,\n"
               "creator and topic (for a direct room: whom it is with). chat-core sends\n"
               "rooms in pages of at most 1000; every page is fetched unless --limit\n"
               "says to stop sooner.",
               {{"limit", 'n', "N", "list at most N rooms (the first N by name)"}},
               0,
               0,
               {"chat rooms", "chat rooms -n 20", "chat rooms --json | jq -r .name"}});
  c.push_back({"create", "ROOM", "Rooms", "create a room",
               "Creates a room; you are its owner. Room names are 1-64 characters of\n"
               "[a-z0-9._-] (names starting with 'dm.' belong to direct rooms: see\n"
               "'chat dm'). A public room is listed and anyone may join it; a private\n"
               "one (--private) is unlisted and invite-only ('chat invite').",
               {{"private", 0, "", "invite-only and unlisted"},
                {"topic", 0, "TEXT", "the room's topic (at most 256 bytes)"}},
               1,
               1,
               {"chat create general", "chat create --private secret-project --topic 'Q3 plans'"}});
  c.push_back({"send", "ROOM [TEXT...]", "Messages", "post a message",
               "Posts TEXT (the arguments joined by spaces) to ROOM. Without TEXT the\n"
               "whole of stdin is the message (one trailing newline removed).\n"
               "Every send carries a random client message id and is retried with the\n"
               "same id if chat-core is briefly unavailable, so it is stored once.\n"
               "Pass --id to choose the id yourself: repeating a send with the same id\n"
               "returns the original message (marked duplicate) instead of a new one.",
               {{"id", 0, "ID", "client message id (idempotency key), at most 128 bytes"}},
               1,
               -1,
               {"chat send general 'hello, world'", "uptime | chat send ops",
                "chat send --id deploy-42 ops 'deploy 42 done'"}});
  c.push_back({"history", "ROOM", "Messages", "print a room's messages",
               "Prints a page of ROOM's messages, oldest first: by default the newest\n"
               "page; with --before SEQ the page just older than SEQ; with --after SEQ\n"
               "the page just newer than SEQ.",
               {{"before", 0, "SEQ", "messages with seq < SEQ"},
                {"after", 0, "SEQ", "messages with seq > SEQ"},
                {"limit", 'n', "N", "page size, 1-500 (default 50)"}},
               1,
               1,
               {"chat history general", "chat history general --before 120 --limit 20",
                "chat history general --json | jq -r .text"}});
  c.push_back({"tail", "ROOM [ROOM...]", "Messages", "print live messages as they arrive",
               "Prints the last N messages of each ROOM, then every new message until\n"
               "interrupted (Ctrl-C or SIGTERM end it with status 0). If the connection\n"
               "drops or chat-core restarts, tail reconnects and resumes after the last\n"
               "message it printed: no message is lost or printed twice. Notices about\n"
               "the connection go to stderr.",
               {{"lines", 'n', "N", "messages of backlog to print first (default 10; 0: only new)"},
                {"since", 0, "SEQ", "print every message after SEQ first (instead of -n)"}},
               1,
               -1,
               {"chat tail general", "chat tail general -n 0 --json | jq -r .text",
                "chat tail general --since 1200"}});
  AddMembershipCommands(&c);
  AddAccountCommands(&c);
  c.push_back({"join", "[ROOM]", "Interactive", "chat interactively (also: chat ROOM)",
               "Opens ROOM (default: lobby) interactively: new messages appear above\n"
               "the input line; type a line and press Enter to send it.\n"
               "Commands:\n"
               "  /join ROOM    join ROOM and make it current (messages of other joined\n"
               "                rooms are shown with their room name)\n"
               "  /leave [ROOM] leave ROOM (default: the current room; you stay a member)\n"
               "  /rooms        list the rooms\n"
               "  /who [ROOM]   who is in the room\n"
               "  /members [ROOM]  the room's members and their roles\n"
               "  /accept ROOM  accept an invitation and join the room\n"
               "  /decline ROOM decline an invitation\n"
               "  /help         list the commands\n"
               "  /quit         leave (also Ctrl-D on an empty line, or Ctrl-C)\n"
               "Start a message with '//' to send a text that begins with '/'.\n"
               "Keys: Backspace, Ctrl-U (clear line), Ctrl-W (delete word), Ctrl-L (redraw).\n"
               "When stdin or stdout is not a terminal, lines are read and printed\n"
               "plainly, so the same mode works in a pipe; with --json every event from\n"
               "chat-core is printed as one JSON object a line.",
               {{"lines", 'n', "N", "messages of backlog to show on joining (default 20)"}},
               0,
               1,
               {"chat general", "chat join general", "printf 'hi\\n/quit\\n' | chat general"}});
  c.push_back({"help", "[COMMAND]", "", "show help for a command", "Shows help for COMMAND.",
               {},
               0,
               1,
               {"chat help tail"}});
  return c;
}

std::vector<OptionSpec> BuildGlobalOptions() {
  return {
      {"server", 's', "ADDR[,ADDR...]",
       "chat-core HOST:PORT; several, comma-separated, to fail over between (default:\n"
       "$CHAT_SERVER, else the last login's list, else 127.0.0.1:50051)"},
      {"tls", 0, "", "reach chat-core over TLS (same as writing tls://HOST:PORT; default: $CHAT_TLS=1)"},
      {"ca", 0, "FILE", "PEM CAs to trust for TLS instead of the system's (implies --tls; default: $CHAT_CA)"},
      {"cert", 0, "FILE", "PEM client certificate, for a chat-core that asks for one (with --key)"},
      {"key", 0, "FILE", "PEM private key of --cert"},
      {"token", 0, "TOKEN",
       "use this API token (chat token create) instead of the saved login\n(default: $CHAT_TOKEN)"},
      {"json", 0, "", "print one JSON object a line (proto3 JSON mapping) for scripts"},
      {"color", 0, "WHEN", "colours: auto (on a terminal, unless NO_COLOR is set), always, never"},
      {"help", 'h', "", "show help (for the command, if one is given)"},
      {"version", 0, "", "print the version"},
  };
}

const OptionSpec* FindOption(const std::vector<OptionSpec>& options, absl::string_view name,
                             char short_name) {
  for (const auto& o : options) {
    if (short_name != 0 ? o.short_name == short_name : o.name == name) return &o;
  }
  return nullptr;
}

std::string OptionLabel(const OptionSpec& o) {
  std::string label = o.short_name != 0 ? absl::StrCat("-", std::string(1, o.short_name), ", ")
                                        : std::string("    ");
  absl::StrAppend(&label, "--", o.name);
  if (!o.value_name.empty()) absl::StrAppend(&label, " ", o.value_name);
  return label;
}

void AppendOptions(std::string* out, const std::vector<OptionSpec>& options) {
  size_t width = 0;
  for (const auto& o : options) width = std::max(width, OptionLabel(o).size());
  // A help text of several lines continues under its first line.
  std::string indent = absl::StrCat("\n", std::string(width + 4, ' '));
  for (const auto& o : options) {
    absl::StrAppendFormat(out, "  %-*s  %s\n", static_cast<int>(width), OptionLabel(o),
                          absl::StrReplaceAll(o.help, {{"\n", indent}}));
  }
}

}  // namespace

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec>* commands = new std::vector<CommandSpec>(BuildCommands());
  return *commands;
}

const CommandSpec* FindCommand(const std::string& name) {
  for (const auto& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const std::vector<OptionSpec>& GlobalOptions() {
  static const std::vector<OptionSpec>* options = new std::vector<OptionSpec>(BuildGlobalOptions());
  return *options;
}

std::optional<std::string> ParsedArgs::Get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ParsedArgs::GetAll(const std::string& name) const {
  auto it = repeated.find(name);
  if (it == repeated.end()) return {};
  return it->second;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& argv) {
  ParsedArgs parsed;
  const CommandSpec* command = nullptr;
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    bool is_option = !options_done && arg.size() > 1 && arg[0] == '-';
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    if (!is_option) {
      if (command == nullptr && parsed.command.empty()) {
        command = FindCommand(arg);
        if (command != nullptr) {
          parsed.command = arg;
          continue;
        }
        // `chat ROOM` opens ROOM interactively.
        command = FindCommand("join");
        parsed.command = "join";
        parsed.implied_join = true;
      }
      parsed.args.push_back(arg);
      continue;
    }
    // An option: --name, --name=value, --name value, -x, -x value, -xVALUE.
    std::string name;
    std::optional<std::string> value;
    char short_name = 0;
    if (absl::StartsWith(arg, "--")) {
      name = arg.substr(2);
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
      }
    } else {
      short_name = arg[1];
      if (arg.size() > 2) value = arg.substr(2);
    }
    const OptionSpec* spec = FindOption(GlobalOptions(), name, short_name);
    if (spec == nullptr && command != nullptr) spec = FindOption(command->options, name, short_name);
    if (spec == nullptr) {
      std::string where = command != nullptr ? absl::StrCat(" for 'chat ", command->name, "'") : "";
      std::string see = command != nullptr ? absl::StrCat("chat ", command->name, " --help")
                                           : std::string("chat --help");
      return absl::InvalidArgumentError(absl::StrCat("unknown option '", arg, "'", where,
                                                     " (see '", see, "')"));
    }
    if (spec->value_name.empty()) {
      if (value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", spec->name, " takes no value"));
      }
      value = "";
    } else if (!value.has_value()) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", spec->name, " needs a value (", spec->value_name, ")"));
      }
      value = argv[++i];
    }
    if (spec->name == "help") {
      parsed.help = true;
    } else if (spec->name == "version") {
      parsed.version = true;
    } else {
      parsed.options[spec->name] = *value;
      parsed.repeated[spec->name].push_back(*value);
    }
  }
  if (auto color = parsed.Get("color");
      color && *color != "auto" && *color != "always" && *color != "never") {
    return absl::InvalidArgumentError("--color must be auto, always or never");
  }
  if (command != nullptr && !parsed.help) {
    int n = static_cast<int>(parsed.args.size());
    if (n < command->min_args) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing arguments; ", UsageLine(*command)));
    }
    if (command->max_args >= 0 && n > command->max_args) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '",
                                                     parsed.args[command->max_args], "'; ",
                                                     UsageLine(*command)));
    }
  }
  return parsed;
}

std::string UsageLine(const CommandSpec& command) {
  std::string opts = command.options.empty() ? "" : " [OPTIONS]";
  std::string synopsis = command.synopsis.empty() ? "" : absl::StrCat(" ", command.synopsis);
  return absl::StrCat("usage: chat ", command.name, opts, synopsis);
}

std::string MainHelp() {
  std::string out =
      "chat: the command-line client of the chat backend (chat-core).\n"
      "\n"
      "Usage: chat [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
      "       chat [GLOBAL OPTIONS] ROOM       (chat interactively; same as 'chat join ROOM')\n";
  std::vector<std::string> groups;
  for (const auto& c : Commands()) {
    if (!c.group.empty() && std::find(groups.begin(), groups.end(), c.group) == groups.end()) {
      groups.push_back(c.group);
    }
  }
  size_t width = 0;
  for (const auto& c : Commands()) {
    width = std::max(width, c.name.size() + 1 + c.synopsis.size());
  }
  for (const auto& g : groups) {
    absl::StrAppend(&out, "\n", g, ":\n");
    for (const auto& c : Commands()) {
      if (c.group != g) continue;
      absl::StrAppendFormat(&out, "  %-*s  %s\n", static_cast<int>(width),
                            absl::StrCat(c.name, " ", c.synopsis), c.summary);
    }
  }
  absl::StrAppend(&out, "\nGlobal options (before or after the command):\n");
  AppendOptions(&out, GlobalOptions());
  absl::StrAppend(
      &out,
      "\nEnvironment:\n"
      "  CHAT_SERVER      chat-core address(es), if --server is not given\n"
      "  CHAT_PASSWORD    password for register/login in scripts (instead of a prompt)\n"
      "  CHAT_TOKEN       an API token to use instead of the saved login (as --token)\n"
      "  XDG_CONFIG_HOME  the credentials live in $XDG_CONFIG_HOME/chat/ (else ~/.config/chat/)\n"
      "  NO_COLOR         set to turn colours off\n"
      "\nExit codes:\n"
      "  0 ok   1 error   2 usage or invalid argument\n"
      "  3 not logged in, unauthenticated, or not allowed (e.g. not a moderator)\n"
      "  4 not found (also: a private room you are not a member of)\n"
      "  5 chat-core unreachable or unavailable   6 already exists   7 TLS failed\n"
      "\nRun 'chat help COMMAND' or 'chat COMMAND --help' for a command's options.\n");
  return out;
}

std::string CommandHelp(const CommandSpec& command) {
  std::string summary = command.summary;
  if (!summary.empty()) summary[0] = absl::ascii_toupper(summary[0]);
  std::string out = absl::StrCat(UsageLine(command), "\n\n", summary, ".\n\n",
                                 command.description, "\n");
  if (!command.options.empty()) {
    absl::StrAppend(&out, "\nOptions:\n");
    AppendOptions(&out, command.options);
  }
  absl::StrAppend(&out, "\nGlobal options:\n");
  AppendOptions(&out, GlobalOptions());
  if (!command.examples.empty()) {
    absl::StrAppend(&out, "\nExamples:\n");
    for (const auto& e : command.examples) absl::StrAppend(&out, "  ", e, "\n");
  }
  return out;
}

}  // namespace chat::cli
