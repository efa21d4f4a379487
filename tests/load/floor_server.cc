// floor-server: the "floor" reference for chat-bench. A minimal single-threaded
// WebSocket fan-out server (epoll, non-blocking sockets, one room): every text
// frame a client sends is encoded once as a server frame and written to every
// connection. It tells how close a contestant is to what this machine can do.
//
//   floor-server --port=0 --mode=direct     one write per delivery
//   floor-server --port=0 --mode=coalesce   each connection's queued frames leave
//                                           in one write per loop pass
// A client's text "join" is answered with "joined"; anything else is broadcast.
// Prints "floor listening on 127.0.0.1:PORT".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

bool g_coalesce = false;
constexpr size_t kMaxOut = 16 << 20;

std::string Base64(const unsigned char* data, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = data[i] << 16 | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < n ? k[(v >> 6) & 63] : '=';
    out += i + 2 < n ? k[v & 63] : '=';
  }
  return out;
}

std::string Frame(const char* payload, size_t n) {
  std::string f;
  f.reserve(n + 10);
  f += static_cast<char>(0x81);
  if (n < 126) {
    f += static_cast<char>(n);
  } else if (n < 65536) {
    f += static_cast<char>(126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<uint64_t>(n) >> (8 * i)) & 0xff);
  }
  f.append(payload, n);
  return f;
}

struct Conn {
  int fd;
  bool upgraded = false;
  bool joined = false;
  std::string in;
  std::string out;
  bool dirty = false;
  bool want_out = false;
};

int g_epoll;
std::unordered_map<int, std::unique_ptr<Conn>> g_conns;
std::vector<Conn*> g_dirty;

std::vector<int> g_closed;

void Close(Conn* c) {
  epoll_ctl(g_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  g_closed.push_back(c->fd);
  c->fd = -1;
}

void WantOut(Conn* c, bool on) {
  if (c->want_out == on) return;
  c->want_out = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
  ev.data.ptr = c;
  epoll_ctl(g_epoll, EPOLL_CTL_MOD, c->fd, &ev);
}

void Flush(Conn* c) {
  while (!c->out.empty() && c->fd >= 0) {
    ssize_t n = write(c->fd, c->out.data(), c->out.size());
    if (n > 0) {
      c->out.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      WantOut(c, true);
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      Close(c);
      return;
    }
  }
  if (c->fd >= 0) WantOut(c, false);
}

void Send(Conn* c, const std::string& frame) {
  if (c->fd < 0) return;
  if (c->out.size() + frame.size() > kMaxOut) return Close(c);
  if (g_coalesce) {
    c->out += frame;
    if (!c->dirty) {
      c->dirty = true;
      g_dirty.push_back(c);
    }
    return;
  }
  if (!c->out.empty()) {
    c->out += frame;
    return;
  }
  ssize_t n = write(c->fd, frame.data(), frame.size());
  if (n == static_cast<ssize_t>(frame.size())) return;
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Close(c);
  c->out.assign(frame, n < 0 ? 0 : static_cast<size_t>(n));
  WantOut(c, true);
}

void Broadcast(const char* payload, size_t n) {
  std::string frame = Frame(payload, n);  // encoded once
  for (auto& [fd, c] : g_conns) {
    if (c->joined) Send(c.get(), frame);
  }
}

bool Handshake(Conn* c) {
  size_t end = c->in.find("\r\n\r\n");
  if (end == std::string::npos) return c->in.size() < 8192;
  std::string head = c->in.substr(0, end);
  c->in.erase(0, end + 4);
  std::string key;
  size_t k = head.find("Sec-WebSocket-Key:");
  if (k == std::string::npos) k = head.find("sec-websocket-key:");
  if (k == std::string::npos) return false;
  size_t v = k + 18;
  while (v < head.size() && head[v] == ' ') ++v;
  key = head.substr(v, head.find("\r\n", v) - v);
  std::string accept_src = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(accept_src.data()), accept_src.size(), digest);
  std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " + Base64(digest, sizeof digest) + "\r\n\r\n";
  c->upgraded = true;
  c->out += resp;
  Flush(c);
  return true;
}

// Parses complete client frames in c->in.
bool Frames(Conn* c) {
  size_t pos = 0;
  std::string& in = c->in;
  while (in.size() - pos >= 2) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(in.data() + pos);
    int opcode = p[0] & 0x0f;
    bool masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (in.size() - pos < 4) break;
      len = (p[2] << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (in.size() - pos < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (masked) hdr += 4;
    if (in.size() - pos < hdr + len) break;
    char* payload = in.data() + pos + hdr;
    if (masked) {
      const unsigned char* m = p + hdr - 4;
      for (uint64_t i = 0; i < len; ++i) payload[i] ^= m[i & 3];
    }
    if (opcode == 0x8) return false;  // close
    if (opcode == 0x9) {              // ping -> pong
      std::string pong = Frame(payload, len);
      pong[0] = static_cast<char>(0x8A);
      Send(c, pong);
    } else if (opcode == 0x1) {
      if (len == 4 && std::memcmp(payload, "join", 4) == 0) {
        c->joined = true;
        Send(c, Frame("joined", 6));
      } else {
        Broadcast(payload, len);
      }
    }
    pos += hdr + len;
  }
  in.erase(0, pos);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--port=", 0) == 0) port = std::atoi(a.c_str() + 7);
    if (a == "--mode=coalesce") g_coalesce = true;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 4096) != 0) {
    std::perror("floor-server: bind/listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen);
  std::printf("floor listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  g_epoll = epoll_create1(0);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  epoll_ctl(g_epoll, EPOLL_CTL_ADD, lfd, &lev);
  std::vector<epoll_event> events(1024);
  std::vector<char> buf(256 * 1024);
  std::vector<std::unique_ptr<Conn>> graveyard;
  for (;;) {
    int n = epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        for (;;) {
          int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<Conn>();
          c->fd = fd;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = c.get();
          epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &ev);
          auto old = g_conns.find(fd);  // a closed connection whose fd was reused
          if (old != g_conns.end()) graveyard.push_back(std::move(old->second));
          g_conns[fd] = std::move(c);
        }
        continue;
      }
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (c->fd < 0) continue;
      if (events[i].events & EPOLLOUT) Flush(c);
      if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t r = read(c->fd, buf.data(), buf.size());
        if (r <= 0) {
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          Close(c);
          continue;
        }
        c->in.append(buf.data(), static_cast<size_t>(r));
        bool ok = c->upgraded ? Frames(c) : Handshake(c);
        if (ok && c->upgraded && !c->in.empty()) ok = Frames(c);
        if (!ok) Close(c);
      }
    }
    // Coalescing: one write per dirty connection per loop pass.
    for (Conn* c : g_dirty) {
      c->dirty = false;
      if (c->fd >= 0 && !c->want_out) Flush(c);
    }
    g_dirty.clear();
    for (int fd : g_closed) {
      auto it = g_conns.find(fd);
      if (it != g_conns.end() && it->second->fd < 0) g_conns.erase(it);
    }
    g_closed.clear();
    graveyard.clear();
  }
}
