#include "hub.h"

#include <algorithm>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/log.h"
#include "chat/metrics.h"
#include "chat/validate.h"
#include "core_metrics.h"
#include "membership.h"
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

Hub::Hub(Store* store, HubOptions options)
    : store_(store), options_(std::move(options)), live_(options_.max_streams_per_user) {
  if (!options_.now_ms) options_.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
  if (options_.metrics != nullptr) {
    for (int kind = 0; kind < 2; ++kind) outbox_counters_[kind].metrics = options_.metrics->streams(kind);
  }
  kicker_ = options_.fanout_queues.empty() ? std::make_unique<WriteKicker>(FanoutLanes(options_))
                                           : std::make_unique<WriteKicker>(options_.fanout_queues);
  membership_ = std::make_unique<Membership>(this);
}

Hub::~Hub() { Stop(); }

absl::Status Hub::Init() {
  for (int attempt = 0;; ++attempt) {
    auto rooms = store_->LoadRooms();
    if (!rooms.ok()) return rooms.status();
    bool have_lobby = false;
    {
      absl::MutexLock lock(&rooms_mu_);
      for (const RoomRecord& r : *rooms) {
        if (rooms_by_id_.contains(r.id)) continue;
        AddRoomLocked(std::make_shared<Room>(r, options_.room));
        if (r.name == kLobby) have_lobby = true;
      }
      have_lobby = have_lobby || rooms_.contains(kLobby);
    }
    if (have_lobby) {
      CHAT_LOG_INFO(kLog, "%d rooms loaded", static_cast<int>(rooms->size()));
      break;
    }
    absl::Notification created;
    absl::Status status;
    CreateRoom(kLobby, "", [&](absl::StatusOr<chat::v1::Room> r) {
      status = r.status();
      created.Notify();
    });
    created.WaitForNotification();
    // Another node made it first: load it.
    if (status.code() == absl::StatusCode::kAlreadyExists && attempt == 0) continue;
    if (!status.ok()) return status;
    break;
  }
  auto rows = store_->LoadMembers();
  if (!rows.ok()) return rows.status();
  for (const MemberRecord& row : *rows) {
    if (auto room = FindRoomById(row.room_id)) room->access().SetRow(row);
  }
  absl::MutexLock lock(&gaps_mu_);
  if (!ticker_.joinable()) ticker_ = std::thread([this] { Tick(); });
  return absl::OkStatus();
}

void Hub::Stop() {
  {
    absl::MutexLock lock(&gaps_mu_);
    stopping_ = true;
  }
  if (ticker_.joinable()) ticker_.join();
}

bool Hub::AddRoomLocked(const std::shared_ptr<Room>& room) {
  if (!rooms_by_id_.emplace(room->id(), room).second) return false;
  rooms_[room->name()] = room;
  const RoomQuota& quota = options_.room_quota;
  if (quota.per_creator > 0 && !room->created_by().empty() &&
      room->created_at_ms() > NowMs() - quota.window_ms) {
    std::vector<int64_t>& times = recent_creates_[room->created_by()];
    times.insert(std::upper_bound(times.begin(), times.end(), room->created_at_ms()), room->created_at_ms());
  }
  return true;
}

absl::Status Hub::CheckQuotaLocked(const std::string& creator, const RoomQuota& quota) {
  if (quota.max_rooms > 0 && static_cast<int64_t>(rooms_.size()) >= quota.max_rooms) {
    return RoomQuotaError(quota, true);
  }
  if (quota.per_creator > 0) {
    auto it = recent_creates_.find(creator);
    if (it != recent_creates_.end()) {
      std::vector<int64_t>& times = it->second;
      const int64_t since = NowMs() - quota.window_ms;
      times.erase(times.begin(), std::upper_bound(times.begin(), times.end(), since));
      if (times.empty()) {
        recent_creates_.erase(it);
      } else if (static_cast<int64_t>(times.size()) >= quota.per_creator) {
        return RoomQuotaError(quota, false);
      }
    }
  }
  return absl::OkStatus();
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
  // Stored with the message: history and replays say a bot wrote it.
  req.author_kind = author.bot ? AccountKind::kBot : AccountKind::kUser;
  store_->Append(std::move(req), [this, room, done = std::move(done)](absl::StatusOr<AppendResult> r) {
    if (!r.ok()) return done(r.status(), false);
    const int64_t committed = options_.metrics != nullptr ? metrics::NowNanos() : 0;
    chat::v1::ServerEvent ev;
    FillMessage(r->message, room->name(), ev.mutable_message());
    (r->duplicate ? duplicate_sends_ : messages_stored_).fetch_add(1, std::memory_order_relaxed);
    // Durable now: everyone in the room (the sender included) gets it before
    // the sender's ack. A retried one is published too, in case its original
    // (committed by another node) has not reached this one yet; if it has,
    // the ack goes at once.
    auto frame = MakeRoomFrame(room->id(), r->message.seq, ev);
    auto ack = [done, message = std::move(*ev.mutable_message()), duplicate = r->duplicate] {
      done(message, duplicate);
    };
    if (room->Publish(frame, std::move(ack)) == Room::Published::kWaiting) NoteGap(room);
    if (options_.metrics != nullptr) options_.metrics->Fanout(metrics::NowNanos() - committed);
  });
}

