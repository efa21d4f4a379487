#include "sqlite_queries.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace chat::core {
namespace {

// Steps a statement whose one row is a count (or no row: 0) and resets it.
absl::StatusOr<int64_t> StepCount(SqliteStmt& s, absl::string_view what) {
  int rc = s.Step();
  int64_t n = rc == SQLITE_ROW ? s.Int(0) : 0;
  s.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s.Error(rc, what);
  return n;
}

// Statements cached on their connection (the start-up ones below are not).
const char kCreateRoom[] =
    "INSERT INTO rooms (name, created_at_ms, created_by, kind, topic) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (name) DO NOTHING";
const char kRoomExists[] = "SELECT 1 FROM rooms WHERE name=?1";
const char kCountRooms[] = "SELECT count(*) FROM rooms";
const char kCountRoomsBy[] = "SELECT count(*) FROM rooms WHERE created_by=?1 AND created_at_ms>?2";
const char kFindDuplicate[] =
    "SELECT seq, text, sent_at_ms, author_kind FROM messages WHERE room_id=?1 AND author=?2 AND "
    "client_msg_id=?3 AND client_msg_id!=''";  // the last term lets SQLite use the partial index
const char kInsertMessage[] =
    "INSERT INTO messages (room_id, seq, author, text, sent_at_ms, client_msg_id, author_kind) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
// A page of history: ?1 room, ?2 newest seq to show, ?3 limit, ?4 the cursor.
#define CHAT_HISTORY_PAGE(cursor, order) \
  "SELECT seq, author, text, sent_at_ms, client_msg_id, deleted, author_kind FROM messages WHERE room_id=?1 AND " \
  "seq<=?2" cursor " ORDER BY seq " order " LIMIT ?3"
const char kHistoryLatest[] = CHAT_HISTORY_PAGE("", "DESC");
const char kHistoryBefore[] = CHAT_HISTORY_PAGE(" AND seq<?4", "DESC");
const char kHistoryAfter[] = CHAT_HISTORY_PAGE(" AND seq>?4", "ASC");
#undef CHAT_HISTORY_PAGE
}  // namespace

absl::Status LoadSeqCounters(WriterState& w) {
  SqliteStmt s;
  absl::Status p = s.Prepare(w.conn.db(),
                             "SELECT r.id, (SELECT coalesce(max(seq),0) FROM messages m WHERE "
                             "m.room_id=r.id) FROM rooms r");
  if (!p.ok()) return p;
  return s.EachRow([&] { w.last_seq[s.Int(0)] = s.Int(1); }, "load counters");
}

absl::StatusOr<std::vector<RoomRecord>> LoadRoomsOn(WriterState& w) {
  SqliteStmt s;
  absl::Status p =
      s.Prepare(w.conn.db(), "SELECT id, name, created_at_ms, created_by, kind, topic, archived FROM rooms ORDER BY id");
  if (!p.ok()) return p;
  std::vector<RoomRecord> out;
  absl::Status st = s.EachRow(
      [&] {
        RoomRecord r{s.Int(0), s.Text(1), s.Int(2), s.Text(3), 0};
        r.last_seq = w.last_seq[r.id];
        r.kind = static_cast<RoomKind>(s.Int(4));
        r.topic = s.Text(5);
        r.archived = s.Int(6) != 0;
        out.push_back(std::move(r));
      },
      "load rooms");
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<RoomRecord> CreateRoomOn(WriterState& w, const RoomRecord& spec, int64_t now_ms,
                                        const RoomQuota& quota) {
  const std::string& name = spec.name;
  const std::string& created_by = spec.created_by;
  // One writer per database (the file is locked), so counting first is exact.
  if (quota.max_rooms > 0 || (quota.per_creator > 0 && !created_by.empty())) {
    auto exists = StepCount(w.conn.Get(kRoomExists).Reset().Bind(1, name), "create room");
    if (!exists.ok()) return exists.status();
    if (*exists > 0) return absl::AlreadyExistsError(absl::StrCat("room '", name, "' already exists"));
    if (quota.max_rooms > 0) {
      auto rooms = StepCount(w.conn.Get(kCountRooms).Reset(), "count rooms");
      if (!rooms.ok()) return rooms.status();
      if (*rooms >= quota.max_rooms) return RoomQuotaError(quota, true);
    }
    if (quota.per_creator > 0 && !created_by.empty()) {
      auto mine = StepCount(w.conn.Get(kCountRoomsBy).Reset().Bind(1, created_by).Bind(2, now_ms - quota.window_ms),
                            "count rooms");
      if (!mine.ok()) return mine.status();
      if (*mine >= quota.per_creator) return RoomQuotaError(quota, false);
    }
  }
  SqliteStmt& s = w.conn.Get(kCreateRoom);
  s.Reset().Bind(1, name).Bind(2, now_ms).Bind(3, created_by).Bind(4, static_cast<int64_t>(spec.kind)).Bind(5, spec.topic);
  if (absl::Status st = StepDone(s, "create room"); !st.ok()) return st;
  if (sqlite3_changes(w.conn.db()) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("room '", name, "' already exists"));
  }
  RoomRecord r{sqlite3_last_insert_rowid(w.conn.db()), name, now_ms, created_by, 0, spec.kind, spec.topic};
  // A rolled-back batch leaves an unused counter behind, which is harmless.
  w.last_seq[r.id] = 0;
  return r;
}

