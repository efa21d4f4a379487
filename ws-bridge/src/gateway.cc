#include "gateway.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "bridge_metrics.h"
#include "chat/json_codec.h"
#include "chat/log.h"
#include "chat/status.h"
#include "gated_socket.h"

namespace chat::bridge {
namespace {
constexpr char kLog[] = "gateway";
constexpr size_t kMaxDirectPerEvent = 1024;
}  // namespace

using chat::v1::GatewayDown;
using chat::v1::GatewayUp;

Gateway::Gateway(boost::asio::io_context& io, const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                 BridgeOptions options)
    : options_(std::move(options)),
      reconnect_timer_(io),
      start_timer_(io),
      rotation_(channels.size(), options_.reconnect_min, options_.reconnect_max),
      direct_now_(options_.direct_writes) {
  for (const auto& channel : channels) stubs_.push_back(chat::v1::GatewayService::NewStub(channel));
}

Gateway::~Gateway() { Stop(); }

void Gateway::Start() { Connect(); }

void Gateway::Connect() {
  absl::MutexLock lock(&mu_);
  if (stopped_ || stream_ != nullptr) return;
  const size_t node = rotation_.node();
  GatewayStream* stream = new GatewayStream(this, stubs_[node].get(), options_.gateway_secret, options_.core[node]);
  stream_ = stream;
  ++stream_number_;
  ++streams_alive_;
  // A node that takes the connection but never accepts the stream (hung, or
  // a black hole in the network) counts as failed after call_timeout.
  start_timer_.expires_after(absl::ToChronoNanoseconds(options_.call_timeout));
  start_timer_.async_wait([this, stream](const boost::system::error_code& ec) {
    if (ec) return;
    absl::MutexLock lock(&mu_);
    if (stream_ == stream && !connected_) stream->Cancel();
  });
}

void Gateway::ScheduleConnectLocked(absl::Duration delay) {
  reconnect_timer_.expires_after(absl::ToChronoNanoseconds(delay));
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Connect();
  });
}

void Gateway::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ && streams_alive_ == 0) return;
    stopped_ = true;
    if (stream_ != nullptr) stream_->Cancel();
    reconnect_timer_.cancel();
    start_timer_.cancel();
  }
  // The reactor refers to us until it is destroyed, after its OnDone.
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](int* alive) { return *alive == 0; }, &streams_alive_),
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
  if (connected_) s.node = stream_->node();
  s.sessions = static_cast<int64_t>(sessions_.size());
  s.rooms = static_cast<int64_t>(rooms_.size());
  for (const auto& [room, sinks] : rooms_) s.room_sessions += static_cast<int64_t>(sinks->sinks.size());
  return s;
}

void Gateway::OnStreamUp(GatewayStream* stream) {
  std::vector<std::shared_ptr<GatewaySessionSink>> waiting;
  uint64_t number;
  {
    absl::MutexLock lock(&mu_);
    if (stream != stream_) return;
    number = stream_number_;
    connected_ = true;
    rotation_.Succeeded();
    start_timer_.cancel();
    ++stats_.connects;
    CHAT_LOGF_INFO(kLog, LogFields().Node(stream->node()), "gateway stream to chat-core at %s is up%s", stream->node(),
                  sessions_.empty() ? "" : absl::StrCat("; ", sessions_.size(), " sessions open again"));
    waiting.reserve(sessions_.size());
    for (const auto& [id, session] : sessions_) waiting.push_back(session.sink);
  }
  for (const auto& sink : waiting) sink->OnGatewayUp(number);
}

void Gateway::OnStreamItem(GatewayStream* stream, const GatewayDown& down) {
  if (down.session() == 0) {
    if (down.has_event()) FanOut(stream, down.event());
    return;
  }
  if (down.has_chunk()) return OnReplyPiece(stream, down.session(), down.chunk());
  std::shared_ptr<GatewaySessionSink> sink;
  bool direct;
  {
    absl::MutexLock lock(&mu_);
    if (stream != stream_) return;
    // A turn ends with its answer, or with the session (closed by chat-core).
    if (replies_out_.contains(down.session()) &&
        (down.has_closed() || (down.request() == 0 && down.has_event() && AnswersReplyRequest(down.event())))) {
      EndTurnLocked(down.session());
    }
    auto it = sessions_.find(down.session());
    if (it == sessions_.end() || !it->second.open) return;  // closed here already
    sink = it->second.sink;
    direct = direct_now_;
    if (down.has_closed()) {
      it->second.open = false;  // chat-core forgot it
      LeaveAllRoomsLocked(down.session(), sink);
    } else if (down.has_event() && down.event().has_joined()) {
      // Membership changes before the event, so the room frames that follow
      // it on this stream reach (or no longer reach) the session.
      AddToRoomLocked(down.event().joined().room(), down.session());
    } else if (down.has_event() && down.event().has_left()) {
      auto rooms = session_rooms_.find(down.session());
      if (rooms != session_rooms_.end() && rooms->second.erase(down.event().left().room()) > 0) {
        RemoveFromRoomLocked(down.event().left().room(), sink);
      }
    }
  }
  switch (down.item_case()) {
    case GatewayDown::kOpened:
      sink->OnOpened(down.opened().user());
      break;
    case GatewayDown::kClosed:
      sink->OnClosed(down.closed().code(), down.closed().reason());
      break;
    case GatewayDown::kEvent:
      sink->OnSessionEvent(down.event(), down.request(), direct);
      break;
    case GatewayDown::kChunk:  // handled above
    case GatewayDown::ITEM_NOT_SET:
      break;
  }
}

