#include "membership.h"

#include <sodium.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chat/validate.h"
#include "google/protobuf/util/time_util.h"
#include "hub.h"
#include "session.h"

namespace chat::core {
namespace {

using chat::v1::MembershipEvent;

constexpr char kDirectPrefix[] = "dm.";

absl::Status NoSuchRoom(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("room '", name, "' does not exist"));
}

absl::Status CheckReason(const std::string& reason) {
  if (reason.size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(absl::StrCat("reason must be at most ", kMaxReasonBytes, " bytes"));
  }
  return absl::OkStatus();
}

MemberWrite Write(int64_t room_id, const std::string& user, MemberState state, Role role, MemberState expect,
                  const std::string& by, int64_t now_ms, const std::string& reason = "") {
  MemberWrite w;
  w.record.room_id = room_id;
  w.record.user = user;
  w.record.state = state;
  w.record.role = role;
  w.record.by = by;
  w.record.at_ms = now_ms;
  w.record.reason = reason;
  w.expect = expect;
  return w;
}

MembershipEvent Event(const Room& room, const std::string& user, MembershipEvent::Kind kind, Role role,
                      const std::string& by, const std::string& reason = "") {
  MembershipEvent e;
  e.set_room(room.name());
  e.set_user(user);
  e.set_kind(kind);
  e.set_role(ToProtoRole(role));
  e.set_by(by);
  e.set_reason(reason);
  return e;
}

}  // namespace

std::string DirectRoomName(const std::vector<std::string>& sorted_keys) {
  const std::string joined = absl::StrJoin(sorted_keys, ",");
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(joined.data()), joined.size());
  return absl::StrCat(kDirectPrefix,
                      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 12)));
}

void Membership::FindAccount(const std::string& user, Answer<UserRecord> done) {
  if (user.empty()) return done(absl::InvalidArgumentError("user must not be empty"));
  if (user.size() > 64) return done(absl::NotFoundError(absl::StrCat("no user '", user.substr(0, 64), "'")));
  hub_->store()->FindUser(UserKey(user), [user, done = std::move(done)](absl::StatusOr<UserRecord> r) {
    if (absl::IsNotFound(r.status())) return done(absl::NotFoundError(absl::StrCat("no user '", user, "'")));
    done(std::move(r));
  });
}

void Membership::ResolveUser(const std::string& user, Answer<std::string> done) {
  FindAccount(user, [done = std::move(done)](absl::StatusOr<UserRecord> r) {
    if (!r.ok()) return done(r.status());
    done(r->username);
  });
}

void Membership::CreateRoom(const Identity& who, const chat::v1::CreateRoomRequest& req,
                            Answer<chat::v1::Room> done) {
  RoomRecord spec;
  spec.name = req.name();
  spec.created_by = who.user;
  spec.topic = req.topic();
  switch (req.kind()) {
    case chat::v1::ROOM_KIND_UNSPECIFIED:
    case chat::v1::ROOM_KIND_PUBLIC:
      spec.kind = RoomKind::kPublic;
      break;
    case chat::v1::ROOM_KIND_PRIVATE:
      spec.kind = RoomKind::kPrivate;
      break;
    case chat::v1::ROOM_KIND_DIRECT:
      return done(absl::InvalidArgumentError("direct rooms are opened with OpenDirect, not created"));
    default:
      return done(absl::InvalidArgumentError(absl::StrCat("unknown room kind ", req.kind())));
  }
  if (absl::StartsWith(spec.name, kDirectPrefix)) {
    return done(absl::InvalidArgumentError("room names starting with 'dm.' are kept for direct conversations"));
  }
  if (spec.topic.size() > kMaxTopicBytes) {
    return done(absl::InvalidArgumentError(absl::StrCat("topic must be at most ", kMaxTopicBytes, " bytes")));
  }
  MemberRecord owner;
  owner.user = who.user;
  owner.role = Role::kOwner;
  owner.by = who.user;
  hub_->CreateRoomAs(spec, {owner}, std::move(done));
}

