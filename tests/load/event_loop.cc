#include "event_loop.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace chat::bench {

EventLoop::EventLoop(WireProtocol* protocol, Stats* stats)
    : protocol_(protocol), stats_(stats), epoll_(epoll_create1(0)) {}

EventLoop::~EventLoop() {
  Stop();
  if (timer_ >= 0) close(timer_);
  close(epoll_);
}

void EventLoop::EnableTimer(std::function<void()> on_timer) {
  on_timer_ = std::move(on_timer);
  timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &timer_;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
}

void EventLoop::ArmTimer(int64_t at_ns) {
  itimerspec t{};
  if (at_ns > 0) {
    t.it_value.tv_sec = at_ns / 1000000000;
    t.it_value.tv_nsec = at_ns % 1000000000;
    if (t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0) t.it_value.tv_nsec = 1;
  }
  // steady_clock is CLOCK_MONOTONIC, so scheduled times are timerfd times.
  timerfd_settime(timer_, TFD_TIMER_ABSTIME, &t, nullptr);
}

void EventLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

void EventLoop::Connect(std::unique_ptr<Conn> c, const sockaddr_in& addr) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  // Before connect: the window the handshake offers follows from it.
  if (c->rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof c->rcvbuf);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  connect(c->fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  Conn* raw = c.get();
  {
    absl::MutexLock lock(&mu_);
    conns_.push_back(std::move(c));
    if (raw->sender) senders_.push_back(raw);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.ptr = raw;
  raw->want_out = true;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, raw->fd, &ev);
}

std::vector<Conn*> EventLoop::Senders() {
  absl::MutexLock lock(&mu_);
  return senders_;
}

void EventLoop::SetupTimes(std::vector<double>* out_ms, int64_t after_ns) {
  absl::MutexLock lock(&mu_);
  for (auto& c : conns_) {
    if (c->joined_ns && c->started_ns >= after_ns) out_ms->push_back((c->joined_ns - c->started_ns) / 1e6);
  }
}

void EventLoop::SetReading(Conn* c, bool reading) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back([this, c, reading] { ApplyReading(c, reading); });
}

void EventLoop::ApplyReading(Conn* c, bool reading) {
  if (c->state == Conn::kDead) return;
  c->paused = !reading;
  if (c->watch != nullptr) (reading ? c->watch->resumed_ns : c->watch->stopped_ns).store(NowNs());
  // Level-triggered: once back in EPOLLIN, the next wait reports what queued up.
  Interest(c);
}

