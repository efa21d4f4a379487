// Membership's reads (members, user search and profiles) and how committed changes are
// applied on every node: member rows, events, sessions taken out of rooms.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "google/protobuf/util/time_util.h"
#include "frames.h"
#include "hub.h"
#include "membership.h"
#include "session.h"

namespace chat::core {
namespace {

using chat::v1::MembershipEvent;

constexpr char kLog[] = "members";
constexpr int kMaxMembersPage = 1000;
constexpr int kMaxSearch = 20;
constexpr int kDefaultSearch = 10;
constexpr size_t kSeenIds = 4096;
constexpr int64_t kSearchWindowMs = 10'000;
constexpr int kMaxProfiles = 100;
// No username is longer (ValidateUsername): a longer name is unknown.
constexpr size_t kMaxUsernameBytes = 64;

MemberState StateAfter(MembershipEvent::Kind kind) {
  switch (kind) {
    case MembershipEvent::INVITED:
      return MemberState::kInvited;
    case MembershipEvent::JOINED:
    case MembershipEvent::ROLE_CHANGED:
      return MemberState::kMember;
    case MembershipEvent::BANNED:
      return MemberState::kBanned;
    default:
      return MemberState::kNone;
  }
}

// What a session that is taken out of the room is told.
std::string LeftReason(const MembershipEvent& e) {
  std::string why;
  switch (e.kind()) {
    case MembershipEvent::KICKED:
      why = absl::StrCat("kicked by ", e.by());
      break;
    case MembershipEvent::BANNED:
      why = absl::StrCat("banned by ", e.by());
      break;
    default:
      return "you left the room";
  }
  if (!e.reason().empty()) absl::StrAppend(&why, ": ", e.reason());
  return why;
}

}  // namespace

void Membership::ListMembers(const Identity& who, const chat::v1::ListMembersRequest& req,
                             Answer<chat::v1::ListMembersResponse> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (req.limit() < 0 || req.limit() > kMaxMembersPage) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("limit must be between 1 and ", kMaxMembersPage, " (0 means ", kMaxMembersPage, ")")));
  }
  const size_t limit = req.limit() == 0 ? kMaxMembersPage : static_cast<size_t>(req.limit());
  std::vector<std::string> present = room->Present(std::numeric_limits<size_t>::max());
  absl::flat_hash_set<std::string> online;
  for (const auto& p : present) online.insert(UserKey(p));
  // By key: user, role.
  absl::btree_map<std::string, std::pair<std::string, Role>> members;
  chat::v1::ListMembersResponse out;
  out.set_room(room->name());
  const bool moderator = room->access().Check(hub_->ActorOf(who), RoomAction::kSeeInvitedAndBanned).ok();
  for (const MemberRecord& r : room->access().Rows()) {
    if (r.state == MemberState::kMember) {
      members[UserKey(r.user)] = {r.user, r.role == Role::kNone ? Role::kMember : r.role};
    } else if (moderator && req.cursor().empty()) {
      (r.state == MemberState::kInvited ? out.add_invited() : out.add_banned())->assign(r.user);
    }
  }
  if (room->access().is_public()) {
    for (const auto& p : present) members.emplace(UserKey(p), std::make_pair(p, Role::kMember));
  }
  auto it = req.cursor().empty() ? members.begin() : members.upper_bound(UserKey(req.cursor()));
  for (; it != members.end() && static_cast<size_t>(out.members_size()) < limit; ++it) {
    chat::v1::Member* m = out.add_members();
    m->set_user(it->second.first);
    m->set_role(ToProtoRole(it->second.second));
    m->set_online(online.contains(it->first));
  }
  if (it != members.end() && out.members_size() > 0) out.set_next_cursor(out.members().rbegin()->user());
  done(std::move(out));
}

