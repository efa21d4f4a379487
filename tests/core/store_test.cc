// SqliteStore on real database files in a temp directory.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "core_fixture.h"
#include "process.h"
#include "sqlite_store.h"

namespace chat::core {
namespace {

using chat::testing::TempDir;
using ::testing::HasSubstr;

template <typename T>
absl::StatusOr<T> Await(const std::function<void(StoreCallback<T>)>& call) {
  std::promise<absl::StatusOr<T>> p;
  auto f = p.get_future();
  call([&p](absl::StatusOr<T> r) { p.set_value(std::move(r)); });
  return f.get();
}

std::unique_ptr<Store> Open(const std::string& path) {
  SqliteStoreOptions o;
  o.path = path;
  auto s = OpenSqliteStore(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

RoomRecord MakeRoom(Store& s, const std::string& name) {
  auto r = Await<RoomRecord>([&](auto cb) { s.CreateRoom(name, "tester", 1000, cb); });
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

absl::StatusOr<AppendResult> Append(Store& s, int64_t room, const std::string& author,
                                    const std::string& text, const std::string& id = "") {
  AppendRequest req{room, author, text, 5000, id};
  return Await<AppendResult>([&](auto cb) { s.Append(req, cb); });
}

absl::StatusOr<HistoryPage> Read(Store& s, int64_t room, HistoryQuery::Direction dir, int64_t cursor,
                                 int limit, int64_t max_seq = 0) {
  HistoryQuery q;
  q.room_id = room;
  q.direction = dir;
  q.cursor = cursor;
  q.limit = limit;
  q.max_seq = max_seq;
  return Await<HistoryPage>([&](auto cb) { s.ReadHistory(q, cb); });
}

std::vector<int64_t> Seqs(const HistoryPage& p) {
  std::vector<int64_t> out;
  for (const auto& m : p.messages) out.push_back(m.seq);
  return out;
}

TEST(SqliteStoreTest, AssignsPerRoomSeqsAndKeepsThemAcrossReopen) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  int64_t a, b;
  {
    auto s = Open(db);
    a = MakeRoom(*s, "a").id;
    b = MakeRoom(*s, "b").id;
    EXPECT_EQ(Append(*s, a, "u", "1")->message.seq, 1);
    EXPECT_EQ(Append(*s, a, "u", "2")->message.seq, 2);
    EXPECT_EQ(Append(*s, b, "u", "x")->message.seq, 1);
    auto dup = Await<RoomRecord>([&](auto cb) { s->CreateRoom("a", "x", 1, cb); });
    EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(Append(*s, 999, "u", "x").status().code(), absl::StatusCode::kNotFound);
  }
  auto s = Open(db);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok());
  ASSERT_EQ(rooms->size(), 2u);
  EXPECT_EQ((*rooms)[0].name, "a");
  EXPECT_EQ((*rooms)[0].last_seq, 2);
  EXPECT_EQ((*rooms)[1].last_seq, 1);
  EXPECT_EQ(Append(*s, a, "u", "3")->message.seq, 3);
  auto page = Read(*s, a, HistoryQuery::Direction::kAfter, 0, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Seqs(*page), ::testing::ElementsAre(1, 2, 3));
  EXPECT_EQ(page->messages[0].author, "u");
  EXPECT_EQ(page->messages[0].text, "1");
  EXPECT_EQ(page->messages[0].sent_at_ms, 5000);
}

TEST(SqliteStoreTest, IdempotentAppendReturnsTheOriginalAcrossReopen) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  int64_t room;
  {
    auto s = Open(db);
    room = MakeRoom(*s, "r").id;
    auto first = Append(*s, room, "alice", "hello", "id-1");
    ASSERT_TRUE(first.ok());
    EXPECT_FALSE(first->duplicate);
    auto again = Append(*s, room, "alice", "hello (retry)", "id-1");
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->message.seq, first->message.seq);
    EXPECT_EQ(again->message.text, "hello");
    // Another author may use the same id.
    auto other = Append(*s, room, "bob", "hi", "id-1");
    EXPECT_FALSE(other->duplicate);
    EXPECT_EQ(other->message.seq, 2);
  }
  auto s = Open(db);
  auto again = Append(*s, room, "alice", "hello", "id-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message.seq, 1);
  EXPECT_EQ(Append(*s, room, "alice", "new", "id-2")->message.seq, 3);
}

TEST(SqliteStoreTest, DuplicatesInsideOneBatchAreCaughtToo) {
  TempDir dir;
  auto s = Open(dir.File("chat.db"));
  int64_t room = MakeRoom(*s, "r").id;
  std::vector<std::promise<absl::StatusOr<AppendResult>>> ps(20);
  for (int i = 0; i < 20; ++i) {
    s->Append(AppendRequest{room, "alice", "x", 1, "same"},
              [&ps, i](absl::StatusOr<AppendResult> r) { ps[i].set_value(std::move(r)); });
  }
  int fresh = 0;
  for (auto& p : ps) {
    auto r = p.get_future().get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->message.seq, 1);
    fresh += r->duplicate ? 0 : 1;
  }
  EXPECT_EQ(fresh, 1);
}

TEST(SqliteStoreTest, ConcurrentAppendsCompleteInSeqOrderPerRoom) {
  TempDir dir;
  auto s = Open(dir.File("chat.db"));
  std::vector<int64_t> rooms;
  for (int i = 0; i < 4; ++i) rooms.push_back(MakeRoom(*s, absl::StrCat("r", i)).id);
  constexpr int kThreads = 4, kPer = 500;
  std::mutex mu;
  std::map<int64_t, std::vector<int64_t>> completed;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        int64_t room = rooms[(t + i) % rooms.size()];
        s->Append(AppendRequest{room, "u", "m", 1, ""}, [&, room](absl::StatusOr<AppendResult> r) {
          ASSERT_TRUE(r.ok());
          std::lock_guard<std::mutex> lock(mu);
          completed[room].push_back(r->message.seq);
          ++done;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(chat::testing::Eventually([&] { return done.load() == kThreads * kPer; }));
  std::lock_guard<std::mutex> lock(mu);
  for (auto& [room, seqs] : completed) {
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  }
}

off_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Commits never run SQLite's auto-checkpoint (it copies the WAL into the database
// and fsyncs, a stall of milliseconds); a thread of the store does it instead.
TEST(SqliteStoreTest, CheckpointsRunInTheBackground) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  SqliteStoreOptions o;
  o.path = db;
  o.checkpoint_pages = 50;
  auto s = OpenSqliteStore(o);
  ASSERT_TRUE(s.ok()) << s.status();
  int64_t room = MakeRoom(**s, "r").id;
  const off_t before = FileSize(db);
  // Each append is its own commit of at least one page: past the mark, but far
  // below the 8x mark at which the writer would checkpoint by itself.
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(Append(**s, room, "u", std::string(200, 'x')).ok());
  EXPECT_TRUE(chat::testing::Eventually([&] { return FileSize(db) >= before + 4 * 4096; }))
      << "database file stayed at " << FileSize(db) << " bytes (was " << before << ")";
  // And the messages are all there, in order.
  auto page = Read(**s, room, HistoryQuery::Direction::kAfter, 0, 500);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->messages.size(), 150u);
}

TEST(SqliteStoreTest, HistoryPagingEdges) {
  TempDir dir;
  auto s = Open(dir.File("chat.db"));
  int64_t empty = MakeRoom(*s, "empty").id;
  int64_t room = MakeRoom(*s, "r").id;
  using D = HistoryQuery::Direction;
  {
    auto p = Read(*s, empty, D::kLatest, 0, 10);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->messages.empty());
    EXPECT_FALSE(p->has_more);
  }
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(Append(*s, room, "u", absl::StrCat(i)).ok());
  // Exactly a page: no more.
  auto p = Read(*s, room, D::kLatest, 0, 10);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  EXPECT_FALSE(p->has_more);
  // Newest page of 4, then walk back.
  p = Read(*s, room, D::kLatest, 0, 4);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(7, 8, 9, 10));
  EXPECT_TRUE(p->has_more);
  p = Read(*s, room, D::kBefore, 7, 4);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(3, 4, 5, 6));
  EXPECT_TRUE(p->has_more);
  p = Read(*s, room, D::kBefore, 3, 4);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(1, 2));
  EXPECT_FALSE(p->has_more);
  p = Read(*s, room, D::kBefore, 1, 4);
  EXPECT_TRUE(p->messages.empty());
  // Forward.
  p = Read(*s, room, D::kAfter, 0, 4);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(1, 2, 3, 4));
  EXPECT_TRUE(p->has_more);
  p = Read(*s, room, D::kAfter, 6, 4);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(7, 8, 9, 10));
  EXPECT_FALSE(p->has_more);
  p = Read(*s, room, D::kAfter, 10, 4);
  EXPECT_TRUE(p->messages.empty());
  // Bounded by max_seq.
  p = Read(*s, room, D::kAfter, 2, 100, 5);
  EXPECT_THAT(Seqs(*p), ::testing::ElementsAre(3, 4, 5));
  EXPECT_FALSE(p->has_more);
}

