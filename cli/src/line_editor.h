// LineEditor: the input line of the interactive mode, fed one byte at a time from
// a terminal in raw mode. Appends UTF-8 text, and knows Backspace, Ctrl-U (clear),
// Ctrl-W (delete word), Enter (submit), Ctrl-D (end on an empty line), Ctrl-C,
// Ctrl-L (redraw); other control keys and escape sequences (arrows, ...) are
// swallowed so they never reach the text.
//
// Threading: not thread-safe; owned by the input loop. Lifetime: a plain value.
#ifndef CHAT_CLI_SRC_LINE_EDITOR_H_
#define CHAT_CLI_SRC_LINE_EDITOR_H_

#include <cstddef>
#include <string>

namespace chat::cli {

class LineEditor {
 public:
  enum class Action { kNone, kChanged, kSubmit, kEof, kInterrupt, kRedraw, kBell };

  explicit LineEditor(size_t max_bytes = 4096) : max_bytes_(max_bytes) {}

  Action Feed(char c);
  const std::string& buffer() const { return buffer_; }
  // The submitted line; clears the buffer.
  std::string TakeLine();

 private:
  enum class Escape { kNone, kEsc, kCsi, kSs3 };

  void DeleteLastChar();
  void DeleteWord();

  const size_t max_bytes_;
  std::string buffer_;
  Escape escape_ = Escape::kNone;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_LINE_EDITOR_H_
