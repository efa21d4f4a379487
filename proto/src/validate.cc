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

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
    return;
  }
  int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  static constexpr unsigned char kLead[] = {0, 0, 0xc0, 0xe0, 0xf0};
  out->push_back(static_cast<char>(kLead[n] | (cp >> (6 * (n - 1)))));
  for (int k = n - 2; k >= 0; --k) out->push_back(static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3f)));
}

int DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp) {
  const size_t n = s.size();
  unsigned char c = static_cast<unsigned char>(s[i]);
  int len;
  uint32_t v;
  uint32_t min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c < 0xC2) {
    return 0;  // a continuation byte, or an overlong two-byte form
  } else if (c < 0xE0) {
    len = 2;
    v = c & 0x1F;
    min = 0x80;
  } else if (c < 0xF0) {
    len = 3;
    v = c & 0x0F;
    min = 0x800;
  } else if (c < 0xF5) {
    len = 4;
    v = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > n) return 0;
  for (int k = 1; k < len; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    v = (v << 6) | (d & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp;
    int len = DecodeUtf8(s, i, &cp);
    if (len == 0) return false;
    i += static_cast<size_t>(len);
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
