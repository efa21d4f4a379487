#include "prompt.h"

#include <errno.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "signals.h"

namespace chat::cli {
namespace {

// Reads up to a newline with read(2), so nothing beyond it is consumed.
absl::StatusOr<std::string> ReadLineFd(int fd) {
  std::string line;
  bool any = false;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("cannot read stdin: ", std::strerror(errno)));
    }
    if (n == 0) break;
    any = true;
    if (c == '\n') break;
    line += c;
  }
  if (!any) return absl::NotFoundError("end of input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void WriteStderr(const std::string& s) {
  ssize_t unused = write(STDERR_FILENO, s.data(), s.size());
  (void)unused;
}

}  // namespace

absl::StatusOr<std::string> ReadStdinLine() { return ReadLineFd(STDIN_FILENO); }

absl::StatusOr<std::string> ReadAllStdin() {
  std::string all;
  char buf[65536];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("cannot read stdin: ", std::strerror(errno)));
    }
    if (n == 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  return all;
}

absl::StatusOr<std::string> PromptLine(const std::string& prompt, bool echo) {
  if (isatty(STDIN_FILENO) != 1) {
    return absl::InvalidArgumentError("stdin is not a terminal");
  }
  termios saved;
  bool restore = false;
  if (!echo && tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  // Ctrl-C during the prompt exits; echo must come back on first.
  ScopedExitCleanup cleanup([saved, restore] {
    if (restore) {
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
      WriteStderr("\n");
    }
  });
  WriteStderr(prompt);
  auto line = ReadLineFd(STDIN_FILENO);
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!line.ok() && absl::IsNotFound(line.status())) {
    if (restore) WriteStderr("\n");
    return absl::InvalidArgumentError("no input");
  }
  return line;
}

absl::StatusOr<std::string> ReadPassword(bool from_stdin, bool confirm) {
  return ReadNamedPassword("Password: ", "CHAT_PASSWORD", from_stdin, confirm);
}

absl::StatusOr<std::string> ReadNamedPassword(const std::string& prompt, const char* env_name,
                                              bool from_stdin, bool confirm) {
  if (from_stdin) {
    auto line = ReadStdinLine();
    if (!line.ok() && absl::IsNotFound(line.status())) {
      return absl::InvalidArgumentError(absl::StrCat("--password-stdin: stdin ended before the ",
                                                     absl::AsciiStrToLower(absl::StripSuffix(prompt, ": "))));
    }
    return line;
  }
  if (const char* env = std::getenv(env_name); env != nullptr && env[0] != '\0') {
    return std::string(env);
  }
  if (isatty(STDIN_FILENO) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no password: stdin is not a terminal; use --password-stdin or set ", env_name));
  }
  auto password = PromptLine(prompt, false);
  if (!password.ok() || !confirm) return password;
  auto again = PromptLine(absl::StrCat("Repeat ", absl::AsciiStrToLower(prompt)), false);
  if (!again.ok()) return again;
  if (*again != *password) return absl::InvalidArgumentError("the passwords do not match");
  return password;
}

}  // namespace chat::cli
