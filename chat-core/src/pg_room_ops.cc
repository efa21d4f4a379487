#include "pg_room_ops.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pg_schema.h"

namespace chat::core {
namespace {

// pg_advisory_xact_lock key that serialises room creation under a quota
// ("room" in ASCII).
constexpr char kRoomsLock[] = "1919905645";
constexpr int64_t kNoBound = INT64_MAX;

using Results = std::vector<absl::StatusOr<PgResult>>;

// The role belongs to members only (store.h).
int64_t StoredRole(const MemberRecord& m) {
  return static_cast<int64_t>(m.state == MemberState::kMember ? m.role : Role::kNone);
}

// Member rows as the array parameters of one statement, column by column.
struct MemberColumns {
  std::vector<std::string> users, keys, by, reasons;
  std::vector<int64_t> states, roles, at;
  void Add(const MemberRecord& m) {
    users.push_back(m.user);
    keys.push_back(absl::AsciiStrToLower(m.user));
    by.push_back(m.by);
    reasons.push_back(m.reason);
    states.push_back(static_cast<int64_t>(m.state));
    roles.push_back(StoredRole(m));
    at.push_back(m.at_ms);
  }
};

StoredMessage MessageRow(const PgResult& r, int row, int64_t room_id) {
  StoredMessage m;
  m.room_id = room_id;
  m.seq = r.Int(row, 0);
  m.author = std::string(r.Text(row, 1));
  m.text = std::string(r.Text(row, 2));
  m.sent_at_ms = r.Int(row, 3);
  m.client_msg_id = std::string(r.Text(row, 4));
  m.deleted = r.Bool(row, 5);
  m.author_kind = r.Int(row, 6) == static_cast<int64_t>(AccountKind::kBot) ? AccountKind::kBot : AccountKind::kUser;
  return m;
}

}  // namespace

// The first error among an op's results, else the commit's status. A
// deadlock that PostgreSQL broke by failing this write (ABORTED from PgConn)
// is UNAVAILABLE here: it may pass, and ABORTED is WriteMembers' answer to a
// failed check (store.h).
absl::Status PgOpStatus(std::vector<absl::StatusOr<PgResult>>& results, const absl::Status& commit) {
  absl::Status st = commit;
  for (auto& r : results) {
    if (!r.ok()) {
      st = r.status();
      break;
    }
  }
  if (absl::IsAborted(st)) return absl::UnavailableError(absl::StrCat("the write lost a race; retry: ", st.message()));
  return st;
}

absl::StatusOr<HistoryPage> ReadPgHistory(PgConn& conn, const HistoryQuery& q) {
  if (q.limit < 1) return absl::InvalidArgumentError("history limit must be at least 1");
  const char* sql = nullptr;
  switch (q.direction) {
    case HistoryQuery::Direction::kLatest:
      sql = "SELECT seq, author, text, sent_at_ms, client_msg_id, deleted, author_kind FROM messages WHERE room_id = $1 AND "
            "seq <= $2 ORDER BY seq DESC LIMIT $3";
      break;
    case HistoryQuery::Direction::kBefore:
      sql = "SELECT seq, author, text, sent_at_ms, client_msg_id, deleted, author_kind FROM messages WHERE room_id = $1 AND "
            "seq <= $2 AND seq < $4 ORDER BY seq DESC LIMIT $3";
      break;
    case HistoryQuery::Direction::kAfter:
      sql = "SELECT seq, author, text, sent_at_ms, client_msg_id, deleted, author_kind FROM messages WHERE room_id = $1 AND "
            "seq <= $2 AND seq > $4 ORDER BY seq ASC LIMIT $3";
      break;
  }
  PgQuery query{sql,
                {absl::StrCat(q.room_id), absl::StrCat(q.max_seq == 0 ? kNoBound : q.max_seq),
                 absl::StrCat(static_cast<int64_t>(q.limit) + 1)}};
  if (q.direction != HistoryQuery::Direction::kLatest) query.params.push_back(absl::StrCat(q.cursor));
  auto r = conn.Query(query);
  if (!r.ok()) return r.status();
  HistoryPage page;
  int n = std::min(r->rows(), q.limit);
  page.has_more = r->rows() > q.limit;
  page.messages.reserve(n);
  for (int i = 0; i < n; ++i) page.messages.push_back(MessageRow(*r, i, q.room_id));
  if (q.direction != HistoryQuery::Direction::kAfter) std::reverse(page.messages.begin(), page.messages.end());
  return page;
}

absl::Status CheckPgNote(const std::string& note) {
  if (note.size() > kMaxRoomNoteBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a note may hold at most ", kMaxRoomNoteBytes, " bytes"));
  }
  return CheckPgText({&note});
}

absl::Status CheckPgText(const std::vector<const std::string*>& texts) {
  for (const std::string* t : texts) {
    if (t->find('\0') != std::string::npos) return absl::InvalidArgumentError("PostgreSQL text cannot hold U+0000");
  }
  return absl::OkStatus();
}

PgWriteOp PgCreateRoomOp(const RoomRecord& spec, std::vector<MemberRecord> members, int64_t now_ms,
                         const RoomQuota& quota, StoreCallback<RoomRecord> done) {
  const std::string& created_by = spec.created_by;
  // The members as rows; a user named twice keeps the last (as a sequence of
  // writes would), a kNone row is no row.
  absl::flat_hash_map<std::string, size_t> slot;
  std::vector<MemberRecord> rows;
  for (MemberRecord& m : members) {
    std::string key = absl::AsciiStrToLower(m.user);
    auto [it, fresh] = slot.try_emplace(key, rows.size());
    if (fresh) {
      rows.push_back(std::move(m));
    } else {
      rows[it->second] = std::move(m);
    }
  }
  MemberColumns cols;
  for (const MemberRecord& m : rows) {
    if (m.state != MemberState::kNone) cols.Add(m);
  }
  const auto& [users, keys, by, reasons, states, roles, at] = cols;
  // One row: the new room's id (NULL if none was made), whether the name is
  // taken, whether the cap is reached. The counts see rooms committed before
  // the statement began: every node takes the rooms' advisory lock first (held
  // to the end of the transaction), so two nodes cannot both see room for one
  // more. Appends lock room rows before this, never after: no deadlock.
  // The other nodes hear of the room (chat_rooms, pg_notify_codec.h) with its
  // kind and topic.
  const bool limited = quota.max_rooms > 0 || (quota.per_creator > 0 && !created_by.empty());
  std::vector<PgQuery> queries;
  if (limited) queries.push_back({absl::StrCat("SELECT pg_advisory_xact_lock(", kRoomsLock, ")"), {}});
  queries.push_back(
      {"WITH r AS (INSERT INTO rooms (name, created_at_ms, created_by, kind, topic) "
       "SELECT $1::text, $2::bigint, $3::text, $7::integer, $8::text "
       "WHERE ($4::bigint = 0 OR (SELECT count(*) FROM rooms) < $4::bigint) AND "
       "($5::bigint = 0 OR $3::text = '' OR (SELECT count(*) FROM rooms WHERE created_by = $3::text AND "
       "created_at_ms > $2::bigint - $6::bigint) < $5::bigint) "
       "ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at_ms, created_by, kind, topic), "
       "mem AS (INSERT INTO room_members (room_id, username, user_key, state, role, by_user, at_ms, reason) "
       "SELECT r.id, m.u, m.k, m.s, m.ro, m.b, m.a, m.re FROM r, unnest($9::text[], $10::text[], $11::integer[], "
       "$12::integer[], $13::text[], $14::bigint[], $15::text[]) AS m(u, k, s, ro, b, a, re)), "
       "n AS (SELECT r.id, pg_notify('chat_rooms', json_build_array(r.id, r.name, r.created_at_ms, "
       "r.created_by, r.kind, r.topic)::text) FROM r) "
       "SELECT (SELECT id FROM n), EXISTS (SELECT 1 FROM rooms WHERE name = $1::text), "
       "$4::bigint > 0 AND (SELECT count(*) FROM rooms) >= $4::bigint",
       {spec.name, absl::StrCat(now_ms), created_by, absl::StrCat(quota.max_rooms), absl::StrCat(quota.per_creator),
        absl::StrCat(quota.window_ms), absl::StrCat(static_cast<int>(spec.kind)), spec.topic, PgTextArray(users),
        PgTextArray(keys), PgIntArray(states), PgIntArray(roles), PgTextArray(by), PgIntArray(at),
        PgTextArray(reasons)}});
  RoomRecord made = spec;
  made.created_at_ms = now_ms;
  made.last_seq = 0;
  made.archived = false;
  return PgWriteOp{std::move(queries), [made, quota, done = std::move(done)](Results& results,
                                                                            const absl::Status& commit) mutable {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results.back();
                     if (r.rows() != 1) return done(absl::InternalError("create room: no answer"));
                     if (!r.IsNull(0, 0)) {
                       made.id = r.Int(0, 0);
                       return done(made);
                     }
                     if (r.Bool(0, 1)) {
                       return done(absl::AlreadyExistsError(absl::StrCat("room '", made.name, "' already exists")));
                     }
                     done(RoomQuotaError(quota, r.Bool(0, 2)));
                   }};
}

PgWriteOp PgWriteMembersOp(const std::vector<MemberWrite>& writes, const std::string& note,
                           StoreCallback<bool> done) {
  std::vector<int64_t> rooms, expect;
  std::vector<std::string> check;
  MemberColumns cols;
  for (const MemberWrite& w : writes) {
    rooms.push_back(w.record.room_id);
    cols.Add(w.record);
    check.push_back(w.check ? "t" : "f");
    expect.push_back(static_cast<int64_t>(w.expect));
  }
  const auto& [users, keys, by, reasons, states, roles, at] = cols;
  PgQuery q{"SELECT o_problem, o_user, o_room, o_found FROM chat_write_members($1::bigint[], $2::text[], "
            "$3::text[], $4::integer[], $5::integer[], $6::text[], $7::bigint[], $8::text[], $9::boolean[], "
            "$10::integer[], $11::text)",
            {PgIntArray(rooms), PgTextArray(users), PgTextArray(keys), PgIntArray(states), PgIntArray(roles),
             PgTextArray(by), PgIntArray(at), PgTextArray(reasons), PgTextArray(check), PgIntArray(expect), note}};
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results[0];
                     if (r.rows() != 1) return done(absl::InternalError("write members: no answer"));
                     switch (r.Int(0, 0)) {
                       case 0:
                         return done(true);
                       case 1:
                         return done(absl::NotFoundError(absl::StrCat("room ", r.Int(0, 2), " does not exist")));
                       default:
                         return done(absl::AbortedError(absl::StrCat("'", r.Text(0, 1), "' is ",
                                                                     MemberStateName(static_cast<MemberState>(r.Int(0, 3))), " in room ",
                                                                     r.Int(0, 2), ", not as expected")));
                     }
                   }};
}