void Membership::GetRoom(const Identity& who, const chat::v1::GetRoomRequest& req, Answer<chat::v1::Room> done) {
  auto room = hub_->LookupRoomFor(who, req.name());
  if (!room.ok()) return done(room.status());
  chat::v1::Room out;
  (*room)->Describe(&out, who.user);
  done(std::move(out));
}

void Membership::OpenDirect(const Identity& who, const chat::v1::OpenDirectRequest& req,
                            Answer<chat::v1::Room> done) {
  if (who.guest) return done(absl::PermissionDeniedError("guests cannot open direct conversations"));
  std::vector<std::string> others;
  for (const std::string& u : req.users()) {
    if (u.empty()) return done(absl::InvalidArgumentError("users must not be empty names"));
    if (UserKey(u) == UserKey(who.user)) continue;
    if (std::none_of(others.begin(), others.end(), [&](const std::string& o) { return UserKey(o) == UserKey(u); })) {
      others.push_back(u);
    }
  }
  if (others.empty() || static_cast<int>(others.size()) + 1 > kMaxDirectUsers) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("a direct conversation has 2 to ", kMaxDirectUsers, " users: name 1 to ",
                     kMaxDirectUsers - 1, " others")));
  }
  // Resolve every name (in turn), then open.
  struct State {
    std::vector<std::string> pending;
    std::vector<std::string> names;
    Answer<chat::v1::Room> done;
  };
  auto state = std::make_shared<State>();
  state->pending = std::move(others);
  state->names.push_back(who.user);
  state->done = std::move(done);
  auto step = std::make_shared<std::function<void()>>();
  // The step holds itself only weakly; the lookup in flight holds it.
  *step = [this, who, state, weak = std::weak_ptr<std::function<void()>>(step)]() {
    if (!state->pending.empty()) {
      std::string next = state->pending.back();
      state->pending.pop_back();
      return ResolveUser(next, [state, step = weak.lock()](absl::StatusOr<std::string> name) {
        if (!name.ok()) return state->done(name.status());
        state->names.push_back(*name);
        (*step)();
      });
    }
    std::vector<std::string> keys;
    for (const auto& n : state->names) keys.push_back(UserKey(n));
    std::sort(keys.begin(), keys.end());
    const std::string name = DirectRoomName(keys);
    auto answer = [this, who, done = state->done](const std::shared_ptr<Room>& room) {
      if (room->access().Row(who.user).state == MemberState::kMember) {
        chat::v1::Room out;
        room->Describe(&out, who.user);
        return done(std::move(out));
      }
      // The caller left it once: back in.
      MemberChange change{room, {Write(room->id(), who.user, MemberState::kMember, Role::kMember,
                                       room->access().Row(who.user).state, who.user, hub_->NowMs())},
                          Event(*room, who.user, MembershipEvent::JOINED, Role::kMember, who.user)};
      Commit(std::move(change), [room, who, done](absl::StatusOr<chat::v1::MembershipEvent> e) {
        if (!e.ok()) return done(e.status());
        chat::v1::Room out;
        room->Describe(&out, who.user);
        done(std::move(out));
      });
    };
    if (auto room = hub_->FindRoom(name)) return answer(room);
    RoomRecord spec;
    spec.name = name;
    spec.created_by = who.user;
    spec.kind = RoomKind::kDirect;
    std::vector<MemberRecord> rows;
    for (const auto& n : state->names) {
      MemberRecord m;
      m.user = n;
      m.role = Role::kMember;
      m.by = who.user;
      rows.push_back(std::move(m));
    }
    hub_->CreateRoomAs(spec, std::move(rows),
                       [this, name, answer, done = state->done](absl::StatusOr<chat::v1::Room> r) {
                         if (r.ok()) return done(std::move(r));
                         if (!absl::IsAlreadyExists(r.status())) return done(r.status());
                         // Opened at the same moment elsewhere.
                         if (auto room = hub_->FindRoom(name)) return answer(room);
                         done(absl::AbortedError("the conversation is being opened elsewhere; retry"));
                       });
  };
  (*step)();
}

