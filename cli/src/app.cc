#include "app.h"

#include <grpc/support/log.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/tls_files.h"
#include "client.h"
#include "exit_codes.h"
#include "servers.h"
#include "signals.h"

#ifndef CHAT_CLI_VERSION
#define CHAT_CLI_VERSION "0.0.0"
#endif

namespace chat::cli {
namespace {

void QuietGrpcLog(gpr_log_func_args*) {}

// The server list: --server, else CHAT_SERVER (unless empty), else the list
// logged in with last, else the default. A bad list is a usage error.
absl::StatusOr<std::vector<std::string>> ResolveServers(const ParsedArgs& args) {
  if (auto server = args.Get("server")) return ParseServerList(*server, "--server");
  if (const char* env = std::getenv("CHAT_SERVER"); env != nullptr && env[0] != '\0') {
    return ParseServerList(env, "CHAT_SERVER");
  }
  if (auto store = CredentialStore::Open(); store.ok() && !store->default_server().empty()) {
    return ParseServerList(store->default_server(),
                           absl::StrCat("the default server in ", store->path()));
  }
  return std::vector<std::string>{kDefaultServer};
}

}  // namespace

namespace {

// --tls/--ca/--cert/--key (and CHAT_TLS, CHAT_CA): marks the addresses
// "tls://", loads the PEM files, and warns before a password would travel in
// plaintext to a host that is not this machine.
absl::Status SetUpTls(const ParsedArgs& args, Context* ctx) {
  const char* env_tls = std::getenv("CHAT_TLS");
  const char* env_ca = std::getenv("CHAT_CA");
  std::string ca = args.Get("ca").value_or(env_ca != nullptr ? env_ca : "");
  const bool want_tls = args.Has("tls") || args.Has("ca") || (env_tls != nullptr && std::string(env_tls) == "1");
  if (want_tls) {
    for (auto& s : ctx->servers) {
      if (!IsTlsAddress(s)) s = absl::StrCat(kTlsScheme, s);
    }
  }
  ChannelTls& tls = ctx->client_options.tls;
  if (!ca.empty()) {
    auto pem = LoadPemCaBundle(ca, "--ca");
    if (!pem.ok()) return pem.status();
    tls.root_certs = *std::move(pem);
  } else {
    tls.root_certs = SystemCaBundle();
  }
  if (args.Has("cert") || args.Has("key")) {
    auto id = LoadPemIdentity(args.Get("cert").value_or(""), args.Get("key").value_or(""), "--cert/--key");
    if (!id.ok()) return id.status();
    tls.cert_chain = std::move(id->cert_chain);
    tls.private_key = std::move(id->private_key);
  }
  const std::string& c = args.command;
  if (c == "login" || c == "register") {
    for (const auto& s : ctx->servers) {
      if (!IsTlsAddress(s) && !IsLoopbackHost(AddressHost(s))) {
        std::string line = absl::StrCat("chat: warning: ", s,
                                        " is not this machine and is reached without TLS: the password "
                                        "travels unencrypted (use --tls)\n");
        ssize_t unused = write(STDERR_FILENO, line.data(), line.size());
        (void)unused;
        break;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

int Fail(const absl::Status& status) {
  std::string line = absl::StrCat("chat: ", OneLine(status.message()), "\n");
  fflush(stdout);
  ssize_t unused = write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
  return ExitCodeFor(status);
}

bool PrintOut(const std::string& text) {
  if (fwrite(text.data(), 1, text.size(), stdout) != text.size()) return false;
  return fflush(stdout) == 0;
}

std::string ClientName() { return absl::StrCat("chat-cli/", CHAT_CLI_VERSION); }

absl::StatusOr<Credential> RequireLogin(const Context& ctx) {
  if (!ctx.api_token.empty()) {
    // Whose token it is: the commands that show or compare names need it, and
    // a revoked token is reported here, before anything else is tried.
    ChatClient client(ctx.servers, ctx.api_token, ctx.client_options);
    auto who = client.WhoAmI();
    if (!who.ok()) return who.status();
    Credential credential;
    credential.server = ctx.server;
    credential.username = who->username();
    credential.token = ctx.api_token;
    credential.expires_at_unix = who->expires_at().seconds();
    credential.api_token = true;
    return credential;
  }
  auto store = CredentialStore::Open();
  if (!store.ok()) return store.status();
  auto credential = store->Find(ctx.servers);
  if (!credential) {
    return absl::UnauthenticatedError(
        absl::StrCat("not logged in to ", ctx.server, " (run 'chat login')"));
  }
  if (credential->expires_at_unix != 0 && credential->expires_at_unix <= absl::ToUnixSeconds(absl::Now())) {
    // Sessions are renewed while used, and a unary call does not say so: ask.
    ChatClient client(ctx.servers, credential->token, ctx.client_options);
    auto who = client.WhoAmI();
    if (who.ok() && who->expires_at().seconds() > absl::ToUnixSeconds(absl::Now())) {
      credential->expires_at_unix = who->expires_at().seconds();
      RememberExpiry(*credential, who->expires_at());
      return *credential;
    }
    if (!who.ok() && !absl::IsUnauthenticated(who.status())) return who.status();
    return absl::UnauthenticatedError(
        absl::StrCat("the session on ", ctx.server, " has expired (run 'chat login')"));
  }
  return *credential;
}

void RememberExpiry(const Credential& credential, const google::protobuf::Timestamp& expires_at) {
  if (credential.api_token || expires_at.seconds() == 0) return;
  auto store = CredentialStore::Open();
  if (!store.ok()) return;
  if (store->SetExpiry(credential.token, expires_at.seconds())) {
    absl::Status ignored = store->Save();
    (void)ignored;
  }
}

int Main(int argc, char** argv) {
  InstallSignalThread();
  // gRPC's own log lines would break the one-line-error promise.
  if (std::getenv("GRPC_VERBOSITY") == nullptr && std::getenv("GRPC_TRACE") == nullptr) {
    gpr_set_log_function(QuietGrpcLog);
  }

  std::vector<std::string> argv_list(argv + 1, argv + argc);
  auto parsed = ParseArgs(argv_list);
  if (!parsed.ok()) return Fail(parsed.status());
  ParsedArgs& args = *parsed;

  if (args.version) {
    PrintOut(absl::StrCat("chat ", CHAT_CLI_VERSION, "\n"));
    return kExitOk;
  }
  if (args.command == "help") {
    if (args.args.empty()) {
      PrintOut(MainHelp());
      return kExitOk;
    }
    const CommandSpec* command = FindCommand(args.args[0]);
    if (command == nullptr) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("no such command '", args.args[0], "' (see 'chat --help')")));
    }
    PrintOut(CommandHelp(*command));
    return kExitOk;
  }
  if (args.help) {
    const CommandSpec* command = args.implied_join ? nullptr : FindCommand(args.command);
    PrintOut(command != nullptr ? CommandHelp(*command) : MainHelp());
    return kExitOk;
  }
  if (args.command.empty()) {
    return Fail(absl::InvalidArgumentError(
        "missing command; usage: chat [OPTIONS] COMMAND [ARGS...] (see 'chat --help')"));
  }

  auto servers = ResolveServers(args);
  if (!servers.ok()) return Fail(servers.status());
  Context ctx;
  ctx.servers = std::move(*servers);
  if (absl::Status st = SetUpTls(args, &ctx); !st.ok()) return Fail(st);
  ctx.server = ServerListText(ctx.servers);
  if (auto token = args.Get("token")) {
    if (token->empty()) return Fail(absl::InvalidArgumentError("--token must not be empty"));
    ctx.api_token = *token;
  } else if (const char* env = std::getenv("CHAT_TOKEN"); env != nullptr && env[0] != '\0') {
    ctx.api_token = env;
  }
  if (!ctx.api_token.empty()) {
    ctx.client_options.unauthenticated_hint =
        "the API token of --token or CHAT_TOKEN was refused: revoked, expired or mistyped?";
  }
  ctx.json = args.Has("json");
  ctx.stdout_tty = isatty(STDOUT_FILENO) == 1;
  ctx.style = Style(WantColor(args.Get("color").value_or("auto"), STDOUT_FILENO));
  ctx.args = std::move(args);

  const std::string& c = ctx.args.command;
  if (c == "register") return RunRegister(ctx);
  if (c == "login") return RunLogin(ctx);
  if (c == "logout") return RunLogout(ctx);
  if (c == "whoami") return RunWhoAmI(ctx);
  if (c == "rooms") return RunRooms(ctx);
  if (c == "create") return RunCreate(ctx);
  if (c == "send") return RunSend(ctx);
  if (c == "history") return RunHistory(ctx);
  if (c == "tail") return RunTail(ctx);
  if (c == "join") return RunInteractive(ctx);
  if (c == "dm") return RunDirect(ctx);
  if (c == "topic") return RunTopic(ctx);
  if (c == "archive") return RunArchive(ctx);
  if (c == "unarchive") return RunUnarchive(ctx);
  if (c == "delete-room") return RunDeleteRoom(ctx);
  if (c == "delete") return RunDeleteMessage(ctx);
  if (c == "users") return RunUsers(ctx);
  if (c == "disable") return RunDisable(ctx);
  if (c == "enable") return RunEnable(ctx);
  if (c == "invite") return RunInvite(ctx);
  if (c == "invites") return RunInvites(ctx);
  if (c == "accept") return RunAccept(ctx);
  if (c == "decline") return RunDecline(ctx);
  if (c == "leave") return RunLeaveRoom(ctx);
  if (c == "members") return RunMembers(ctx);
  if (c == "kick") return RunKick(ctx);
  if (c == "ban") return RunBan(ctx);
  if (c == "unban") return RunUnban(ctx);
  if (c == "role") return RunRole(ctx);
  if (c == "passwd") return RunPasswd(ctx);
  if (c == "sessions") return RunSessions(ctx);
  if (c == "profile") return RunProfile(ctx);
  if (c == "account") return RunAccount(ctx);
  if (c == "invite-code") return RunInviteCode(ctx);
  if (c == "bot") return RunBot(ctx);
  if (c == "token") return RunToken(ctx);
  if (c == "hook") return RunHook(ctx);
  return Fail(absl::InvalidArgumentError(absl::StrCat("unknown command '", c, "'")));
}

}  // namespace chat::cli
