#include "sqlite_member_queries.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace chat::core {
namespace {

const char kRoomById[] = "SELECT 1 FROM rooms WHERE id=?1";
const char kMemberState[] = "SELECT state FROM room_members WHERE room_id=?1 AND user_key=?2";
const char kUpsertMember[] =
    "INSERT INTO room_members (room_id, username, user_key, state, role, by_user, at_ms, reason) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (room_id, user_key) DO UPDATE SET "
    "username=excluded.username, state=excluded.state, role=excluded.role, by_user=excluded.by_user, "
    "at_ms=excluded.at_ms, reason=excluded.reason";
const char kDeleteMember[] = "DELETE FROM room_members WHERE room_id=?1 AND user_key=?2";
#define CHAT_MEMBER_COLUMNS "room_id, username, state, role, by_user, at_ms, reason FROM room_members"
const char kRoomMembers[] = "SELECT " CHAT_MEMBER_COLUMNS " WHERE room_id=?1 ORDER BY username";
const char kAllMembers[] = "SELECT " CHAT_MEMBER_COLUMNS " ORDER BY room_id, username";
#undef CHAT_MEMBER_COLUMNS
const char kUpdateRoom[] =
    "UPDATE rooms SET topic=CASE WHEN ?2 THEN ?3 ELSE topic END, "
    "archived=CASE WHEN ?4 THEN ?5 ELSE archived END WHERE id=?1 "
    "RETURNING name, created_at_ms, created_by, kind, topic, archived";
const char kDeleteRoomMessages[] = "DELETE FROM messages WHERE room_id=?1";
const char kDeleteRoomMembers[] = "DELETE FROM room_members WHERE room_id=?1";
const char kDeleteRoom[] = "DELETE FROM rooms WHERE id=?1";
const char kFindMessage[] =
    "SELECT author, sent_at_ms, client_msg_id, author_kind FROM messages WHERE room_id=?1 AND seq=?2";
const char kTombstone[] = "UPDATE messages SET text='', deleted=1 WHERE room_id=?1 AND seq=?2";
// Keys in [?1, ?2) in byte order: those that start with ?1 (sqlite_member_queries.cc's
// PrefixEnd); without ?2, every key from ?1 on.
const char kSearchUsersBounded[] =
    "SELECT username FROM users WHERE username_key>=?1 AND username_key<?2 ORDER BY username_key LIMIT ?3";
const char kSearchUsersFrom[] = "SELECT username FROM users WHERE username_key>=?1 ORDER BY username_key LIMIT ?3";
const char kSetDisabled[] = "UPDATE users SET disabled=?2 WHERE username_key=?1";
const char kRevokeUserSessions[] =
    "DELETE FROM sessions WHERE user_id=(SELECT id FROM users WHERE username_key=?1) RETURNING token_hash";


absl::StatusOr<bool> RoomExists(SqliteConnection& c, int64_t room_id) {
  return StepAny(c.Get(kRoomById).Reset().Bind(1, room_id), "find room");
}

// Stores `m` as the row of (m.room_id, its user), or deletes it (kNone).
absl::Status PutMember(SqliteConnection& c, const MemberRecord& m) {
  const std::string key = absl::AsciiStrToLower(m.user);
  if (m.state == MemberState::kNone) {
    return StepDone(c.Get(kDeleteMember).Reset().Bind(1, m.room_id).Bind(2, key), "delete member");
  }
  // The role belongs to members only (store.h).
  const Role role = m.state == MemberState::kMember ? m.role : Role::kNone;
  SqliteStmt& s = c.Get(kUpsertMember);
  s.Reset().Bind(1, m.room_id).Bind(2, m.user).Bind(3, key).Bind(4, static_cast<int64_t>(m.state));
  s.Bind(5, static_cast<int64_t>(role)).Bind(6, m.by).Bind(7, m.at_ms).Bind(8, m.reason);
  return StepDone(s, "write member");
}

// The smallest string above every string that starts with `prefix` (byte
// order), or nullopt when there is none (empty, or all 0xFF).
std::optional<std::string> PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

absl::StatusOr<RoomRecord> CreateRoomAsOn(WriterState& w, const RoomRecord& spec, std::vector<MemberRecord>& members,
                                          int64_t now_ms, const RoomQuota& quota) {
  auto r = InSavepoint<RoomRecord>(w.conn, [&]() -> absl::StatusOr<RoomRecord> {
    auto room = CreateRoomOn(w, spec, now_ms, quota);
    if (!room.ok()) return room;
    for (MemberRecord& m : members) {
      m.room_id = room->id;
      if (absl::Status st = PutMember(w.conn, m); !st.ok()) {
        w.last_seq.erase(room->id);
        return st;
      }
    }
    return room;
  });
  return r;
}

absl::StatusOr<bool> WriteMembersOn(SqliteConnection& c, const std::vector<MemberWrite>& writes) {
  return InSavepoint<bool>(c, [&]() -> absl::StatusOr<bool> {
    for (const MemberWrite& wr : writes) {
      const MemberRecord& m = wr.record;
      auto exists = RoomExists(c, m.room_id);
      if (!exists.ok()) return exists.status();
      if (!*exists) return absl::NotFoundError(absl::StrCat("room ", m.room_id, " does not exist"));
      if (wr.check) {
        SqliteStmt& s = c.Get(kMemberState);
        s.Reset().Bind(1, m.room_id).Bind(2, absl::AsciiStrToLower(m.user));
        int rc = s.Step();
        MemberState now = rc == SQLITE_ROW ? static_cast<MemberState>(s.Int(0)) : MemberState::kNone;
        s.Reset();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s.Error(rc, "read member");
        if (now != wr.expect) {
          return absl::AbortedError(absl::StrCat("'", m.user, "' is ", MemberStateName(now), " in room ", m.room_id,
                                                 ", not ", MemberStateName(wr.expect), " as expected"));
        }
      }
      if (absl::Status st = PutMember(c, m); !st.ok()) return st;
    }
    return true;
  });
}

absl::StatusOr<RoomRecord> UpdateRoomOn(WriterState& w, int64_t room_id, const RoomUpdate& update) {
  SqliteStmt& s = w.conn.Get(kUpdateRoom);
  s.Reset().Bind(1, room_id);
  s.Bind(2, int64_t{update.topic.has_value()}).Bind(3, update.topic.value_or(""));
  s.Bind(4, int64_t{update.archived.has_value()}).Bind(5, int64_t{update.archived.value_or(false)});
  int rc = s.Step();
  if (rc != SQLITE_ROW) {
    s.Reset();
    if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("room ", room_id, " does not exist"));
    return s.Error(rc, "update room");
  }
  RoomRecord r{room_id, s.Text(0), s.Int(1), s.Text(2), 0, static_cast<RoomKind>(s.Int(3)), s.Text(4),
               s.Int(5) != 0};
  // Step to the end so the UPDATE completes before the reset.
  while ((rc = s.Step()) == SQLITE_ROW) {
  }
  s.Reset();
  if (rc != SQLITE_DONE) return s.Error(rc, "update room");
  auto seq = w.last_seq.find(room_id);
  r.last_seq = seq == w.last_seq.end() ? 0 : seq->second;
  return r;
}

