// What PgStore's membership and moderation writes tell the other nodes, and
// how they hold up with several nodes writing at once (beyond the Store
// contract, which store_conformance_pg_test.cc checks): each note goes out on
// chat_room_changes exactly when its write commits, and the cluster hands it
// on in order; a new room is announced with its kind and topic; the member
// checks are exact across stores.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_conn.h"
#include "pg_notify_codec.h"
#include "pg_schema.h"
#include "pg_nodes_fixture.h"
#include "pg_store.h"
#include "store_conformance_util.h"

namespace chat::core {
namespace {

using conformance::Call;
using conformance::Expecting;
using conformance::Row;
using conformance::Unchecked;
using ::testing::ElementsAre;

constexpr absl::Duration kWait = absl::Seconds(30);

// What the cluster told this node. Threading: written on the cluster's
// thread, read on the test's. Lifetime: outlives the cluster.
class RecordingEvents : public ClusterEvents {
 public:
  void OnMessages(int64_t, std::vector<StoredMessage>, int64_t) override {}
  void OnRoomCreated(const RoomRecord& room) override {
    absl::MutexLock lock(&mu_);
    created_.push_back(room);
  }
  void OnSessionRevoked(const std::string& token_hash) override {
    absl::MutexLock lock(&mu_);
    revoked_.push_back(token_hash);
  }
  void OnPresence(const PresenceRecord&, bool) override {}
  void OnTyping(int64_t, const std::string&, bool) override {}
  void OnNodeGone(const std::string&) override {}
  void OnRoomSeqs(const std::vector<RoomRecord>& rooms) override {
    absl::MutexLock lock(&mu_);
    seqs_ = rooms;
  }
  void OnPresenceSnapshot(const std::vector<PresenceRecord>&) override {}
  void OnRoomChange(const std::string& note) override {
    absl::MutexLock lock(&mu_);
    changes_.push_back(note);
  }

  // The notes heard, once there are at least `n` (or all there are after kWait).
  std::vector<std::string> Changes(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changes_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return changes_;
  }
  std::vector<RoomRecord> Created(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return created_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return created_;
  }
  std::vector<std::string> Revoked(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return revoked_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return revoked_;
  }
  // The rooms of the first seq check that names `name`.
  std::vector<RoomRecord> SeqsNaming(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto named = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (const RoomRecord& r : seqs_) {
        if (r.name == name) return true;
      }
      return false;
    };
    mu_.AwaitWithTimeout(absl::Condition(&named), kWait);
    return seqs_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> changes_ ABSL_GUARDED_BY(mu_);
  std::vector<RoomRecord> created_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> revoked_ ABSL_GUARDED_BY(mu_);
  std::vector<RoomRecord> seqs_ ABSL_GUARDED_BY(mu_);
};

class PgMembersTest : public PgNodesTest {
 protected:
  std::unique_ptr<Cluster> StartCluster(RecordingEvents* events) {
    return PgNodesTest::StartCluster(events, absl::Milliseconds(100));
  }