void Gateway::OnReplyPiece(GatewayStream* stream, uint64_t session, const chat::v1::EventChunk& chunk) {
  std::shared_ptr<GatewaySessionSink> sink;
  std::string reply;
  {
    absl::MutexLock lock(&mu_);
    if (stream != stream_) return;
    if (chunk.last() && replies_out_.contains(session)) EndTurnLocked(session);
    auto it = sessions_.find(session);
    if (it == sessions_.end() || !it->second.open) return;  // closed here already
    Session& s = it->second;
    if (!s.reply_too_big && s.reply.size() + chunk.data().size() > kMaxReplyBytes) {
      CHAT_LOGF_WARN(kLog, LogFields().Node(stream->node()),
                     "a reply in pieces for session %d is over %d bytes; dropped", session, kMaxReplyBytes);
      s.reply_too_big = true;
      s.reply = std::string();
    }
    if (!s.reply_too_big) s.reply.append(chunk.data());
    if (!chunk.last()) return;
    // An empty reply does not parse as the answer, so the session answers its browser with an error.
    reply.swap(s.reply);
    s.reply_too_big = false;
    sink = s.sink;
  }
  sink->OnSessionReply(std::move(reply));
}

void Gateway::FanOut(GatewayStream* stream, const chat::v1::ServerEvent& ev) {
  const std::string* room = nullptr;
  int64_t seq = 0;
  if (ev.has_message()) {
    room = &ev.message().room();
    seq = ev.message().seq();
  } else if (ev.has_member()) {
    room = &ev.member().room();
  } else if (ev.has_typing()) {
    room = &ev.typing().room();
  } else if (ev.has_membership()) {
    room = &ev.membership().room();
  } else if (ev.has_message_deleted()) {
    room = &ev.message_deleted().room();
  } else if (ev.has_room_changed()) {
    return TellEveryone(stream, ev);
  } else {
    CHAT_LOG_WARN(kLog, "unexpected room event without a room");
    return;
  }
  std::shared_ptr<const RoomSinks> snapshot;
  bool direct;
  {
    absl::MutexLock lock(&mu_);
    if (stream != stream_) return;
    auto it = rooms_.find(*room);
    if (it == rooms_.end()) return;
    snapshot = it->second;
    ++fanouts_;
    ++stats_.room_frames;
    stats_.room_deliveries += snapshot->sinks.size();
    direct = direct_now_;
  }
  const absl::Time start = absl::Now();
  // Encoded once; every local session in the room queues the same buffer.
  auto json = std::make_shared<const std::string>(EncodeServerEvent(ev));
  const bool can_wait = ev.has_member();
  // At most kMaxDirectPerEvent sockets per event are written from here (about
  // 5 ms of writes), so a huge room does not hold the other rooms' events for
  // long; the rest go to the I/O threads, which write in parallel.
  size_t direct_left = direct ? kMaxDirectPerEvent : 0;
  // The direct writes go out SendBatch::kCapacity to a system call.
  SendBatch* batch = direct_left > 0 && options_.io_uring ? SendBatch::ForThisThread() : nullptr;
  for (GatewaySessionSink* sink : snapshot->sinks) {
    if (batch != nullptr && batch->full()) batch->Flush();
    sink->OnRoomFrame(*room, seq, json, can_wait, direct_left > 0, direct_left > 0 ? batch : nullptr);
    if (direct_left > 0) --direct_left;
  }
  if (batch != nullptr) batch->Flush();
  if (options_.metrics != nullptr) options_.metrics->Fanout(absl::ToInt64Nanoseconds(absl::Now() - start));
  std::vector<std::shared_ptr<GatewaySessionSink>> freed;  // after the lock
  absl::MutexLock lock(&mu_);
  if (--fanouts_ == 0) freed.swap(graveyard_);
  if (options_.direct_writes) NoteFanoutLocked(start);
}

