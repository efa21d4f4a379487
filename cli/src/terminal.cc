#include "terminal.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "format.h"

namespace chat::cli {

Terminal::Terminal(bool raw) : raw_(raw) { UpdateSize(); }

Terminal::~Terminal() { Restore(); }

absl::Status Terminal::Enter() {
  if (!raw_) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  if (entered_) return absl::OkStatus();
  if (tcgetattr(STDIN_FILENO, &saved_) != 0) {
    return absl::InternalError(absl::StrCat("cannot read the terminal settings: ", std::strerror(errno)));
  }
  termios raw = saved_;
  raw.c_iflag &= ~static_cast<tcflag_t>(ICRNL | IXON | BRKINT | INPCK | ISTRIP);
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | ISIG | IEXTEN);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  // Output processing stays on: "\n" still moves to the start of the next line.
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0) {
    return absl::InternalError(absl::StrCat("cannot set raw mode: ", std::strerror(errno)));
  }
  entered_ = true;
  std::string out;
  AppendInputLine(&out);
  WriteAll(out);
  return absl::OkStatus();
}

void Terminal::Restore() {
  absl::MutexLock lock(&mu_);
  if (!entered_) return;
  entered_ = false;
  WriteAll("\r\x1b[K");
  tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

void Terminal::AppendInputLine(std::string* out) const {
  // Keep one column free so the cursor never wraps to a new line.
  size_t room = columns_ > prompt_width_ + 2 ? columns_ - prompt_width_ - 1 : 1;
  absl::StrAppend(out, prompt_, TailColumns(Sanitize(input_, false), room));
}

void Terminal::Print(const std::string& text) {
  absl::MutexLock lock(&mu_);
  if (!entered_) {
    WriteAll(absl::StrCat(text, "\n"));
    return;
  }
  std::string out = absl::StrCat("\r\x1b[K", text, "\n");
  AppendInputLine(&out);
  WriteAll(out);
}

void Terminal::SetPrompt(const std::string& prompt, size_t width) {
  absl::MutexLock lock(&mu_);
  prompt_ = prompt;
  prompt_width_ = width;
  if (!entered_) return;
  std::string out = "\r\x1b[K";
  AppendInputLine(&out);
  WriteAll(out);
}

void Terminal::SetInput(const std::string& input) {
  absl::MutexLock lock(&mu_);
  input_ = input;
  if (!entered_) return;
  std::string out = "\r\x1b[K";
  AppendInputLine(&out);
  WriteAll(out);
}

void Terminal::Redraw() {
  absl::MutexLock lock(&mu_);
  if (!entered_) return;
  std::string out = "\r\x1b[K";
  AppendInputLine(&out);
  WriteAll(out);
}

void Terminal::Bell() {
  absl::MutexLock lock(&mu_);
  if (entered_) WriteAll("\a");
}

void Terminal::UpdateSize() {
  winsize ws{};
  size_t columns = 80;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) columns = ws.ws_col;
  absl::MutexLock lock(&mu_);
  columns_ = columns;
  if (!entered_) return;
  std::string out = "\r\x1b[K";
  AppendInputLine(&out);
  WriteAll(out);
}

void Terminal::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(STDOUT_FILENO, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EPIPE or a closed terminal: nothing sensible to do
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace chat::cli
