// Input rules and limits shared by chat-core, ws-bridge and the CLI, so every part
// rejects the same things with the same words. Stateless, thread-safe.
#ifndef CHAT_PROTO_SRC_CHAT_VALIDATE_H_
#define CHAT_PROTO_SRC_CHAT_VALIDATE_H_

#include <cstddef>
#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace chat {

inline constexpr size_t kMaxRoomNameLength = 64;
inline constexpr size_t kMinUsernameLength = 3;
inline constexpr size_t kMaxUsernameLength = 32;
inline constexpr size_t kMinPasswordLength = 8;
inline constexpr size_t kMaxPasswordBytes = 1024;
inline constexpr size_t kMaxClientMsgIdBytes = 128;
inline constexpr size_t kMaxRefBytes = 128;
inline constexpr size_t kDefaultMaxTextBytes = 4096;
inline constexpr int kDefaultHistoryLimit = 50;
inline constexpr int kMaxHistoryLimit = 500;
// ListRooms pages: at most this many rooms; a request without a limit (0) gets
// this many, so a client that does not page sees every room up to it.
inline constexpr int kMaxRoomsPage = 1000;
// Largest gRPC message chat-core accepts (and the bridge's WebSocket frame limit).
inline constexpr int kMaxReceiveMessageBytes = 64 * 1024;

// 1-64 of [a-z0-9._-].
absl::Status ValidateRoomName(absl::string_view name);
// 3-32 of [a-zA-Z0-9_.-].
absl::Status ValidateUsername(absl::string_view name);
absl::Status ValidatePassword(absl::string_view password);
// Non-empty valid UTF-8, at most max_bytes.
absl::Status ValidateText(absl::string_view text, size_t max_bytes);
absl::Status ValidateClientMsgId(absl::string_view id);
bool IsValidUtf8(absl::string_view text);
// Decodes the UTF-8 sequence at s[i] into *cp and returns its length, or 0 if it
// is not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF
// included).
int DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp);
// Appends code point `cp` (at most U+10FFFF) as UTF-8.
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_VALIDATE_H_
