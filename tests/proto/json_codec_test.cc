// The hand-written JSON paths against protobuf's own JSON library: for every
// event they handle they must give exactly the library's result, and they must
// hand everything they are unsure of to the library.
#include "chat/json_codec.h"
#include "chat/validate.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"

namespace chat {
namespace {

std::string Utf8(uint32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return s;
}

// Code points around every rule of protobuf's escaping, plus ordinary text.
std::vector<uint32_t> InterestingCodePoints() {
  std::vector<uint32_t> cps;
  for (uint32_t c = 0; c < 0x100; ++c) cps.push_back(c);
  for (uint32_t lo : {0x5ffu, 0x600u, 0x603u, 0x604u, 0x6dcu, 0x6ddu, 0x6deu, 0x70eu, 0x70fu, 0x710u, 0x17b3u,
                      0x17b4u, 0x17b5u, 0x17b6u, 0x200au, 0x200bu, 0x200fu, 0x2010u, 0x2027u, 0x2028u, 0x202eu,
                      0x202fu, 0x205fu, 0x2060u, 0x2064u, 0x2065u, 0x2069u, 0x206au, 0x206fu, 0x2070u, 0x4e2du,
                      0xd7ffu, 0xe000u, 0xfefeu, 0xfeffu, 0xff00u, 0xfff8u, 0xfff9u, 0xfffbu, 0xfffcu, 0xfffdu,
                      0xffffu, 0x10000u, 0x1d172u, 0x1d173u, 0x1d17au, 0x1d17bu, 0x1f600u, 0x1f9ffu, 0xe0000u,
                      0xe0001u, 0xe0002u, 0xe001fu, 0xe0020u, 0xe007fu, 0xe0080u, 0x10fffdu, 0x10ffffu}) {
    cps.push_back(lo);
  }
  return cps;
}

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed), cps_(InterestingCodePoints()) {}

  std::string Text(int max_len) {
    int n = Int(0, max_len);
    std::string s;
    for (int i = 0; i < n; ++i) {
      switch (Int(0, 3)) {
        case 0:
          s += Utf8(cps_[Int(0, static_cast<int>(cps_.size()) - 1)]);
          break;
        default:
          s.push_back(static_cast<char>(Int(0x20, 0x7e)));
      }
    }
    return s;
  }
  std::string Word() { return Int(0, 4) == 0 ? "" : "r" + std::to_string(Int(0, 99)); }
  int64_t Seq() {
    switch (Int(0, 3)) {
      case 0: return 0;
      case 1: return Int(1, 1000);
      case 2: return std::uniform_int_distribution<int64_t>(INT64_MIN, INT64_MAX)(rng_);
      default: return (int64_t{1} << Int(0, 62)) + Int(-1, 1);
    }
  }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Coin() { return Int(0, 1) == 1; }

 private:
  std::mt19937 rng_;
  std::vector<uint32_t> cps_;
};

