// The `chat` program: Main() parses the command line and runs one subcommand.
// The subcommands share a Context (the parsed arguments, the server, output
// settings). Output: results on stdout (aligned text, or one JSON object a line
// with --json), errors as one line "chat: ..." on stderr, and an exit code from
// exit_codes.h.
//
// Threading: Main() runs on the main thread; subcommands may start helper threads
// (the signal thread, LiveClient) that end before they return. Lifetime: a
// Context lives for one run of Main().
#ifndef CHAT_CLI_SRC_APP_H_
#define CHAT_CLI_SRC_APP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "args.h"
#include "client.h"
#include "config.h"
#include "format.h"

namespace chat::cli {

struct Context {
  ParsedArgs args;
  // The chat-core nodes (HOST:PORT each, in order of preference), resolved from
  // --server, CHAT_SERVER, the last login; `server` is the list as one string
  // ("a:1,b:2"), the key of its token in the credentials file.
  std::vector<std::string> servers;
  std::string server;
  // TLS material for "tls://" addresses, passed to every ChatClient.
  ChatClientOptions client_options;
  // An API token from --token or $CHAT_TOKEN, used instead of the saved login.
  std::string api_token;
  bool json = false;
  bool stdout_tty = false;
  Style style{false};  // for stdout
};

int Main(int argc, char** argv);

// Prints "chat: <message>" on stderr and returns the status's exit code.
int Fail(const absl::Status& status);
// Writes to stdout and flushes; false if stdout is gone (EPIPE).
bool PrintOut(const std::string& text);

// The credential to use: the API token of --token/CHAT_TOKEN (asking
// chat-core's WhoAmI whose it is), else the stored login for ctx.servers (the
// newest whose list has all of them), or UNAUTHENTICATED "not logged in". A
// stored login past its saved expiry is checked with chat-core first: it may
// have been renewed while in use (then the new expiry is saved).
absl::StatusOr<Credential> RequireLogin(const Context& ctx);

// Saves a renewed expiry (SessionRenewed, WhoAmI) of a stored login in the
// credentials file. Nothing for an API token. Best effort: a file that cannot
// be written only loses the hint.
void RememberExpiry(const Credential& credential, const google::protobuf::Timestamp& expires_at);

// What LoginRequest.client says: "chat-cli/<version>".
std::string ClientName();

// Subcommands (commands.cc, member_commands.cc, room_commands.cc, tail.cc,
// interactive.cc); each returns an exit code.
int RunRegister(const Context& ctx);
int RunLogin(const Context& ctx);
int RunLogout(const Context& ctx);
int RunWhoAmI(const Context& ctx);
int RunRooms(const Context& ctx);
int RunCreate(const Context& ctx);
int RunSend(const Context& ctx);
int RunHistory(const Context& ctx);
int RunTail(const Context& ctx);
int RunDirect(const Context& ctx);
int RunTopic(const Context& ctx);
int RunArchive(const Context& ctx);
int RunUnarchive(const Context& ctx);
int RunDeleteRoom(const Context& ctx);
int RunDeleteMessage(const Context& ctx);
int RunUsers(const Context& ctx);
int RunDisable(const Context& ctx);
int RunEnable(const Context& ctx);
int RunInvite(const Context& ctx);
int RunInvites(const Context& ctx);
int RunAccept(const Context& ctx);
int RunDecline(const Context& ctx);
int RunLeaveRoom(const Context& ctx);
int RunMembers(const Context& ctx);
int RunKick(const Context& ctx);
int RunBan(const Context& ctx);
int RunUnban(const Context& ctx);
int RunRole(const Context& ctx);
int RunInteractive(const Context& ctx);
// account_commands.cc, integration_commands.cc (issue #29).
int RunPasswd(const Context& ctx);
int RunSessions(const Context& ctx);
int RunProfile(const Context& ctx);
int RunAccount(const Context& ctx);
int RunInviteCode(const Context& ctx);
int RunBot(const Context& ctx);
int RunToken(const Context& ctx);
int RunHook(const Context& ctx);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_APP_H_
