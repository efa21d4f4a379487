#include "session.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "chat/json_codec.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "core_metrics.h"
#include "google/protobuf/util/time_util.h"
#include "token_scope.h"

namespace chat::core {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

namespace {

// The room an event of the hot path names (its error names it too).
std::string RoomOf(const ClientEvent& e) {
  switch (e.event_case()) {
    case ClientEvent::kJoin:
      return e.join().room();
    case ClientEvent::kLeave:
      return e.leave().room();
    case ClientEvent::kSend:
      return e.send().room();
    case ClientEvent::kTyping:
      return e.typing().room();
    default:
      return "";
  }
}

}  // namespace

Session::Session(Hub* hub, std::shared_ptr<Outbox> outbox, uint64_t session_id, Identity identity,
                 SessionOptions options)
    : hub_(hub),
      outbox_(std::move(outbox)),
      session_id_(session_id),
      member_id_(hub->NextMemberId()),
      identity_(std::move(identity)),
      options_(options),
      expires_at_ms_(identity_.expires_at_ms) {}

void Session::Renewed(int64_t expires_at_ms) {
  expires_at_ms_.store(expires_at_ms, std::memory_order_relaxed);
  ServerEvent ev;
  *ev.mutable_session_renewed()->mutable_expires_at() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(expires_at_ms);
  Push(std::move(ev));
}

void Session::SetResumeHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  resume_hook_ = std::move(hook);
}

void Session::SetKillHook(std::function<void(const absl::Status&)> hook) {
  absl::MutexLock lock(&mu_);
  kill_hook_ = std::move(hook);
}

void Session::SetDrainedHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  drained_hook_ = std::move(hook);
}

void Session::Emit(const ServerEvent& event) { outbox_->PushEvent(session_id_, event); }

void Session::Reply(const ReplyTo& to, ServerEvent event) {
  event.set_ref(to.ref);
  outbox_->PushEvent(session_id_, event, to.request);
}

void Session::EmitError(const absl::Status& status, absl::string_view event, const ReplyTo& to,
                        const std::string& room, const std::string& client_msg_id) {
  if (CoreMetrics* m = hub_->options().metrics) m->EventError(status.code());
  ServerEvent ev;
  auto* err = ev.mutable_error();
  err->set_code(ToErrorCode(status.code()));
  err->set_message(std::string(status.message()));
  err->set_event(std::string(event));
  err->set_room(room);
  err->set_client_msg_id(client_msg_id);
  Reply(to, std::move(ev));
}

bool Session::InRoom(int64_t room_id) const {
  absl::MutexLock lock(&mu_);
  return rooms_.contains(room_id);
}

void Session::ForceLeave(const Room& room, const std::string& reason) {
  bool was_live = false;
  std::shared_ptr<Room> held;
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room.id());
    if (it == rooms_.end()) return;
    was_live = it->second.live;
    held = it->second.room;
    rooms_.erase(it);
  }
  if (was_live) hub_->MemberDeparted(*held, identity_.user, held->RemoveMember(member_id_, outbox_));
  ServerEvent ev;
  ev.mutable_left()->set_room(room.name());
  ev.mutable_left()->set_reason(reason);
  Push(std::move(ev));
}

void Session::RejectUnreadable(const std::string& message) {
  EmitError(absl::InvalidArgumentError(message), "", ReplyTo{});
}