void Membership::DeleteMessage(const Identity& who, const chat::v1::DeleteMessageRequest& req,
                               Answer<chat::v1::MessageDeleted> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (req.seq() < 1) return done(absl::InvalidArgumentError("seq must be >= 1"));
  if (req.seq() > room->last_seq()) {
    return done(absl::NotFoundError(absl::StrCat("room '", room->name(), "' has no message ", req.seq())));
  }
  const Actor actor = hub_->ActorOf(who);
  if (room->access().RoleOf(actor) == Role::kNone) {
    return done(absl::PermissionDeniedError("only members may delete messages"));
  }
  const bool any = room->access().Check(actor, RoomAction::kDeleteOthersMessage).ok();
  RoomChange change{NewRoomChangeId(), room->id(), {}};
  auto* deleted = change.event.mutable_message_deleted();
  deleted->set_room(room->name());
  deleted->set_seq(req.seq());
  deleted->set_by(who.user);
  hub_->store()->DeleteMessage(
      room->id(), req.seq(), any ? "" : who.user, EncodeRoomChange(change),
      [this, room, change, done](absl::StatusOr<StoredMessage> r) {
        if (absl::IsPermissionDenied(r.status())) {
          return done(absl::PermissionDeniedError(
              "only its author, a moderator or the owner may delete a message"));
        }
        if (absl::IsNotFound(r.status())) {
          return done(absl::NotFoundError(
              absl::StrCat("room '", room->name(), "' has no message ", change.event.message_deleted().seq())));
        }
        if (!r.ok()) return done(r.status());
        Apply(change);
        done(change.event.message_deleted());
      });
}

absl::Status Membership::CheckSearchRate(const std::string& user) {
  const int64_t now = hub_->NowMs();
  absl::MutexLock lock(&mu_);
  if (searches_.size() > 100000) searches_.clear();
  auto& [since, count] = searches_[UserKey(user)];
  if (now - since >= kSearchWindowMs) {
    since = now;
    count = 0;
  }
  if (count >= hub_->options().searches_per_10s) {
    const int64_t wait_s = (since + kSearchWindowMs - now + 999) / 1000;
    return absl::ResourceExhaustedError(
        absl::StrCat("too many user searches: at most ", hub_->options().searches_per_10s,
                     " every 10 s; retry in ", wait_s, " s"));
  }
  ++count;
  return absl::OkStatus();
}

void Membership::SearchUsers(const Identity& who, const chat::v1::SearchUsersRequest& req,
                             Answer<chat::v1::SearchUsersResponse> done) {
  if (req.prefix().empty() || req.prefix().size() > 32) {
    return done(absl::InvalidArgumentError("prefix must be 1 to 32 characters"));
  }
  if (req.limit() < 0 || req.limit() > kMaxSearch) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("limit must be between 1 and ", kMaxSearch, " (0 means ", kDefaultSearch, ")")));
  }
  if (auto st = CheckSearchRate(who.user); !st.ok()) return done(st);
  hub_->store()->SearchUsers(UserKey(req.prefix()), req.limit() == 0 ? kDefaultSearch : req.limit(),
                             [done](absl::StatusOr<std::vector<std::string>> r) {
                               if (!r.ok()) return done(r.status());
                               chat::v1::SearchUsersResponse out;
                               for (auto& u : *r) out.add_users(std::move(u));
                               done(std::move(out));
                             });
}

