#include "tokens.h"

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chat/validate.h"

namespace chat::core {

std::string RandomBase64Url(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw.data(), raw.size());
  out.resize(out.find('\0'));
  return out;
}

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string out(bytes * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), raw.data(), raw.size());
  out.resize(bytes * 2);
  return out;
}

std::string PublicId(absl::string_view token_hash) {
  const size_t n = std::min<size_t>(8, token_hash.size());
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(token_hash.data()), n);
  out.resize(n * 2);
  return out;
}

absl::Status ValidateLabel(absl::string_view what, absl::string_view name, size_t max_bytes, bool may_be_empty) {
  if (name.empty() && !may_be_empty) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  if (name.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be at most ", max_bytes, " bytes"));
  }
  if (!IsValidUtf8(name)) return absl::InvalidArgumentError(absl::StrCat(what, " must be valid UTF-8"));
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    int len = DecodeUtf8(name, i, &cp);
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029) {
      return absl::InvalidArgumentError(absl::StrCat(what, " must not contain control characters"));
    }
    i += static_cast<size_t>(len);
  }
  return absl::OkStatus();
}

std::string CleanLabel(absl::string_view text, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    int len = DecodeUtf8(text, i, &cp);
    if (len == 0) {  // not UTF-8: one replacement character per bad byte
      cp = 0xFFFD;
      len = 1;
    } else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
      cp = ' ';
    }
    std::string one;
    AppendUtf8(cp, &one);
    if (out.size() + one.size() > max_bytes) break;
    out += one;
    i += static_cast<size_t>(len);
  }
  return out;
}

}  // namespace chat::core
