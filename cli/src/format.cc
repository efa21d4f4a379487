#include "format.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "chat/validate.h"

namespace chat::cli {
namespace {

// Length of the UTF-8 sequence starting at s[i] if it is valid, else 0.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  if (len > 1 && !chat::IsValidUtf8(s.substr(i, len))) return 0;
  return len;
}

}  // namespace

std::string Style::Wrap(absl::string_view code, absl::string_view s) const {
  if (!color_) return std::string(s);
  return absl::StrCat("\x1b[", code, "m", s, "\x1b[0m");
}

std::string Style::User(absl::string_view name) const {
  static constexpr const char* kColors[] = {"32", "33", "34", "35", "36", "91", "92", "94", "95", "96"};
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return Wrap(absl::StrCat("1;", kColors[h % (sizeof kColors / sizeof kColors[0])]), name);
}

bool WantColor(absl::string_view when, int fd) {
  if (when == "always") return true;
  if (when == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && absl::string_view(term) == "dumb") return false;
  return isatty(fd) == 1;
}

std::string Sanitize(absl::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD replacement character
      ++i;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (len == 1 && (c < 0x20 || c == 0x7f)) {
      if (c == '\n') {
        out += keep_newlines ? "\n" : "\xE2\x8F\x8E";  // ⏎
      } else if (c == '\t') {
        out += "    ";
      } else {
        // ^[ for ESC, ^? for DEL, ...
        out += '^';
        out += static_cast<char>(c == 0x7f ? '?' : c + 0x40);
      }
    } else if (len == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) {
      out += "\xEF\xBF\xBD";  // C1 control (U+0080..U+009F), e.g. CSI
    } else {
      out.append(text.data() + i, len);
    }
    i += len;
  }
  return out;
}

namespace {

// Decodes the code point at s[*i] (advancing *i); invalid bytes count as one
// replacement character.
uint32_t NextCodePoint(absl::string_view s, size_t* i) {
  size_t len = Utf8SequenceLength(s, *i);
  if (len == 0) {
    ++*i;
    return 0xFFFD;
  }
  uint32_t cp = static_cast<unsigned char>(s[*i]);
  if (len > 1) {
    cp &= 0xFF >> (len + 1);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  }
  *i += len;
  return cp;
}

// Columns a code point takes in a terminal: 0 for combining marks, 2 for East
// Asian wide characters and emoji, else 1 (an approximation of wcwidth that
// does not depend on the locale).
size_t CodePointWidth(uint32_t cp) {
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || cp == 0xFE0F) return 0;
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

}  // namespace

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  size_t i = 0;
  while (i < text.size()) width += CodePointWidth(NextCodePoint(text, &i));
  return width;
}

std::string TailColumns(absl::string_view text, size_t columns) {
  // Start points of every character, then drop from the front until it fits.
  std::vector<std::pair<size_t, size_t>> chars;  // (byte offset, width)
  size_t i = 0;
  size_t width = 0;
  while (i < text.size()) {
    size_t start = i;
    size_t w = CodePointWidth(NextCodePoint(text, &i));
    chars.emplace_back(start, w);
    width += w;
  }
  size_t first = 0;
  while (width > columns && first < chars.size()) width -= chars[first++].second;
  return first < chars.size() ? std::string(text.substr(chars[first].first)) : std::string();
}

std::string HeadColumns(absl::string_view text, size_t columns) {
  if (DisplayWidth(text) <= columns) return std::string(text);
  std::string out;
  size_t width = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    size_t w = CodePointWidth(NextCodePoint(text, &i));
    if (width + w + 1 > columns) break;  // one column for the "…"
    out.append(text.data() + start, i - start);
    width += w;
  }
  return out + "\xE2\x80\xA6";  // …
}

