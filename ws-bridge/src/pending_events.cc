#include "pending_events.h"

#include <utility>

#include "absl/strings/string_view.h"
#include "chat/json_codec.h"
#include "chat/validate.h"

namespace chat::bridge {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

// What an answer says about the event it answers: the kind of answer (as a
// ServerEvent case; for an error, the kind it names), and the room and
// client_msg_id where it has them.
struct AnswerKey {
  ServerEvent::EventCase answer = ServerEvent::EVENT_NOT_SET;
  absl::string_view kind;
  absl::string_view room;
  absl::string_view client_msg_id;
};

// Which events each kind of answer answers.
constexpr std::pair<ServerEvent::EventCase, absl::string_view> kKinds[] = {
    {ServerEvent::kJoined, "join"},
    {ServerEvent::kLeft, "leave"},
    {ServerEvent::kPong, "ping"},
    {ServerEvent::kHistory, "history"},
    {ServerEvent::kRooms, "listRooms"},
    {ServerEvent::kRoom, "createRoom"},
    {ServerEvent::kRoom, "getRoom"},
    {ServerEvent::kRoom, "openDirect"},
    {ServerEvent::kRoom, "updateRoom"},
    {ServerEvent::kRoomDeleted, "deleteRoom"},
    {ServerEvent::kMembership, "invite"},
    {ServerEvent::kMembership, "respondInvite"},
    {ServerEvent::kMembership, "leaveRoom"},
    {ServerEvent::kMembership, "kick"},
    {ServerEvent::kMembership, "ban"},
    {ServerEvent::kMembership, "unban"},
    {ServerEvent::kMembership, "setRole"},
    {ServerEvent::kInvites, "listInvites"},
    {ServerEvent::kMembers, "listMembers"},
    {ServerEvent::kMessageDeleted, "deleteMessage"},
    {ServerEvent::kUsers, "searchUsers"},
    {ServerEvent::kProfiles, "getUsers"},
};

bool KeyOf(const ServerEvent& e, AnswerKey* key) {
  if (e.has_error()) {
    *key = {ServerEvent::kError, e.error().event(), e.error().room(), e.error().client_msg_id()};
    return true;
  }
  if (e.has_ack()) {
    *key = {ServerEvent::kAck, "send", e.ack().room(), e.ack().client_msg_id()};
    return true;
  }
  // A session taken out of a room (kicked, ...) asked for nothing.
  if (e.has_left() && !e.left().reason().empty()) return false;
  // Room events and pushed changes carry no ref: they answer nothing.
  if (e.ref().empty() && !e.has_joined() && !e.has_left() && !e.has_pong() && !e.has_history() &&
      !e.has_rooms() && !e.has_room()) {
    return false;
  }
  for (const auto& [event_case, kind] : kKinds) {
    if (e.event_case() != event_case) continue;
    absl::string_view room;
    if (e.has_joined()) room = e.joined().room();
    if (e.has_left()) room = e.left().room();
    *key = {event_case, "", room, ""};
    return true;
  }
  return false;  // room events and replayed messages answer nothing
}

absl::string_view RoomOf(const ClientEvent& e) {
  if (e.has_join()) return e.join().room();
  if (e.has_leave()) return e.leave().room();
  if (e.has_send()) return e.send().room();
  return {};
}

bool KindAnswered(const AnswerKey& key, absl::string_view kind) {
  if (key.answer == ServerEvent::kError || key.answer == ServerEvent::kAck) return kind == key.kind;
  for (const auto& [event_case, answered] : kKinds) {
    if (event_case == key.answer && answered == kind) return true;
  }
  return false;
}

bool Answers(const AnswerKey& key, const ServerEvent& answer, const ClientEvent& event) {
  if (!KindAnswered(key, ClientEventKind(event)) || event.ref() != answer.ref()) return false;
  if (!key.room.empty() && RoomOf(event) != key.room) return false;
  return !event.has_send() || event.send().client_msg_id() == key.client_msg_id;
}

}  // namespace

bool PendingEvents::Tracked(const ClientEvent& event) {
  // chat-core answers an over-long ref's error without the ref: nothing to match.
  if (event.ref().size() > kMaxRefBytes) return false;
  switch (event.event_case()) {
    case ClientEvent::EVENT_NOT_SET:
    case ClientEvent::kTyping:
      return false;
    case ClientEvent::kJoin:
    case ClientEvent::kLeave:
    case ClientEvent::kSend:
    case ClientEvent::kPing:
    case ClientEvent::kHistory:
    case ClientEvent::kListRooms:
    case ClientEvent::kCreateRoom:
      return true;
    default:
      // Room management and membership: their answers look like the changes
      // chat-core pushes, so only a ref tells them apart.
      return !event.ref().empty();
  }
}

PendingEvents::Sent PendingEvents::Send(const ClientEvent& event) {
  if (!Tracked(event)) return Sent::kUntracked;
  if (unanswered() >= kMaxUnanswered) return Sent::kTooMany;
  entries_.push_back(Entry{event, /*sent=*/true, /*answered=*/false});
  return Sent::kKept;
}

bool PendingEvents::Wait(const ClientEvent& event, size_t max_waiting) {
  if (event.has_typing()) return true;
  if (waiting_ >= max_waiting) return false;
  entries_.push_back(Entry{event, /*sent=*/false, /*answered=*/false});
  ++waiting_;
  return true;
}

size_t PendingEvents::unanswered() const { return entries_.size() - waiting_ - answered_; }

void PendingEvents::Answered(const ServerEvent& answer) {
  if (entries_.size() == waiting_) return;  // nothing sent is waiting for an answer
  AnswerKey key;
  if (!KeyOf(answer, &key)) return;
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (!e.sent || e.answered || !Answers(key, answer, e.event)) continue;
    e.answered = true;
    ++answered_;
    break;
  }
  while (!entries_.empty() && entries_.front().answered) {
    entries_.pop_front();
    --answered_;
  }
}

PendingEvents::Resend PendingEvents::TakeForResend() {
  Resend out;
  while (!entries_.empty()) {
    Entry& e = entries_.front();
    if (!e.answered) {
      // In flight without an idempotency key: it may have been stored already.
      const bool unsafe = e.sent && e.event.has_send() && e.event.send().client_msg_id().empty();
      (unsafe ? out.refuse : out.send).push_back(std::move(e.event));
    }
    entries_.pop_front();
  }
  waiting_ = 0;
  answered_ = 0;
  return out;
}

}  // namespace chat::bridge
