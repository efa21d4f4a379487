// Human-readable output: colours (only when wanted), making untrusted text safe
// for a terminal, message lines and aligned tables.
// Stateless, thread-safe: Style is an immutable value.
#ifndef CHAT_CLI_SRC_FORMAT_H_
#define CHAT_CLI_SRC_FORMAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "chat/v1/chat.pb.h"

namespace chat::cli {

class Style {
 public:
  explicit Style(bool color) : color_(color) {}
  bool color() const { return color_; }

  std::string Bold(absl::string_view s) const { return Wrap("1", s); }
  std::string Dim(absl::string_view s) const { return Wrap("2", s); }
  std::string Red(absl::string_view s) const { return Wrap("31", s); }
  std::string Green(absl::string_view s) const { return Wrap("32", s); }
  std::string Yellow(absl::string_view s) const { return Wrap("33", s); }
  std::string Cyan(absl::string_view s) const { return Wrap("36", s); }
  // A stable colour per user name, so a conversation is easy to follow.
  std::string User(absl::string_view name) const;

 private:
  std::string Wrap(absl::string_view code, absl::string_view s) const;
  bool color_;
};

// Whether to colour output on `fd` for --color=WHEN ("auto", "always", "never").
bool WantColor(absl::string_view when, int fd);

// Replaces control characters (terminal escape sequences included) and invalid
// UTF-8 with visible stand-ins, so other users' text cannot drive the terminal.
// Newlines are kept when keep_newlines, else shown as "⏎".
std::string Sanitize(absl::string_view text, bool keep_newlines);

// Display width in columns (code points; wide characters count as one).
size_t DisplayWidth(absl::string_view text);
// The last `columns` columns of `text` (whole UTF-8 characters).
std::string TailColumns(absl::string_view text, size_t columns);
// The first `columns` columns of `text` (whole UTF-8 characters), ending in
// "…" when it had to be cut.
std::string HeadColumns(absl::string_view text, size_t columns);
// Pads `text` with spaces to `width` display columns.
std::string PadRight(absl::string_view text, size_t width);

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts);
// Local time as "15:04:05", or "2006-01-02 15:04" with the date.
std::string FormatTime(const google::protobuf::Timestamp& ts, bool with_date);

struct MessageLayout {
  bool with_date = false;
  bool with_room = false;
  size_t seq_width = 0;     // minimum width of "#SEQ"
  size_t author_width = 0;  // minimum width of the author column
};

// What a deleted message (a tombstone) shows instead of its text.
inline constexpr char kDeletedText[] = "(deleted)";

// What follows a bot's name: "alice-bot [bot]" (Message.author_kind BOT).
inline constexpr char kBotTag[] = "[bot]";
// Columns of the author as FormatMessage shows it (with the bot tag).
size_t AuthorWidth(const chat::v1::Message& message);

// "#42  12:34:56  alice  hello" ("ci [bot]" for a bot): continuation lines of multi-line texts are
// indented under the text.
std::string FormatMessage(const chat::v1::Message& message, const MessageLayout& layout,
                          const Style& style);

// The interactive form: "12:34:56 alice: hello" ("ci [bot]: " for a bot), with "#room " before the
// author when show_room.
std::string FormatChatMessage(const chat::v1::Message& message, bool show_room, const Style& style);

// Column-aligned table; the header row is bold.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows, const Style& style);

// One line: replaces newlines and control characters in an error message.
std::string OneLine(absl::string_view text);

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_FORMAT_H_