chat::v1::ServerEvent RandomServerEvent(Gen& g) {
  chat::v1::ServerEvent ev;
  if (g.Int(0, 3) == 0) ev.set_ref(g.Text(6));
  switch (g.Int(0, 7)) {
    case 4: {
      auto* j = ev.mutable_joined();
      j->set_room(g.Word());
      for (int i = g.Int(0, 4); i > 0; --i) j->add_members(g.Text(6));
      j->set_latest_seq(g.Seq());
      j->set_member_count(g.Int(0, 3) == 0 ? 0 : g.Int(-5, 100000));
      break;
    }
    case 5:
      ev.mutable_left()->set_room(g.Word());
      if (g.Coin()) ev.mutable_left()->set_reason(g.Text(12));
      break;
    case 6:
      ev.mutable_pong()->set_nonce(g.Seq());
      break;
    case 7: {
      auto* e = ev.mutable_error();
      e->set_code(static_cast<chat::v1::Error::Code>(g.Int(0, 16)));
      e->set_message(g.Text(20));
      e->set_event(g.Word());
      e->set_client_msg_id(g.Text(5));
      e->set_room(g.Word());
      break;
    }
    case 0: {
      auto* m = ev.mutable_message();
      m->set_room(g.Word());
      m->set_seq(g.Seq());
      m->set_author(g.Text(8));
      m->set_text(g.Text(40));
      if (g.Int(0, 5) != 0) {
        auto* t = m->mutable_sent_at();
        t->set_seconds(g.Int(0, 3) == 0 ? g.Int(0, 100) : int64_t{1700000000} + g.Int(0, 1 << 30) * int64_t{100});
        static const int kNanos[] = {0, 123000000, 456000, 789, 999999999, 1000000, 1000, 1};
        t->set_nanos(kNanos[g.Int(0, 7)]);
      }
      m->set_client_msg_id(g.Text(10));
      m->set_deleted(g.Int(0, 4) == 0);
      // Mostly unset (a user's), sometimes BOT, now and then USER.
      static const chat::v1::AccountKind kKinds[] = {chat::v1::ACCOUNT_KIND_UNSPECIFIED,
                                                     chat::v1::ACCOUNT_KIND_UNSPECIFIED, chat::v1::ACCOUNT_KIND_BOT,
                                                     chat::v1::ACCOUNT_KIND_USER};
      m->set_author_kind(kKinds[g.Int(0, 3)]);
      break;
    }
    case 1: {
      auto* m = ev.mutable_member();
      m->set_room(g.Word());
      m->set_user(g.Text(8));
      m->set_kind(static_cast<chat::v1::MemberEvent::Kind>(g.Int(0, 2)));
      break;
    }
    case 2: {
      auto* t = ev.mutable_typing();
      t->set_room(g.Word());
      t->set_user(g.Text(8));
      t->set_active(g.Coin());
      break;
    }
    default: {
      auto* a = ev.mutable_ack();
      a->set_room(g.Word());
      a->set_client_msg_id(g.Text(10));
      a->set_seq(g.Seq());
      a->set_duplicate(g.Coin());
    }
  }
  return ev;
}

TEST(JsonCodecTest, FastEncodingIsByteForByteTheLibrarys) {
  Gen g(1);
  for (int i = 0; i < 20000; ++i) {
    chat::v1::ServerEvent ev = RandomServerEvent(g);
    std::string fast;
    ASSERT_TRUE(EncodeServerEventFastPath(ev, &fast)) << ev.DebugString();
    ASSERT_EQ(fast, ToJson(ev)) << ev.DebugString();
  }
}

TEST(JsonCodecTest, ABotsMessageSaysSoAndAUsersSaysNothing) {
  chat::v1::ServerEvent ev;
  auto* m = ev.mutable_message();
  m->set_room("ops");
  m->set_seq(7);
  m->set_author("ci-bot");
  m->set_text("build green");
  m->set_author_kind(chat::v1::ACCOUNT_KIND_BOT);
  std::string fast;
  ASSERT_TRUE(EncodeServerEventFastPath(ev, &fast));
  EXPECT_EQ(fast, R"({"message":{"room":"ops","seq":"7","author":"ci-bot","text":"build green",)"
                  R"("authorKind":"ACCOUNT_KIND_BOT"}})");
  EXPECT_EQ(fast, ToJson(ev));
  m->clear_author_kind();
  ASSERT_TRUE(EncodeServerEventFastPath(ev, &fast));
  EXPECT_EQ(fast.find("authorKind"), std::string::npos) << fast;
}

TEST(JsonCodecTest, EveryEscapedCodePointMatchesTheLibrary) {
  for (uint32_t cp : InterestingCodePoints()) {
    chat::v1::ServerEvent ev;
    ev.mutable_message()->set_text("a" + Utf8(cp) + "b");
    std::string fast;
    ASSERT_TRUE(EncodeServerEventFastPath(ev, &fast)) << cp;
    EXPECT_EQ(fast, ToJson(ev)) << "U+" << std::hex << cp;
  }
}

