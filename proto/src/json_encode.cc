// The fast path of EncodeServerEvent, and JsonQuote (chat/json_codec.h).
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "chat/json_codec.h"
#include "chat/validate.h"

namespace chat {
namespace {

// ---------------------------------------------------------------------------
// Fast encoding of the frequent ServerEvents (message, member, typing, ack,
// joined, left, pong, error).
//
// The output is byte for byte what protobuf 3.21's MessageToJsonString prints
// for these messages with our options (lowerCamelCase names, defaults omitted,
// no whitespace, int64 as strings, enums by name, Timestamps in RFC 3339 with 0,
// 3, 6 or 9 fractional digits), including its string escaping: control
// characters, '"', '\\', '<', '>', DEL, C1 controls and a fixed list of
// invisible or bidi code points are written as \u escapes (surrogate pairs
// above the BMP). Anything else, and any string that is not valid UTF-8, is
// left to the library. tests/proto/json_codec_test.cc checks both agree.

constexpr char kHex[] = "0123456789abcdef";

void AppendU16Escape(uint32_t unit, std::string* out) {
  char b[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf], kHex[(unit >> 4) & 0xf],
               kHex[unit & 0xf]};
  out->append(b, 6);
}

// Does protobuf escape this code point (>= 0xa0)?
bool EscapedAbove9f(uint32_t cp) {
  switch (cp) {
    case 0x00ad:
    case 0x06dd:
    case 0x070f:
    case 0x17b4:
    case 0x17b5:
    case 0xfeff:
    case 0xfff9:
    case 0xfffa:
    case 0xfffb:
      return true;
    default:
      break;
  }
  return (cp >= 0x0600 && cp <= 0x0603) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x206a && cp <= 0x206f) || cp == 0xe0001 ||
         (cp >= 0x1d173 && cp <= 0x1d17a) || (cp >= 0xe0020 && cp <= 0xe007f);
}

// Appends `s` as a JSON string; false if it is not valid UTF-8.
bool AppendString(absl::string_view s, std::string* out) {
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t plain = 0;  // start of the run not yet copied
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>') {
      ++i;
      continue;
    }
    uint32_t cp;
    int len = DecodeUtf8(s, i, &cp);
    if (len == 0) return false;
    bool escape = cp < 0xa0 ? (cp < 0x20 || cp >= 0x7f || cp == '"' || cp == '\\' || cp == '<' || cp == '>')
                            : EscapedAbove9f(cp);
    if (!escape) {
      i += len;
      continue;
    }
    out->append(s.data() + plain, i - plain);
    switch (cp) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\t': out->append("\\t"); break;
      case '\n': out->append("\\n"); break;
      case '\f': out->append("\\f"); break;
      case '\r': out->append("\\r"); break;
      default:
        if (cp >= 0x10000) {
          uint32_t v = cp - 0x10000;
          AppendU16Escape(0xd800 + (v >> 10), out);
          AppendU16Escape(0xdc00 + (v & 0x3ff), out);
        } else {
          AppendU16Escape(cp, out);
        }
    }
    i += len;
    plain = i;
  }
  out->append(s.data() + plain, n - plain);
  out->push_back('"');
  return true;
}

// `s` byte by byte, for text that is not valid UTF-8.
void AppendBytes(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out->push_back(static_cast<char>(c));
    } else {
      AppendU16Escape(c, out);
    }
  }
  out->push_back('"');
}

void AppendDigits(uint64_t v, int width, std::string* out) {
  char b[20];
  int k = 0;
  do {
    b[k++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 || k < width);
  while (k > 0) out->push_back(b[--k]);
}

// RFC 3339 as protobuf writes it; false outside 1970..9999 (left to the library).
bool AppendTimestamp(const google::protobuf::Timestamp& t, std::string* out) {
  int64_t secs = t.seconds();
  int32_t nanos = t.nanos();
  if (secs < 0 || secs > 253402300799 || nanos < 0 || nanos > 999999999) return false;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  out->push_back('"');
  AppendDigits(static_cast<uint64_t>(y), 4, out);
  out->push_back('-');
  AppendDigits(static_cast<uint64_t>(m), 2, out);
  out->push_back('-');
  AppendDigits(static_cast<uint64_t>(d), 2, out);
  out->push_back('T');
  AppendDigits(static_cast<uint64_t>(rem / 3600), 2, out);
  out->push_back(':');
  AppendDigits(static_cast<uint64_t>(rem / 60 % 60), 2, out);
  out->push_back(':');
  AppendDigits(static_cast<uint64_t>(rem % 60), 2, out);
  if (nanos != 0) {
    out->push_back('.');
    if (nanos % 1000000 == 0) {
      AppendDigits(static_cast<uint64_t>(nanos / 1000000), 3, out);
    } else if (nanos % 1000 == 0) {
      AppendDigits(static_cast<uint64_t>(nanos / 1000), 6, out);
    } else {
      AppendDigits(static_cast<uint64_t>(nanos), 9, out);
    }
  }
  out->append("Z\"");
  return true;
}

// Writes the members of one JSON object, commas included.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  void Key(absl::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(key.data(), key.size());
    out_->append("\":");
  }
  bool String(absl::string_view key, const std::string& v) {
    if (v.empty()) return true;
    Key(key);
    return AppendString(v, out_);
  }
  void Int64(absl::string_view key, int64_t v) {
    if (v == 0) return;
    Key(key);
    out_->push_back('"');
    out_->append(absl::StrCat(v));
    out_->push_back('"');
  }
  void Int32(absl::string_view key, int32_t v) {
    if (v == 0) return;
    Key(key);
    out_->append(absl::StrCat(v));
  }
  template <typename Enum>
  bool EnumName(absl::string_view key, int v, const std::string& (*name)(Enum), bool (*valid)(int)) {
    if (v == 0) return true;
    if (!valid(v)) return false;  // an unknown value prints as a number: the library's business
    Key(key);
    out_->push_back('"');
    out_->append(name(static_cast<Enum>(v)));
    out_->push_back('"');
    return true;
  }
  bool Strings(absl::string_view key, const google::protobuf::RepeatedPtrField<std::string>& v) {
    if (v.empty()) return true;
    Key(key);
    out_->push_back('[');
    for (int i = 0; i < v.size(); ++i) {
      if (i > 0) out_->push_back(',');
      if (!AppendString(v.Get(i), out_)) return false;
    }
    out_->push_back(']');
    return true;
  }
  void Bool(absl::string_view key, bool v) {
    if (!v) return;
    Key(key);
    out_->append("true");
  }
  void End() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