// An event for every session, whatever rooms it is in (a room was created):
// rare, so each session encodes it as one of its own.
void Gateway::TellEveryone(GatewayStream* stream, const chat::v1::ServerEvent& ev) {
  std::vector<std::shared_ptr<GatewaySessionSink>> everyone;
  {
    absl::MutexLock lock(&mu_);
    if (stream != stream_) return;
    everyone.reserve(sessions_.size());
    for (const auto& [id, session] : sessions_) {
      if (session.open) everyone.push_back(session.sink);
    }
  }
  for (const auto& sink : everyone) sink->OnSessionEvent(ev, /*request=*/0, /*direct=*/false);
}

void Gateway::AddToRoomLocked(const std::string& room, uint64_t session) {
  if (!session_rooms_[session].insert(room).second) return;
  std::shared_ptr<const RoomSinks>& current = rooms_[room];
  auto next = std::make_shared<RoomSinks>();
  if (current != nullptr) {
    next->sinks.reserve(current->sinks.size() + 1);
    next->sinks = current->sinks;
  }
  next->sinks.push_back(sessions_[session].sink.get());
  current = std::move(next);  // a fan-out still reading the old one keeps it
}

void Gateway::RemoveFromRoomLocked(const std::string& room, const std::shared_ptr<GatewaySessionSink>& sink) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  auto next = std::make_shared<RoomSinks>();
  next->sinks.reserve(it->second->sinks.size());
  std::copy_if(it->second->sinks.begin(), it->second->sinks.end(), std::back_inserter(next->sinks),
               [&](GatewaySessionSink* s) { return s != sink.get(); });
  // A fan-out running now may read a snapshot that lists the session.
  if (fanouts_ > 0) graveyard_.push_back(sink);
  if (next->sinks.empty()) {
    rooms_.erase(it);
  } else {
    it->second = std::move(next);
  }
}

void Gateway::LeaveAllRoomsLocked(uint64_t session, const std::shared_ptr<GatewaySessionSink>& sink) {
  auto rooms = session_rooms_.find(session);
  if (rooms == session_rooms_.end()) return;
  for (const std::string& room : rooms->second) RemoveFromRoomLocked(room, sink);
  session_rooms_.erase(rooms);
}

// Direct writes until fanning out keeps this thread busy more than 3/4 of the
// time (back on below 0.3). Busier, the writes go to the I/O threads, where the
// events that pile up meanwhile leave several to a frame: the cheaper way under
// load.
void Gateway::NoteFanoutLocked(absl::Time start) {
  const absl::Time end = absl::Now();
  const double spent = absl::ToDoubleSeconds(end - start);
  const double since_last = absl::ToDoubleSeconds(end - last_fanout_end_);
  last_fanout_end_ = end;
  fanout_busy_ += (spent / std::max(since_last, 1e-9) - fanout_busy_) / 8;
  if (direct_now_ && fanout_busy_ > 0.75) direct_now_ = false;
  if (!direct_now_ && fanout_busy_ < 0.3) direct_now_ = true;
}

void Gateway::OnStreamDone(GatewayStream* stream, const grpc::Status& status) {
  std::vector<std::shared_ptr<GatewaySessionSink>> lost;
  uint64_t number;
  {
    absl::MutexLock lock(&mu_);
    if (stream != stream_) return;
    number = stream_number_;
    stream_ = nullptr;
    stats_.last_end = absl::StrCat(StatusCodeName(static_cast<absl::StatusCode>(status.error_code())), ": ",
                                   status.error_message());
    const bool was_connected = connected_;
    connected_ = false;
    start_timer_.cancel();
    // The sessions stay registered; they are in no room until they rejoin.
    rooms_.clear();
    session_rooms_.clear();
    // Their reply requests are sent again on the next stream (PendingEvents).
    replies_out_.clear();
    replies_waiting_.clear();
    lost.reserve(sessions_.size());
    for (auto& [id, session] : sessions_) {
      session.open = false;
      session.reply.clear();  // the rest of it is not coming
      session.reply_too_big = false;
      lost.push_back(session.sink);
    }
    if (stopped_) {
      lost.clear();  // shutting down: the sessions are closed already
    } else {
      static thread_local std::mt19937 rng(std::random_device{}());
      const absl::Duration delay = rotation_.Failed(std::uniform_real_distribution<double>(0, 1)(rng));
      const std::string next = options_.core[rotation_.node()];
      if (was_connected) {
        CHAT_LOGF_WARN(kLog, LogFields().Node(stream->node()),
                       "gateway stream to chat-core at %s ended: %s; %d sessions wait for %s (in %d ms)",
                       stream->node(), status.error_message(), static_cast<int>(sessions_.size()), next,
                       static_cast<int>(absl::ToInt64Milliseconds(delay)));
      } else {
        CHAT_LOGF_WARN(kLog, LogFields().Node(stream->node()), "cannot reach chat-core at %s: %s; trying %s in %d ms",
                       stream->node(), status.error_message(), next,
                       static_cast<int>(absl::ToInt64Milliseconds(delay)));
      }
      ScheduleConnectLocked(delay);
    }
  }
  for (const auto& sink : lost) sink->OnGatewayLost(number);
}

