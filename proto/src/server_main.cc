#include "chat/server_main.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "chat/log.h"

namespace chat {

void ParseServerFlags(int argc, char** argv, absl::string_view usage, absl::string_view main_file_suffix) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  std::string suffix(main_file_suffix);
  config.contains_help_flags = [suffix](absl::string_view file) { return absl::EndsWith(file, suffix); };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

absl::Status PrepareServerProcess(bool allow_root) {
  if (geteuid() == 0 && !allow_root) {
    return absl::FailedPreconditionError(
        "refusing to run as root: run as an unprivileged user (the Debian package's 'chat'), or pass --allow_root");
  }
  umask(077);
  return absl::OkStatus();
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

const char* WaitForStopSignal(const sigset_t& signals, const std::function<void()>& on_hangup) {
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGHUP) return sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (on_hangup) on_hangup();
  }
}

absl::StatusOr<std::string> ReadGatewaySecret(const std::string& file) {
  if (file.empty()) {
    const char* env = std::getenv("CHAT_GATEWAY_SECRET");
    return std::string(env == nullptr ? "" : absl::StripAsciiWhitespace(env));
  }
  std::ifstream in(file);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read gateway secret file ", file));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret(absl::StripAsciiWhitespace(ss.str()));
  if (secret.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("gateway secret in ", file, " is shorter than 16 characters"));
  }
  // Every user on the machine could read it: whoever holds the secret can open
  // the Gateway stream and speak for any signed-in browser, so refuse. Readable
  // by the file's group only (a deliberate chat group, say) is warned about.
  struct stat st;
  if (stat(file.c_str(), &st) == 0 && (st.st_mode & 007) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "gateway secret file %s may be read by every user (mode %04o); chmod 600 it", file, st.st_mode & 07777));
  }
  if (stat(file.c_str(), &st) == 0 && (st.st_mode & 070) != 0) {
    CHAT_LOG_WARN("secret", "gateway secret file %s may be read by its group (mode %04o); chmod 600 it", file,
                  st.st_mode & 07777);
  }
  return secret;
}

}  // namespace chat
