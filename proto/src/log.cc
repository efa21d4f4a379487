#include "chat/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chat/json_codec.h"

namespace chat {
namespace {

LogLevel InitialLevel() {
  LogLevel level = LogLevel::kInfo;
  if (const char* env = std::getenv("CHAT_LOG_LEVEL")) ParseLogLevel(env, &level);
  return level;
}

std::atomic<LogLevel>& Level() {
  static std::atomic<LogLevel> level{InitialLevel()};
  return level;
}

std::atomic<LogFormat> g_format{LogFormat::kText};

}  // namespace

void SetLogLevel(LogLevel level) { Level().store(level); }
LogLevel GetLogLevel() { return Level().load(std::memory_order_relaxed); }

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  std::string t = absl::AsciiStrToLower(std::string(text));
  if (t == "debug") *level = LogLevel::kDebug;
  else if (t == "info") *level = LogLevel::kInfo;
  else if (t == "warning" || t == "warn") *level = LogLevel::kWarning;
  else if (t == "error") *level = LogLevel::kError;
  else if (t == "off") *level = LogLevel::kOff;
  else return false;
  return true;
}

void SetLogFormat(LogFormat format) { g_format.store(format); }
LogFormat GetLogFormat() { return g_format.load(std::memory_order_relaxed); }

bool ParseLogFormat(absl::string_view text, LogFormat* format) {
  std::string t = absl::AsciiStrToLower(std::string(text));
  if (t == "text") *format = LogFormat::kText;
  else if (t == "json") *format = LogFormat::kJson;
  else return false;
  return true;
}

void LogLine(LogLevel level, absl::string_view component, absl::string_view text, const LogFields& fields) {
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (GetLogFormat() == LogFormat::kJson) {
    // One object a line: JsonQuote escapes control characters (a newline
    // included) and bytes that are not UTF-8, so a line stays one line.
    static constexpr const char* kNames[] = {"debug", "info", "warning", "error", "off"};
    absl::StrAppend(&line, "{\"time\":\"", time, "\",\"level\":\"", kNames[static_cast<int>(level)],
                    "\",\"component\":", JsonQuote(component), ",\"message\":", JsonQuote(text));
    for (const auto& [key, value] : fields) absl::StrAppend(&line, ",", JsonQuote(key), ":", JsonQuote(value));
    line += "}\n";
  } else {
    static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    absl::StrAppend(&line, time, " ", kNames[static_cast<int>(level)], " [", component, "] ", text, "\n");
  }
  // One write per line so lines of concurrent threads do not interleave.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace chat
