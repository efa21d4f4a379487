// The fast path of DecodeClientEvent (chat/json_codec.h).
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "chat/json_codec.h"
#include "chat/validate.h"

namespace chat {
namespace {

// ---------------------------------------------------------------------------
// Fast decoding of the frequent ClientEvents (send, join, leave, typing, ping)
// in their plain shapes. Whatever it is not sure about (another event, a
// duplicate or unknown key, null, a number with a fraction or exponent, a
// leading zero, an escape outside the BMP rules, invalid UTF-8, two events) is
// left to the library, which also writes the error messages. So for every
// input it accepts, the result is what JsonStringToMessage gives.

class Reader {
 public:
  explicit Reader(absl::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void Space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Eat(char c) {
    Space();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    Space();
    return p_ == end_;
  }
  bool Peek(char c) {
    Space();
    return p_ < end_ && *p_ == c;
  }

  bool String(std::string* out) {
    if (!Eat('"')) return false;
    out->clear();
    const char* run = p_;
    while (p_ < end_) {
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out->append(run, p_ - run);
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        out->append(run, p_ - run);
        if (!Escape(out)) return false;
        run = p_;
        continue;
      }
      if (c >= 0x80) {
        uint32_t cp;
        int len = DecodeUtf8(absl::string_view(p_, static_cast<size_t>(end_ - p_)), 0, &cp);
        if (len == 0) return false;
        p_ += len;
        continue;
      }
      ++p_;
    }
    return false;
  }

  // A JSON integer, or a string holding one, as protobuf's int64 parsing accepts.
  bool Int64(int64_t* out) {
    Space();
    bool quoted = p_ < end_ && *p_ == '"';
    if (quoted) ++p_;
    bool neg = p_ < end_ && *p_ == '-';
    if (neg) ++p_;
    const char* digits = p_;
    uint64_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + static_cast<uint64_t>(*p_ - '0');
      ++p_;
    }
    size_t nd = static_cast<size_t>(p_ - digits);
    if (nd == 0 || nd > 19 || (nd > 1 && *digits == '0')) return false;
    if (quoted) {
      if (p_ >= end_ || *p_ != '"') return false;
      ++p_;
    } else if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
      return false;
    }
    if (neg ? v > uint64_t{1} << 63 : v > uint64_t{INT64_MAX}) return false;
    if (neg && v == 0) return false;  // "-0": let the library decide
    *out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return true;
  }

  bool Bool(bool* out) {
    Space();
    if (end_ - p_ >= 4 && std::memcmp(p_, "true", 4) == 0) {
      p_ += 4;
      *out = true;
    } else if (end_ - p_ >= 5 && std::memcmp(p_, "false", 5) == 0) {
      p_ += 5;
      *out = false;
    } else {
      return false;
    }
    return p_ == end_ || !IsWordChar(*p_);
  }

 private:
  static bool IsWordChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Hex4(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexValue(p_[i]);
      if (h < 0) return false;
      *v = (*v << 4) | static_cast<uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // At a backslash inside a string.
  bool Escape(std::string* out) {
    ++p_;
    if (p_ >= end_) return false;
    char c = *p_++;
    switch (c) {
      case '"': out->push_back('"'); return true;
      case '\\': out->push_back('\\'); return true;
      case '/': out->push_back('/'); return true;
      case 'b': out->push_back('\b'); return true;
      case 'f': out->push_back('\f'); return true;
      case 'n': out->push_back('\n'); return true;
      case 'r': out->push_back('\r'); return true;
      case 't': out->push_back('\t'); return true;
      case 'u': {
        uint32_t u;
        if (!Hex4(&u)) return false;
        if (u >= 0xdc00 && u <= 0xdfff) return false;  // a lone low surrogate
        if (u >= 0xd800 && u <= 0xdbff) {
          uint32_t lo;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!Hex4(&lo) || lo < 0xdc00 || lo > 0xdfff) return false;
          u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        }
        AppendUtf8(u, out);
        return true;
      }
      default:
        return false;
    }
  }

  const char* p_;
  const char* end_;
};

// Reads {"key": value, ...} calling member(key) for each; member returns false
// to give up. Keys are matched exactly (both JSON and proto field names are
// listed by the callers); each may appear once.
template <typename Member>
bool ReadObject(Reader& r, Member member) {
  if (!r.Eat('{')) return false;
  if (r.Eat('}')) return true;
  std::string key;
  do {
    if (!r.String(&key) || !r.Eat(':') || !member(key)) return false;
  } while (r.Eat(','));
  return r.Eat('}');
}

// Marks a field as seen; false if it was seen already.
bool Once(uint32_t* seen, int bit) {
  if (*seen & (1u << bit)) return false;
  *seen |= 1u << bit;
  return true;
}

bool FastDecode(absl::string_view json, chat::v1::ClientEvent* ev) {
  Reader r(json);
  uint32_t seen = 0;
  int events = 0;
  std::string s;
  bool ok = ReadObject(r, [&](const std::string& key) {
    if (key == "ref") {
      return Once(&seen, 0) && r.String(ev->mutable_ref());
    }
    if (r.Peek('n')) return false;  // null
    ++events;
    uint32_t inner = 0;
    if (key == "send") {
      auto* m = ev->mutable_send();
      return Once(&seen, 1) && ReadObject(r, [&](const std::string& k) {
               if (k == "room") return Once(&inner, 0) && r.String(m->mutable_room());
               if (k == "text") return Once(&inner, 1) && r.String(m->mutable_text());
               if (k == "clientMsgId" || k == "client_msg_id") {
                 return Once(&inner, 2) && r.String(m->mutable_client_msg_id());
               }
               return false;
             });
    }
    if (key == "join") {
      auto* m = ev->mutable_join();
      return Once(&seen, 2) && ReadObject(r, [&](const std::string& k) {
               if (k == "room") return Once(&inner, 0) && r.String(m->mutable_room());
               if (k == "sinceSeq" || k == "since_seq") {
                 int64_t v;
                 if (!Once(&inner, 1) || !r.Int64(&v)) return false;
                 m->set_since_seq(v);
                 return true;
               }
               return false;
             });
    }
    if (key == "leave") {
      auto* m = ev->mutable_leave();
      return Once(&seen, 3) && ReadObject(r, [&](const std::string& k) {
               return k == "room" && Once(&inner, 0) && r.String(m->mutable_room());
             });
    }
    if (key == "typing") {
      auto* m = ev->mutable_typing();
      return Once(&seen, 4) && ReadObject(r, [&](const std::string& k) {
               if (k == "room") return Once(&inner, 0) && r.String(m->mutable_room());
               if (k == "active") {
                 bool v;
                 if (!Once(&inner, 1) || !r.Bool(&v)) return false;
                 m->set_active(v);
                 return true;
               }
               return false;
             });
    }
    if (key == "ping") {
      auto* m = ev->mutable_ping();
      return Once(&seen, 5) && ReadObject(r, [&](const std::string& k) {
               int64_t v;
               if (k != "nonce" || !Once(&inner, 0) || !r.Int64(&v)) return false;
               m->set_nonce(v);
               return true;
             });
    }
    return false;
  });
  return ok && events == 1 && r.AtEnd();
}

}  // namespace

bool DecodeClientEventFastPath(absl::string_view json, chat::v1::ClientEvent* event) {
  return FastDecode(json, event);
}

}  // namespace chat