absl::StatusOr<bool> DeleteRoomOn(WriterState& w, int64_t room_id) {
  auto r = InSavepoint<bool>(w.conn, [&]() -> absl::StatusOr<bool> {
    auto exists = RoomExists(w.conn, room_id);
    if (!exists.ok()) return exists.status();
    if (!*exists) return absl::NotFoundError(absl::StrCat("room ", room_id, " does not exist"));
    for (const char* sql : {kDeleteRoomMessages, kDeleteRoomMembers, kDeleteRoom}) {
      if (absl::Status st = StepDone(w.conn.Get(sql).Reset().Bind(1, room_id), "delete room"); !st.ok()) return st;
    }
    return true;
  });
  if (r.ok()) {
    // Appends to it are NOT_FOUND from now on; a failed commit puts the
    // counter back (RunBatch).
    w.SaveCounter(room_id);
    w.last_seq.erase(room_id);
  }
  return r;
}

absl::StatusOr<StoredMessage> DeleteMessageOn(SqliteConnection& c, int64_t room_id, int64_t seq,
                                              const std::string& only_author) {
  SqliteStmt& s = c.Get(kFindMessage);
  s.Reset().Bind(1, room_id).Bind(2, seq);
  int rc = s.Step();
  if (rc != SQLITE_ROW) {
    s.Reset();
    if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("no message ", seq, " in room ", room_id));
    return s.Error(rc, "find message");
  }
  StoredMessage m;
  m.room_id = room_id;
  m.seq = seq;
  m.author = s.Text(0);
  m.sent_at_ms = s.Int(1);
  m.client_msg_id = s.Text(2);
  m.author_kind = StoredAuthorKind(s.Int(3));
  m.deleted = true;
  s.Reset();
  if (!only_author.empty() && m.author != only_author) {
    return absl::PermissionDeniedError(absl::StrCat("message ", seq, " is not yours to delete"));
  }
  if (absl::Status st = StepDone(c.Get(kTombstone).Reset().Bind(1, room_id).Bind(2, seq), "delete message");
      !st.ok()) {
    return st;
  }
  return m;
}

