// What both server mains (chat-core, ws-bridge) do the same way: flag help,
// log level, the refusal to run as root, stop signals, and the gateway secret. Called from main() only.
#ifndef CHAT_PROTO_SRC_CHAT_SERVER_MAIN_H_
#define CHAT_PROTO_SRC_CHAT_SERVER_MAIN_H_

#include <signal.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chat {

// Sets the usage text, limits --help to the flags defined in `main_file_suffix`
// (e.g. "chat-core/main.cc"), parses the command line, and turns off Abseil's
// mutex deadlock detection (Debian builds it on; it costs a graph update per
// lock; the tests, which do not run these mains, keep it).
void ParseServerFlags(int argc, char** argv, absl::string_view usage, absl::string_view main_file_suffix);

// Refuses to run as root unless `allow_root` (the services run as an
// unprivileged user, `chat` in the Debian package; docs/deploy.md), then sets
// the umask to 077 so every file and folder the process creates from here on
// (the SQLite database, its -wal/-shm files) is owner-only. Call right after
// ParseServerFlags, before any thread starts.
absl::Status PrepareServerProcess(bool allow_root);

// Blocks SIGINT, SIGTERM and SIGHUP (call before any thread starts, so every
// thread inherits the mask) and ignores SIGPIPE. Returns the set for
// WaitForStopSignal.
sigset_t BlockStopSignals();
// Waits for SIGINT or SIGTERM; returns "SIGINT" or "SIGTERM". Each SIGHUP
// before that runs `on_hangup` (reload; may be empty) and waits on.
const char* WaitForStopSignal(const sigset_t& signals, const std::function<void()>& on_hangup = {});

// The gateway secret: the trimmed contents of `file` if given, else the
// environment variable CHAT_GATEWAY_SECRET, else "". A file that cannot be read
// or holds fewer than 16 characters is an error, and so is one every user may
// read; one its group may read is logged as a warning. (A secret from the
// environment is held to 16 characters by each binary's option checks.)
absl::StatusOr<std::string> ReadGatewaySecret(const std::string& file);

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_SERVER_MAIN_H_
