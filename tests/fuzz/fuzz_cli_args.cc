// fuzz_cli_args: the command line of `chat` (cli/src/args.cc ParseArgs, then
// what Main does with it before dialing: the server list of --server).
//
// Input: argv[1..] separated by NUL bytes (a file "send\0lobby\0hi" is
// `chat send lobby hi`). Checked for every input, beside "no crash, no leak":
//  - an error is INVALID_ARGUMENT with a message;
//  - an accepted command line names a known command (or none), only options
//    that the command or the global table has, a legal --color, and unless
//    --help an argument count inside the command's bounds; a repeated option
//    keeps its last value;
//  - parsing is a pure function (twice gives the same result);
//  - an accepted --server list prints (ServerListText) to text that parses
//    back to the same list.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "args.h"
#include "servers.h"

namespace {

using chat::cli::OptionSpec;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_cli_args: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool Known(const std::vector<OptionSpec>& options, const std::string& name) {
  for (const auto& o : options) {
    if (o.name == name) return true;
  }
  return false;
}

void CheckServers(const std::string& text) {
  auto servers = chat::cli::ParseServerList(text, "--server");
  if (!servers.ok()) {
    if (servers.status().code() != absl::StatusCode::kInvalidArgument) Fail("server list error code", text);
    return;
  }
  if (servers->empty()) Fail("an accepted server list is empty", text);
  for (const auto& s : *servers) {
    if (s.empty()) Fail("an accepted server list holds an empty address", text);
    (void)chat::cli::AddressHost(s);
    (void)chat::cli::IsLoopbackHost(chat::cli::AddressHost(s));
  }
  const std::string printed = chat::cli::ServerListText(*servers);
  auto again = chat::cli::ParseServerList(printed, "--server");
  if (!again.ok() || *again != *servers) Fail("server list does not round-trip", text + " -> " + printed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;  // a command line, not a file: keep execs fast
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> argv;
  if (!input.empty()) argv = absl::StrSplit(input, '\0');

  auto parsed = chat::cli::ParseArgs(argv);
  auto again = chat::cli::ParseArgs(argv);
  if (parsed.ok() != again.ok()) Fail("parsing is not a pure function", input);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument || parsed.status().message().empty()) {
      Fail("error is not INVALID_ARGUMENT with a message", std::string(parsed.status().ToString()));
    }
    if (parsed.status() != again.status()) Fail("two parses give different errors", input);
    return 0;
  }
  const chat::cli::ParsedArgs& a = *parsed;
  if (a.command != again->command || a.args != again->args || a.options != again->options) {
    Fail("two parses give different results", input);
  }
  const chat::cli::CommandSpec* command = nullptr;
  if (!a.command.empty()) {
    command = chat::cli::FindCommand(a.command);
    if (command == nullptr) Fail("unknown command accepted", a.command);
    (void)chat::cli::UsageLine(*command);
    if (a.help) (void)chat::cli::CommandHelp(*command);
  }
  for (const auto& [name, value] : a.options) {
    if (!Known(chat::cli::GlobalOptions(), name) && (command == nullptr || !Known(command->options, name))) {
      Fail("unknown option accepted", name);
    }
    auto all = a.GetAll(name);
    if (all.empty() || all.back() != value) Fail("a repeated option does not keep its last value", name);
  }
  if (auto color = a.Get("color"); color && *color != "auto" && *color != "always" && *color != "never") {
    Fail("bad --color accepted", *color);
  }
  if (command != nullptr && !a.help) {
    const int n = static_cast<int>(a.args.size());
    if (n < command->min_args || (command->max_args >= 0 && n > command->max_args)) {
      Fail("argument count outside the command's bounds accepted", input);
    }
  }
  if (auto server = a.Get("server")) CheckServers(*server);
  return 0;
}