bool Session::Handle(const ClientEvent& event, uint64_t request) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
  }
  if (const int64_t expires = expires_at_ms(); expires != 0 && hub_->NowMs() >= expires) {
    Kill(absl::UnauthenticatedError("session token expired; log in again"));
    return false;
  }
  const ReplyTo ref{event.ref(), request};
  absl::string_view kind = ClientEventKind(event);
  if (ref.ref.size() > kMaxRefBytes) {
    EmitError(absl::InvalidArgumentError(absl::StrCat("ref must be at most ", kMaxRefBytes, " bytes")),
              kind, ReplyTo{"", request});
    return true;
  }
  if (absl::Status st = CheckEventScope(identity_, event); !st.ok()) {
    EmitError(st, kind, ref, RoomOf(event), event.has_send() ? event.send().client_msg_id() : "");
    return true;
  }
  switch (event.event_case()) {
    case ClientEvent::kJoin:
      HandleJoin(ref, event.join());
      return true;
    case ClientEvent::kLeave:
      HandleLeave(ref, event.leave());
      return true;
    case ClientEvent::kSend:
      return HandleSend(ref, event.send());
    case ClientEvent::kTyping:
      HandleTyping(ref, event.typing());
      return true;
    case ClientEvent::kPing: {
      ServerEvent ev;
      ev.mutable_pong()->set_nonce(event.ping().nonce());
      Reply(ref, std::move(ev));
      return true;
    }
    case ClientEvent::kHistory: {
      auto self = shared_from_this();
      hub_->History(event.history(), identity_, [self, ref](absl::StatusOr<chat::v1::GetHistoryResponse> r) {
        if (!r.ok()) return self->EmitError(r.status(), "history", ref);
        ServerEvent ev;
        *ev.mutable_history() = std::move(*r);
        self->Reply(ref, std::move(ev));
      });
      return true;
    }
    case ClientEvent::kListRooms: {
      auto page = hub_->ListRooms(event.list_rooms(), identity_);
      if (!page.ok()) {
        EmitError(page.status(), "listRooms", ref);
        return true;
      }
      ServerEvent ev;
      *ev.mutable_rooms() = std::move(*page);
      Reply(ref, std::move(ev));
      return true;
    }
    default:
      if (HandleRoomRequest(ref, event)) return true;
      break;
  }
  EmitError(absl::InvalidArgumentError(
                "empty or unknown event: set exactly one of join, leave, send, typing, ping, "
                "history, listRooms, createRoom, getRoom, openDirect, updateRoom, deleteRoom, invite, "
                "respondInvite, listInvites, leaveRoom, kick, ban, unban, setRole, listMembers, "
                "deleteMessage, searchUsers, getUsers"),
            "", ref);
  return true;
}

void Session::HandleJoin(const ReplyTo& ref, const chat::v1::JoinRequest& join) {
  auto room = hub_->LookupRoomFor(identity_, join.room());
  if (!room.ok()) return EmitError(room.status(), "join", ref, join.room());
  if (absl::Status st = (*room)->access().CheckJoin(hub_->ActorOf(identity_)); !st.ok()) {
    return EmitError(st, "join", ref, join.room());
  }
  if (join.has_since_seq() && join.since_seq() < 0) {
    return EmitError(absl::InvalidArgumentError("since_seq must be >= 0"), "join", ref, join.room());
  }
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (rooms_.contains((*room)->id())) {
      return EmitError(absl::FailedPreconditionError(
                           absl::StrCat("already in room '", join.room(), "'; leave it first")),
                       "join", ref, join.room());
    }
    if (static_cast<int>(rooms_.size()) >= options_.max_rooms) {
      return EmitError(absl::ResourceExhaustedError(absl::StrCat(
                           "a session may be in at most ", options_.max_rooms, " rooms")),
                       "join", ref, join.room());
    }
    generation = ++next_generation_;
    rooms_[(*room)->id()] = RoomState{*room, false, generation, 0};
  }
  ContinueJoin(*room, generation, join.has_since_seq() ? join.since_seq() : -1, ref);
}

bool Session::StillJoining(int64_t room_id, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto it = rooms_.find(room_id);
  return !closed_ && it != rooms_.end() && it->second.generation == generation && !it->second.live;
}

void Session::DropJoin(int64_t room_id, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  auto it = rooms_.find(room_id);
  if (it != rooms_.end() && it->second.generation == generation) rooms_.erase(it);
}

