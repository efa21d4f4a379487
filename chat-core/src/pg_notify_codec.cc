#include "pg_notify_codec.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chat/json_codec.h"
#include "chat/validate.h"

namespace chat::core {
namespace {

// The JSON this file reads: numbers are integers, objects have string keys.
struct Json {
  enum class Type { kNull, kBool, kInt, kString, kArray, kObject };
  Type type = Type::kNull;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<Json> items;
  // An object's keys and values, in order. Two vectors, not one of pairs:
  // std::pair<std::string, Json> needs Json complete, and it is not yet here
  // (libstdc++ accepts that under gcc, clang rejects it).
  std::vector<std::string> keys;
  std::vector<Json> values;

  const Json* Field(absl::string_view key) const {
    for (size_t n = 0; n < keys.size(); ++n) {
      if (keys[n] == key) return &values[n];
    }
    return nullptr;
  }
};

class Parser {
 public:
  explicit Parser(absl::string_view in) : in_(in) {}

  absl::StatusOr<Json> ParseAll() {
    Json v;
    if (!Value(v, 0)) return Error();
    Space();
    if (pos_ != in_.size()) return Error();
    return v;
  }

 private:
  absl::Status Error() const { return absl::InvalidArgumentError(absl::StrCat("bad JSON at byte ", pos_)); }

  void Space() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\n' || in_[pos_] == '\t' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    Space();
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool Value(Json& out, int depth) {
    if (depth > 8) return false;
    Space();
    if (pos_ >= in_.size()) return false;
    char c = in_[pos_];
    if (c == '[') {
      ++pos_;
      out.type = Json::Type::kArray;
      if (Eat(']')) return true;
      do {
        out.items.emplace_back();
        if (!Value(out.items.back(), depth + 1)) return false;
      } while (Eat(','));
      return Eat(']');
    }
    if (c == '{') {
      ++pos_;
      out.type = Json::Type::kObject;
      if (Eat('}')) return true;
      do {
        Json key;
        Space();
        if (!String(key.s) || !Eat(':')) return false;
        out.keys.push_back(std::move(key.s));
        out.values.emplace_back();
        if (!Value(out.values.back(), depth + 1)) return false;
      } while (Eat(','));
      return Eat('}');
    }
    if (c == '"') {
      out.type = Json::Type::kString;
      return String(out.s);
    }
    for (auto [word, type, b] : {std::tuple{"null", Json::Type::kNull, false}, {"true", Json::Type::kBool, true},
                                 {"false", Json::Type::kBool, false}}) {
      if (in_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        out.type = type;
        out.b = b;
        return true;
      }
    }
    size_t start = pos_;
    if (pos_ < in_.size() && in_[pos_] == '-') ++pos_;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
    out.type = Json::Type::kInt;
    return absl::SimpleAtoi(in_.substr(start, pos_ - start), &out.i);
  }

  bool Hex4(uint32_t& v) {
    if (pos_ + 4 > in_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = in_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else return false;
    }
    return true;
  }

  bool String(std::string& out) {
    if (pos_ >= in_.size() || in_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < in_.size()) {
      char c = in_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return false;
      char e = in_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out.push_back(e); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            uint32_t low;
            if (pos_ + 2 > in_.size() || in_[pos_] != '\\' || in_[pos_ + 1] != 'u') return false;
            pos_ += 2;
            if (!Hex4(low) || low < 0xDC00 || low >= 0xE000) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return false;
          }
          AppendUtf8(cp, &out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

bool IsInt(const Json& v) { return v.type == Json::Type::kInt; }
bool IsString(const Json& v) { return v.type == Json::Type::kString; }

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed ", what, " notification"));
}

}  // namespace

absl::StatusOr<MessagesNote> ParseMessagesNote(absl::string_view payload) {
  auto json = Parser(payload).ParseAll();
  if (!json.ok()) return json.status();
  const Json* room = json->Field("r");
  const Json* list = json->Field("m");
  const Json* to = json->Field("to");
  if (room == nullptr || !IsInt(*room)) return Malformed("message");
  MessagesNote note;
  note.room_id = room->i;
  if (to != nullptr && IsInt(*to) && list == nullptr) {
    note.fetch_up_to = to->i;
    return note;
  }
  if (list == nullptr || list->type != Json::Type::kArray) return Malformed("message");
  for (const Json& m : list->items) {
    if (m.type != Json::Type::kArray || m.items.empty() || !IsInt(m.items[0])) return Malformed("message");
    if (m.items.size() == 1) {
      note.fetch_up_to = std::max(note.fetch_up_to, m.items[0].i);
      continue;
    }
    if ((m.items.size() != 5 && m.items.size() != 6) || !IsString(m.items[1]) || !IsString(m.items[2]) ||
        !IsInt(m.items[3]) || !IsString(m.items[4])) {
      return Malformed("message");
    }
    StoredMessage msg{note.room_id, m.items[0].i, m.items[1].s, m.items[2].s, m.items[3].i, m.items[4].s};
    if (m.items.size() == 6) {
      // The author's kind (schema 5 writes it for bots only).
      const Json& kind = m.items[5];
      if (!IsInt(kind) || (kind.i != static_cast<int>(AccountKind::kUser) &&
                           kind.i != static_cast<int>(AccountKind::kBot))) {
        return Malformed("message");
      }
      msg.author_kind = static_cast<AccountKind>(kind.i);
    }
    note.messages.push_back(std::move(msg));
  }
  return note;
}

absl::StatusOr<RoomRecord> ParseRoomNote(absl::string_view payload) {
  auto json = Parser(payload).ParseAll();
  if (!json.ok()) return json.status();
  const auto& v = json->items;
  if (json->type != Json::Type::kArray || (v.size() != 4 && v.size() != 6) || !IsInt(v[0]) || !IsString(v[1]) ||
      !IsInt(v[2]) || !IsString(v[3])) {
    return Malformed("room");
  }
  RoomRecord room;
  room.id = v[0].i;
  room.name = v[1].s;
  room.created_at_ms = v[2].i;
  room.created_by = v[3].s;
  if (v.size() == 6) {
    if (!IsInt(v[4]) || !IsString(v[5]) || v[4].i < static_cast<int>(RoomKind::kPublic) ||
        v[4].i > static_cast<int>(RoomKind::kDirect)) {
      return Malformed("room");
    }
    room.kind = static_cast<RoomKind>(v[4].i);
    room.topic = v[5].s;
  }
  return room;
}

std::string PresenceNotePayload(const PresenceRecord& who, bool present) {
  return absl::StrCat("[", JsonQuote(who.node), ",", who.room_id, ",", JsonQuote(who.user), ",", present ? 1 : 0,
                      "]");
}

std::string TypingNotePayload(const PresenceRecord& who, bool active) { return PresenceNotePayload(who, active); }

std::string NodeGonePayload(const std::string& node) { return absl::StrCat("[", JsonQuote(node), "]"); }

absl::StatusOr<PresenceNote> ParsePresenceNote(absl::string_view payload) {
  auto json = Parser(payload).ParseAll();
  if (!json.ok()) return json.status();
  const auto& v = json->items;
  if (json->type != Json::Type::kArray || v.empty() || !IsString(v[0])) return Malformed("presence");
  PresenceNote note;
  note.who.node = v[0].s;
  if (v.size() == 1) {
    note.node_gone = true;
    return note;
  }
  if (v.size() != 4 || !IsInt(v[1]) || !IsString(v[2]) || !IsInt(v[3])) return Malformed("presence");
  note.who.room_id = v[1].i;
  note.who.user = v[2].s;
  note.present = v[3].i != 0;
  return note;
}

}  // namespace chat::core