absl::StatusOr<std::vector<std::string>> SetUserDisabledOn(SqliteConnection& c, const std::string& username_key,
                                                           bool disabled) {
  return InSavepoint<std::vector<std::string>>(c, [&]() -> absl::StatusOr<std::vector<std::string>> {
    SqliteStmt& s = c.Get(kSetDisabled);
    if (absl::Status st = StepDone(s.Reset().Bind(1, username_key).Bind(2, int64_t{disabled}), "disable user");
        !st.ok()) {
      return st;
    }
    if (sqlite3_changes(c.db()) == 0) return absl::NotFoundError("no such user");
    std::vector<std::string> gone;
    if (!disabled) return gone;
    // As RevokeSession: the rows go.
    SqliteStmt& d = c.Get(kRevokeUserSessions);
    d.Reset().Bind(1, username_key);
    int rc;
    while ((rc = d.Step()) == SQLITE_ROW) gone.push_back(d.Text(0));
    d.Reset();
    if (rc != SQLITE_DONE) return d.Error(rc, "revoke sessions");
    return gone;
  });
}

absl::StatusOr<std::vector<MemberRecord>> ReadMembersOn(SqliteConnection& c, int64_t room_id) {
  SqliteStmt& s = c.Get(room_id == 0 ? kAllMembers : kRoomMembers);
  s.Reset();
  if (room_id != 0) s.Bind(1, room_id);
  std::vector<MemberRecord> out;
  absl::Status st = s.EachRow(
      [&] {
        MemberRecord m;
        m.room_id = s.Int(0);
        m.user = s.Text(1);
        m.state = static_cast<MemberState>(s.Int(2));
        m.role = static_cast<Role>(s.Int(3));
        m.by = s.Text(4);
        m.at_ms = s.Int(5);
        m.reason = s.Text(6);
        out.push_back(std::move(m));
      },
      "read members");
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<std::string>> SearchUsersOn(SqliteConnection& c, const std::string& prefix_key,
                                                       int limit) {
  std::optional<std::string> end = PrefixEnd(prefix_key);
  SqliteStmt& s = c.Get(end.has_value() ? kSearchUsersBounded : kSearchUsersFrom);
  s.Reset().Bind(1, prefix_key).Bind(3, static_cast<int64_t>(limit));
  if (end.has_value()) s.Bind(2, *end);
  std::vector<std::string> out;
  absl::Status st = s.EachRow([&] { out.push_back(s.Text(0)); }, "search users");
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

}  // namespace chat::core
