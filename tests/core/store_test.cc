// What only the SQLite store does, on real database files in a temp directory:
// its errors for bad paths and files, its background checkpoints, ":memory:",
// and the schema version it writes. Everything every Store does is in the
// conformance suite (store_conformance.h, run by store_conformance_sqlite_test.cc).
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"
#include "sqlite_db.h"
#include "sqlite_store.h"
#include "store_conformance_util.h"

namespace chat::core {
namespace {

using chat::testing::TempDir;
using conformance::Append;
using conformance::Call;
using conformance::CreateRoom;
using conformance::ReadAll;
using conformance::Seqs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
  int64_t room = CreateRoom(**s, "r")->id;
  const off_t before = FileSize(db);
  // Each append is its own commit of at least one page: past the mark, but far
  // below the 8x mark at which the writer would checkpoint by itself.
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(Append(**s, room, "u", std::string(200, 'x')).ok());
  EXPECT_TRUE(chat::testing::Eventually([&] { return FileSize(db) >= before + 4 * 4096; }))
      << "database file stayed at " << FileSize(db) << " bytes (was " << before << ")";
  // And the messages are all there, in order.
  auto page = ReadAll(**s, room);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->messages.size(), 150u);
}

// ":memory:" has one connection: reads run on the writer thread, and nothing
// outlives the store.
TEST(SqliteStoreTest, MemoryDatabaseServesEverythingFromOneConnection) {
  SqliteStoreOptions o;
  o.path = ":memory:";
  auto s = OpenSqliteStore(o);
  ASSERT_TRUE(s.ok()) << s.status();
  Store& store = **s;
  int64_t room = CreateRoom(store, "r")->id;
  ASSERT_EQ(Append(store, room, "u", "1", "a")->message.seq, 1);
  ASSERT_TRUE(Append(store, room, "u", "1", "a")->duplicate);
  ASSERT_EQ(Append(store, room, "u", "2")->message.seq, 2);
  auto page = ReadAll(store, room);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Seqs(*page), ElementsAre(1, 2));
  ASSERT_TRUE(Call<UserRecord>([&](auto cb) { store.CreateUser("A", "a", "h", 1, cb); }).ok());
  auto found = Call<UserRecord>([&](auto cb) { store.FindUser("a", cb); });
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->username, "A");
  auto rooms = store.LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  EXPECT_EQ(rooms->at(0).last_seq, 2);
  store.Close();
  EXPECT_TRUE(absl::IsUnavailable(ReadAll(store, room).status()));
  EXPECT_TRUE(absl::IsUnavailable(Call<UserRecord>([&](auto cb) { store.FindUser("a", cb); }).status()));
}

TEST(SqliteStoreTest, ANewFileGetsTheCurrentSchemaVersion) {
  TempDir dir;
  SqliteStoreOptions o;
  o.path = dir.File("sub/dir/chat.db");  // directories are made as needed
  {
    auto s = OpenSqliteStore(o);
    ASSERT_TRUE(s.ok()) << s.status();
  }
  SqliteConnection c;
  ASSERT_TRUE(c.Open(o.path, {}).ok());
  SqliteStmt& v = c.Get("SELECT version FROM schema_version");
  ASSERT_EQ(v.Reset().Step(), SQLITE_ROW);
  EXPECT_EQ(v.Int(0), SqliteSchemaVersion());
  EXPECT_EQ(v.Step(), SQLITE_DONE) << "one row only";
  SqliteStmt& mode = c.Get("PRAGMA journal_mode");
  ASSERT_EQ(mode.Reset().Step(), SQLITE_ROW);
  EXPECT_EQ(mode.Text(0), "wal");
}

}  // namespace
}  // namespace chat::core
