// What PgStore's commits tell the other nodes (beyond the Store contract, which
// store_conformance_pg_test.cc checks): a few messages of a room inline, a busy
// room's batch as a range to read back.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "chat/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"
#include "pg_conn.h"
#include "pg_notify_codec.h"
#include "pg_schema.h"
#include "pg_store.h"

namespace chat::core {
namespace {

using namespace std::chrono_literals;

class PgStoreNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto uri = chat::testing::NewTestDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    PgStoreOptions o;
    o.pg.uri = *uri;
    auto store = OpenPgStore(o);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto listener = PgConn::Connect(*uri, absl::Seconds(10));
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
    ASSERT_TRUE(listener_->Exec(absl::StrCat("LISTEN ", kPgMessagesChannel)).ok());
    absl::Notification made;
    store_->CreateRoom("busy", "t", 1, [&](absl::StatusOr<RoomRecord> r) {
      ASSERT_TRUE(r.ok()) << r.status();
      room_ = r->id;
      made.Notify();
    });
    made.WaitForNotification();
  }

  // Appends `n` messages that are sure to share one batch: the first waits
  // for a lock another connection holds while the others queue behind it.
  void AppendTogether(int n) {
    auto locker = PgConn::Connect(uri_, absl::Seconds(10));
    ASSERT_TRUE(locker.ok());
    ASSERT_TRUE((*locker)->Exec("BEGIN; LOCK TABLE rooms IN EXCLUSIVE MODE").ok());
    std::atomic<int> done{0};
    for (int i = 0; i < n; ++i) {
      AppendRequest req;
      req.room_id = room_;
      req.author = "ann";
      req.text = absl::StrCat("m", next_);
      req.client_msg_id = absl::StrCat("c", next_++);
      store_->Append(req, [&](absl::StatusOr<AppendResult> r) {
        EXPECT_TRUE(r.ok()) << r.status();
        done.fetch_add(1);
      });
    }
    std::this_thread::sleep_for(200ms);  // let them queue up behind the lock
    ASSERT_TRUE((*locker)->Exec("COMMIT").ok());
    for (int i = 0; i < 500 && done.load() < n; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(done.load(), n);
  }

  std::vector<MessagesNote> Notes() {
    std::vector<MessagesNote> notes;
    while (listener_->WaitReadable(absl::Milliseconds(500))) {
      EXPECT_TRUE(listener_->ConsumeInput().ok());
      while (auto n = listener_->NextNotification()) {
        auto note = ParseMessagesNote(n->payload);
        EXPECT_TRUE(note.ok()) << n->payload;
        if (note.ok()) notes.push_back(*note);
      }
    }
    return notes;
  }

  std::string uri_;
  std::unique_ptr<PgStore> store_;
  std::unique_ptr<PgConn> listener_;
  int64_t room_ = 0;
  int next_ = 0;
};

TEST_F(PgStoreNotifyTest, AFewMessagesComeInlineABusyBatchAsARange) {
  AppendTogether(5);
  std::vector<int64_t> inline_seqs;
  for (const MessagesNote& note : Notes()) {
    EXPECT_EQ(note.room_id, room_);
    EXPECT_EQ(note.fetch_up_to, 0);
    for (const StoredMessage& m : note.messages) {
      inline_seqs.push_back(m.seq);
      EXPECT_EQ(m.text, absl::StrCat("m", m.seq - 1));
      EXPECT_EQ(m.author, "ann");
    }
  }
  EXPECT_EQ(inline_seqs, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  AppendTogether(100);  // one waits for the lock, 99 queue: a busy batch
  int64_t newest = 0;
  bool ranged = false;
  for (const MessagesNote& note : Notes()) {
    for (const StoredMessage& m : note.messages) newest = std::max(newest, m.seq);
    if (note.fetch_up_to > 0) {
      ranged = true;
      newest = std::max(newest, note.fetch_up_to);
      EXPECT_TRUE(note.messages.empty());
    }
  }
  EXPECT_TRUE(ranged) << "a batch of 99 in one room should be announced as a range";
  EXPECT_EQ(newest, 105);
}

// A WARNING from the server (PostgreSQL's own "NOTIFY queue is 60% full" among
// them) reaches the log as a warning; a NOTICE only at debug level.
TEST(PgConnTest, TheServersWarningsAreLoggedAndItsNoticesOnlyForDebugging) {
  auto uri = chat::testing::NewTestDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto conn = PgConn::Connect(*uri, absl::Seconds(10));
  ASSERT_TRUE(conn.ok()) << conn.status();
  const LogLevel level = GetLogLevel();
  SetLogLevel(LogLevel::kInfo);
  ::testing::internal::CaptureStderr();
  auto done = (*conn)->Exec(
      "DO $$ BEGIN RAISE WARNING 'the queue is getting full'; RAISE NOTICE 'just so you know'; END $$");
  std::string logged = ::testing::internal::GetCapturedStderr();
  SetLogLevel(level);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_THAT(logged, ::testing::HasSubstr("WARN [pg] WARNING:  the queue is getting full"));
  EXPECT_THAT(logged, ::testing::Not(::testing::HasSubstr("just so you know")));
}

}  // namespace
}  // namespace chat::core