// One step of a join: go live from the room's recent ring, or read the next page
// of missed messages from the store and come back once the queue has room.
void Session::ContinueJoin(const std::shared_ptr<Room>& room, uint64_t generation, int64_t pos,
                           const ReplyTo& ref) {
  auto self = shared_from_this();
  JoinTicket ticket;
  ticket.member_id = member_id_;
  ticket.user = identity_.user;
  ticket.subscriber = outbox_;
  ticket.session = session_id_;
  ticket.pos = pos;
  ticket.max_burst = static_cast<int64_t>(outbox_->replay_burst());
  ticket.reply = ref;
  const int64_t room_id = room->id();
  ticket.commit_if_wanted = [this, room_id, generation]() {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find(room_id);
    if (closed_ || it == rooms_.end() || it->second.generation != generation) return false;
    it->second.live = true;
    return true;
  };
  int64_t latest = 0;
  RoomPresence::Change arrival;
  switch (room->TryGoLive(ticket, &latest, &arrival)) {
    case Room::GoLive::kLive:
      hub_->MemberArrived(*room, identity_.user, arrival);
      return;
    case Room::GoLive::kAbandoned:
      return;
    case Room::GoLive::kAhead:
      DropJoin(room_id, generation);
      return EmitError(absl::OutOfRangeError(absl::StrCat("since_seq ", pos,
                                                          " is ahead of the room's latest seq ",
                                                          latest)),
                       "join", ref, room->name());
    case Room::GoLive::kNeedPage:
      break;
  }
  const int limit = static_cast<int>(std::min<size_t>(hub_->options().replay_page, outbox_->replay_burst()));
  hub_->ReplayPage(*room, pos, latest, limit,
                   [self, room, generation, pos, latest, ref](absl::StatusOr<std::vector<RoomFramePtr>> page) {
                     if (!self->StillJoining(room->id(), generation)) return;
                     if (!page.ok()) {
                       self->DropJoin(room->id(), generation);
                       return self->EmitError(page.status(), "join", ref, room->name());
                     }
                     int64_t next = pos;
                     for (const RoomFramePtr& frame : *page) {
                       self->outbox_->PushReplay(self->session_id_, frame);
                       next = frame->seq;
                     }
                     if (page->empty()) next = latest;  // nothing stored up to latest
                     self->outbox_->WhenWritable([self, room, generation, next, ref] {
                       self->ContinueJoin(room, generation, next, ref);
                     });
                   });
}

void Session::HandleLeave(const ReplyTo& ref, const chat::v1::LeaveRequest& leave) {
  auto room = hub_->LookupRoomFor(identity_, leave.room());
  if (!room.ok()) return EmitError(room.status(), "leave", ref, leave.room());
  bool was_live = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find((*room)->id());
    if (it == rooms_.end()) {
      return EmitError(
          absl::FailedPreconditionError(absl::StrCat("not in room '", leave.room(), "'")), "leave",
          ref, leave.room());
    }
    was_live = it->second.live;
    rooms_.erase(it);
  }
  if (was_live) hub_->MemberDeparted(**room, identity_.user, (*room)->RemoveMember(member_id_, outbox_));
  ServerEvent ev;
  ev.mutable_left()->set_room(leave.room());
  Reply(ref, std::move(ev));
}

