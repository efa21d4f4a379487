#include "event_narrator.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format.h"
#include "room_text.h"

namespace chat::cli {
namespace {

using chat::v1::MembershipEvent;
using chat::v1::RoomChanged;
using chat::v1::ServerEvent;

// Columns of a deleted message's text quoted in the line that says so.
constexpr size_t kQuoteColumns = 40;

std::string Quote(const std::string& text) {
  return absl::StrCat("\"", HeadColumns(Sanitize(text, false), kQuoteColumns), "\"");
}

}  // namespace

EventNarrator::EventNarrator(std::string me, size_t recent) : me_(std::move(me)), recent_limit_(recent) {}

void EventNarrator::TrackRoom(const chat::v1::Room& room) {
  absl::MutexLock lock(&mu_);
  rooms_[room.name()] = room;
  removed_.erase(room.name());
}

void EventNarrator::SawMessage(const chat::v1::Message& message) {
  if (recent_limit_ == 0) return;
  absl::MutexLock lock(&mu_);
  auto key = std::make_pair(message.room(), message.seq());
  if (!recent_.emplace(key, std::make_pair(message.author(), message.text())).second) return;
  recent_order_.push_back(key);
  while (recent_order_.size() > recent_limit_) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

std::vector<std::string> EventNarrator::Removal(const std::string& room, std::string text) {
  if (removed_.erase(room) > 0) return {};
  removed_.insert(room);
  return {std::move(text)};
}

std::string EventNarrator::DescribeDeleted(const chat::v1::MessageDeleted& deleted) {
  auto it = recent_.find(std::make_pair(deleted.room(), deleted.seq()));
  if (it == recent_.end() || deleted.by().empty()) return DescribeDeletion(deleted, me_);
  const std::string& author = it->second.first;
  const bool by_me = absl::EqualsIgnoreCase(deleted.by(), me_);
  std::string by = by_me ? "you" : Sanitize(deleted.by(), false);
  std::string whose;
  if (absl::EqualsIgnoreCase(author, deleted.by())) {
    whose = by_me ? "your message" : "their message";
  } else {
    whose = absl::EqualsIgnoreCase(author, me_) ? "your message" : absl::StrCat(Sanitize(author, false), "'s message");
  }
  return absl::StrCat(by, " deleted ", whose, " ", Quote(it->second.second));
}

std::vector<std::string> EventNarrator::Narrate(const ServerEvent& event) {
  absl::MutexLock lock(&mu_);
  switch (event.event_case()) {
    case ServerEvent::kMembership: {
      const auto& m = event.membership();
      if (!absl::EqualsIgnoreCase(m.user(), me_)) return {DescribeMembership(m, me_)};
      switch (m.kind()) {
        case MembershipEvent::KICKED:
        case MembershipEvent::BANNED:
        case MembershipEvent::LEFT:
          rooms_.erase(m.room());
          return Removal(m.room(), DescribeMembership(m, me_));
        case MembershipEvent::JOINED:
          // RoomChanged CREATED tells it (with what the room is).
          removed_.erase(m.room());
          return {};
        case MembershipEvent::INVITED:
          removed_.erase(m.room());
          return {absl::StrCat(DescribeMembership(m, me_), " (/accept ", m.room(), " or /decline ", m.room(), ")")};
        default:
          return {DescribeMembership(m, me_)};
      }
    }
    case ServerEvent::kRoomChanged: {
      const auto& changed = event.room_changed();
      const std::string& name = changed.room().name();
      switch (changed.kind()) {
        case RoomChanged::CREATED:
          removed_.erase(name);
          return {DescribeRoomCreated(changed.room(), me_)};
        case RoomChanged::UPDATED: {
          // Only rooms the session is in: public rooms' changes reach everyone.
          auto it = rooms_.find(name);
          if (it == rooms_.end()) return {};
          std::vector<std::string> lines = DescribeRoomUpdate(&it->second, changed.room());
          it->second = changed.room();
          return lines;
        }
        case RoomChanged::DELETED:
          rooms_.erase(name);
          return Removal(name, absl::StrCat("#", Sanitize(name, false), " was deleted"));
        default:
          return {};
      }
    }
    case ServerEvent::kMessageDeleted:
      return {DescribeDeleted(event.message_deleted())};
    case ServerEvent::kLeft:
      if (event.left().reason().empty()) return {};  // the answer to our own /leave
      rooms_.erase(event.left().room());
      return Removal(event.left().room(), DescribeLeft(event.left()));
    default:
      return {};
  }
}

}  // namespace chat::cli
