// Hub: the room registry: finding rooms (as a caller may see them), making,
// listing, adopting and forgetting them, and telling those who may see a room
// of it.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "hub.h"
#include "membership.h"
#include "session.h"
#include "token_scope.h"

namespace chat::core {
namespace {
constexpr char kLog[] = "hub";
}  // namespace

std::shared_ptr<Room> Hub::FindRoomById(int64_t id) const {
  absl::MutexLock lock(&rooms_mu_);
  auto it = rooms_by_id_.find(id);
  return it == rooms_by_id_.end() ? nullptr : it->second;
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

absl::StatusOr<std::shared_ptr<Room>> Hub::LookupRoomFor(const Identity& who, absl::string_view name) const {
  auto room = LookupRoom(name);
  if (room.ok() && !(*room)->access().MaySee(ActorOf(who))) {
    return absl::NotFoundError(absl::StrCat("room '", name, "' does not exist"));
  }
  return room;
}

bool Hub::IsAdmin(const std::string& user) const {
  return !options_.admins.empty() && options_.admins.contains(UserKey(user));
}

Actor Hub::ActorOf(const Identity& who) const { return Actor{who.user, !who.guest && IsAdmin(who.user)}; }

void Hub::Announce(const Room& room, const chat::v1::ServerEvent& event) {
  if (room.access().is_public()) return live_.PushToAll(event);
  for (const std::string& user : room.access().Members()) {
    for (const auto& session : live_.SessionsOf(user)) session->Push(event);
  }
}

void Hub::RemoveRoom(int64_t id) {
  absl::MutexLock lock(&rooms_mu_);
  auto it = rooms_by_id_.find(id);
  if (it == rooms_by_id_.end()) return;
  auto named = rooms_.find(it->second->name());
  if (named != rooms_.end() && named->second == it->second) rooms_.erase(named);
  rooms_by_id_.erase(it);
}

void Hub::CreateRoom(const std::string& name, const std::string& creator,
                     std::function<void(absl::StatusOr<chat::v1::Room>)> done) {
  RoomRecord spec;
  spec.name = name;
  spec.created_by = creator;
  std::vector<MemberRecord> members;
  if (!creator.empty()) {
    MemberRecord owner;
    owner.user = creator;
    owner.role = Role::kOwner;
    owner.by = creator;
    owner.at_ms = NowMs();
    members.push_back(std::move(owner));
  }
  CreateRoomAs(spec, std::move(members), std::move(done));
}

void Hub::CreateRoomAs(const RoomRecord& spec, std::vector<MemberRecord> members,
                       std::function<void(absl::StatusOr<chat::v1::Room>)> done) {
  const std::string& name = spec.name;
  const std::string& creator = spec.created_by;
  if (absl::Status st = ValidateRoomName(name); !st.ok()) return done(st);
  if (FindRoom(name) != nullptr) {
    return done(absl::AlreadyExistsError(absl::StrCat("room '", name, "' already exists")));
  }
  // chat-core's own rooms (creator "") have no quota.
  const RoomQuota quota = creator.empty() ? RoomQuota{} : options_.room_quota;
  {
    // Past a limit as far as this node knows: refused without a write, so a
    // loop of refused creates costs the store nothing.
    absl::MutexLock lock(&rooms_mu_);
    if (absl::Status st = CheckQuotaLocked(creator, quota); !st.ok()) return done(st);
  }
  for (MemberRecord& m : members) m.at_ms = m.at_ms == 0 ? NowMs() : m.at_ms;
  store_->CreateRoomAs(spec, members, NowMs(), quota,
                       [this, members, done = std::move(done)](absl::StatusOr<RoomRecord> rec) {
                         if (!rec.ok()) return done(rec.status());
                         std::vector<MemberRecord> rows = members;
                         for (MemberRecord& m : rows) m.room_id = rec->id;
                         auto room = AdoptRoom(*rec, &rows);
                         CHAT_LOG_INFO(kLog, "room '%s' created by '%s'", rec->name, rec->created_by);
                         chat::v1::Room out;
                         room->Describe(&out, rec->created_by);
                         done(std::move(out));
                       });
}

std::vector<std::shared_ptr<Room>> Hub::Rooms() const {
  std::vector<std::shared_ptr<Room>> rooms;
  absl::MutexLock lock(&rooms_mu_);
  rooms.reserve(rooms_.size());
  for (const auto& [name, room] : rooms_) rooms.push_back(room);
  return rooms;
}

absl::StatusOr<chat::v1::ListRoomsResponse> Hub::ListRooms(const chat::v1::ListRoomsRequest& request,
                                                        const Identity& who) const {
  const Actor actor = ActorOf(who);
  if (request.limit() < 0 || request.limit() > kMaxRoomsPage) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be between 1 and ", kMaxRoomsPage, " (0 means ", kMaxRoomsPage, ")"));
  }
  if (!request.cursor().empty() && !ValidateRoomName(request.cursor()).ok()) {
    return absl::InvalidArgumentError("cursor must be a next_cursor from an earlier page");
  }
  const size_t limit = request.limit() == 0 ? kMaxRoomsPage : static_cast<size_t>(request.limit());
  std::vector<std::shared_ptr<Room>> page;
  bool more = false;
  {
    absl::MutexLock lock(&rooms_mu_);
    auto it = request.cursor().empty() ? rooms_.begin() : rooms_.upper_bound(request.cursor());
    for (; it != rooms_.end() && page.size() < limit; ++it) {
      // A token limited to rooms lists only those (token_scope.h).
      if (it->second->access().MaySee(actor) && TokenReachesRoom(who, it->first)) page.push_back(it->second);
    }
    more = it != rooms_.end();
  }
  // Described outside rooms_mu_ (each takes its room's lock).
  chat::v1::ListRoomsResponse out;
  out.mutable_rooms()->Reserve(static_cast<int>(page.size()));
  for (const auto& room : page) room->Describe(out.add_rooms(), who.user);
  if (more && !page.empty()) out.set_next_cursor(page.back()->name());
  return out;
}

std::shared_ptr<Room> Hub::AdoptRoom(const RoomRecord& record, const std::vector<MemberRecord>* members) {
  auto room = std::make_shared<Room>(record, options_.room);
  if (members != nullptr) room->access().ReplaceRows(*members);
  {
    absl::MutexLock lock(&rooms_mu_);
    if (!AddRoomLocked(room)) {
      // Known already (the cluster's note came first): the rows this node
      // wrote are the room's rows.
      auto known = rooms_by_id_[record.id];
      if (members != nullptr) known->access().ReplaceRows(*members);
      return known;
    }
  }
  const bool announce_now = members != nullptr || room->access().is_public();
  if (announce_now) membership_->AnnounceCreated(room);
  if (members == nullptr) {
    // Made on another node: its member rows (a private room's members, a
    // public room's owner) are in the store; a private room is announced to
    // its members once they are known.
    store_->ReadMembers(record.id, [this, room, announce_now](absl::StatusOr<std::vector<MemberRecord>> rows) {
      if (!rows.ok()) {
        CHAT_LOG_WARN(kLog, "cannot read the members of room '%s': %s", room->name(), rows.status().message());
        return;
      }
      room->access().ReplaceRows(*rows);
      if (!announce_now) membership_->AnnounceCreated(room);
    });
  }
  return room;
}

}  // namespace chat::core
