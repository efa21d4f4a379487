#include "hub.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "session.h"

namespace chat::core {

namespace {
constexpr char kLog[] = "hub";
constexpr char kLobby[] = "lobby";
}  // namespace

int FanoutLanes(const HubOptions& options) {
  return options.fanout_threads > 0 ? options.fanout_threads
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Hub::Hub(Store* store, HubOptions options) : store_(store), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
  kicker_ = options_.fanout_queues.empty() ? std::make_unique<WriteKicker>(FanoutLanes(options_))
                                           : std::make_unique<WriteKicker>(options_.fanout_queues);
}

absl::Status Hub::Init() {
  auto rooms = store_->LoadRooms();
  if (!rooms.ok()) return rooms.status();
  bool have_lobby = false;
  {
    absl::MutexLock lock(&rooms_mu_);
    for (const RoomRecord& r : *rooms) {
      rooms_[r.name] = std::make_shared<Room>(r, options_.room);
      if (r.name == kLobby) have_lobby = true;
    }
  }
  if (!have_lobby) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    absl::Status status;
    CreateRoom(kLobby, "", [&](absl::StatusOr<chat::v1::Room> r) {
      std::lock_guard<std::mutex> lock(m);
      status = r.status();
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done; });
    if (!status.ok()) return status;
  }
  CHAT_LOG_INFO(kLog, "%d rooms loaded", static_cast<int>(rooms->size() + (have_lobby ? 0 : 1)));
  return absl::OkStatus();
}

