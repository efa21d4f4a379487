// RoomSequencer: pure logic, every branch (in order, duplicates, gaps and fills,
// the bound, leave and rejoin, fail-over).
#include "room_sequencer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::bridge {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Verdict = RoomSequencer::Verdict;
using Ask = RoomSequencer::Ask;
using Fill = RoomSequencer::FillOutcome;
using Rejoin = std::pair<std::string, int64_t>;

// A sequencer (holding at most 16 per room) and what its browser got.
class BridgeRoomSequencerTest : public ::testing::Test {
 protected:
  // Offers message `seq` of `room` (live: from the fan-out) and records what
  // goes to the browser ("m<seq>"), the messages it releases included.
  Verdict Give(const std::string& room, int64_t seq, bool live = true) {
    RoomSequencer::Frame frame = std::make_shared<const std::string>(absl::StrCat("m", seq));
    const Verdict v = s_.Offer(room, seq, frame, live);
    if (v == Verdict::kDeliver || v == Verdict::kDeliverAndDrain) {
      got_.push_back(*frame);
      for (RoomSequencer::Frame next; s_.TakeReady(room, &next);) got_.push_back(*next);
    }
    return v;
  }
  // Replayed or filled messages first..last, each expected to be `verdict`.
  void Replay(const std::string& room, int64_t first, int64_t last, Verdict verdict) {
    for (int64_t seq = first; seq <= last; ++seq) EXPECT_EQ(Give(room, seq, /*live=*/false), verdict) << seq;
  }
  // A gap in `room` made the sequencer ask; the bridge sent `request`, and its
  // answer has just come: returns LastSeq as the fill found it.
  int64_t FillAnswered(const std::string& room, uint64_t request) {
    s_.Asked(room, request, Ask::kFill);
    auto asked = s_.Answered(request);
    EXPECT_TRUE(asked.has_value());
    if (asked) EXPECT_EQ(*asked, std::make_pair(room, Ask::kFill));
    return s_.LastSeq(room);
  }

  RoomSequencer s_{16};
  std::vector<std::string> got_;
};

TEST_F(BridgeRoomSequencerTest, InOrderMessagesAreDeliveredAfterJoined) {
  s_.Joined("lobby", 4);
  EXPECT_TRUE(s_.IsLive("lobby"));
  EXPECT_EQ(s_.LastSeq("lobby"), 4);
  EXPECT_EQ(Give("lobby", 5), Verdict::kDeliver);
  EXPECT_EQ(Give("lobby", 6), Verdict::kDeliver);
  EXPECT_THAT(got_, ElementsAre("m5", "m6"));
  EXPECT_EQ(s_.LastSeq("lobby"), 6);
}

TEST_F(BridgeRoomSequencerTest, LiveMessagesOfARoomThatIsNotLiveAreDropped) {
  EXPECT_EQ(Give("lobby", 1), Verdict::kDrop);
  EXPECT_EQ(s_.rooms(), 0u);  // nothing is kept for it
  EXPECT_THAT(got_, IsEmpty());
}

TEST_F(BridgeRoomSequencerTest, DuplicatesAndOldMessagesAreDropped) {
  s_.Joined("lobby", 10);
  EXPECT_EQ(Give("lobby", 10), Verdict::kDrop);
  EXPECT_EQ(Give("lobby", 3), Verdict::kDrop);
  EXPECT_EQ(Give("lobby", 11), Verdict::kDeliver);
  EXPECT_EQ(Give("lobby", 11), Verdict::kDrop);
  EXPECT_THAT(got_, ElementsAre("m11"));
}

TEST_F(BridgeRoomSequencerTest, ReplayBeforeJoinedSetsTheSeqAndJoinedKeepsIt) {
  // join{since_seq: 2}: 3 and 4 come back before `joined{latest_seq: 4}`.
  Replay("lobby", 3, 4, Verdict::kDeliver);
  EXPECT_FALSE(s_.IsLive("lobby"));
  s_.Joined("lobby", 4);
  EXPECT_EQ(Give("lobby", 5), Verdict::kDeliver);
  EXPECT_THAT(got_, ElementsAre("m3", "m4", "m5"));
}

