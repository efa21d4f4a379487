// The project's one logging facade (Debian's Abseil 20220623 has no absl/log).
// Thread-safe: each line is written with one write(2) to stderr.
//
// Two formats (docs/operations.md, "Logs"): text, one line each
// (`2026-11-25T07:21:24.344Z INFO [core] message`), or JSON, one object a line
// with fixed fields time, level, component and message, plus the fields the
// call names (user, room, peer, node...). No secret may go into a log line:
// never a password, a token, a token hash or the gateway secret.
#ifndef CHAT_PROTO_SRC_CHAT_LOG_H_
#define CHAT_PROTO_SRC_CHAT_LOG_H_

#include <array>
#include <cstddef>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace chat {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };
enum class LogFormat { kText, kJson };

// Lines below this level are dropped. Default kInfo; CHAT_LOG_LEVEL=debug|info|warning|error|off
// in the environment overrides it at start-up.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(absl::string_view text, LogLevel* level);
// Default kText. Set once at start-up, before other threads log.
void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();
// "text" or "json".
bool ParseLogFormat(absl::string_view text, LogFormat* format);

// Named values a line is about, for the JSON format's fields (the text format
// leaves them out: its message says the same in words). Built in the call,
// e.g. `LogFields().User(name).Room(room)`; it only views the strings, which
// must live until the line is written (temporaries of the call do).
class LogFields {
 public:
  LogFields& User(absl::string_view v) { return Add("user", v); }
  LogFields& Room(absl::string_view v) { return Add("room", v); }
  LogFields& Peer(absl::string_view v) { return Add("peer", v); }
  LogFields& Node(absl::string_view v) { return Add("node", v); }
  // Another field; `key` must be a literal (a lowercase identifier).
  LogFields& Add(absl::string_view key, absl::string_view value) {
    if (size_ < fields_.size()) fields_[size_++] = {key, value};
    return *this;
  }
  const std::pair<absl::string_view, absl::string_view>* begin() const { return fields_.data(); }
  const std::pair<absl::string_view, absl::string_view>* end() const { return fields_.data() + size_; }

 private:
  std::array<std::pair<absl::string_view, absl::string_view>, 6> fields_;
  size_t size_ = 0;
};

void LogLine(LogLevel level, absl::string_view component, absl::string_view text,
             const LogFields& fields = LogFields());

template <typename... Args>
void Log(LogLevel level, absl::string_view component, const absl::FormatSpec<Args...>& format,
         const Args&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, component, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogWith(LogLevel level, absl::string_view component, const LogFields& fields,
             const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, component, absl::StrFormat(format, args...), fields);
}

}  // namespace chat

#define CHAT_LOG_DEBUG(component, ...) ::chat::Log(::chat::LogLevel::kDebug, component, __VA_ARGS__)
#define CHAT_LOG_INFO(component, ...) ::chat::Log(::chat::LogLevel::kInfo, component, __VA_ARGS__)
#define CHAT_LOG_WARN(component, ...) ::chat::Log(::chat::LogLevel::kWarning, component, __VA_ARGS__)
#define CHAT_LOG_ERROR(component, ...) ::chat::Log(::chat::LogLevel::kError, component, __VA_ARGS__)
// The same with fields: CHAT_LOGF_INFO("accounts", ::chat::LogFields().User(u), "user '%s' logged in", u).
#define CHAT_LOGF_DEBUG(component, fields, ...) \
  ::chat::LogWith(::chat::LogLevel::kDebug, component, fields, __VA_ARGS__)
#define CHAT_LOGF_INFO(component, fields, ...) ::chat::LogWith(::chat::LogLevel::kInfo, component, fields, __VA_ARGS__)
#define CHAT_LOGF_WARN(component, fields, ...) \
  ::chat::LogWith(::chat::LogLevel::kWarning, component, fields, __VA_ARGS__)
#define CHAT_LOGF_ERROR(component, fields, ...) \
  ::chat::LogWith(::chat::LogLevel::kError, component, fields, __VA_ARGS__)

#endif  // CHAT_PROTO_SRC_CHAT_LOG_H_