std::shared_ptr<Room> Hub::FindRoom(absl::string_view name) const {
  absl::MutexLock lock(&rooms_mu_);
  auto it = rooms_.find(name);
  return it == rooms_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<Room>> Hub::LookupRoom(absl::string_view name) const {
  if (absl::Status st = ValidateRoomName(name); !st.ok()) return st;
  auto room = FindRoom(name);
  if (room == nullptr) return absl::NotFoundError(absl::StrCat("room '", name, "' does not exist"));
  return room;
}

void Hub::CreateRoom(const std::string& name, const std::string& creator,
                     std::function<void(absl::StatusOr<chat::v1::Room>)> done) {
  if (absl::Status st = ValidateRoomName(name); !st.ok()) return done(st);
  if (FindRoom(name) != nullptr) {
    return done(absl::AlreadyExistsError(absl::StrCat("room '", name, "' already exists")));
  }
  store_->CreateRoom(name, creator, NowMs(),
                     [this, done = std::move(done)](absl::StatusOr<RoomRecord> rec) {
                       if (!rec.ok()) return done(rec.status());
                       auto room = std::make_shared<Room>(*rec, options_.room);
                       {
                         absl::MutexLock lock(&rooms_mu_);
                         rooms_[rec->name] = room;
                       }
                       CHAT_LOG_INFO(kLog, "room '%s' created by '%s'", rec->name, rec->created_by);
                       chat::v1::Room out;
                       room->Describe(&out);
                       done(std::move(out));
                     });
}

chat::v1::ListRoomsResponse Hub::ListRooms() const {
  std::vector<std::shared_ptr<Room>> rooms;
  {
    absl::MutexLock lock(&rooms_mu_);
    rooms.reserve(rooms_.size());
    for (const auto& [name, room] : rooms_) rooms.push_back(room);
  }
  std::sort(rooms.begin(), rooms.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
  chat::v1::ListRoomsResponse out;
  for (const auto& room : rooms) room->Describe(out.add_rooms());
  return out;
}

void Hub::Send(const Identity& author, const std::shared_ptr<Room>& room, std::string text,
               std::string client_msg_id,
               std::function<void(absl::StatusOr<chat::v1::Message>, bool)> done) {
  AppendRequest req;
  req.room_id = room->id();
  req.author = author.user;
  req.text = std::move(text);
  req.sent_at_ms = NowMs();
  req.client_msg_id = std::move(client_msg_id);
  store_->Append(std::move(req), [this, room, done = std::move(done)](absl::StatusOr<AppendResult> r) {
    if (!r.ok()) return done(r.status(), false);
    chat::v1::ServerEvent ev;
    FillMessage(r->message, room->name(), ev.mutable_message());
    if (r->duplicate) {
      duplicate_sends_.fetch_add(1, std::memory_order_relaxed);
    } else {
      messages_stored_.fetch_add(1, std::memory_order_relaxed);
      // Durable now: everyone in the room (the sender included) gets it before
      // the sender's ack.
      room->Publish(MakeRoomFrame(room->id(), r->message.seq, ev));
    }
    done(std::move(*ev.mutable_message()), r->duplicate);
  });
}

void Hub::History(const chat::v1::GetHistoryRequest& request,
                  std::function<void(absl::StatusOr<chat::v1::GetHistoryResponse>)> done) {
  auto room = LookupRoom(request.room());
  if (!room.ok()) return done(room.status());
  if (request.limit() < 0 || request.limit() > kMaxHistoryLimit) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("limit must be between 1 and ", kMaxHistoryLimit, " (0 means ",
                     kDefaultHistoryLimit, ")")));
  }
  HistoryQuery q;
  q.room_id = (*room)->id();
  q.limit = request.limit() == 0 ? kDefaultHistoryLimit : request.limit();
  // Only what has been published, so history and live messages agree.
  q.max_seq = (*room)->last_seq();
  bool oldest_first = false;
  switch (request.cursor_case()) {
    case chat::v1::GetHistoryRequest::kBeforeSeq:
      if (request.before_seq() < 1) {
        return done(absl::InvalidArgumentError("before_seq must be >= 1"));
      }
      q.direction = HistoryQuery::Direction::kBefore;
      q.cursor = request.before_seq();
      break;
    case chat::v1::GetHistoryRequest::kAfterSeq:
      if (request.after_seq() < 0) {
        return done(absl::InvalidArgumentError("after_seq must be >= 0"));
      }
      q.direction = HistoryQuery::Direction::kAfter;
      q.cursor = request.after_seq();
      oldest_first = true;
      break;
    case chat::v1::GetHistoryRequest::CURSOR_NOT_SET:
      q.direction = HistoryQuery::Direction::kLatest;
      break;
  }
  switch (request.order()) {
    case chat::v1::HISTORY_ORDER_NEWEST_FIRST:
      oldest_first = false;
      break;
    case chat::v1::HISTORY_ORDER_OLDEST_FIRST:
      oldest_first = true;
      break;
    case chat::v1::HISTORY_ORDER_UNSPECIFIED:
      break;
    default:
      return done(absl::InvalidArgumentError("unknown history order"));
  }
  if (q.max_seq == 0) {
    chat::v1::GetHistoryResponse empty;
    empty.set_room(request.room());
    return done(std::move(empty));
  }
  std::string name = request.room();
  store_->ReadHistory(q, [name, oldest_first, done = std::move(done)](absl::StatusOr<HistoryPage> page) {
    if (!page.ok()) return done(page.status());
    chat::v1::GetHistoryResponse out;
    out.set_room(name);
    out.set_has_more(page->has_more);
    if (oldest_first) {
      for (const auto& m : page->messages) FillMessage(m, name, out.add_messages());
    } else {
      for (auto it = page->messages.rbegin(); it != page->messages.rend(); ++it) {
        FillMessage(*it, name, out.add_messages());
      }
    }
    done(std::move(out));
  });
}