TEST_F(BridgeRoomSequencerTest, AGapHoldsNewerMessagesUntilTheFillClosesIt) {
  s_.Joined("lobby", 1);
  EXPECT_EQ(Give("lobby", 4), Verdict::kFill);  // 2 and 3 missing
  s_.Asked("lobby", 77, Ask::kFill);
  EXPECT_EQ(s_.Outstanding("lobby"), 77u);
  EXPECT_EQ(Give("lobby", 5), Verdict::kHold);  // asked already
  EXPECT_EQ(s_.held("lobby"), 2u);
  EXPECT_THAT(got_, IsEmpty());
  // The fill's answer: 2 and 3 each go out now (4 and 5 wait behind them
  // until 3 has gone), then the held ones follow in order.
  const int64_t before = FillAnswered("lobby", 77);
  Replay("lobby", 2, 3, Verdict::kDeliverAndDrain);
  EXPECT_EQ(s_.AfterFill("lobby", before), Fill::kDone);
  EXPECT_THAT(got_, ElementsAre("m2", "m3", "m4", "m5"));
  EXPECT_EQ(s_.held("lobby"), 0u);
  EXPECT_EQ(s_.Outstanding("lobby"), 0u);
  EXPECT_FALSE(s_.Answered(77).has_value()) << "a request is answered once";
}

TEST_F(BridgeRoomSequencerTest, AFillThatMakesNoProgressIsStuck) {
  s_.Joined("lobby", 1);
  EXPECT_EQ(Give("lobby", 5), Verdict::kFill);
  const int64_t before = FillAnswered("lobby", 1);
  // The history had nothing after 1 (or only what was given already).
  Replay("lobby", 1, 1, Verdict::kDrop);
  EXPECT_EQ(s_.AfterFill("lobby", before), Fill::kStuck);
  EXPECT_THAT(got_, IsEmpty());
}

TEST_F(BridgeRoomSequencerTest, AFillThatDoesNotCloseTheGapAsksAgainFromWhereItGot) {
  s_.Joined("lobby", 0);
  EXPECT_EQ(Give("lobby", 10), Verdict::kFill);
  int64_t before = FillAnswered("lobby", 1);
  Replay("lobby", 1, 4, Verdict::kDeliverAndDrain);  // a page that stops short
  EXPECT_EQ(s_.AfterFill("lobby", before), Fill::kFill);
  before = FillAnswered("lobby", 2);
  EXPECT_EQ(before, 4) << "the next fill asks after 4";
  Replay("lobby", 5, 9, Verdict::kDeliverAndDrain);
  EXPECT_EQ(s_.AfterFill("lobby", before), Fill::kDone);
  ASSERT_EQ(got_.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got_[i], absl::StrCat("m", i + 1));
}

TEST_F(BridgeRoomSequencerTest, MoreHeldThanTheBoundGivesUp) {
  RoomSequencer small(3);
  RoomSequencer::Frame frame = std::make_shared<const std::string>("m");
  small.Joined("lobby", 0);
  EXPECT_EQ(small.Offer("lobby", 2, frame, true), Verdict::kFill);
  small.Asked("lobby", 1, Ask::kFill);
  for (int64_t seq : {3, 4}) EXPECT_EQ(small.Offer("lobby", seq, frame, true), Verdict::kHold);
  EXPECT_EQ(small.Offer("lobby", 5, frame, true), Verdict::kTooFar);
}