void Gateway::OnStreamGone() {
  absl::MutexLock lock(&mu_);
  --streams_alive_;
}

uint64_t Gateway::AddSession(std::shared_ptr<GatewaySessionSink> sink) {
  absl::MutexLock lock(&mu_);
  if (!connected_) return 0;
  uint64_t id = ++next_session_;
  sessions_[id].sink = std::move(sink);
  return id;
}

bool Gateway::WriteLocked(uint64_t session, GatewayUp up) {
  auto it = sessions_.find(session);
  if (!connected_ || it == sessions_.end() || !it->second.open) return false;
  up.set_session(session);
  stream_->Write(std::move(up));
  return true;
}

bool Gateway::Open(uint64_t session, const std::string& token, const std::string& peer,
                   const std::string& guest_name) {
  GatewayUp up;
  auto* open = up.mutable_open();
  open->set_token(token);
  open->set_peer(peer);
  open->set_guest_name(guest_name);
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (!connected_ || it == sessions_.end()) return false;
  it->second.open = true;
  return WriteLocked(session, std::move(up));
}

bool Gateway::Send(uint64_t session, const chat::v1::ClientEvent& event) {
  GatewayUp up;
  *up.mutable_event() = event;
  absl::MutexLock lock(&mu_);
  return WriteLocked(session, std::move(up));
}

bool Gateway::SendOwn(uint64_t session, const chat::v1::ClientEvent& event, uint64_t request) {
  GatewayUp up;
  *up.mutable_event() = event;
  up.set_request(request);
  absl::MutexLock lock(&mu_);
  return WriteLocked(session, std::move(up));
}

bool Gateway::SendReplyRequest(uint64_t session, const chat::v1::ClientEvent& event) {
  GatewayUp up;
  *up.mutable_event() = event;
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (!connected_ || it == sessions_.end() || !it->second.open) return false;
  up.set_session(session);
  replies_waiting_.push_back(std::move(up));
  NextTurnsLocked();
  return true;
}

void Gateway::EndTurnLocked(uint64_t session) {
  replies_out_.erase(session);
  NextTurnsLocked();
}

void Gateway::NextTurnsLocked() {
  if (replies_out_.size() >= options_.replies_in_flight) {
    // chat-core answers every request, even of a session closed meanwhile;
    // this only keeps a lost answer from holding a turn for good.
    const absl::Time expired = absl::Now() - options_.call_timeout;
    // The lambda runs here, under mu_; the annotation tells the analysis.
    absl::erase_if(replies_out_, [&](const auto& turn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return turn.second < expired && !sessions_.contains(turn.first);
    });
  }
  while (replies_out_.size() < options_.replies_in_flight && !replies_waiting_.empty()) {
    GatewayUp up = std::move(replies_waiting_.front());
    replies_waiting_.pop_front();
    const uint64_t session = up.session();
    // A session closed meanwhile: its turn is skipped.
    if (WriteLocked(session, std::move(up))) replies_out_[session] = absl::Now();
  }
}

Gateway::ReplyRequests Gateway::reply_requests() const {
  absl::MutexLock lock(&mu_);
  return ReplyRequests{replies_out_.size(), replies_waiting_.size()};
}

void Gateway::Close(uint64_t session) {
  std::shared_ptr<GatewaySessionSink> sink;  // freed after the lock
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  sink = std::move(it->second.sink);
  const bool open = it->second.open;
  sessions_.erase(it);
  LeaveAllRoomsLocked(session, sink);
  if (open && connected_) {
    GatewayUp up;
    up.set_session(session);
    up.mutable_close();
    stream_->Write(std::move(up));
  }
}

}  // namespace chat::bridge