TEST(SqliteStoreTest, AccountsRoundTripAndSessionsExpire) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  {
    auto s = Open(db);
    auto u = Await<UserRecord>([&](auto cb) { s->CreateUser("Alice", "alice", "$argon2id$x", 1, cb); });
    ASSERT_TRUE(u.ok());
    auto dup = Await<UserRecord>([&](auto cb) { s->CreateUser("ALICE", "alice", "h", 1, cb); });
    EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
    auto found = Await<UserRecord>([&](auto cb) { s->FindUser("alice", cb); });
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found->username, "Alice");
    EXPECT_EQ(Await<UserRecord>([&](auto cb) { s->FindUser("nobody", cb); }).status().code(),
              absl::StatusCode::kNotFound);
    SessionRecord live{std::string(32, 'a'), u->id, "Alice", 10'000};
    SessionRecord old{std::string(32, 'b'), u->id, "Alice", 100};
    SessionRecord revoked{std::string(32, 'c'), u->id, "Alice", 10'000};
    for (auto* r : {&live, &old, &revoked}) {
      ASSERT_TRUE(Await<bool>([&](auto cb) { s->CreateSession(*r, 1, cb); }).ok());
    }
    EXPECT_TRUE(*Await<bool>([&](auto cb) { s->RevokeSession(revoked.token_hash, cb); }));
  }
  auto s = Open(db);
  auto sessions = s->LoadSessions(1000);
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ((*sessions)[0].token_hash, std::string(32, 'a'));
  EXPECT_EQ((*sessions)[0].username, "Alice");
}

TEST(SqliteStoreTest, CorruptOrUnwritableDatabaseGivesAClearError) {
  TempDir dir;
  std::string corrupt = dir.File("corrupt.db");
  {
    std::ofstream out(corrupt);
    out << std::string(8192, 'x');
  }
  SqliteStoreOptions o;
  o.path = corrupt;
  auto s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(corrupt));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("not a database"));

  std::string ro_dir = dir.File("ro");
  ASSERT_EQ(mkdir(ro_dir.c_str(), 0500), 0);
  o.path = ro_dir + "/sub/chat.db";
  s = OpenSqliteStore(o);
  if (geteuid() != 0) {  // root ignores directory permissions
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(o.path));
  }
  o.path = "/proc/nope/chat.db";
  s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("/proc/nope/chat.db"));
}

TEST(SqliteStoreTest, NewerSchemaIsRefused) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  { Open(db); }
  ASSERT_EQ(chat::testing::RunCommand({"/usr/bin/sqlite3", db, "UPDATE schema_version SET version=99"})
                .exit_code,
            0);
  SqliteStoreOptions o;
  o.path = db;
  auto s = OpenSqliteStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("schema version 99"));
}

}  // namespace
}  // namespace chat::core
