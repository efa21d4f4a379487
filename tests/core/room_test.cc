// Room with a fake subscriber: publishing, joins that go live from the recent
// ring or need paging, presence, leaving.
#include "room.h"

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using core::JoinTicket;
using core::Room;
using ::testing::ElementsAre;

// Records what a room delivers to it.
class FakeSubscriber : public core::RoomSubscriber {
 public:
  void OnRoomFrame(const core::RoomFramePtr& frame) override {
    absl::MutexLock lock(&mu_);
    frames_.push_back(frame->seq);
  }
  void AddRoom(int64_t room_id, int64_t seq) override {
    absl::MutexLock lock(&mu_);
    live_at_ = seq;
  }
  void RemoveRoom(int64_t room_id) override {
    absl::MutexLock lock(&mu_);
    ++removed_;
  }
  bool PushReplay(uint64_t session, const core::RoomFramePtr& frame) override {
    absl::MutexLock lock(&mu_);
    replayed_.push_back(frame->seq);
    return true;
  }
  bool PushEvent(uint64_t session, const chat::v1::ServerEvent& event, uint64_t request) override {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
    return true;
  }

  std::vector<int64_t> frames() {
    absl::MutexLock lock(&mu_);
    return frames_;
  }
  std::vector<int64_t> replayed() {
    absl::MutexLock lock(&mu_);
    return replayed_;
  }
  std::vector<chat::v1::ServerEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  int64_t live_at() {
    absl::MutexLock lock(&mu_);
    return live_at_;
  }
  int removed() {
    absl::MutexLock lock(&mu_);
    return removed_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int64_t> frames_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> replayed_ ABSL_GUARDED_BY(mu_);
  std::vector<chat::v1::ServerEvent> events_ ABSL_GUARDED_BY(mu_);
  int64_t live_at_ ABSL_GUARDED_BY(mu_) = -1;
  int removed_ ABSL_GUARDED_BY(mu_) = 0;
};

core::RoomFramePtr Message(int64_t seq) {
  chat::v1::ServerEvent ev;
  ev.mutable_message()->set_room("lobby");
  ev.mutable_message()->set_seq(seq);
  return core::MakeRoomFrame(1, seq, ev);
}

core::RoomFramePtr Typing() {
  chat::v1::ServerEvent ev;
  ev.mutable_typing()->set_room("lobby");
  return core::MakeRoomFrame(1, 0, ev);
}

class RoomTest : public ::testing::Test {
 protected:
  explicit RoomTest(core::RoomOptions options = {4, 200}) : room_(core::RoomRecord{1, "lobby", 0, "", 0}, options) {}

  JoinTicket Ticket(const std::shared_ptr<FakeSubscriber>& sub, const std::string& user, uint64_t member,
                    int64_t pos = -1) {
    JoinTicket t;
    t.member_id = member;
    t.user = user;
    t.subscriber = sub;
    t.pos = pos;
    t.reply.ref = "j";
    t.commit_if_wanted = [] { return true; };
    return t;
  }

  Room::GoLive Join(const JoinTicket& t, bool* first = nullptr) {
    int64_t latest = 0;
    core::RoomPresence::Change change;
    auto r = room_.TryGoLive(t, &latest, &change);
    if (first != nullptr) *first = change.anywhere;
    return r;
  }