void Hub::ReplayPage(const Room& room, int64_t after, int64_t up_to, int limit,
                     std::function<void(absl::StatusOr<std::vector<RoomFramePtr>>)> done) {
  HistoryQuery query;
  query.room_id = room.id();
  query.direction = HistoryQuery::Direction::kAfter;
  query.cursor = after;
  query.max_seq = up_to;
  query.limit = limit;
  store_->ReadHistory(query, [name = room.name(), done = std::move(done)](absl::StatusOr<HistoryPage> page) {
    if (!page.ok()) return done(page.status());
    std::vector<RoomFramePtr> frames;
    frames.reserve(page->messages.size());
    for (const StoredMessage& m : page->messages) {
      chat::v1::ServerEvent ev;
      FillMessage(m, name, ev.mutable_message());
      frames.push_back(MakeRoomFrame(m.room_id, m.seq, ev));
    }
    done(std::move(frames));
  });
}

void Hub::BroadcastMember(Room& room, const std::string& user, chat::v1::MemberEvent::Kind kind) {
  if (!room.presence_enabled()) return;
  chat::v1::ServerEvent ev;
  auto* m = ev.mutable_member();
  m->set_room(room.name());
  m->set_user(user);
  m->set_kind(kind);
  room.Broadcast(MakeRoomFrame(room.id(), 0, ev));
}

void Hub::BroadcastTyping(Room& room, const std::string& user, bool active) {
  chat::v1::ServerEvent ev;
  auto* t = ev.mutable_typing();
  t->set_room(room.name());
  t->set_user(user);
  t->set_active(active);
  room.Broadcast(MakeRoomFrame(room.id(), 0, ev));
}

bool Hub::AddStream(const std::shared_ptr<Outbox>& outbox) {
  absl::MutexLock lock(&live_mu_);
  if (shutting_down_.load()) return false;
  streams_[outbox.get()] = outbox;
  return true;
}

void Hub::RemoveStream(Outbox* outbox) {
  absl::MutexLock lock(&live_mu_);
  streams_.erase(outbox);
}

void Hub::AddSession(const std::shared_ptr<Session>& session) {
  absl::MutexLock lock(&live_mu_);
  sessions_[session.get()] = session;
  if (!session->identity().token_hash.empty()) {
    sessions_by_token_[session->identity().token_hash].insert(session.get());
  }
}

void Hub::RemoveSession(Session* session) {
  absl::MutexLock lock(&live_mu_);
  if (sessions_.erase(session) == 0) return;
  const std::string& hash = session->identity().token_hash;
  if (hash.empty()) return;
  auto it = sessions_by_token_.find(hash);
  if (it == sessions_by_token_.end()) return;
  it->second.erase(session);
  if (it->second.empty()) sessions_by_token_.erase(it);
}

void Hub::KillSessionsWithToken(const std::string& token_hash, const std::string& reason) {
  std::vector<std::shared_ptr<Session>> doomed;
  {
    absl::MutexLock lock(&live_mu_);
    auto it = sessions_by_token_.find(token_hash);
    if (it == sessions_by_token_.end()) return;
    for (Session* s : it->second) {
      if (auto sp = sessions_[s].lock()) doomed.push_back(std::move(sp));
    }
  }
  for (auto& s : doomed) s->Kill(absl::UnauthenticatedError(reason));
}

void Hub::Shutdown() {
  std::vector<std::shared_ptr<Outbox>> streams;
  {
    absl::MutexLock lock(&live_mu_);
    shutting_down_.store(true);
    for (auto& [ptr, weak] : streams_) {
      if (auto sp = weak.lock()) streams.push_back(std::move(sp));
    }
  }
  CHAT_LOG_INFO(kLog, "shutting down: ending %d streams", static_cast<int>(streams.size()));
  for (auto& s : streams) {
    s->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
  }
}

HubStats Hub::stats() const {
  HubStats s;
  s.messages_stored = messages_stored_.load();
  s.duplicate_sends = duplicate_sends_.load();
  s.gateway_room_frames = gateway_room_frames_.load();
  s.connect_room_frames = connect_room_frames_.load();
  absl::MutexLock lock(&live_mu_);
  s.live_sessions = static_cast<int64_t>(sessions_.size());
  s.live_streams = static_cast<int64_t>(streams_.size());
  return s;
}

}  // namespace chat::core