PgWriteOp PgUpdateRoomOp(int64_t room_id, const RoomUpdate& update, const std::string& note,
                         StoreCallback<RoomRecord> done) {
  PgQuery q{"WITH u AS (UPDATE rooms SET topic = CASE WHEN $2::boolean THEN $3::text ELSE topic END, "
            "archived = CASE WHEN $4::boolean THEN $5::boolean ELSE archived END WHERE id = $1::bigint "
            "RETURNING id, name, created_at_ms, created_by, last_seq, kind, topic, archived), "
            "n AS (SELECT pg_notify('chat_room_changes', $6::text) FROM u WHERE $6::text <> '') "
            "SELECT u.*, (SELECT count(*) FROM n) FROM u",
            {absl::StrCat(room_id), update.topic.has_value() ? "t" : "f", update.topic.value_or(""),
             update.archived.has_value() ? "t" : "f", update.archived.value_or(false) ? "t" : "f", note}};
  return PgWriteOp{{std::move(q)}, [room_id, done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results[0];
                     if (r.rows() == 0) return done(absl::NotFoundError(absl::StrCat("room ", room_id, " does not exist")));
                     done(PgRoomRow(r, 0, 0));
                   }};
}

PgWriteOp PgDeleteRoomOp(int64_t room_id, const std::string& note, StoreCallback<bool> done) {
  // The room's row is locked by a statement of its own first: the deletes then
  // see every message and member row committed before (an append or member
  // write that waited for the lock finds no room after).
  std::vector<PgQuery> queries;
  queries.push_back({"SELECT 1 FROM rooms WHERE id = $1::bigint FOR UPDATE", {absl::StrCat(room_id)}});
  queries.push_back({"WITH r AS (DELETE FROM rooms WHERE id = $1::bigint RETURNING id), "
                     "m AS (DELETE FROM messages WHERE room_id IN (SELECT id FROM r)), "
                     "k AS (DELETE FROM room_members WHERE room_id IN (SELECT id FROM r)), "
                     "n AS (SELECT pg_notify('chat_room_changes', $2::text) FROM r WHERE $2::text <> '') "
                     "SELECT (SELECT count(*) FROM n) FROM r",
                     {absl::StrCat(room_id), note}});
  return PgWriteOp{std::move(queries),
                   [room_id, done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     if (results[1]->rows() == 0) {
                       return done(absl::NotFoundError(absl::StrCat("room ", room_id, " does not exist")));
                     }
                     done(true);
                   }};
}