  int64_t Query(const std::string& sql) {
    auto conn = PgConn::Connect(uri_, absl::Seconds(10));
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return -1;
    auto r = (*conn)->Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->rows() > 0 ? r->Int(0, 0) : -1;
  }
};

// Each write's note is heard once it commits, in commit order; a write that
// fails or changes nothing it was asked to check sends nothing, nor does an
// empty note.
TEST_F(PgMembersTest, NotesAreHeardExactlyForWhatCommitted) {
  RecordingEvents events;
  auto cluster = StartCluster(&events);
  Store& s = *store_;
  const int64_t room = conformance::CreateRoom(s, "r")->id;
  ASSERT_TRUE(conformance::Append(s, room, "ann", "hi").ok());
  auto invite = [&](const std::string& note) {
    return conformance::WriteMembers(
        s, {Expecting(MemberState::kNone, Row(room, "bob", MemberState::kInvited))}, note);
  };
  ASSERT_TRUE(invite("invited bob").ok());
  EXPECT_EQ(invite("invited bob again").status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(conformance::WriteMembers(s, {Unchecked(Row(room + 1000, "bob", MemberState::kMember))}, "no room")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(conformance::WriteMembers(s, {Unchecked(Row(room, "cat", MemberState::kMember))}, "").ok());
  RoomUpdate topic;
  topic.topic = "news";
  ASSERT_TRUE(Call<RoomRecord>([&](auto cb) { s.UpdateRoom(room, topic, "topic", cb); }).ok());
  EXPECT_FALSE(Call<RoomRecord>([&](auto cb) { s.UpdateRoom(room + 1000, topic, "no room", cb); }).ok());
  EXPECT_EQ(Call<StoredMessage>([&](auto cb) { s.DeleteMessage(room, 1, "bob", "not bob's", cb); }).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(Call<StoredMessage>([&](auto cb) { s.DeleteMessage(room, 1, "ann", "deleted 1", cb); }).ok());
  ASSERT_TRUE(Call<StoredMessage>([&](auto cb) { s.DeleteMessage(room, 1, "", "deleted 1 again", cb); }).ok());
  EXPECT_FALSE(Call<StoredMessage>([&](auto cb) { s.DeleteMessage(room, 9, "", "no message", cb); }).ok());
  ASSERT_TRUE(Call<bool>([&](auto cb) { s.DeleteRoom(room, "room deleted", cb); }).ok());
  EXPECT_FALSE(Call<bool>([&](auto cb) { s.DeleteRoom(room, "deleted twice", cb); }).ok());
  // A last one to wait for: whatever should not come would be in by then.
  const int64_t last = conformance::CreateRoom(s, "last")->id;
  ASSERT_TRUE(conformance::WriteMembers(s, {Unchecked(Row(last, "dan", MemberState::kMember))}, "end").ok());
  EXPECT_THAT(events.Changes(6),
              ElementsAre("invited bob", "topic", "deleted 1", "deleted 1 again", "room deleted", "end"));
  cluster->Stop();
}

// Another node adopts a new private room as private, with its topic, and the
// seq check carries kind, topic and archived too.
TEST_F(PgMembersTest, OtherNodesLearnARoomsKindTopicAndArchived) {
  RecordingEvents events;
  auto cluster = StartCluster(&events);
  auto made = conformance::CreateRoomAs(*store_, conformance::Spec("secret", "ann", RoomKind::kPrivate, "plans"),
                                        {Row(0, "ann", MemberState::kMember, Role::kOwner)});
  ASSERT_TRUE(made.ok()) << made.status();
  auto created = events.Created(1);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].id, made->id);
  EXPECT_EQ(created[0].name, "secret");
  EXPECT_EQ(created[0].kind, RoomKind::kPrivate);
  EXPECT_EQ(created[0].topic, "plans");
  RoomUpdate archive;
  archive.archived = true;
  ASSERT_TRUE(Call<RoomRecord>([&](auto cb) { store_->UpdateRoom(made->id, archive, "", cb); }).ok());
  ASSERT_TRUE(conformance::CreateRoom(*store_, "marker").ok());
  bool seen = false;
  for (const RoomRecord& r : events.SeqsNaming("marker")) {
    if (r.id != made->id) continue;
    seen = true;
    EXPECT_EQ(r.kind, RoomKind::kPrivate);
    EXPECT_EQ(r.topic, "plans");
    EXPECT_TRUE(r.archived);
  }
  EXPECT_TRUE(seen);
  cluster->Stop();
}

// Disabling a user revokes each session as a logout does: every node hears.
TEST_F(PgMembersTest, EveryNodeHearsOfTheSessionsADisabledUserLost) {
  RecordingEvents events;
  auto cluster = StartCluster(&events);
  auto ann = conformance::CreateUser(*store_, "Ann");
  ASSERT_TRUE(ann.ok()) << ann.status();
  const std::string t1(32, '\x01'), t2(32, '\xfe');
  for (const std::string& t : {t1, t2}) {
    ASSERT_TRUE(Call<bool>([&](auto cb) { store_->CreateSession({t, ann->id, "Ann", 10'000}, 1, cb); }).ok());
  }
  auto gone = Call<std::vector<std::string>>([&](auto cb) { store_->SetUserDisabled("ann", true, cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ::testing::UnorderedElementsAre(t1, t2));
  EXPECT_THAT(events.Revoked(2), ::testing::UnorderedElementsAre(t1, t2));
  cluster->Stop();
}

// Two nodes invite the same user at once, each expecting no row: exactly one
// invitation is stored, round after round.
TEST_F(PgMembersTest, TwoNodesWritingOneRowAtOnceOneWins) {
  auto other = OpenStore();
  ASSERT_NE(other, nullptr);
  const int64_t room = conformance::CreateRoom(*store_, "r")->id;
  for (int round = 0; round < 20; ++round) {
    const std::string user = absl::StrCat("u", round);
    conformance::Reply<bool> a, b;
    std::thread ta([&] {
      store_->WriteMembers({Expecting(MemberState::kNone, Row(room, user, MemberState::kInvited, Role::kNone, "a"))},
                           "a", a.Callback());
    });
    std::thread tb([&] {
      other->WriteMembers({Expecting(MemberState::kNone, Row(room, user, MemberState::kInvited, Role::kNone, "b"))},
                          "b", b.Callback());
    });
    ta.join();
    tb.join();
    auto ra = a.Wait(), rb = b.Wait();
    EXPECT_NE(ra.ok(), rb.ok()) << ra.status() << " / " << rb.status();
    for (const auto& r : {ra, rb}) {
      if (!r.ok()) EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
    }
  }
  EXPECT_EQ(Query(absl::StrCat("SELECT count(*) FROM room_members WHERE room_id = ", room)), 20);
}

// A room deleted on one node while another writes its members or appends to
// it: whatever the order, nothing of it is left behind.
TEST_F(PgMembersTest, ARoomDeletedWhileAnotherNodeWritesLeavesNothingBehind) {
  auto other = OpenStore();
  ASSERT_NE(other, nullptr);
  for (int round = 0; round < 10; ++round) {
    const int64_t room = conformance::CreateRoom(*store_, absl::StrCat("r", round))->id;
    conformance::Reply<bool> deleted, written;
    conformance::Reply<AppendResult> appended;
    std::thread writer([&] {
      other->WriteMembers({Unchecked(Row(room, "ann", MemberState::kMember, Role::kOwner))}, "w", written.Callback());
      other->Append(AppendRequest{room, "ann", "hi", 1, ""}, appended.Callback());
    });
    store_->DeleteRoom(room, "d", deleted.Callback());
    writer.join();
    ASSERT_TRUE(deleted.Wait().ok()) << deleted.Wait().status();
    for (const absl::Status& st : {written.Wait().status(), appended.Wait().status()}) {
      EXPECT_TRUE(st.ok() || absl::IsNotFound(st)) << st;
    }
  }
  EXPECT_EQ(Query("SELECT count(*) FROM room_members"), 0);
  EXPECT_EQ(Query("SELECT count(*) FROM messages"), 0);
}

}  // namespace
}  // namespace chat::core
