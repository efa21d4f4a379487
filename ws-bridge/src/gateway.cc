#include "gateway.h"

#include <random>

#include "chat/json_codec.h"
#include "chat/log.h"
#include "gated_socket.h"

namespace chat::bridge {
namespace {
constexpr char kLog[] = "gateway";
constexpr size_t kMaxDirectPerEvent = 1024;
}  // namespace

using chat::v1::GatewayDown;
using chat::v1::GatewayUp;

// One attempt at the gateway stream. Deletes itself in OnDone.
class Gateway::Stream : public grpc::ClientBidiReactor<GatewayUp, GatewayDown> {
 public:
  Stream(Gateway* gateway, chat::v1::GatewayService::Stub* stub, const std::string& secret)
      : gateway_(gateway) {
    if (!secret.empty()) ctx_.AddMetadata("x-chat-gateway-secret", secret);
    ctx_.set_wait_for_ready(false);
    stub->async()->Gateway(&ctx_, this);
    // Writes are started from outside reactions (sessions' strands).
    AddHold();
    StartRead(&down_);
    StartCall();
  }

  void Write(GatewayUp up) {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    queue_.push_back(std::move(up));
    if (!writing_) {
      writing_ = true;
      StartNextLocked();
    }
  }

  void Cancel() { ctx_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    // A refused stream (bad secret, shutting down) answers with trailers only.
    const auto& md = ctx_.GetServerInitialMetadata();
    if (ok && md.find("x-chat-gateway") != md.end()) gateway_->OnConnected(this);
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      gateway_->OnDown(this, down_);
      down_.Clear();
      StartRead(&down_);
      return;
    }
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      closed_ = true;
      RemoveHold();
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    if (!ok) {
      // The stream is broken; reads fail too and OnDone follows.
      writing_ = false;
      return;
    }
    if (!queue_.empty() && !closed_) {
      StartNextLocked();
    } else {
      writing_ = false;
    }
  }

  void OnDone(const grpc::Status& status) override {
    gateway_->OnStreamDone(this, status);
    delete this;
  }

 private:
  // Writes the front of the queue. While more is queued behind it, gRPC may hold
  // it back (buffer hint), so a burst of items (sessions opening and joining)
  // leaves in one write; the last one queued flushes them all.
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    grpc::WriteOptions options;
    if (queue_.size() > 1) options.set_buffer_hint();
    StartWrite(&queue_.front(), options);
  }

  Gateway* const gateway_;
  grpc::ClientContext ctx_;
  GatewayDown down_;
  absl::Mutex mu_;
  std::deque<GatewayUp> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

Gateway::Gateway(boost::asio::io_context& io, std::shared_ptr<grpc::Channel> channel,
                 BridgeOptions options)
    : io_(io),
      channel_(std::move(channel)),
      stub_(chat::v1::GatewayService::NewStub(channel_)),
      options_(std::move(options)),
      reconnect_timer_(io),
      backoff_(options_.reconnect_min),
      direct_now_(options_.direct_writes) {}

Gateway::~Gateway() { Stop(); }

void Gateway::Start() { Connect(); }

void Gateway::Connect() {
  absl::MutexLock lock(&mu_);
  if (stopped_ || stream_ != nullptr) return;
  stream_ = new Stream(this, stub_.get(), options_.gateway_secret);
}

void Gateway::Stop() {
  Stream* stream = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ && stream_ == nullptr) return;
    stopped_ = true;
    stream = stream_;
    if (stream != nullptr) stream->Cancel();
  }
  boost::system::error_code ec;
  reconnect_timer_.cancel();
  // The reactor refers to us until its OnDone.
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](Stream** s) { return *s == nullptr; }, &stream_),
                       absl::Seconds(10));
}

bool Gateway::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

GatewayStats Gateway::stats() const {
  absl::MutexLock lock(&mu_);
  GatewayStats s = stats_;
  s.connected = connected_;
  s.sessions = static_cast<int64_t>(sessions_.size());
  return s;
}

void Gateway::OnConnected(Stream* stream) {
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  connected_ = true;
  backoff_ = options_.reconnect_min;
  ++stats_.connects;
  CHAT_LOG_INFO(kLog, "gateway stream to chat-core at %s is up", options_.core);
}

