// The server list of `--server` and CHAT_SERVER: "HOST:PORT[,HOST:PORT...]",
// the chat-core nodes to use in order of preference (docs/cli.md). Parsing and
// checking it, writing it back, and comparing lists (the credentials file keys
// tokens by list).
//
// Stateless, thread-safe: plain functions, no state.
#ifndef CHAT_CLI_SRC_SERVERS_H_
#define CHAT_CLI_SRC_SERVERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chat::cli {

// Splits `text` at commas into addresses, each HOST:PORT or [IPV6]:PORT with a
// port from 1 to 65535; spaces around an address are dropped. An empty list, an
// empty address, a missing or bad port, or an address listed twice is
// INVALID_ARGUMENT naming `source` (e.g. "--server").
absl::StatusOr<std::vector<std::string>> ParseServerList(absl::string_view text,
                                                         absl::string_view source);

// An address may start with "tls://": chat-core is reached over TLS there
// (`--tls` adds the prefix to every address). The prefix is part of the
// address, so a token saved from a TLS login is never sent in plaintext.
inline constexpr absl::string_view kTlsScheme = "tls://";
bool IsTlsAddress(absl::string_view address);
// The address to dial: without the "tls://" prefix.
absl::string_view DialAddress(absl::string_view address);
// The host of an address (no port, no brackets, no prefix).
std::string AddressHost(absl::string_view address);
// Whether `host` is a loopback name or address (localhost, 127.x.x.x, ::1).
bool IsLoopbackHost(absl::string_view host);

// The list as one string, "a:1,b:2" (what ParseServerList reads back).
std::string ServerListText(const std::vector<std::string>& servers);

// Whether every address of `wanted` is in `list`.
bool ListCovers(const std::vector<std::string>& list, const std::vector<std::string>& wanted);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_SERVERS_H_