void Membership::UpdateRoom(const Identity& who, const chat::v1::UpdateRoomRequest& req,
                            Answer<chat::v1::Room> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (!req.has_topic() && !req.has_archived()) {
    return done(absl::InvalidArgumentError("set topic or archived (or both)"));
  }
  const Actor actor = hub_->ActorOf(who);
  if (req.has_topic()) {
    if (req.topic().size() > kMaxTopicBytes) {
      return done(absl::InvalidArgumentError(absl::StrCat("topic must be at most ", kMaxTopicBytes, " bytes")));
    }
    if (auto st = room->access().Check(actor, RoomAction::kSetTopic); !st.ok()) return done(st);
  }
  if (req.has_archived()) {
    if (auto st = room->access().Check(actor, RoomAction::kArchive); !st.ok()) return done(st);
  }
  RoomUpdate update;
  if (req.has_topic()) update.topic = req.topic();
  if (req.has_archived()) update.archived = req.archived();
  RoomChange change{NewRoomChangeId(), room->id(), {}};
  auto* changed = change.event.mutable_room_changed();
  changed->set_kind(chat::v1::RoomChanged::UPDATED);
  room->Describe(changed->mutable_room());
  if (req.has_topic()) changed->mutable_room()->set_topic(req.topic());
  if (req.has_archived()) changed->mutable_room()->set_archived(req.archived());
  hub_->store()->UpdateRoom(room->id(), update, EncodeRoomChange(change),
                            [this, room, who, change, done](absl::StatusOr<RoomRecord> r) {
                              if (!r.ok()) return done(r.status());
                              Apply(change);
                              chat::v1::Room out;
                              room->Describe(&out, who.user);
                              done(std::move(out));
                            });
}

void Membership::DeleteRoom(const Identity& who, const chat::v1::DeleteRoomRequest& req,
                            Answer<chat::v1::DeleteRoomResponse> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (auto st = room->access().Check(hub_->ActorOf(who), RoomAction::kDeleteRoom); !st.ok()) return done(st);
  RoomChange change{NewRoomChangeId(), room->id(), {}};
  change.event.mutable_room_changed()->set_kind(chat::v1::RoomChanged::DELETED);
  room->Describe(change.event.mutable_room_changed()->mutable_room());
  hub_->store()->DeleteRoom(room->id(), EncodeRoomChange(change), [this, change, done](absl::StatusOr<bool> r) {
    if (!r.ok()) return done(r.status());
    Apply(change);
    done(chat::v1::DeleteRoomResponse());
  });
}

void Membership::Invite(const Identity& who, const chat::v1::InviteRequest& req,
                        Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (auto st = room->access().Check(hub_->ActorOf(who), RoomAction::kInvite); !st.ok()) return done(st);
  FindAccount(req.user(), [this, who, room, done, asked = req.user()](absl::StatusOr<UserRecord> account) {
    if (!account.ok()) return done(account.status());
    // A deleted account cannot join anything: as if there were none.
    if (account->deleted) return done(absl::NotFoundError(absl::StrCat("no user '", asked, "'")));
    const std::string* user = &account->username;
    MemberRecord row = room->access().Row(*user);
    if (row.state == MemberState::kMember) {
      return done(absl::AlreadyExistsError(absl::StrCat(*user, " is already a member of room '", room->name(), "'")));
    }
    if (row.state == MemberState::kInvited) {
      return done(absl::AlreadyExistsError(absl::StrCat(*user, " is already invited to room '", room->name(), "'")));
    }
    if (row.state == MemberState::kBanned) {
      return done(absl::FailedPreconditionError(
          absl::StrCat(*user, " is banned from room '", room->name(), "'; unban them first")));
    }
    if (account->kind == AccountKind::kBot) {
      // A bot cannot accept an invitation: the moderator's invite makes it a
      // member at once (it can be kicked or banned like anyone).
      MemberChange change{room,
                          {Write(room->id(), *user, MemberState::kMember, Role::kMember, MemberState::kNone, who.user,
                                 hub_->NowMs())},
                          Event(*room, *user, MembershipEvent::JOINED, Role::kMember, who.user)};
      room->Describe(change.event.mutable_room_info());
      change.event.mutable_room_info()->set_my_role(chat::v1::ROLE_MEMBER);
      return Commit(std::move(change), done);
    }
    MemberChange change{room,
                        {Write(room->id(), *user, MemberState::kInvited, Role::kNone, MemberState::kNone, who.user,
                               hub_->NowMs())},
                        Event(*room, *user, MembershipEvent::INVITED, Role::kNone, who.user)};
    room->Describe(change.event.mutable_room_info());
    Commit(std::move(change), done);
  });
}