void Membership::GetUsers(const Identity&, const chat::v1::GetUsersRequest& req,
                          Answer<chat::v1::GetUsersResponse> done) {
  if (req.usernames().empty() || req.usernames_size() > kMaxProfiles) {
    return done(absl::InvalidArgumentError(absl::StrCat("usernames must name 1 to ", kMaxProfiles, " users")));
  }
  std::vector<std::string> keys;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& name : req.usernames()) {
    if (name.empty()) return done(absl::InvalidArgumentError("usernames must not be empty"));
    if (name.size() > kMaxUsernameBytes) continue;
    std::string key = UserKey(name);
    if (seen.insert(key).second) keys.push_back(std::move(key));
  }
  if (keys.empty()) return done(chat::v1::GetUsersResponse());
  hub_->store()->FindUsers(keys, [done](absl::StatusOr<std::vector<UserRecord>> users) {
    if (!users.ok()) return done(users.status());
    chat::v1::GetUsersResponse out;
    for (const UserRecord& u : *users) {
      chat::v1::UserProfile* p = out.add_users();
      p->set_username(u.username);
      p->set_kind(u.kind == AccountKind::kBot ? chat::v1::ACCOUNT_KIND_BOT : chat::v1::ACCOUNT_KIND_USER);
      p->set_owner(u.owner);
      p->set_deleted(u.deleted);
      // A deleted account's display name is erased; say nothing of it even
      // if a store still had it.
      if (!u.deleted) p->set_display_name(u.display_name);
      if (u.created_at_ms != 0) {
        *p->mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(u.created_at_ms);
      }
    }
    done(std::move(out));
  });
}

void Membership::Commit(MemberChange change, Answer<chat::v1::MembershipEvent> done) {
  RoomChange note{NewRoomChangeId(), change.room->id(), {}};
  *note.event.mutable_membership() = change.event;
  hub_->store()->WriteMembers(std::move(change.writes), EncodeRoomChange(note),
                              [this, note, done](absl::StatusOr<bool> r) {
                                if (absl::IsAborted(r.status())) {
                                  return done(absl::AbortedError(absl::StrCat(
                                      "the membership changed meanwhile (", r.status().message(), "); retry")));
                                }
                                if (!r.ok()) return done(r.status());
                                Apply(note);
                                done(note.event.membership());
                              });
}

bool Membership::FirstTime(uint64_t id) {
  absl::MutexLock lock(&mu_);
  if (!seen_.insert(id).second) return false;
  seen_order_.push_back(id);
  if (seen_order_.size() > kSeenIds) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return true;
}

void Membership::ApplyNote(const std::string& note) {
  auto change = DecodeRoomChange(note);
  if (!change.ok()) {
    CHAT_LOG_WARN(kLog, "%s", change.status().message());
    return;
  }
  Apply(*change);
}

void Membership::Apply(const RoomChange& change) {
  if (!FirstTime(change.id)) return;
  auto room = hub_->FindRoomById(change.room_id);
  // Not known here yet: when it is adopted, its rows are read from the store.
  if (room == nullptr) return;
  switch (change.event.event_case()) {
    case chat::v1::ServerEvent::kMembership:
      return ApplyMembership(room, change.event);
    case chat::v1::ServerEvent::kRoomChanged:
      return ApplyRoomChanged(room, change.event);
    case chat::v1::ServerEvent::kMessageDeleted:
      room->TombstoneRecent(change.event.message_deleted().seq());
      room->Broadcast(MakeRoomFrame(room->id(), 0, change.event));
      return;
    default:
      CHAT_LOG_WARN(kLog, "a room change note without a known event, for room %d", static_cast<int>(room->id()));
  }
}

