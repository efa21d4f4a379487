#include "line_editor.h"

namespace chat::cli {

LineEditor::Action LineEditor::Feed(char ch) {
  unsigned char c = static_cast<unsigned char>(ch);
  switch (escape_) {
    case Escape::kEsc:
      escape_ = c == '[' ? Escape::kCsi : c == 'O' ? Escape::kSs3 : Escape::kNone;
      return Action::kNone;
    case Escape::kCsi:
      // Parameters and intermediates until a final byte in 0x40..0x7e.
      if (c >= 0x40 && c <= 0x7e) escape_ = Escape::kNone;
      return Action::kNone;
    case Escape::kSs3:
      escape_ = Escape::kNone;
      return Action::kNone;
    case Escape::kNone:
      break;
  }
  switch (c) {
    case '\r':
    case '\n':
      return Action::kSubmit;
    case 0x7f:  // Backspace (DEL)
    case 0x08:  // Ctrl-H
      if (buffer_.empty()) return Action::kNone;
      DeleteLastChar();
      return Action::kChanged;
    case 0x03:  // Ctrl-C
      return Action::kInterrupt;
    case 0x04:  // Ctrl-D
      return buffer_.empty() ? Action::kEof : Action::kNone;
    case 0x15:  // Ctrl-U
      buffer_.clear();
      return Action::kChanged;
    case 0x17:  // Ctrl-W
      DeleteWord();
      return Action::kChanged;
    case 0x0c:  // Ctrl-L
      return Action::kRedraw;
    case 0x1b:
      escape_ = Escape::kEsc;
      return Action::kNone;
    case '\t':
      c = ' ';
      break;
    default:
      if (c < 0x20) return Action::kNone;
  }
  if (buffer_.size() >= max_bytes_) return Action::kBell;
  buffer_ += static_cast<char>(c);
  return Action::kChanged;
}

std::string LineEditor::TakeLine() {
  std::string line;
  line.swap(buffer_);
  return line;
}

void LineEditor::DeleteLastChar() {
  // Drop continuation bytes, then the lead byte.
  while (!buffer_.empty() && (static_cast<unsigned char>(buffer_.back()) & 0xC0) == 0x80) {
    buffer_.pop_back();
  }
  if (!buffer_.empty()) buffer_.pop_back();
}

void LineEditor::DeleteWord() {
  while (!buffer_.empty() && buffer_.back() == ' ') buffer_.pop_back();
  while (!buffer_.empty() && buffer_.back() != ' ') buffer_.pop_back();
}

}  // namespace chat::cli