TEST(JsonCodecTest, EncodingLeavesWhatItDoesNotKnowToTheLibrary) {
  std::string out;
  chat::v1::ServerEvent invalid_utf8;
  invalid_utf8.mutable_message()->set_text(std::string("a\xff", 2));
  EXPECT_FALSE(EncodeServerEventFastPath(invalid_utf8, &out));

  chat::v1::ServerEvent history;
  history.mutable_history()->set_room("lobby");
  EXPECT_FALSE(EncodeServerEventFastPath(history, &out));
  EXPECT_EQ(EncodeServerEvent(history), ToJson(history));

  chat::v1::ServerEvent unknown_enum;
  unknown_enum.mutable_member()->set_kind(static_cast<chat::v1::MemberEvent::Kind>(7));
  EXPECT_FALSE(EncodeServerEventFastPath(unknown_enum, &out));
  EXPECT_EQ(EncodeServerEvent(unknown_enum), ToJson(unknown_enum));

  chat::v1::ServerEvent unknown_author_kind;
  unknown_author_kind.mutable_message()->set_author_kind(static_cast<chat::v1::AccountKind>(9));
  EXPECT_FALSE(EncodeServerEventFastPath(unknown_author_kind, &out));
  EXPECT_EQ(EncodeServerEvent(unknown_author_kind), ToJson(unknown_author_kind));

  chat::v1::ServerEvent before_1970;
  before_1970.mutable_message()->mutable_sent_at()->set_seconds(-5);
  EXPECT_FALSE(EncodeServerEventFastPath(before_1970, &out));
  EXPECT_EQ(EncodeServerEvent(before_1970), ToJson(before_1970));
}

// Renders a ClientEvent the way a browser might: either name for each field,
// keys in any order, optional whitespace, escapes where a string allows them,
// int64 as a string or a number.
std::string Escaped(Gen& g, const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c < 0x80 && g.Int(0, 9) == 0) {
      if (c == '/' && g.Coin()) {
        out += "\\/";
      } else {
        char buf[8];
        std::snprintf(buf, sizeof buf, g.Coin() ? "\\u%04x" : "\\u%04X", c);
        out += buf;
      }
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string Ws(Gen& g) {
  static const char* kWs[] = {"", "", "", " ", "\n", "\t ", "\r\n  "};
  return kWs[g.Int(0, 6)];
}

std::string Obj(Gen& g, std::vector<std::string> members) {
  std::shuffle(members.begin(), members.end(), std::mt19937(g.Int(0, 1 << 30)));
  std::string out = "{" + Ws(g);
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += "," + Ws(g);
    out += members[i] + Ws(g);
  }
  return out + "}";
}

std::string Key(Gen& g, const std::string& json_name, const std::string& proto_name) {
  return "\"" + (g.Coin() ? json_name : proto_name) + "\"" + Ws(g) + ":" + Ws(g);
}

std::string Int64Json(Gen& g, int64_t v) {
  return g.Coin() ? "\"" + std::to_string(v) + "\"" : std::to_string(v);
}

std::string RandomClientEventJson(Gen& g) {
  std::vector<std::string> top;
  if (g.Coin()) top.push_back(Key(g, "ref", "ref") + Escaped(g, g.Text(5)));
  std::vector<std::string> m;
  switch (g.Int(0, 4)) {
    case 0:
      if (g.Int(0, 5)) m.push_back(Key(g, "room", "room") + Escaped(g, g.Word()));
      if (g.Int(0, 5)) m.push_back(Key(g, "text", "text") + Escaped(g, g.Text(30)));
      if (g.Int(0, 5)) m.push_back(Key(g, "clientMsgId", "client_msg_id") + Escaped(g, g.Text(8)));
      top.push_back(Key(g, "send", "send") + Obj(g, m));
      break;
    case 1:
      if (g.Int(0, 5)) m.push_back(Key(g, "room", "room") + Escaped(g, g.Word()));
      if (g.Coin()) m.push_back(Key(g, "sinceSeq", "since_seq") + Int64Json(g, g.Seq()));
      top.push_back(Key(g, "join", "join") + Obj(g, m));
      break;
    case 2:
      if (g.Int(0, 5)) m.push_back(Key(g, "room", "room") + Escaped(g, g.Word()));
      top.push_back(Key(g, "leave", "leave") + Obj(g, m));
      break;
    case 3:
      if (g.Int(0, 5)) m.push_back(Key(g, "room", "room") + Escaped(g, g.Word()));
      if (g.Coin()) m.push_back(Key(g, "active", "active") + (g.Coin() ? "true" : "false"));
      top.push_back(Key(g, "typing", "typing") + Obj(g, m));
      break;
    default:
      if (g.Coin()) m.push_back(Key(g, "nonce", "nonce") + Int64Json(g, g.Seq()));
      top.push_back(Key(g, "ping", "ping") + Obj(g, m));
  }
  return Ws(g) + Obj(g, top) + Ws(g);
}