PgWriteOp PgDeleteMessageOp(int64_t room_id, int64_t seq, const std::string& only_author, const std::string& note,
                            StoreCallback<StoredMessage> done) {
  // A row with true: made a tombstone; with false: someone else's message.
  PgQuery q{"WITH u AS (UPDATE messages SET text = '', deleted = true WHERE room_id = $1::bigint AND seq = $2::bigint "
            "AND ($3::text = '' OR author = $3::text) RETURNING author, sent_at_ms, client_msg_id, author_kind), "
            "n AS (SELECT pg_notify('chat_room_changes', $4::text) FROM u WHERE $4::text <> '') "
            "SELECT true, u.author, u.sent_at_ms, u.client_msg_id, (SELECT count(*) FROM n), u.author_kind FROM u "
            "UNION ALL SELECT false, m.author, m.sent_at_ms, m.client_msg_id, 0, m.author_kind FROM messages m "
            "WHERE m.room_id = $1::bigint AND m.seq = $2::bigint AND NOT EXISTS (SELECT 1 FROM u)",
            {absl::StrCat(room_id), absl::StrCat(seq), only_author, note}};
  return PgWriteOp{{std::move(q)},
                   [room_id, seq, done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results[0];
                     if (r.rows() == 0) {
                       return done(absl::NotFoundError(absl::StrCat("no message ", seq, " in room ", room_id)));
                     }
                     if (!r.Bool(0, 0)) {
                       return done(absl::PermissionDeniedError(absl::StrCat("message ", seq, " is not yours to delete")));
                     }
                     StoredMessage m;
                     m.room_id = room_id;
                     m.seq = seq;
                     m.author = std::string(r.Text(0, 1));
                     m.sent_at_ms = r.Int(0, 2);
                     m.client_msg_id = std::string(r.Text(0, 3));
                     m.author_kind = r.Int(0, 5) == static_cast<int64_t>(AccountKind::kBot) ? AccountKind::kBot
                                                                                            : AccountKind::kUser;
                     m.deleted = true;
                     done(std::move(m));
                   }};
}

