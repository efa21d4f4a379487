// Terminal: the screen of the interactive mode. In raw mode (stdin and stdout
// are terminals) the bottom line is an input line (prompt + what is being
// typed); Print() clears it, prints the text above it and draws it again, so
// incoming messages never tear the line being typed. Long input scrolls
// horizontally instead of wrapping. In line mode Print() just writes lines.
//
// Threading: thread-safe; Print() is called from the LiveClient dispatcher while
// the input loop edits the line. Lifetime: Restore() (also run by the
// destructor) puts the terminal back as it was.
#ifndef CHAT_CLI_SRC_TERMINAL_H_
#define CHAT_CLI_SRC_TERMINAL_H_

#include <termios.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace chat::cli {

class Terminal {
 public:
  // raw: use raw mode and an input line (both stdin and stdout must be terminals).
  explicit Terminal(bool raw);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  bool raw() const { return raw_; }
  // Switches stdin to raw mode (no echo, byte at a time, no signals from keys).
  absl::Status Enter();
  // Clears the input line and restores the terminal settings. Idempotent.
  void Restore();

  // Prints text (possibly several lines) above the input line.
  void Print(const std::string& text);
  // The prompt (may contain colour codes) and its width in columns.
  void SetPrompt(const std::string& prompt, size_t width);
  // What is being typed; redraws the input line.
  void SetInput(const std::string& input);
  void Redraw();
  void Bell();
  // Re-reads the window size (after SIGWINCH) and redraws.
  void UpdateSize();

 private:
  void AppendInputLine(std::string* out) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void WriteAll(const std::string& data);

  const bool raw_;
  absl::Mutex mu_;
  bool entered_ ABSL_GUARDED_BY(mu_) = false;
  termios saved_ ABSL_GUARDED_BY(mu_){};
  std::string prompt_ ABSL_GUARDED_BY(mu_);
  size_t prompt_width_ ABSL_GUARDED_BY(mu_) = 0;
  std::string input_ ABSL_GUARDED_BY(mu_);
  size_t columns_ ABSL_GUARDED_BY(mu_) = 80;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_TERMINAL_H_
