// The load generator's HTTP/2 client: framing, flow control and the ends of a
// stream, on hand-built frames. (bench.Smoke runs it against the real chat-core.)
#include "h2_client.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chat/v1/chat.pb.h"

namespace chat::bench {
namespace {

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  uint32_t n = static_cast<uint32_t>(payload.size());
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  f.push_back(static_cast<char>(stream >> 24));
  f.push_back(static_cast<char>(stream >> 16));
  f.push_back(static_cast<char>(stream >> 8));
  f.push_back(static_cast<char>(stream));
  return f + payload;
}

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
}

std::string GrpcMessage(const std::string& bytes) { return std::string(1, '\0') + Be32(bytes.size()) + bytes; }

struct Collect : H2Stream::Sink {
  std::vector<std::string> messages;
  void OnMessage(std::string_view m) override { messages.emplace_back(m); }
};

// Parses a byte string of frames into (type, flags, stream, payload).
struct Parsed {
  uint8_t type, flags;
  uint32_t stream;
  std::string payload;
};
std::vector<Parsed> Frames(const std::string& bytes, size_t from = 0) {
  std::vector<Parsed> out;
  size_t p = from;
  while (bytes.size() - p >= 9) {
    auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[p + i])); };
    uint32_t len = (u(0) << 16) | (u(1) << 8) | u(2);
    Parsed f{static_cast<uint8_t>(u(3)), static_cast<uint8_t>(u(4)),
             ((u(5) << 24) | (u(6) << 16) | (u(7) << 8) | u(8)) & 0x7fffffffu, bytes.substr(p + 9, len)};
    out.push_back(f);
    p += 9 + len;
  }
  return out;
}

TEST(H2StreamTest, OpensWithPrefaceSettingsAndALiteralHeaderBlock) {
  H2Stream s;
  H2Stream::Options o;
  o.authority = "127.0.0.1:1";
  o.path = "/chat.v1.ChatService/Connect";
  o.metadata = {{"x-chat-user", "bob"}};
  std::string open = s.Open(o);
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  ASSERT_EQ(open.substr(0, preface.size()), preface);
  auto frames = Frames(open, preface.size());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].type, 4);  // SETTINGS
  EXPECT_EQ(frames[1].type, 8);  // WINDOW_UPDATE for the connection
  EXPECT_EQ(frames[2].type, 1);  // HEADERS
  EXPECT_EQ(frames[2].stream, 1u);
  EXPECT_EQ(frames[2].flags & 0x4, 0x4);  // END_HEADERS
  EXPECT_NE(frames[2].payload.find("/chat.v1.ChatService/Connect"), std::string::npos);
  EXPECT_NE(frames[2].payload.find("application/grpc"), std::string::npos);
  EXPECT_NE(frames[2].payload.find("x-chat-user"), std::string::npos);
}

TEST(H2StreamTest, ReassemblesMessagesAcrossFramesAndReads) {
  H2Stream s;
  s.Open({});
  std::string a = GrpcMessage("hello"), b = GrpcMessage(std::string(300, 'x'));
  // One DATA frame with a whole message and the start of the next, then the rest.
  std::string both = a + b;
  std::string wire = Frame(0, 0, 1, both.substr(0, 20)) + Frame(0, 0, 1, both.substr(20));
  Collect sink;
  std::string out;
  size_t used = 0;
  // Fed in two pieces, splitting a frame header.
  ASSERT_EQ(s.Feed(wire.data(), 13, &used, &out, &sink), H2Stream::Result::kOk);
  EXPECT_EQ(used, 0u);  // not even one whole frame yet
  ASSERT_EQ(s.Feed(wire.data(), wire.size(), &used, &out, &sink), H2Stream::Result::kOk);
  EXPECT_EQ(used, wire.size());
  ASSERT_EQ(sink.messages.size(), 2u);
  EXPECT_EQ(sink.messages[0], "hello");
  EXPECT_EQ(sink.messages[1], std::string(300, 'x'));
}

TEST(H2StreamTest, AnswersSettingsAndPingAndNeverOverrunsTheWindow) {
  H2Stream s;
  s.Open({});
  Collect sink;
  std::string out;
  size_t used;
  // The server's SETTINGS shrink our stream's send window to 100 bytes.
  std::string settings = Frame(4, 0, 0, std::string("\x00\x04", 2) + Be32(100));
  std::string ping = Frame(6, 0, 0, "12345678");
  std::string in = settings + ping;
  ASSERT_EQ(s.Feed(in.data(), in.size(), &used, &out, &sink), H2Stream::Result::kOk);
  auto replies = Frames(out);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].type, 4);
  EXPECT_EQ(replies[0].flags, 1);  // SETTINGS ACK
  EXPECT_EQ(replies[1].type, 6);
  EXPECT_EQ(replies[1].flags, 1);  // PING ACK
  EXPECT_EQ(replies[1].payload, "12345678");

  out.clear();
  s.SendMessage(std::string(60, 'a'), &out);  // 65 bytes framed: fits
  s.SendMessage(std::string(60, 'b'), &out);  // would exceed 100: queued
  EXPECT_EQ(Frames(out).size(), 1u);
  EXPECT_EQ(s.queued_messages(), 1u);
  out.clear();
  std::string wu = Frame(8, 0, 1, Be32(1000));
  ASSERT_EQ(s.Feed(wu.data(), wu.size(), &used, &out, &sink), H2Stream::Result::kOk);
  auto sent = Frames(out);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].type, 0);
  EXPECT_EQ(sent[0].payload, GrpcMessage(std::string(60, 'b')));
  EXPECT_EQ(s.queued_messages(), 0u);
}

