#include "chat/validate.h"

#include "absl/strings/str_cat.h"

namespace chat {

absl::Status ValidateRoomName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxRoomNameLength;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      ok = false;
      break;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError("room name must be 1-64 characters of [a-z0-9._-]");
  }
  return absl::OkStatus();
}

absl::Status ValidateUsername(absl::string_view name) {
  bool ok = name.size() >= kMinUsernameLength && name.size() <= kMaxUsernameLength;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-')) {
      ok = false;
      break;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError("username must be 3-32 characters of [a-zA-Z0-9_.-]");
  }
  return absl::OkStatus();
}

absl::Status ValidatePassword(absl::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("password must be at least ", kMinPasswordLength, " characters"));
  }
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("password must be at most ", kMaxPasswordBytes, " bytes"));
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and out-of-range code points are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status ValidateText(absl::string_view text, size_t max_bytes) {
  if (text.empty()) return absl::InvalidArgumentError("text must not be empty");
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("text is ", text.size(), " bytes; the limit is ", max_bytes));
  }
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("text must be valid UTF-8");
  return absl::OkStatus();
}

absl::Status ValidateClientMsgId(absl::string_view id) {
  if (id.size() > kMaxClientMsgIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_msg_id must be at most ", kMaxClientMsgIdBytes, " bytes"));
  }
  if (!IsValidUtf8(id)) return absl::InvalidArgumentError("client_msg_id must be valid UTF-8");
  return absl::OkStatus();
}

}  // namespace chat
