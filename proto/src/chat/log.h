// The project's one logging facade (Debian's Abseil 20220623 has no absl/log).
// Thread-safe: each line is written with one write(2) to stderr.
#ifndef CHAT_PROTO_SRC_CHAT_LOG_H_
#define CHAT_PROTO_SRC_CHAT_LOG_H_

#include "absl/strings/string_view.h"

#include "absl/strings/str_format.h"

namespace chat {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Lines below this level are dropped. Default kInfo; CHAT_LOG_LEVEL=debug|info|warning|error|off
// in the environment overrides it at start-up.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool ParseLogLevel(absl::string_view text, LogLevel* level);
void LogLine(LogLevel level, absl::string_view component, absl::string_view text);

template <typename... Args>
void Log(LogLevel level, absl::string_view component, const absl::FormatSpec<Args...>& format,
         const Args&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, component, absl::StrFormat(format, args...));
}

}  // namespace chat

#define CHAT_LOG_DEBUG(component, ...) ::chat::Log(::chat::LogLevel::kDebug, component, __VA_ARGS__)
#define CHAT_LOG_INFO(component, ...) ::chat::Log(::chat::LogLevel::kInfo, component, __VA_ARGS__)
#define CHAT_LOG_WARN(component, ...) ::chat::Log(::chat::LogLevel::kWarning, component, __VA_ARGS__)
#define CHAT_LOG_ERROR(component, ...) ::chat::Log(::chat::LogLevel::kError, component, __VA_ARGS__)

#endif  // CHAT_PROTO_SRC_CHAT_LOG_H_