absl::StatusOr<AppendResult> AppendOn(WriterState& w, AppendRequest&& req) {
  auto counter = w.last_seq.find(req.room_id);
  if (counter == w.last_seq.end()) return absl::NotFoundError("room does not exist");
  AppendResult r;
  r.message.room_id = req.room_id;
  r.message.author = req.author;
  r.message.client_msg_id = req.client_msg_id;
  if (!req.client_msg_id.empty()) {
    SqliteStmt& s = w.conn.Get(kFindDuplicate);
    s.Reset().Bind(1, req.room_id).Bind(2, req.author).Bind(3, req.client_msg_id);
    int rc = s.Step();
    if (rc == SQLITE_ROW) {
      r.message.seq = s.Int(0);
      r.message.text = s.Text(1);
      r.message.sent_at_ms = s.Int(2);
      r.message.author_kind = StoredAuthorKind(s.Int(3));
      r.duplicate = true;
      s.Reset();
      return r;
    }
    s.Reset();
    if (rc != SQLITE_DONE) return s.Error(rc, "idempotency lookup");
  }
  w.SaveCounter(req.room_id);
  int64_t seq = counter->second + 1;
  SqliteStmt& ins = w.conn.Get(kInsertMessage);
  ins.Reset()
      .Bind(1, req.room_id)
      .Bind(2, seq)
      .Bind(3, req.author)
      .Bind(4, req.text)
      .Bind(5, req.sent_at_ms)
      .Bind(6, req.client_msg_id)
      .Bind(7, static_cast<int64_t>(req.author_kind));
  if (absl::Status st = StepDone(ins, "append"); !st.ok()) return st;
  counter->second = seq;
  r.message.seq = seq;
  r.message.text = std::move(req.text);
  r.message.sent_at_ms = req.sent_at_ms;
  r.message.author_kind = req.author_kind;
  return r;
}

absl::StatusOr<HistoryPage> ReadHistoryOn(SqliteConnection& c, const HistoryQuery& q) {
  const char* sql = q.direction == HistoryQuery::Direction::kLatest   ? kHistoryLatest
                    : q.direction == HistoryQuery::Direction::kBefore ? kHistoryBefore
                                                                      : kHistoryAfter;
  SqliteStmt& s = c.Get(sql);
  s.Reset()
      .Bind(1, q.room_id)
      .Bind(2, q.max_seq > 0 ? q.max_seq : INT64_MAX)
      .Bind(3, static_cast<int64_t>(q.limit) + 1);
  if (q.direction != HistoryQuery::Direction::kLatest) s.Bind(4, q.cursor);
  HistoryPage page;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    if (static_cast<int>(page.messages.size()) == q.limit) {
      page.has_more = true;
      break;
    }
    StoredMessage m;
    m.room_id = q.room_id;
    m.seq = s.Int(0);
    m.author = s.Text(1);
    m.text = s.Text(2);
    m.sent_at_ms = s.Int(3);
    m.client_msg_id = s.Text(4);
    m.deleted = s.Int(5) != 0;
    m.author_kind = StoredAuthorKind(s.Int(6));
    page.messages.push_back(std::move(m));
  }
  s.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return s.Error(rc, "history");
  if (q.direction != HistoryQuery::Direction::kAfter) {
    std::reverse(page.messages.begin(), page.messages.end());
  }
  return page;
}

}  // namespace chat::core