void Membership::RespondInvite(const Identity& who, const chat::v1::RespondInviteRequest& req,
                               Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoom(req.room());
  if (found.ok() && (*found)->access().Row(who.user).state != MemberState::kInvited) found = NoSuchRoom("");
  if (!found.ok()) {
    if (absl::IsInvalidArgument(found.status())) return done(found.status());
    return done(absl::NotFoundError(absl::StrCat("no invitation to room '", req.room(), "'")));
  }
  std::shared_ptr<Room> room = *found;
  const bool accept = req.accept();
  MemberChange change{
      room,
      {Write(room->id(), who.user, accept ? MemberState::kMember : MemberState::kNone,
             accept ? Role::kMember : Role::kNone, MemberState::kInvited, who.user, hub_->NowMs())},
      Event(*room, who.user, accept ? MembershipEvent::JOINED : MembershipEvent::DECLINED,
            accept ? Role::kMember : Role::kNone, who.user)};
  if (accept) {
    room->Describe(change.event.mutable_room_info());
    change.event.mutable_room_info()->set_my_role(chat::v1::ROLE_MEMBER);
  }
  Commit(std::move(change), done);
}

void Membership::ListInvites(const Identity& who, const chat::v1::ListInvitesRequest&,
                             Answer<chat::v1::ListInvitesResponse> done) {
  chat::v1::ListInvitesResponse out;
  for (const auto& room : hub_->Rooms()) {
    MemberRecord row = room->access().Row(who.user);
    if (row.state != MemberState::kInvited) continue;
    chat::v1::Invite* invite = out.add_invites();
    room->Describe(invite->mutable_room());
    invite->set_invited_by(row.by);
    *invite->mutable_invited_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(row.at_ms);
  }
  done(std::move(out));
}

void Membership::LeaveRoom(const Identity& who, const chat::v1::LeaveRoomRequest& req,
                           Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  MemberRecord row = room->access().Row(who.user);
  if (row.state != MemberState::kMember) {
    return done(absl::FailedPreconditionError(absl::StrCat(
        "you are not a member of room '", room->name(), "'",
        room->access().is_public() ? " (to stop getting a public room's events, leave it on your session)" : "")));
  }
  if (row.role == Role::kOwner && room->access().Members().size() > 1) {
    return done(absl::FailedPreconditionError(
        "the owner cannot leave while others are members: hand over ownership first (SetRole to OWNER)"));
  }
  Commit(MemberChange{room,
                      {Write(room->id(), row.user, MemberState::kNone, Role::kNone, MemberState::kMember, who.user,
                             hub_->NowMs())},
                      Event(*room, row.user, MembershipEvent::LEFT, Role::kNone, who.user)},
         done);
}

void Membership::Kick(const Identity& who, const chat::v1::KickRequest& req, Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  Remove(who, *found, req.user(), false, req.reason(), std::move(done));
}

void Membership::Ban(const Identity& who, const chat::v1::BanRequest& req, Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  Remove(who, *found, req.user(), true, req.reason(), std::move(done));
}