PgWriteOp PgSetUserDisabledOp(const std::string& username_key, bool disabled,
                              StoreCallback<std::vector<std::string>> done) {
  std::vector<PgQuery> queries;
  const std::string flag = disabled ? "t" : "f";
  queries.push_back(
      {"UPDATE users SET disabled = $2::boolean WHERE username_key = $1::text RETURNING id", {username_key, flag}});
  // As RevokeSession and TrimSessions: the rows go, and every node hears of
  // each (chat_sessions).
  queries.push_back({"WITH d AS (DELETE FROM sessions WHERE $2::boolean AND user_id IN (SELECT id FROM users WHERE "
                     "username_key = $1::text) RETURNING token_hash) "
                     "SELECT encode(token_hash, 'hex'), pg_notify('chat_sessions', encode(token_hash, 'hex')) FROM d",
                     {username_key, flag}});
  return PgWriteOp{std::move(queries), [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     if (results[0]->rows() == 0) return done(absl::NotFoundError("no such user"));
                     std::vector<std::string> gone;
                     for (int i = 0; i < results[1]->rows(); ++i) {
                       gone.push_back(absl::HexStringToBytes(results[1]->Text(i, 0)));
                     }
                     done(std::move(gone));
                   }};
}

absl::StatusOr<std::vector<MemberRecord>> ReadPgMembers(PgConn& conn, int64_t room_id) {
  auto r = conn.Query({"SELECT room_id, username, state, role, by_user, at_ms, reason FROM room_members "
                       "WHERE $1::bigint = 0 OR room_id = $1::bigint ORDER BY room_id, username COLLATE \"C\"",
                       {absl::StrCat(room_id)}});
  if (!r.ok()) return r.status();
  std::vector<MemberRecord> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    MemberRecord m;
    m.room_id = r->Int(i, 0);
    m.user = std::string(r->Text(i, 1));
    m.state = static_cast<MemberState>(r->Int(i, 2));
    m.role = static_cast<Role>(r->Int(i, 3));
    m.by = std::string(r->Text(i, 4));
    m.at_ms = r->Int(i, 5);
    m.reason = std::string(r->Text(i, 6));
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SearchPgUsers(PgConn& conn, const std::string& prefix_key, int limit) {
  // LIKE with the prefix's own wildcards escaped (the index is text_pattern_ops).
  std::string pattern;
  for (char c : prefix_key) {
    if (c == '\\' || c == '%' || c == '_') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('%');
  auto r = conn.Query({"SELECT username FROM users WHERE username_key LIKE $1::text ESCAPE '\\' "
                       "ORDER BY username_key COLLATE \"C\" LIMIT $2::integer",
                       {pattern, absl::StrCat(limit)}});
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->Text(i, 0));
  return out;
}

}  // namespace chat::core
