#include "h2_client.h"

#include <algorithm>
#include <cstring>

namespace chat::bench {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kFrameHeader = 9;
// The largest frame this client accepts (HTTP/2's default SETTINGS_MAX_FRAME_SIZE).
constexpr uint32_t kMaxFrame = 16384;
constexpr uint32_t kMaxMessage = 16u << 20;

enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
constexpr uint8_t kEndStream = 0x1;
constexpr uint8_t kAck = 0x1;
constexpr uint8_t kEndHeaders = 0x4;
constexpr uint8_t kPadded = 0x8;

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

void PutBe32(uint32_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

void FrameHeader(uint32_t length, uint8_t type, uint8_t flags, uint32_t stream, std::string* out) {
  out->push_back(static_cast<char>(length >> 16));
  out->push_back(static_cast<char>(length >> 8));
  out->push_back(static_cast<char>(length));
  out->push_back(static_cast<char>(type));
  out->push_back(static_cast<char>(flags));
  PutBe32(stream & 0x7fffffffu, out);
}

void WindowUpdate(uint32_t stream, uint32_t increment, std::string* out) {
  FrameHeader(4, kWindowUpdate, 0, stream, out);
  PutBe32(increment, out);
}

// HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` holds the pattern bits.
void HpackInt(uint32_t v, int prefix_bits, uint8_t first, std::string* out) {
  uint32_t max = (1u << prefix_bits) - 1;
  if (v < max) {
    out->push_back(static_cast<char>(first | v));
    return;
  }
  out->push_back(static_cast<char>(first | max));
  v -= max;
  while (v >= 128) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void HpackString(std::string_view s, std::string* out) {
  HpackInt(static_cast<uint32_t>(s.size()), 7, 0x00, out);  // no Huffman
  out->append(s.data(), s.size());
}

// Literal header field without indexing: by static-table name index, or with a
// literal name (index 0).
void HpackLiteral(uint32_t name_index, std::string_view name, std::string_view value, std::string* out) {
  HpackInt(name_index, 4, 0x00, out);
  if (name_index == 0) HpackString(name, out);
  HpackString(value, out);
}

bool ReadVarint(const unsigned char*& p, const unsigned char* end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    unsigned char b = *p++;
    *v |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Calls fn(field, wire_type, bytes) for each field; false if malformed.
template <typename Fn>
bool ForEachField(std::string_view msg, Fn fn) {
  const auto* p = reinterpret_cast<const unsigned char*>(msg.data());
  const auto* end = p + msg.size();
  while (p < end) {
    uint64_t key;
    if (!ReadVarint(p, end, &key)) return false;
    int field = static_cast<int>(key >> 3);
    int wt = static_cast<int>(key & 7);
    uint64_t v;
    switch (wt) {
      case 0:
        if (!ReadVarint(p, end, &v)) return false;
        fn(field, wt, std::string_view());
        break;
      case 1:
        if (end - p < 8) return false;
        p += 8;
        break;
      case 2:
        if (!ReadVarint(p, end, &v) || v > static_cast<uint64_t>(end - p)) return false;
        fn(field, wt, std::string_view(reinterpret_cast<const char*>(p), v));
        p += v;
        break;
      case 5:
        if (end - p < 4) return false;
        p += 4;
        break;
      default:
        return false;
    }
  }
  return true;
}

}  // namespace

std::string H2Stream::Open(const Options& options) {
  window_ = std::max<uint32_t>(65535, std::min<uint32_t>(options.window, 0x7fffffffu));
  std::string out(kPreface, sizeof kPreface - 1);
  // SETTINGS: ENABLE_PUSH = 0, INITIAL_WINDOW_SIZE = window_.
  FrameHeader(12, kSettings, 0, 0, &out);
  out.append("\x00\x02", 2);
  PutBe32(0, &out);
  out.append("\x00\x04", 2);
  PutBe32(window_, &out);
  if (window_ > 65535) WindowUpdate(0, window_ - 65535, &out);

  std::string block;
  block.push_back(static_cast<char>(0x83));  // :method POST (static index 3)
  block.push_back(static_cast<char>(0x86));  // :scheme http (static index 6)
  HpackLiteral(4, "", options.path, &block);        // :path
  HpackLiteral(1, "", options.authority, &block);   // :authority
  HpackLiteral(31, "", "application/grpc", &block);  // content-type
  HpackLiteral(0, "te", "trailers", &block);
  for (const auto& [name, value] : options.metadata) HpackLiteral(0, name, value, &block);
  FrameHeader(static_cast<uint32_t>(block.size()), kHeaders, kEndHeaders, 1, &out);
  out += block;
  return out;
}

void H2Stream::SendMessage(std::string_view message, std::string* out) {
  int64_t need = static_cast<int64_t>(message.size()) + 5;
  if (!pending_.empty() || need > conn_send_window_ || need > stream_send_window_) {
    pending_.emplace_back(message);
    return;
  }
  AppendData(message, out);
}

void H2Stream::AppendData(std::string_view message, std::string* out) {
  std::string payload;
  payload.reserve(message.size() + 5);
  payload.push_back('\0');  // not compressed
  PutBe32(static_cast<uint32_t>(message.size()), &payload);
  payload.append(message.data(), message.size());
  for (size_t off = 0; off < payload.size(); off += peer_max_frame_) {
    size_t len = std::min<size_t>(peer_max_frame_, payload.size() - off);
    FrameHeader(static_cast<uint32_t>(len), kData, 0, 1, out);
    out->append(payload, off, len);
  }
  conn_send_window_ -= static_cast<int64_t>(payload.size());
  stream_send_window_ -= static_cast<int64_t>(payload.size());
}

void H2Stream::Flush(std::string* out) {
  while (!pending_.empty()) {
    int64_t need = static_cast<int64_t>(pending_.front().size()) + 5;
    if (need > conn_send_window_ || need > stream_send_window_) return;
    AppendData(pending_.front(), out);
    pending_.pop_front();
  }
}

H2Stream::Result H2Stream::Feed(const char* data, size_t n, size_t* used, std::string* out, Sink* sink) {
  size_t pos = 0;
  Result result = Result::kOk;
  while (result == Result::kOk && n - pos >= kFrameHeader) {
    const auto* h = reinterpret_cast<const unsigned char*>(data + pos);
    uint32_t len = (uint32_t{h[0]} << 16) | (uint32_t{h[1]} << 8) | h[2];
    uint8_t type = h[3];
    uint8_t flags = h[4];
    uint32_t stream = Be32(data + pos + 5) & 0x7fffffffu;
    if (len > kMaxFrame) {
      reason_ = "frame larger than SETTINGS_MAX_FRAME_SIZE";
      result = Result::kError;
      break;
    }
    if (n - pos < kFrameHeader + len) break;
    const char* p = data + pos + kFrameHeader;
    pos += kFrameHeader + len;
    switch (type) {
      case kData:
        result = OnData(flags, p, len, out, sink);
        break;
      case kHeaders:
        if (flags & kEndStream) {
          reason_ = "the server ended the stream (trailers)";
          result = Result::kEnded;
        }
        break;
      case kRstStream:
        reason_ = len >= 4 ? "RST_STREAM error code " + std::to_string(Be32(p)) : "RST_STREAM";
        result = Result::kEnded;
        break;
      case kSettings:
        result = OnSettings(flags, p, len, out);
        break;
      case kPushPromise:
        reason_ = "PUSH_PROMISE although push is disabled";
        result = Result::kError;
        break;
      case kPing:
        if (len != 8) {
          reason_ = "PING of the wrong size";
          result = Result::kError;
        } else if ((flags & kAck) == 0) {
          FrameHeader(8, kPing, kAck, 0, out);
          out->append(p, 8);
        }
        break;
      case kGoaway:
        reason_ = len >= 8 ? "GOAWAY error code " + std::to_string(Be32(p + 4)) : "GOAWAY";
        result = Result::kEnded;
        break;
      case kWindowUpdate:
        if (len != 4) {
          reason_ = "WINDOW_UPDATE of the wrong size";
          result = Result::kError;
          break;
        }
        if (stream == 0) {
          conn_send_window_ += Be32(p) & 0x7fffffffu;
        } else if (stream == 1) {
          stream_send_window_ += Be32(p) & 0x7fffffffu;
        }
        Flush(out);
        break;
      case kPriority:
      case kContinuation:
      default:
        break;  // header blocks are not decoded; unknown types are ignored
    }
  }
  *used = pos;
  return result;
}

H2Stream::Result H2Stream::OnSettings(uint8_t flags, const char* p, size_t len, std::string* out) {
  if (flags & kAck) return Result::kOk;
  if (len % 6 != 0) {
    reason_ = "SETTINGS of the wrong size";
    return Result::kError;
  }
  for (size_t i = 0; i < len; i += 6) {
    uint16_t id = static_cast<uint16_t>((static_cast<unsigned char>(p[i]) << 8) | static_cast<unsigned char>(p[i + 1]));
    uint32_t v = Be32(p + i + 2);
    if (id == 4) {
      stream_send_window_ += static_cast<int64_t>(v) - peer_initial_window_;
      peer_initial_window_ = v;
    } else if (id == 5 && v >= 16384) {
      peer_max_frame_ = std::min<uint32_t>(v, 1u << 20);
    }
  }
  FrameHeader(0, kSettings, kAck, 0, out);
  Flush(out);
  return Result::kOk;
}

H2Stream::Result H2Stream::OnData(uint8_t flags, const char* p, size_t len, std::string* out, Sink* sink) {
  unacked_ += len;  // flow control counts the whole payload, padding included
  if (flags & kPadded) {
    if (len < 1 || static_cast<unsigned char>(p[0]) >= len) {
      reason_ = "bad DATA padding";
      return Result::kError;
    }
    size_t pad = static_cast<unsigned char>(p[0]);
    p += 1;
    len -= 1 + pad;
  }
  while (len > 0) {
    if (partial_.empty()) {
      if (len >= 5) {
        uint32_t mlen = Be32(p + 1);
        if (mlen > kMaxMessage) {
          reason_ = "gRPC message too large";
          return Result::kError;
        }
        if (len >= 5 + size_t{mlen}) {
          if (p[0] != 0) {
            reason_ = "compressed gRPC message (not negotiated)";
            return Result::kError;
          }
          sink->OnMessage(std::string_view(p + 5, mlen));
          p += 5 + mlen;
          len -= 5 + mlen;
          continue;
        }
      }
      partial_.assign(p, len);
      len = 0;
      break;
    }
    if (partial_.size() < 5) {
      size_t take = std::min(len, 5 - partial_.size());
      partial_.append(p, take);
      p += take;
      len -= take;
      if (partial_.size() < 5) break;
    }
    uint32_t mlen = Be32(partial_.data() + 1);
    if (mlen > kMaxMessage) {
      reason_ = "gRPC message too large";
      return Result::kError;
    }
    size_t take = std::min(len, 5 + size_t{mlen} - partial_.size());
    partial_.append(p, take);
    p += take;
    len -= take;
    if (partial_.size() == 5 + size_t{mlen}) {
      sink->OnMessage(std::string_view(partial_.data() + 5, mlen));
      partial_.clear();
    }
  }
  if (unacked_ >= window_ / 2) {
    WindowUpdate(0, static_cast<uint32_t>(unacked_), out);
    WindowUpdate(1, static_cast<uint32_t>(unacked_), out);
    unacked_ = 0;
  }
  if (flags & kEndStream) {
    reason_ = "the server ended the stream";
    return Result::kEnded;
  }
  return Result::kOk;
}

int ServerEventKind(std::string_view event, std::string_view* message_text) {
  int kind = 0;
  std::string_view body;
  bool ok = ForEachField(event, [&](int field, int wt, std::string_view bytes) {
    if (wt == 2 && field >= 2) {
      kind = field;
      body = bytes;
    }
  });
  if (!ok) return 0;
  if (kind == 4 && message_text != nullptr) {
    *message_text = std::string_view();
    ForEachField(body, [&](int field, int wt, std::string_view bytes) {
      if (field == 4 && wt == 2) *message_text = bytes;
    });
  }
  return kind;
}

bool ServerEvents(std::string_view event, std::vector<std::string_view>* events) {
  events->clear();
  std::string_view batch;
  bool is_batch = false;
  bool readable = ForEachField(event, [&](int field, int wt, std::string_view bytes) {
    if (field == 13 && wt == 2) {
      batch = bytes;
      is_batch = true;
    }
  });
  if (!readable || !is_batch) {
    events->push_back(event);  // unreadable: ServerEventKind says so
    return true;
  }
  bool ok = ForEachField(batch, [&](int field, int wt, std::string_view bytes) {
    if (field == 1 && wt == 2) events->push_back(bytes);
  });
  if (!ok) events->clear();
  return ok;
}

}  // namespace chat::bench
