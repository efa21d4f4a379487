// A gateway outbox's reply lane (outbox.h, reply_piece_bytes): browsers'
// history and room-list answers wait behind room events, in pieces, and are
// whole again when their pieces are joined; a bridge that did not ask for
// pieces gets them as before.
#include <string>
#include <vector>

#include "fake_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outbox.h"

namespace chat::testing {
namespace {

using core::Outbox;
using core::OutboxLimits;

// A history answer of `n` messages of `bytes` characters each.
chat::v1::ServerEvent HistoryAnswer(const std::string& ref, int n, size_t bytes) {
  chat::v1::ServerEvent ev;
  ev.set_ref(ref);
  for (int i = 1; i <= n; ++i) {
    auto* m = ev.mutable_history()->add_messages();
    m->set_room("r");
    m->set_seq(i);
    m->set_text(std::string(bytes, static_cast<char>('a' + i % 26)));
  }
  return ev;
}

core::RoomFramePtr MessageFrame(int64_t seq) {
  chat::v1::ServerEvent ev;
  ev.mutable_message()->set_room("r");
  ev.mutable_message()->set_seq(seq);
  return core::MakeRoomFrame(1, seq, ev);
}

std::shared_ptr<Outbox> GatewayOutbox(FakeWriter* writer, size_t piece_bytes) {
  OutboxLimits limits;
  limits.reply_piece_bytes = piece_bytes;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kGateway, writer, limits);
  outbox->AddRoom(1, 0);
  return outbox;
}

void CompleteAll(Outbox* outbox, FakeWriter* writer) {
  for (size_t done = 0; done < writer->write_count(); ++done) outbox->OnWriteDone(true);
}

TEST(OutboxRepliesTest, ABigAnswerLeavesInPiecesThatJoinToIt) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = GatewayOutbox(&writer, core::kReplyPieceBytes);
  const chat::v1::ServerEvent answer = HistoryAnswer("h1", 100, 4000);  // about 400 KB
  ASSERT_TRUE(outbox->PushEvent(7, answer));
  CompleteAll(outbox.get(), &writer);
  auto items = writer.GatewayItems();
  ASSERT_GT(items.size(), 6u);
  std::string joined;
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(items[i].has_chunk()) << i;
    EXPECT_EQ(items[i].session(), 7u);
    EXPECT_LE(items[i].chunk().data().size(), core::kReplyPieceBytes);
    EXPECT_EQ(items[i].chunk().last(), i + 1 == items.size()) << i;
    joined += items[i].chunk().data();
  }
  chat::v1::ServerEvent back;
  ASSERT_TRUE(back.ParseFromString(joined));
  EXPECT_EQ(back.SerializeAsString(), answer.SerializeAsString());
  EXPECT_EQ(outbox->queued(), 0u);
  outbox->Detach();
}

TEST(OutboxRepliesTest, ASmallAnswerLeavesWholeAndOtherEventsKeepTheirOrder) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = GatewayOutbox(&writer, core::kReplyPieceBytes);
  ASSERT_TRUE(outbox->PushEvent(7, HistoryAnswer("h1", 2, 10)));
  chat::v1::ServerEvent ack;
  ack.set_ref("s1");
  ack.mutable_ack()->set_seq(3);
  ASSERT_TRUE(outbox->PushEvent(7, ack));
  CompleteAll(outbox.get(), &writer);
  auto items = writer.GatewayItems();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].event().ref(), "h1");  // in flight before the ack came
  EXPECT_EQ(items[0].event().history().messages_size(), 2);
  EXPECT_EQ(items[1].event().ref(), "s1");
  outbox->Detach();
}

TEST(OutboxRepliesTest, RoomEventsOvertakeAQueuedAnswerAndNeverWaitBehindItsPieces) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = GatewayOutbox(&writer, core::kReplyPieceBytes);
  // A room event in flight, so what follows queues.
  outbox->OnRoomFrame(MessageFrame(1));
  ASSERT_TRUE(outbox->PushEvent(7, HistoryAnswer("h1", 200, 4000)));  // about 800 KB: 13 pieces
  for (int seq = 2; seq <= 20; ++seq) outbox->OnRoomFrame(MessageFrame(seq));
  CompleteAll(outbox.get(), &writer);
  auto writes = writer.writes();
  auto items = writer.GatewayItems();
  ASSERT_EQ(items.size(), writes.size());
  // Seq 2..20 leave before the answer's last piece, at most kRepliesEvery - 1
  // of them between two pieces while both wait.
  size_t first_piece = items.size(), last_piece = 0, last_room = 0;
  int64_t next_seq = 1;
  size_t room_run = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].has_chunk()) {
      first_piece = std::min(first_piece, i);
      last_piece = i;
      room_run = 0;
      // A piece is held back only while a room event follows it.
      bool room_follows = i + 1 < items.size() && items[i + 1].has_event();
      EXPECT_EQ(writes[i].buffer_hint, room_follows) << i;
    } else {
      ASSERT_TRUE(items[i].has_event());
      EXPECT_EQ(items[i].event().message().seq(), next_seq++);  // in order
      last_room = i;
      if (first_piece < i) EXPECT_LT(++room_run, core::kRepliesEvery) << i;
    }
  }
  EXPECT_EQ(next_seq, 21);
  EXPECT_LT(last_room, last_piece);
  // While the answer's pieces waited, no room event's write was held back
  // for them: the last room event of the run flushes.
  EXPECT_FALSE(writes[last_room].buffer_hint);
  outbox->Detach();
}

TEST(OutboxRepliesTest, ABridgeThatDidNotAskForPiecesGetsTheAnswerWholeInOrder) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = GatewayOutbox(&writer, /*piece_bytes=*/0);
  outbox->OnRoomFrame(MessageFrame(1));
  ASSERT_TRUE(outbox->PushEvent(7, HistoryAnswer("h1", 100, 4000)));
  outbox->OnRoomFrame(MessageFrame(2));
  CompleteAll(outbox.get(), &writer);
  auto items = writer.GatewayItems();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].event().message().seq(), 1);
  EXPECT_EQ(items[1].event().history().messages_size(), 100);
  EXPECT_EQ(items[2].event().message().seq(), 2);
  outbox->Detach();
}

TEST(OutboxRepliesTest, TheBridgesOwnRequestsAndRefusalsAreNotPutInTheReplyLane) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = GatewayOutbox(&writer, /*piece_bytes=*/1024);
  outbox->OnRoomFrame(MessageFrame(1));
  // The bridge's own gap fill (request 9): in order, whole.
  ASSERT_TRUE(outbox->PushEvent(7, HistoryAnswer("", 10, 500), /*request=*/9));
  outbox->OnRoomFrame(MessageFrame(2));
  CompleteAll(outbox.get(), &writer);
  auto items = writer.GatewayItems();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[1].request(), 9u);
  EXPECT_EQ(items[1].event().history().messages_size(), 10);
  outbox->Detach();
}

TEST(OutboxRepliesTest, AnAnswerThatWouldOverflowTheQueueEndsTheStream) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  OutboxLimits limits;
  limits.reply_piece_bytes = 1024;
  limits.max_events = 16;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kGateway, &writer, limits);
  EXPECT_FALSE(outbox->PushEvent(7, HistoryAnswer("h1", 40, 1000)));  // about 40 pieces
  ASSERT_TRUE(writer.finish().has_value());
  EXPECT_EQ(writer.finish()->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(writer.write_count(), 0u);
  outbox->Detach();
}

}  // namespace
}  // namespace chat::testing