  Room room_;
};

TEST_F(RoomTest, PublishesToEverySubscriberInSeqOrderAndKeepsTheNewestSeq) {
  auto a = std::make_shared<FakeSubscriber>();
  auto b = std::make_shared<FakeSubscriber>();
  ASSERT_EQ(Join(Ticket(a, "ann", 1)), Room::GoLive::kLive);
  ASSERT_EQ(Join(Ticket(b, "bob", 2)), Room::GoLive::kLive);
  for (int64_t s = 1; s <= 3; ++s) room_.Publish(Message(s));
  room_.Broadcast(Typing());
  EXPECT_THAT(a->frames(), ElementsAre(1, 2, 3, 0));
  EXPECT_THAT(b->frames(), ElementsAre(1, 2, 3, 0));
  EXPECT_EQ(room_.last_seq(), 3);
  chat::v1::Room described;
  room_.Describe(&described);
  EXPECT_EQ(described.last_seq(), 3);
  EXPECT_EQ(described.member_count(), 2);
}

TEST_F(RoomTest, AJoinCloseBehindReplaysFromTheRingThenGoesLive) {
  for (int64_t s = 1; s <= 5; ++s) room_.Publish(Message(s));  // the ring keeps 2..5
  auto sub = std::make_shared<FakeSubscriber>();
  bool first = false;
  ASSERT_EQ(Join(Ticket(sub, "ann", 1, /*pos=*/2), &first), Room::GoLive::kLive);
  EXPECT_TRUE(first);
  EXPECT_THAT(sub->replayed(), ElementsAre(3, 4, 5));
  EXPECT_EQ(sub->live_at(), 5);
  auto events = sub->events();
  ASSERT_EQ(events.size(), 1u);
  const auto& joined = events[0];
  EXPECT_EQ(joined.ref(), "j");
  EXPECT_EQ(joined.joined().latest_seq(), 5);
  EXPECT_THAT(joined.joined().members(), ElementsAre("ann"));
  room_.Publish(Message(6));
  EXPECT_THAT(sub->frames(), ElementsAre(6));  // live from exactly latest + 1
}

TEST_F(RoomTest, AJoinFarBehindPagesAndOneAheadIsRefused) {
  for (int64_t s = 1; s <= 6; ++s) room_.Publish(Message(s));  // the ring keeps 3..6
  auto sub = std::make_shared<FakeSubscriber>();
  int64_t latest = 0;
  core::RoomPresence::Change first;
  EXPECT_EQ(room_.TryGoLive(Ticket(sub, "ann", 1, /*pos=*/1), &latest, &first), Room::GoLive::kNeedPage);
  EXPECT_EQ(latest, 6);
  JoinTicket small = Ticket(sub, "ann", 1, /*pos=*/3);
  small.max_burst = 2;  // three missing, but the stream takes two at once
  EXPECT_EQ(room_.TryGoLive(small, &latest, &first), Room::GoLive::kNeedPage);
  EXPECT_EQ(room_.TryGoLive(Ticket(sub, "ann", 1, /*pos=*/7), &latest, &first), Room::GoLive::kAhead);
  EXPECT_TRUE(sub->replayed().empty());
  EXPECT_EQ(sub->live_at(), -1);  // never subscribed
  room_.Publish(Message(7));
  EXPECT_TRUE(sub->frames().empty());
}

TEST_F(RoomTest, AJoinNoLongerWantedIsAbandonedWithoutATrace) {
  auto sub = std::make_shared<FakeSubscriber>();
  JoinTicket t = Ticket(sub, "ann", 1);
  t.commit_if_wanted = [] { return false; };  // left or closed meanwhile
  EXPECT_EQ(Join(t), Room::GoLive::kAbandoned);
  EXPECT_EQ(room_.member_count(), 0);
  room_.Publish(Message(1));
  EXPECT_TRUE(sub->frames().empty());
}

TEST_F(RoomTest, PresenceCountsUsersNotSessionsAndAStreamStaysUntilItsLastSessionLeaves) {
  auto gateway = std::make_shared<FakeSubscriber>();  // one stream, two browser sessions
  bool first = false;
  ASSERT_EQ(Join(Ticket(gateway, "ann", 1), &first), Room::GoLive::kLive);
  EXPECT_TRUE(first);
  ASSERT_EQ(Join(Ticket(gateway, "ann", 2), &first), Room::GoLive::kLive);
  EXPECT_FALSE(first);  // ann was there already
  EXPECT_EQ(room_.member_count(), 1);
  room_.Publish(Message(1));
  EXPECT_THAT(gateway->frames(), ElementsAre(1));  // once per stream
  EXPECT_FALSE(room_.RemoveMember(1, gateway).anywhere);  // ann still has a session here
  room_.Publish(Message(2));
  EXPECT_THAT(gateway->frames(), ElementsAre(1, 2));
  EXPECT_TRUE(room_.RemoveMember(2, gateway).anywhere);  // her last
  EXPECT_FALSE(room_.RemoveMember(2, gateway).here);    // not a member any more
  EXPECT_EQ(gateway->removed(), 2);
  room_.Publish(Message(3));
  EXPECT_THAT(gateway->frames(), ElementsAre(1, 2));
  EXPECT_EQ(room_.member_count(), 0);
}

TEST_F(RoomTest, MessagesFromSeveralSourcesAreDeliveredOnceInSeqOrder) {
  auto sub = std::make_shared<FakeSubscriber>();
  ASSERT_EQ(Join(Ticket(sub, "ann", 1)), Room::GoLive::kLive);
  std::vector<int> acks;
  // 3 overtakes 2 (another node's notification is late): held, acked later.
  EXPECT_EQ(room_.Publish(Message(1), [&] { acks.push_back(1); }), Room::Published::kDelivered);
  EXPECT_EQ(room_.Publish(Message(3), [&] { acks.push_back(3); }), Room::Published::kWaiting);
  EXPECT_EQ(room_.waiting_for(), 2);
  EXPECT_THAT(sub->frames(), ElementsAre(1));
  EXPECT_THAT(acks, ElementsAre(1));
  EXPECT_EQ(room_.Publish(Message(3)), Room::Published::kWaiting);  // the notification of 3, still held
  EXPECT_EQ(room_.Publish(Message(2)), Room::Published::kDelivered);
  EXPECT_THAT(sub->frames(), ElementsAre(1, 2, 3));
  EXPECT_THAT(acks, ElementsAre(1, 3));
  EXPECT_EQ(room_.waiting_for(), 0);
  // The same message twice (this node's commit and its notification): once,
  // and the second's ack runs at once.
  EXPECT_EQ(room_.Publish(Message(2), [&] { acks.push_back(2); }), Room::Published::kDuplicate);
  EXPECT_THAT(acks, ElementsAre(1, 3, 2));
  EXPECT_THAT(sub->frames(), ElementsAre(1, 2, 3));
  EXPECT_EQ(room_.last_seq(), 3);
}

TEST_F(RoomTest, MembersOfOtherNodesCountAndArriveOrLeaveOnce) {
  auto sub = std::make_shared<FakeSubscriber>();
  int64_t latest = 0;
  core::RoomPresence::Change c;
  ASSERT_EQ(room_.TryGoLive(Ticket(sub, "ann", 1), &latest, &c), Room::GoLive::kLive);
  EXPECT_TRUE(c.here);
  EXPECT_TRUE(c.anywhere);
  EXPECT_TRUE(room_.AddRemoteMember("node-b", "bob"));   // new anywhere: JOINED due
  EXPECT_FALSE(room_.AddRemoteMember("node-c", "bob"));  // on two nodes
  EXPECT_FALSE(room_.AddRemoteMember("node-b", "ann"));  // ann is here already
  EXPECT_EQ(room_.member_count(), 2);
  auto sub2 = std::make_shared<FakeSubscriber>();
  ASSERT_EQ(room_.TryGoLive(Ticket(sub2, "bob", 2), &latest, &c), Room::GoLive::kLive);
  EXPECT_TRUE(c.here);       // the cluster must hear of bob here
  EXPECT_FALSE(c.anywhere);  // but nobody sees him arrive again
  auto joined = sub2->events().back().joined();
  EXPECT_THAT(joined.members(), ElementsAre("ann", "bob"));
  EXPECT_EQ(joined.member_count(), 2);
  EXPECT_FALSE(room_.RemoveMember(2, sub2).anywhere);  // still on node-b and node-c
  EXPECT_FALSE(room_.RemoveRemoteMember("node-b", "bob"));
  EXPECT_THAT(room_.RemoveNode("node-c"), ElementsAre("bob"));  // gone everywhere: LEFT due
  EXPECT_TRUE(room_.RemoveNode("node-b").empty());  // ann is still here
  EXPECT_EQ(room_.member_count(), 1);
  std::vector<std::string> arrived, left;
  room_.ReplaceRemoteMembers({{"node-d", {"dan", "ann"}}}, &arrived, &left);
  EXPECT_THAT(arrived, ElementsAre("dan"));
  EXPECT_TRUE(left.empty());
  room_.ReplaceRemoteMembers({}, &arrived, &left);
  EXPECT_THAT(left, ElementsAre("dan"));
}

class BigRoomTest : public RoomTest {
 protected:
  BigRoomTest() : RoomTest(core::RoomOptions{4, 2}) {}
};

TEST_F(BigRoomTest, PastThePresenceLimitJoinedListsOnlySomeAndPresenceStops) {
  std::vector<std::shared_ptr<FakeSubscriber>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(std::make_shared<FakeSubscriber>());
    ASSERT_EQ(Join(Ticket(subs.back(), "user" + std::to_string(i), i + 1)), Room::GoLive::kLive);
  }
  auto events = subs[2]->events();
  ASSERT_FALSE(events.empty());
  const auto& joined = events.back().joined();
  EXPECT_EQ(joined.member_count(), 3);  // exact
  EXPECT_EQ(joined.members_size(), 2);  // listed up to the limit
  EXPECT_FALSE(room_.presence_enabled());
}

}  // namespace
}  // namespace chat::testing