void Hub::History(const chat::v1::GetHistoryRequest& request, const Identity& who,
                  std::function<void(absl::StatusOr<chat::v1::GetHistoryResponse>)> done) {
  auto room = LookupRoomFor(who, request.room());
  if (!room.ok()) return done(room.status());
  if (absl::Status st = (*room)->access().CheckJoin(ActorOf(who)); !st.ok()) return done(st);
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

void Hub::MemberArrived(Room& room, const std::string& user, RoomPresence::Change change) {
  if (change.here && options_.cluster != nullptr) options_.cluster->SetPresence(room.id(), user, true);
  if (change.anywhere) BroadcastMember(room, user, chat::v1::MemberEvent::JOINED);
}

void Hub::MemberDeparted(Room& room, const std::string& user, RoomPresence::Change change) {
  if (change.here && options_.cluster != nullptr) options_.cluster->SetPresence(room.id(), user, false);
  if (change.anywhere) BroadcastMember(room, user, chat::v1::MemberEvent::LEFT);
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

void Hub::BroadcastTyping(Room& room, const std::string& user, bool active, bool local) {
  if (local && options_.cluster != nullptr) options_.cluster->Typing(room.id(), user, active);
  chat::v1::ServerEvent ev;
  auto* t = ev.mutable_typing();
  t->set_room(room.name());
  t->set_user(user);
  t->set_active(active);
  room.Broadcast(MakeRoomFrame(room.id(), 0, ev));
}

void Hub::PublishStored(const std::shared_ptr<Room>& room, const std::vector<StoredMessage>& messages,
                        int64_t fetch_up_to) {
  bool gap = false;
  for (const StoredMessage& m : messages) {
    chat::v1::ServerEvent ev;
    FillMessage(m, room->name(), ev.mutable_message());
    gap |= room->Publish(MakeRoomFrame(room->id(), m.seq, ev)) == Room::Published::kWaiting;
  }
  if (fetch_up_to > room->last_seq()) {
    // Stored and not inline: no notification will bring them, so read them
    // now (or, if a read of the room runs, right after it).
    {
      absl::MutexLock lock(&gaps_mu_);
      if (catching_up_.contains(room->id())) {
        gaps_[room->id()] = absl::InfinitePast();
        return;
      }
      catching_up_.insert(room->id());
    }
    CatchUp(room);
  } else if (gap) {
    NoteGap(room);
  }
}

void Hub::NoteNewerThan(const std::shared_ptr<Room>& room, int64_t stored_seq) {
  if (stored_seq > room->last_seq()) NoteGap(room);
}

void Hub::NoteGap(const std::shared_ptr<Room>& room) {
  absl::MutexLock lock(&gaps_mu_);
  gaps_.try_emplace(room->id(), absl::Now());
}

void Hub::CatchUp(const std::shared_ptr<Room>& room) {
  HistoryQuery q;
  q.room_id = room->id();
  q.direction = HistoryQuery::Direction::kAfter;
  q.cursor = room->last_seq();
  q.limit = options_.replay_page;
  store_->ReadHistory(q, [this, room](absl::StatusOr<HistoryPage> page) {
    if (!page.ok()) {
      CHAT_LOG_WARN(kLog, "room %s: cannot read missed messages: %s", room->name(), page.status().message());
      CatchUpDone(room->id());
      NoteGap(room);  // again after the grace
      return;
    }
    for (const StoredMessage& m : page->messages) {
      chat::v1::ServerEvent ev;
      FillMessage(m, room->name(), ev.mutable_message());
      room->Publish(MakeRoomFrame(room->id(), m.seq, ev));
    }
    if (page->has_more && !page->messages.empty()) return CatchUp(room);
    CatchUpDone(room->id());
    if (room->waiting_for() != 0) NoteGap(room);  // not visible yet: again later
  });
}

void Hub::CatchUpDone(int64_t room_id) {
  absl::MutexLock lock(&gaps_mu_);
  catching_up_.erase(room_id);
}

void Hub::Tick() {
  constexpr absl::Duration kTick = absl::Milliseconds(10);
  absl::Time next_expiry_check = absl::Now();
  for (;;) {
    std::vector<int64_t> due;
    {
      absl::MutexLock lock(&gaps_mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gaps_mu_) { return stopping_; };
      if (gaps_mu_.AwaitWithTimeout(absl::Condition(&stop), kTick)) return;
      absl::Time now = absl::Now();
      for (auto it = gaps_.begin(); it != gaps_.end();) {
        if (now - it->second < options_.gap_grace || catching_up_.contains(it->first)) {
          ++it;
          continue;
        }
        due.push_back(it->first);
        catching_up_.insert(it->first);
        gaps_.erase(it++);
      }
    }
    for (int64_t id : due) {
      if (auto room = FindRoomById(id)) {
        CatchUp(room);
      } else {
        CatchUpDone(id);
      }
    }
    if (absl::Now() >= next_expiry_check) {
      next_expiry_check = absl::Now() + options_.expiry_check;
      if (int n = live_.KillExpired(NowMs()); n > 0) {
        CHAT_LOG_INFO(kLog, "%d sessions expired", n);
        if (options_.metrics != nullptr) options_.metrics->SessionsExpired(n);
      }
    }
  }
}

HubStats Hub::stats() const {
  HubStats s;
  s.messages_stored = messages_stored_.load();
  s.duplicate_sends = duplicate_sends_.load();
  s.gateway_room_frames = outbox_counters_[static_cast<int>(Outbox::Kind::kGateway)].room_frames.load();
  s.connect_room_frames = outbox_counters_[static_cast<int>(Outbox::Kind::kConnect)].room_frames.load();
  LiveSessions::Counts live = live_.counts();
  s.live_sessions = live.sessions;
  s.live_streams = live.streams;
  return s;
}

}  // namespace chat::core