// The contract: if the fast path accepts an input, the library accepts it too
// and reads the same event.
void ExpectAgrees(const std::string& json, bool must_accept) {
  chat::v1::ClientEvent fast;
  bool accepted = DecodeClientEventFastPath(json, &fast);
  if (must_accept) {
    ASSERT_TRUE(accepted) << json;
  }
  if (!accepted) return;
  chat::v1::ClientEvent slow;
  absl::Status st = FromJson(json, &slow);
  ASSERT_TRUE(st.ok()) << json << ": " << st;
  ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fast, slow))
      << json << "\nfast: " << fast.DebugString() << "\nlibrary: " << slow.DebugString();
}

TEST(JsonCodecTest, FastDecodingReadsWhatTheLibraryReads) {
  Gen g(2);
  for (int i = 0; i < 20000; ++i) ExpectAgrees(RandomClientEventJson(g), /*must_accept=*/true);
}

TEST(JsonCodecTest, FastDecodingNeverDisagreesOnMangledInput) {
  Gen g(3);
  for (int i = 0; i < 30000; ++i) {
    std::string json = RandomClientEventJson(g);
    int edits = g.Int(1, 3);
    for (int e = 0; e < edits && !json.empty(); ++e) {
      size_t at = static_cast<size_t>(g.Int(0, static_cast<int>(json.size()) - 1));
      static const char kBytes[] = "{}[]\",:\\ nu0-1.e+tfx\x80\xff";
      switch (g.Int(0, 2)) {
        case 0: json[at] = kBytes[g.Int(0, sizeof kBytes - 2)]; break;
        case 1: json.erase(at, 1); break;
        default: json.insert(at, 1, kBytes[g.Int(0, sizeof kBytes - 2)]);
      }
    }
    ExpectAgrees(json, /*must_accept=*/false);
  }
}

TEST(JsonCodecTest, FastDecodingDefersTheHardCases) {
  const char* kCases[] = {
      R"({"send":{"room":"a","room":"b"}})",             // duplicate key
      R"({"send":{"room":"a","text":"x"},"ping":{}})",   // two events
      R"({"send":null})",
      R"({"send":{"room":null}})",
      R"({"send":{"rooom":"a"}})",
      R"({"join":{"sinceSeq":"007"}})",
      R"({"join":{"sinceSeq":1.0}})",
      R"({"join":{"sinceSeq":1e3}})",
      R"({"join":{"sinceSeq":"9223372036854775808"}})",
      R"({"join":{"sinceSeq":-0}})",
      R"({"send":{"text":"\ud800"}})",                   // lone surrogate
      R"({"send":{"text":"\udc00"}})",
      "{\"send\":{\"text\":\"\xc3\x28\"}}",              // invalid UTF-8
      "{\"send\":{\"text\":\"a\tb\"}}",                  // raw control character
      R"({"send":{"text":"x"}} trailing)",
      R"({})",
      R"({"history":{"room":"a"}})",
      R"({"typing":{"active":"true"}})",
      R"({"typing":{"active":truex}})",
  };
  for (const char* json : kCases) {
    chat::v1::ClientEvent ev;
    EXPECT_FALSE(DecodeClientEventFastPath(json, &ev)) << json;
  }
  // And the full decoder still answers them like the library does.
  EXPECT_FALSE(DecodeClientEvent(R"({"send":{"rooom":"a"}})").ok());
  auto history = DecodeClientEvent(R"({"history":{"room":"a","limit":5}})");
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->history().limit(), 5);
}

TEST(JsonCodecTest, DecodesTheCommonShapes) {
  auto ev = DecodeClientEvent(R"({"ref":"2","send":{"room":"lobby","text":"h\u00e9 \"x\" \ud83d\ude00","clientMsgId":"c-7"}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->ref(), "2");
  EXPECT_EQ(ev->send().text(), "h\xc3\xa9 \"x\" \xf0\x9f\x98\x80");
  EXPECT_EQ(ev->send().client_msg_id(), "c-7");
  auto join = DecodeClientEvent(R"({"join":{"room":"lobby","since_seq":"41"}})");
  ASSERT_TRUE(join.ok());
  EXPECT_TRUE(join->join().has_since_seq());
  EXPECT_EQ(join->join().since_seq(), 41);
}

}  // namespace
}  // namespace chat
