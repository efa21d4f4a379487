#include "websocket_protocol.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chat::bench {

std::string ClientFrame(absl::string_view payload, int opcode) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xff);
  }
  f.append(4, '\0');
  f.append(payload.data(), payload.size());
  return f;
}

void WebSocketProtocol::OnConnected(ClientIo& io, Conn* c) {
  c->state = Conn::kUpgrading;
  std::string req = absl::StrCat("GET ", UpgradeTarget(*c), " HTTP/1.1\r\nHost: ", authority_,
                                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\n\r\n");
  io.Write(c, req);
}

size_t WebSocketProtocol::OnBytes(ClientIo& io, Conn* c, const char* data, size_t n, ReadTime now) {
  size_t used = 0;
  if (c->state == Conn::kUpgrading) {
    const char* e = static_cast<const char*>(memmem(data, n, "\r\n\r\n", 4));
    if (e == nullptr) return 0;  // the rest of the answer comes with a later read
    if (n < 12 || std::memcmp(data + 9, "101", 3) != 0) {
      c->end_note = absl::StrCat("upgrade answered ", absl::string_view(data + 9, n >= 12 ? 3 : 0));
      io.Dead(c);
      return n;
    }
    used = (e - data) + 4;
    Opened(io, c);
  }
  return used + ParseFrames(io, c, data + used, n - used, now);
}

size_t WebSocketProtocol::ParseFrames(ClientIo& io, Conn* c, const char* data, size_t n, ReadTime now) {
  size_t pos = 0;
  while (n - pos >= 2) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data + pos);
    int opcode = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (n - pos < 4) break;
      len = (p[2] << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (n - pos < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (n - pos < hdr + len) break;
    const char* payload = data + pos + hdr;
    pos += hdr + len;
    if (opcode == 0x9) {
      io.Write(c, ClientFrame(absl::string_view(payload, len), 0xA));
    } else if (opcode == 0x8) {
      const auto* b = reinterpret_cast<const unsigned char*>(payload);
      int code = len >= 2 ? (b[0] << 8) | b[1] : 1005;  // 1005: no status (RFC 6455 7.4.1)
      c->end_note = absl::StrCat("close ", code, len > 2 ? " " : "",
                                 absl::string_view(payload + std::min<uint64_t>(len, 2), len > 2 ? len - 2 : 0));
      io.Dead(c);
      return pos;
    } else if (opcode == 0x1 || opcode == 0x0) {
      OnText(io, c, payload, len, now);
      if (c->state == Conn::kDead) return pos;
    }
  }
  return pos;
}

void WebSocketProtocol::OnText(ClientIo& io, Conn* c, const char* p, size_t n, ReadTime now) {
  if (OnHandshakeText(io, c, absl::string_view(p, n))) return;
  if (!c->sender && c->state == Conn::kJoined) Account(p, n, &c->order, now, DeliveryStats(c, stats_));
}

}  // namespace chat::bench