void Membership::Remove(const Identity& who, const std::shared_ptr<Room>& room, const std::string& target, bool ban,
                        const std::string& reason, Answer<chat::v1::MembershipEvent> done) {
  if (auto st = CheckReason(reason); !st.ok()) return done(st);
  if (auto st = room->access().Check(hub_->ActorOf(who), ban ? RoomAction::kBan : RoomAction::kKick, target);
      !st.ok()) {
    return done(st);
  }
  ResolveUser(target, [this, who, room, ban, reason, done](absl::StatusOr<std::string> user) {
    if (!user.ok()) return done(user.status());
    MemberRecord row = room->access().Row(*user);
    MemberWrite write;
    if (ban) {
      if (row.state == MemberState::kBanned) {
        return done(absl::FailedPreconditionError(absl::StrCat(*user, " is already banned")));
      }
      write = Write(room->id(), *user, MemberState::kBanned, Role::kNone, row.state, who.user, hub_->NowMs(), reason);
    } else if (row.state == MemberState::kMember) {
      write = Write(room->id(), *user, MemberState::kNone, Role::kNone, MemberState::kMember, who.user, hub_->NowMs());
    } else if (room->access().is_public() && row.state == MemberState::kNone) {
      // Anyone may be in a public room without a row: out of it now.
      write = Write(room->id(), *user, MemberState::kNone, Role::kNone, MemberState::kNone, who.user, hub_->NowMs());
      write.check = false;
    } else {
      return done(absl::FailedPreconditionError(
          absl::StrCat(*user, " is not a member of room '", room->name(), "'")));
    }
    Commit(MemberChange{room, {write},
                        Event(*room, *user, ban ? MembershipEvent::BANNED : MembershipEvent::KICKED, Role::kNone,
                              who.user, reason)},
           done);
  });
}

void Membership::Unban(const Identity& who, const chat::v1::UnbanRequest& req, Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (auto st = room->access().Check(hub_->ActorOf(who), RoomAction::kUnban); !st.ok()) return done(st);
  MemberRecord row = room->access().Row(req.user());
  if (row.state != MemberState::kBanned) {
    return done(absl::FailedPreconditionError(absl::StrCat(req.user(), " is not banned from room '", room->name(), "'")));
  }
  Commit(MemberChange{room,
                      {Write(room->id(), row.user, MemberState::kNone, Role::kNone, MemberState::kBanned, who.user,
                             hub_->NowMs())},
                      Event(*room, row.user, MembershipEvent::UNBANNED, Role::kNone, who.user)},
         done);
}

void Membership::SetRole(const Identity& who, const chat::v1::SetRoleRequest& req,
                         Answer<chat::v1::MembershipEvent> done) {
  auto found = hub_->LookupRoomFor(who, req.room());
  if (!found.ok()) return done(found.status());
  std::shared_ptr<Room> room = *found;
  if (auto st = room->access().Check(hub_->ActorOf(who), RoomAction::kSetRole); !st.ok()) return done(st);
  if (req.role() < chat::v1::ROLE_MEMBER || req.role() > chat::v1::ROLE_OWNER) {
    return done(absl::InvalidArgumentError("role must be MEMBER, MODERATOR or OWNER"));
  }
  const Role role = static_cast<Role>(static_cast<int>(req.role()));
  ResolveUser(req.user(), [this, who, room, role, done](absl::StatusOr<std::string> user) {
    if (!user.ok()) return done(user.status());
    MemberRecord row = room->access().Row(*user);
    if (row.state == MemberState::kMember && row.role == Role::kOwner) {
      return done(absl::FailedPreconditionError(
          "the owner's role changes only when they hand over ownership (SetRole of another member to OWNER)"));
    }
    const bool stored_member = row.state == MemberState::kMember;
    if (!stored_member && !(room->access().is_public() && row.state == MemberState::kNone && role != Role::kMember)) {
      return done(absl::FailedPreconditionError(absl::StrCat(*user, " is not a member of room '", room->name(), "'")));
    }
    std::vector<MemberWrite> writes{
        Write(room->id(), *user, MemberState::kMember, role, row.state, who.user, hub_->NowMs())};
    if (role == Role::kOwner) {
      for (const MemberRecord& r : room->access().Rows()) {
        if (r.state == MemberState::kMember && r.role == Role::kOwner) {
          writes.push_back(Write(room->id(), r.user, MemberState::kMember, Role::kModerator, MemberState::kMember,
                                 who.user, hub_->NowMs()));
          writes.back().check = false;
        }
      }
    }
    Commit(MemberChange{room, std::move(writes),
                        Event(*room, *user, MembershipEvent::ROLE_CHANGED, role, who.user)},
           done);
  });
}

}  // namespace chat::core