TEST(H2StreamTest, ReturnsReceiveWindowAsItConsumes) {
  H2Stream s;
  H2Stream::Options o;
  o.window = 65535;
  s.Open(o);
  Collect sink;
  std::string out;
  size_t used;
  std::string in;
  for (int i = 0; i < 10; ++i) in += Frame(0, 0, 1, GrpcMessage(std::string(8000, 'z')));
  ASSERT_EQ(s.Feed(in.data(), in.size(), &used, &out, &sink), H2Stream::Result::kOk);
  EXPECT_EQ(sink.messages.size(), 10u);
  int updates = 0;
  for (const auto& f : Frames(out)) updates += f.type == 8;
  EXPECT_GE(updates, 2);  // stream and connection, at least once each
}

TEST(H2StreamTest, TrailersResetsAndGoawayEndTheStreamAndGarbageIsAnError) {
  struct Case {
    std::string wire;
    H2Stream::Result want;
  } cases[] = {
      {Frame(1, 0x1 | 0x4, 1, "\x88"), H2Stream::Result::kEnded},          // trailers-only
      {Frame(3, 0, 1, Be32(8)), H2Stream::Result::kEnded},                  // RST_STREAM CANCEL
      {Frame(7, 0, 0, Be32(0) + Be32(2)), H2Stream::Result::kEnded},        // GOAWAY
      {Frame(0, 0, 1, std::string("\x01", 1) + Be32(1) + "x"), H2Stream::Result::kError},  // compressed
      {Frame(6, 0, 0, "short"), H2Stream::Result::kError},                  // bad PING
      {std::string("\xff\xff\xff\x00\x00\x00\x00\x00\x01", 9), H2Stream::Result::kError},  // 16 MiB frame
  };
  for (const auto& c : cases) {
    H2Stream s;
    s.Open({});
    Collect sink;
    std::string out;
    size_t used;
    EXPECT_EQ(s.Feed(c.wire.data(), c.wire.size(), &used, &out, &sink), c.want);
    EXPECT_FALSE(s.reason().empty());
  }
}

TEST(H2StreamTest, ReadsTheKindOfAServerEventFromItsBytes) {
  chat::v1::ServerEvent joined;
  joined.mutable_joined()->set_room("lobby");
  chat::v1::ServerEvent message;
  message.set_ref("r");
  message.mutable_message()->set_room("lobby");
  message.mutable_message()->set_seq(7);
  message.mutable_message()->set_text("b|0|0|1|2|xx");
  std::string_view text;
  EXPECT_EQ(ServerEventKind(joined.SerializeAsString(), &text), 2);
  std::string bytes = message.SerializeAsString();
  EXPECT_EQ(ServerEventKind(bytes, &text), 4);
  EXPECT_EQ(text, "b|0|0|1|2|xx");
  EXPECT_EQ(ServerEventKind("\xff\xff", &text), 0);
}

TEST(H2StreamTest, UnpacksTheEventsOfABatchInOrder) {
  chat::v1::ServerEvent batch;
  for (int seq : {1, 2, 3}) {
    auto* m = batch.mutable_batch()->add_events()->mutable_message();
    m->set_seq(seq);
    m->set_text("t" + std::to_string(seq));
  }
  std::string bytes = batch.SerializeAsString();
  std::vector<std::string_view> events;
  ASSERT_TRUE(ServerEvents(bytes, &events));
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    std::string_view text;
    EXPECT_EQ(ServerEventKind(events[i], &text), 4);
    EXPECT_EQ(text, "t" + std::to_string(i + 1));
  }

  chat::v1::ServerEvent single;
  single.mutable_joined()->set_room("lobby");
  std::string one = single.SerializeAsString();
  ASSERT_TRUE(ServerEvents(one, &events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], one);

  // A batch whose inner bytes are cut short.
  std::string cut = bytes.substr(0, 2) + "\x0a\x7f";
  cut[1] = 2;
  EXPECT_FALSE(ServerEvents(cut, &events));
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace chat::bench