std::string PadRight(absl::string_view text, size_t width) {
  std::string out(text);
  size_t w = DisplayWidth(text);
  if (w < width) out.append(width - w, ' ');
  return out;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string FormatTime(const google::protobuf::Timestamp& ts, bool with_date) {
  return absl::FormatTime(with_date ? "%Y-%m-%d %H:%M" : "%H:%M:%S", ToAbslTime(ts),
                          absl::LocalTimeZone());
}

namespace {

bool ByBot(const chat::v1::Message& message) { return message.author_kind() == chat::v1::ACCOUNT_KIND_BOT; }

// The author as shown: the name in its colour, then the bot tag.
std::string StyledAuthor(const chat::v1::Message& message, const Style& style) {
  std::string author = style.User(Sanitize(message.author(), false));
  if (ByBot(message)) absl::StrAppend(&author, " ", style.Dim(kBotTag));
  return author;
}

}  // namespace

size_t AuthorWidth(const chat::v1::Message& message) {
  size_t width = DisplayWidth(Sanitize(message.author(), false));
  if (ByBot(message)) width += 1 + DisplayWidth(kBotTag);
  return width;
}

std::string FormatMessage(const chat::v1::Message& message, const MessageLayout& layout,
                          const Style& style) {
  std::string seq = PadRight(absl::StrCat("#", message.seq()), layout.seq_width);
  std::string prefix = absl::StrCat(style.Dim(seq), "  ", style.Dim(FormatTime(message.sent_at(), layout.with_date)),
                                    "  ");
  size_t prefix_width = DisplayWidth(seq) + 2 + (layout.with_date ? 16 : 8) + 2;
  if (layout.with_room) {
    std::string room = absl::StrCat("[", message.room(), "]");
    absl::StrAppend(&prefix, style.Cyan(room), " ");
    prefix_width += DisplayWidth(room) + 1;
  }
  const size_t own_width = AuthorWidth(message);
  size_t author_width = std::max(layout.author_width, own_width);
  absl::StrAppend(&prefix, StyledAuthor(message, style), std::string(author_width - own_width, ' '), "  ");
  prefix_width += author_width + 2;
  if (message.deleted()) return absl::StrCat(prefix, style.Dim(kDeletedText));
  std::vector<std::string> lines = absl::StrSplit(Sanitize(message.text(), true), '\n');
  std::string out = absl::StrCat(prefix, lines[0]);
  std::string indent(prefix_width, ' ');
  for (size_t i = 1; i < lines.size(); ++i) absl::StrAppend(&out, "\n", indent, lines[i]);
  return out;
}

std::string FormatChatMessage(const chat::v1::Message& message, bool show_room,
                              const Style& style) {
  std::string prefix = absl::StrCat(style.Dim(FormatTime(message.sent_at(), false)), " ");
  if (show_room) absl::StrAppend(&prefix, style.Cyan(absl::StrCat("#", message.room())), " ");
  absl::StrAppend(&prefix, StyledAuthor(message, style), ": ");
  if (message.deleted()) return absl::StrCat(prefix, style.Dim(kDeletedText));
  std::vector<std::string> lines = absl::StrSplit(Sanitize(message.text(), true), '\n');
  std::string out = absl::StrCat(prefix, lines[0]);
  for (size_t i = 1; i < lines.size(); ++i) absl::StrAppend(&out, "\n    ", lines[i]);
  return out;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows, const Style& style) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) widths[c] = DisplayWidth(header[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  auto format_row = [&](const std::vector<std::string>& row, bool bold) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      bool last = c + 1 == row.size();
      std::string cell = last ? row[c] : PadRight(row[c], widths[c]);
      absl::StrAppend(&line, bold ? style.Bold(cell) : cell, last ? "" : "  ");
    }
    // An empty last column (a room without a topic) leaves no trailing blanks.
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  };
  std::string out = format_row(header, true) + "\n";
  for (const auto& row : rows) absl::StrAppend(&out, format_row(row, false), "\n");
  return out;
}

std::string OneLine(absl::string_view text) {
  std::string s = Sanitize(text, false);
  // Sanitize shows newlines as ⏎; in an error line a space reads better.
  std::string out;
  absl::string_view v = s;
  for (absl::string_view part : absl::StrSplit(v, "\xE2\x8F\x8E")) {
    if (!out.empty()) out += ' ';
    out.append(part.data(), part.size());
  }
  return out;
}

}  // namespace chat::cli