bool Session::HandleSend(const ReplyTo& ref, const chat::v1::SendRequest& send) {
  auto room = hub_->LookupRoomFor(identity_, send.room());
  if (!room.ok()) {
    EmitError(room.status(), "send", ref, send.room(), send.client_msg_id());
    return true;
  }
  absl::Status valid = (*room)->access().CheckSend(send.room());
  if (valid.ok()) valid = ValidateText(send.text(), hub_->options().max_text_bytes);
  if (valid.ok()) valid = ValidateClientMsgId(send.client_msg_id());
  if (!valid.ok()) {
    EmitError(valid, "send", ref, send.room(), send.client_msg_id());
    return true;
  }
  bool keep_reading = true;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    if (!rooms_.contains((*room)->id())) {
      EmitError(absl::FailedPreconditionError(
                    absl::StrCat("join room '", send.room(), "' before sending to it")),
                "send", ref, send.room(), send.client_msg_id());
      return true;
    }
    if (inflight_sends_ >= options_.max_inflight_sends) {
      EmitError(absl::ResourceExhaustedError(absl::StrCat(
                    "too many sends awaiting acknowledgement (", options_.max_inflight_sends,
                    "); wait for acks and retry with the same client_msg_id")),
                "send", ref, send.room(), send.client_msg_id());
      return true;
    }
    ++inflight_sends_;
  }
  auto self = shared_from_this();
  std::string room_name = send.room();
  std::string client_msg_id = send.client_msg_id();
  hub_->Send(identity_, *room, send.text(), send.client_msg_id(),
             [self, ref, room_name, client_msg_id](absl::StatusOr<chat::v1::Message> m,
                                                   bool duplicate) {
               if (m.ok()) {
                 ServerEvent ev;
                 auto* ack = ev.mutable_ack();
                 ack->set_room(room_name);
                 ack->set_client_msg_id(client_msg_id);
                 ack->set_seq(m->seq());
                 ack->set_duplicate(duplicate);
                 self->Reply(ref, std::move(ev));
               } else {
                 self->EmitError(m.status(), "send", ref, room_name, client_msg_id);
               }
               self->SendDone();
             });
  // Pause reading only now that this send is queued at the store: a pause set
  // earlier could be lifted by an older send's completion on another thread,
  // and the next event read could then reach the store first (two sends would
  // swap seqs). If the older sends finished meanwhile, there is no need to pause.
  {
    absl::MutexLock lock(&mu_);
    if (options_.pause_reads_when_busy && !closed_ && inflight_sends_ >= options_.max_inflight_sends) {
      read_paused_ = true;
      keep_reading = false;
    }
  }
  return keep_reading;
}

void Session::SendDone() {
  std::function<void()> resume;
  std::function<void()> drained;
  {
    absl::MutexLock lock(&mu_);
    --inflight_sends_;
    if (read_paused_ && inflight_sends_ < options_.max_inflight_sends) {
      read_paused_ = false;
      resume = resume_hook_;
    }
    if (client_done_ && inflight_sends_ == 0 && drained_hook_) drained.swap(drained_hook_);
  }
  if (resume) resume();
  if (drained) drained();
}

void Session::HandleTyping(const ReplyTo& ref, const chat::v1::TypingRequest& typing) {
  auto room = hub_->LookupRoomFor(identity_, typing.room());
  if (!room.ok()) return EmitError(room.status(), "typing", ref, typing.room());
  {
    absl::MutexLock lock(&mu_);
    auto it = rooms_.find((*room)->id());
    if (it == rooms_.end() || !it->second.live) {
      return EmitError(absl::FailedPreconditionError(
                           absl::StrCat("join room '", typing.room(), "' before typing in it")),
                       "typing", ref, typing.room());
    }
    int64_t now = hub_->NowMs();
    // "Stopped typing" always goes out; "typing" at most every typing_interval.
    if (typing.active() && now - it->second.last_typing_ms < absl::ToInt64Milliseconds(options_.typing_interval)) {
      return;
    }
    it->second.last_typing_ms = typing.active() ? now : 0;
  }
  hub_->BroadcastTyping(**room, identity_.user, typing.active());
}

void Session::ClientDone() {
  std::function<void()> drained;
  {
    absl::MutexLock lock(&mu_);
    client_done_ = true;
    if (inflight_sends_ == 0 && drained_hook_) drained.swap(drained_hook_);
  }
  if (drained) drained();
}

void Session::Close() {
  std::vector<std::shared_ptr<Room>> live;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    for (auto& [id, state] : rooms_) {
      if (state.live) live.push_back(state.room);
    }
    rooms_.clear();
    resume_hook_ = nullptr;
    drained_hook_ = nullptr;
  }
  for (const auto& room : live) {
    hub_->MemberDeparted(*room, identity_.user, room->RemoveMember(member_id_, outbox_));
  }
}

bool Session::Kill(const absl::Status& status) {
  std::function<void(const absl::Status&)> hook;
  {
    absl::MutexLock lock(&mu_);
    // No hook yet: no stream to end, and a later kill still ends it.
    if (killed_ || !kill_hook_) return false;
    killed_ = true;
    hook = kill_hook_;
  }
  hook(status);
  return true;
}

}  // namespace chat::core