bool FastEncode(const chat::v1::ServerEvent& ev, std::string* out) {
  using E = chat::v1::ServerEvent;
  out->reserve(96 + (ev.has_message() ? ev.message().text().size() + ev.message().room().size() : 0));
  ObjectWriter top(out);
  if (!top.String("ref", ev.ref())) return false;
  switch (ev.event_case()) {
    case E::kMessage: {
      const chat::v1::Message& m = ev.message();
      top.Key("message");
      ObjectWriter w(out);
      if (!w.String("room", m.room())) return false;
      w.Int64("seq", m.seq());
      if (!w.String("author", m.author()) || !w.String("text", m.text())) return false;
      if (m.has_sent_at()) {
        w.Key("sentAt");
        if (!AppendTimestamp(m.sent_at(), out)) return false;
      }
      if (!w.String("clientMsgId", m.client_msg_id())) return false;
      w.Bool("deleted", m.deleted());
      if (!w.EnumName("authorKind", m.author_kind(), &chat::v1::AccountKind_Name<chat::v1::AccountKind>,
                      &chat::v1::AccountKind_IsValid)) {
        return false;
      }
      w.End();
      break;
    }
    case E::kMember: {
      const chat::v1::MemberEvent& m = ev.member();
      top.Key("member");
      ObjectWriter w(out);
      if (!w.String("room", m.room()) || !w.String("user", m.user()) ||
          !w.EnumName("kind", m.kind(), &chat::v1::MemberEvent::Kind_Name<chat::v1::MemberEvent::Kind>,
                      &chat::v1::MemberEvent::Kind_IsValid)) {
        return false;
      }
      w.End();
      break;
    }
    case E::kJoined: {
      const chat::v1::Joined& j = ev.joined();
      top.Key("joined");
      ObjectWriter w(out);
      if (!w.String("room", j.room()) || !w.Strings("members", j.members())) return false;
      w.Int64("latestSeq", j.latest_seq());
      w.Int32("memberCount", j.member_count());
      w.End();
      break;
    }
    case E::kLeft: {
      top.Key("left");
      ObjectWriter w(out);
      if (!w.String("room", ev.left().room()) || !w.String("reason", ev.left().reason())) return false;
      w.End();
      break;
    }
    case E::kPong: {
      top.Key("pong");
      ObjectWriter w(out);
      w.Int64("nonce", ev.pong().nonce());
      w.End();
      break;
    }
    case E::kError: {
      const chat::v1::Error& e = ev.error();
      top.Key("error");
      ObjectWriter w(out);
      if (!w.EnumName("code", e.code(), &chat::v1::Error::Code_Name<chat::v1::Error::Code>,
                      &chat::v1::Error::Code_IsValid) ||
          !w.String("message", e.message()) || !w.String("event", e.event()) ||
          !w.String("clientMsgId", e.client_msg_id()) || !w.String("room", e.room())) {
        return false;
      }
      w.End();
      break;
    }
    case E::kTyping: {
      const chat::v1::TypingEvent& t = ev.typing();
      top.Key("typing");
      ObjectWriter w(out);
      if (!w.String("room", t.room()) || !w.String("user", t.user())) return false;
      w.Bool("active", t.active());
      w.End();
      break;
    }
    case E::kAck: {
      const chat::v1::Ack& a = ev.ack();
      top.Key("ack");
      ObjectWriter w(out);
      if (!w.String("room", a.room()) || !w.String("clientMsgId", a.client_msg_id())) return false;
      w.Int64("seq", a.seq());
      w.Bool("duplicate", a.duplicate());
      w.End();
      break;
    }
    default:
      return false;
  }
  top.End();
  return ev.GetReflection()->GetUnknownFields(ev).empty();
}

}  // namespace

bool EncodeServerEventFastPath(const chat::v1::ServerEvent& event, std::string* out) {
  out->clear();
  return FastEncode(event, out);
}

std::string JsonQuote(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  if (!AppendString(s, &out)) {
    out.clear();
    AppendBytes(s, &out);
  }
  return out;
}

}  // namespace chat