void Gateway::OnDown(Stream* stream, const GatewayDown& down) {
  if (down.session() == 0) {
    if (!down.has_event()) return;
    const chat::v1::ServerEvent& ev = down.event();
    const std::string* room = nullptr;
    int64_t seq = 0;
    if (ev.has_message()) {
      room = &ev.message().room();
      seq = ev.message().seq();
    } else if (ev.has_member()) {
      room = &ev.member().room();
    } else if (ev.has_typing()) {
      room = &ev.typing().room();
    } else {
      CHAT_LOG_WARN(kLog, "unexpected room event without a room");
      return;
    }
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(*room);
    if (it == rooms_.end()) return;
    // Encoded once; every local session in the room queues the same buffer.
    auto json = std::make_shared<const std::string>(EncodeServerEvent(ev));
    ++stats_.room_frames;
    stats_.room_deliveries += it->second.size();
    const bool can_wait = ev.has_member();
    const auto start = std::chrono::steady_clock::now();
    // At most kMaxDirectPerEvent sockets per event are written from here (about
    // 5 ms of writes), so a huge room does not hold the other rooms' events for
    // long; the rest go to the I/O threads, which write in parallel.
    size_t direct_left = direct_now_ ? kMaxDirectPerEvent : 0;
    // The direct writes go out SendBatch::kCapacity to a system call.
    SendBatch* batch = direct_left > 0 && options_.io_uring ? SendBatch::ForThisThread() : nullptr;
    for (GatewaySessionSink* sink : it->second) {
      if (batch != nullptr && batch->full()) batch->Flush();
      sink->OnRoomFrame(*room, seq, json, can_wait, direct_left > 0, direct_left > 0 ? batch : nullptr);
      if (direct_left > 0) --direct_left;
    }
    if (batch != nullptr) batch->Flush();
    if (options_.direct_writes) NoteFanoutLocked(start);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  auto it = sessions_.find(down.session());
  if (it == sessions_.end()) return;  // closed here already
  GatewaySessionSink* sink = it->second;
  switch (down.item_case()) {
    case GatewayDown::kOpened:
      sink->OnOpened(down.opened().user());
      break;
    case GatewayDown::kClosed: {
      auto rooms = session_rooms_.find(sink);
      if (rooms != session_rooms_.end()) {
        for (const auto& r : rooms->second) rooms_[r].erase(sink);
        session_rooms_.erase(rooms);
      }
      sink->OnClosed(down.closed().code(), down.closed().reason());
      break;
    }
    case GatewayDown::kEvent: {
      const chat::v1::ServerEvent& ev = down.event();
      // Membership changes before the event, so the room frames that follow it on
      // this stream reach (or no longer reach) the session.
      if (ev.has_joined()) {
        rooms_[ev.joined().room()].insert(sink);
        session_rooms_[sink].insert(ev.joined().room());
      } else if (ev.has_left()) {
        auto r = rooms_.find(ev.left().room());
        if (r != rooms_.end()) {
          r->second.erase(sink);
          if (r->second.empty()) rooms_.erase(r);
        }
        session_rooms_[sink].erase(ev.left().room());
      }
      sink->OnSessionEvent(ev, direct_now_);
      break;
    }
    case GatewayDown::ITEM_NOT_SET:
      break;
  }
}

// Direct writes until fanning out keeps this thread busy more than 3/4 of the
// time (back on below 0.3). Busier, the writes go to the I/O threads, where the
// events that pile up meanwhile leave several to a frame: the cheaper way under
// load.
void Gateway::NoteFanoutLocked(std::chrono::steady_clock::time_point start) {
  const auto end = std::chrono::steady_clock::now();
  const double spent = std::chrono::duration<double>(end - start).count();
  const double since_last = std::chrono::duration<double>(end - last_fanout_end_).count();
  last_fanout_end_ = end;
  fanout_busy_ += (spent / std::max(since_last, 1e-9) - fanout_busy_) / 8;
  if (direct_now_ && fanout_busy_ > 0.75) direct_now_ = false;
  if (!direct_now_ && fanout_busy_ < 0.3) direct_now_ = true;
}

void Gateway::OnStreamDone(Stream* stream, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  stream_ = nullptr;
  bool was_connected = connected_;
  connected_ = false;
  if (was_connected) {
    CHAT_LOG_WARN(kLog, "gateway stream to chat-core ended: %s (%d sessions closed)",
                  status.error_message(), static_cast<int>(sessions_.size()));
  } else if (!stopped_) {
    CHAT_LOG_WARN(kLog, "cannot reach chat-core at %s: %s; retrying in %d ms", options_.core,
                  status.error_message(), static_cast<int>(backoff_.count()));
  }
  // Sinks are called under the lock: a session's Close() waits for it, so none
  // can go away while it is being told.
  for (auto& [id, sink] : sessions_) sink->OnGatewayLost();
  sessions_.clear();
  rooms_.clear();
  session_rooms_.clear();
  if (!stopped_) ScheduleReconnect();
}

void Gateway::ScheduleReconnect() {
  static thread_local std::mt19937 rng(std::random_device{}());
  auto delay = backoff_;
  // Full jitter between half and all of the backoff.
  delay = std::chrono::milliseconds(
      std::uniform_int_distribution<int64_t>(delay.count() / 2, delay.count())(rng));
  backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Connect();
  });
}

uint64_t Gateway::AddSession(GatewaySessionSink* sink) {
  absl::MutexLock lock(&mu_);
  if (!connected_ || stream_ == nullptr) return 0;
  uint64_t id = ++next_session_;
  sessions_[id] = sink;
  return id;
}

void Gateway::Open(uint64_t session, const std::string& token, const std::string& peer,
                   const std::string& guest_name) {
  GatewayUp up;
  up.set_session(session);
  auto* open = up.mutable_open();
  open->set_token(token);
  open->set_peer(peer);
  open->set_guest_name(guest_name);
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr || !sessions_.contains(session)) return;
  stream_->Write(std::move(up));
}

void Gateway::Send(uint64_t session, const chat::v1::ClientEvent& event) {
  GatewayUp up;
  up.set_session(session);
  *up.mutable_event() = event;
  absl::MutexLock lock(&mu_);
  if (stream_ == nullptr || !sessions_.contains(session)) return;
  stream_->Write(std::move(up));
}

void Gateway::Close(uint64_t session) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  GatewaySessionSink* sink = it->second;
  sessions_.erase(it);
  auto rooms = session_rooms_.find(sink);
  if (rooms != session_rooms_.end()) {
    for (const auto& r : rooms->second) {
      auto room = rooms_.find(r);
      if (room == rooms_.end()) continue;
      room->second.erase(sink);
      if (room->second.empty()) rooms_.erase(room);
    }
    session_rooms_.erase(rooms);
  }
  if (stream_ != nullptr) {
    GatewayUp up;
    up.set_session(session);
    up.mutable_close();
    stream_->Write(std::move(up));
  }
}

}  // namespace chat::bridge