void EventLoop::Interest(Conn* c) {
  epoll_event ev{};
  ev.events = (c->paused ? 0u : static_cast<uint32_t>(EPOLLIN)) | (c->want_out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.ptr = c;
  if (c->out_of_epoll) {
    c->out_of_epoll = false;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
  } else {
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

void EventLoop::Run() {
  if (timer_ >= 0) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::vector<epoll_event> events(4096);
  std::vector<char> buf(512 * 1024);
  while (!stop_) {
    std::vector<std::function<void()>> tasks;
    {
      absl::MutexLock lock(&mu_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
    int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 20);
    if (n > 0) {
      timespec real{}, mono{};
      clock_gettime(CLOCK_REALTIME, &real);
      clock_gettime(CLOCK_MONOTONIC, &mono);
      real_minus_mono_ = (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == &timer_) {
        uint64_t expirations;
        while (read(timer_, &expirations, sizeof expirations) > 0) {
        }
        on_timer_();
        continue;
      }
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c->state == Conn::kDead) continue;
      if (c->paused && (events[i].events & (EPOLLHUP | EPOLLERR))) {
        // Reported whatever the interest: note it, and stop hearing it (level-
        // triggered, it would wake every pass) until the connection reads again.
        if (c->watch != nullptr && c->watch->hup_ns.load() == 0) c->watch->hup_ns.store(NowNs());
        epoll_ctl(epoll_, EPOLL_CTL_DEL, c->fd, nullptr);
        c->out_of_epoll = true;
        continue;
      }
      if (events[i].events & EPOLLOUT) OnWritable(c);
      if (c->state != Conn::kDead && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) OnReadable(c, buf);
    }
  }
}

void EventLoop::Dead(Conn* c) {
  if (c->state == Conn::kDead) return;
  if (c->state == Conn::kJoined) {
    DeliveryStats(c, stats_)->disconnects.fetch_add(1);
  } else {
    stats_->failed.fetch_add(1);
  }
  c->state = Conn::kDead;
  if (c->watch != nullptr) {
    absl::MutexLock lock(&c->watch->mu);
    c->watch->ended = true;
    c->watch->ended_ns = NowNs();
    c->watch->end = c->end_note.empty() ? "ended" : c->end_note;
  }
  epoll_ctl(epoll_, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
}

void EventLoop::WantOut(Conn* c, bool on) {
  if (c->want_out == on) return;
  c->want_out = on;
  Interest(c);
}

void EventLoop::Write(Conn* c, const std::string& bytes) {
  if (bytes.empty() || c->state == Conn::kDead) return;
  if (!c->out.empty()) {
    c->out += bytes;
    return;
  }
  ssize_t n = write(c->fd, bytes.data(), bytes.size());
  if (n == static_cast<ssize_t>(bytes.size())) return;
  if (n < 0 && errno != EAGAIN) {
    c->end_note = std::string("write: ") + std::strerror(errno);
    return Dead(c);
  }
  c->out.assign(bytes, n < 0 ? 0 : n);
  WantOut(c, true);
}

void EventLoop::OnWritable(Conn* c) {
  if (c->state == Conn::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      c->end_note = std::string("connect: ") + std::strerror(err);
      return Dead(c);
    }
    WantOut(c, false);
    return protocol_->OnConnected(*this, c);
  }
  while (!c->out.empty()) {
    ssize_t n = write(c->fd, c->out.data(), c->out.size());
    if (n > 0) {
      c->out.erase(0, n);
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      c->end_note = std::string("write: ") + std::strerror(errno);
      return Dead(c);
    }
  }
  WantOut(c, false);
}

void EventLoop::OnReadable(Conn* c, std::vector<char>& buf) {
  for (;;) {
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t r = recvmsg(c->fd, &mh, 0);
    if (r == 0) {
      if (c->end_note.empty()) c->end_note = "EOF without a close";
      return Dead(c);
    }
    if (r < 0) {
      if (errno == EAGAIN) return;
      c->end_note = std::string("read: ") + std::strerror(errno);
      return Dead(c);
    }
    ReadTime now = ReadTime::Now();
    stats_->reads.fetch_add(1, std::memory_order_relaxed);
    for (cmsghdr* m = CMSG_FIRSTHDR(&mh); m != nullptr; m = CMSG_NXTHDR(&mh, m)) {
      if (m->cmsg_level != SOL_SOCKET || m->cmsg_type != SCM_TIMESTAMPNS) continue;
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(m), sizeof ts);
      now.arrival_ns = std::min<int64_t>(now.read_ns, ts.tv_sec * 1000000000LL + ts.tv_nsec - real_minus_mono_);
      stats_->stamped_reads.fetch_add(1, std::memory_order_relaxed);
    }
    const char* data = buf.data();
    size_t n = static_cast<size_t>(r);
    std::string joined_in;
    if (!c->in.empty()) {
      c->in.append(data, n);
      joined_in.swap(c->in);
      data = joined_in.data();
      n = joined_in.size();
    }
    size_t used = protocol_->OnBytes(*this, c, data, n, now);
    if (c->state == Conn::kDead) return;
    if (used < n) c->in.assign(data + used, n - used);
    if (static_cast<size_t>(r) < buf.size()) return;
  }
}

}  // namespace chat::bench