TEST_F(BridgeRoomSequencerTest, LeaveForgetsTheRoomAndARejoinStartsAfresh) {
  s_.Joined("lobby", 3);
  EXPECT_EQ(Give("lobby", 5), Verdict::kFill);
  s_.Asked("lobby", 9, Ask::kFill);
  s_.Left("lobby");
  EXPECT_FALSE(s_.IsLive("lobby"));
  EXPECT_EQ(s_.rooms(), 0u);
  EXPECT_FALSE(s_.Answered(9).has_value()) << "the fill of a room left is dropped";
  EXPECT_EQ(Give("lobby", 6), Verdict::kDrop);
  // Joined again without since_seq: live from the room's newest seq on.
  s_.Joined("lobby", 20);
  EXPECT_EQ(Give("lobby", 21), Verdict::kDeliver);
  EXPECT_THAT(got_, ElementsAre("m21"));
}

TEST_F(BridgeRoomSequencerTest, RoomsAreIndependent) {
  s_.Joined("a", 0);
  s_.Joined("b", 100);
  EXPECT_EQ(Give("a", 1), Verdict::kDeliver);
  EXPECT_EQ(Give("b", 101), Verdict::kDeliver);
  EXPECT_EQ(Give("a", 3), Verdict::kFill);
  EXPECT_EQ(Give("b", 102), Verdict::kDeliver);
  EXPECT_THAT(got_, ElementsAre("m1", "m101", "m102"));
}

TEST_F(BridgeRoomSequencerTest, LostStreamRejoinsLiveRoomsFromTheirLastSeqAndDropsTheReplayedDuplicates) {
  s_.Joined("a", 0);
  s_.Joined("b", 7);
  Give("a", 1);
  Give("a", 2);
  EXPECT_EQ(Give("a", 4), Verdict::kFill);  // held, lost with the stream
  s_.Asked("a", 5, Ask::kFill);
  // The browser's own join of "c" is under way: 1 was replayed, no `joined` yet.
  Replay("c", 1, 1, Verdict::kDeliver);
  got_.clear();

  s_.Lost();
  EXPECT_FALSE(s_.IsLive("a"));
  EXPECT_FALSE(s_.IsLive("b"));
  EXPECT_EQ(s_.held("a"), 0u);
  EXPECT_FALSE(s_.Answered(5).has_value()) << "requests of the lost stream are forgotten";
  EXPECT_EQ(Give("a", 3), Verdict::kDrop) << "no live messages until rejoined";
  EXPECT_THAT(s_.RoomsToRejoin(), ElementsAre(Rejoin{"a", 2}, Rejoin{"b", 7}));

  // Lost again before the rejoin was answered: still to rejoin, from the same seq.
  s_.Asked("a", 6, Ask::kRejoin);
  s_.Lost();
  EXPECT_THAT(s_.RoomsToRejoin(), ElementsAre(Rejoin{"a", 2}, Rejoin{"b", 7}));

  // join{a, since_seq: 2} on the new stream: replay 3, 4, then joined.
  s_.Asked("a", 8, Ask::kRejoin);
  Replay("a", 2, 2, Verdict::kDrop);
  Replay("a", 3, 4, Verdict::kDeliver);
  auto asked = s_.Answered(8);
  ASSERT_TRUE(asked.has_value());
  EXPECT_EQ(asked->second, Ask::kRejoin);
  s_.Joined("a", 4);
  EXPECT_TRUE(s_.IsLive("a"));
  EXPECT_EQ(Give("a", 5), Verdict::kDeliver);
  EXPECT_THAT(s_.RoomsToRejoin(), ElementsAre(Rejoin{"b", 7}));
  // The browser's join of "c" is sent again, and its replay starts over: 1 is
  // not given twice.
  Replay("c", 1, 1, Verdict::kDrop);
  Replay("c", 2, 2, Verdict::kDeliver);
  EXPECT_THAT(got_, ElementsAre("m3", "m4", "m5", "m2"));
}

TEST_F(BridgeRoomSequencerTest, UnknownAndZeroRequestsAreNotAnswers) {
  s_.Joined("lobby", 0);
  EXPECT_FALSE(s_.Answered(0).has_value());
  EXPECT_FALSE(s_.Answered(42).has_value());
}

}  // namespace
}  // namespace chat::bridge