void Membership::ApplyMembership(const std::shared_ptr<Room>& room, const chat::v1::ServerEvent& ev) {
  const MembershipEvent& e = ev.membership();
  MemberRecord row;
  row.room_id = room->id();
  row.user = e.user();
  row.state = StateAfter(e.kind());
  row.role = row.state == MemberState::kMember ? static_cast<Role>(static_cast<int>(e.role())) : Role::kNone;
  row.by = e.by();
  row.at_ms = hub_->NowMs();
  row.reason = e.reason();
  std::vector<chat::v1::ServerEvent> events{ev};
  if (e.kind() == MembershipEvent::ROLE_CHANGED && row.role == Role::kOwner) {
    // Handing over: the old owner is a moderator now.
    for (MemberRecord other : room->access().Rows()) {
      if (other.role != Role::kOwner || UserKey(other.user) == UserKey(e.user())) continue;
      other.role = Role::kModerator;
      room->access().SetRow(other);
      chat::v1::ServerEvent demoted = ev;
      demoted.mutable_membership()->set_user(other.user);
      demoted.mutable_membership()->set_role(chat::v1::ROLE_MODERATOR);
      events.push_back(std::move(demoted));
    }
  }
  room->access().SetRow(row);
  for (const auto& out : events) {
    room->Broadcast(MakeRoomFrame(room->id(), 0, out));
    for (const auto& s : hub_->live().SessionsOf(out.membership().user())) {
      if (!s->InRoom(room->id())) s->Push(out);
    }
  }
  if (e.kind() == MembershipEvent::KICKED || e.kind() == MembershipEvent::BANNED ||
      e.kind() == MembershipEvent::LEFT) {
    const std::string why = LeftReason(e);
    for (const auto& s : hub_->live().SessionsOf(e.user())) s->ForceLeave(*room, why);
  }
  if (e.kind() == MembershipEvent::JOINED && !room->access().is_public()) {
    chat::v1::ServerEvent created;
    created.mutable_room_changed()->set_kind(chat::v1::RoomChanged::CREATED);
    room->Describe(created.mutable_room_changed()->mutable_room(), e.user());
    for (const auto& s : hub_->live().SessionsOf(e.user())) s->Push(created);
  }
}

void Membership::ApplyRoomChanged(const std::shared_ptr<Room>& room, const chat::v1::ServerEvent& ev) {
  const chat::v1::RoomChanged& rc = ev.room_changed();
  if (rc.kind() == chat::v1::RoomChanged::UPDATED) {
    room->access().SetSettings(rc.room().topic(), rc.room().archived());
    hub_->Announce(*room, ev);
    return;
  }
  if (rc.kind() != chat::v1::RoomChanged::DELETED) return;
  hub_->RemoveRoom(room->id());
  for (const auto& s : hub_->live().AllSessions()) s->ForceLeave(*room, "room deleted");
  hub_->Announce(*room, ev);
  CHAT_LOG_INFO(kLog, "room '%s' deleted", room->name());
}

void Membership::AnnounceCreated(const std::shared_ptr<Room>& room) {
  chat::v1::ServerEvent ev;
  ev.mutable_room_changed()->set_kind(chat::v1::RoomChanged::CREATED);
  if (room->access().is_public()) {
    room->Describe(ev.mutable_room_changed()->mutable_room());
    return hub_->live().PushToAll(ev);
  }
  for (const std::string& user : room->access().Members()) {
    // Each member's own description (their role), from scratch.
    ev.mutable_room_changed()->clear_room();
    room->Describe(ev.mutable_room_changed()->mutable_room(), user);
    for (const auto& s : hub_->live().SessionsOf(user)) s->Push(ev);
  }
}

void Membership::Reload() {
  hub_->store()->ReadMembers(0, [this](absl::StatusOr<std::vector<MemberRecord>> rows) {
    if (!rows.ok()) {
      CHAT_LOG_WARN(kLog, "cannot reload room members: %s", rows.status().message());
      return;
    }
    absl::flat_hash_map<int64_t, std::vector<MemberRecord>> by_room;
    for (MemberRecord& r : *rows) by_room[r.room_id].push_back(std::move(r));
    for (const auto& room : hub_->Rooms()) {
      room->access().ReplaceRows(by_room[room->id()]);
      // Sessions of users no longer allowed in leave.
      for (const auto& s : hub_->live().AllSessions()) {
        if (!s->InRoom(room->id())) continue;
        const Actor actor = hub_->ActorOf(s->identity());
        if (!room->access().MaySee(actor) || !room->access().CheckJoin(actor).ok()) {
          s->ForceLeave(*room, "your membership of this room ended");
        }
      }
    }
  });
}

}  // namespace chat::core
