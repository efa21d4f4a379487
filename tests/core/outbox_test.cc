// Outbox with a fake writer: one write in flight, batching and buffer hints,
// limits, finishing, and the two delivery policies (Connect, gateway).
#include "outbox.h"

#include <atomic>

#include "fake_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "write_kicker.h"

namespace chat::testing {
namespace {

using core::Outbox;
using core::OutboxLimits;
using ::testing::HasSubstr;

chat::v1::ServerEvent Pong(int64_t nonce) {
  chat::v1::ServerEvent ev;
  ev.mutable_pong()->set_nonce(nonce);
  return ev;
}

core::RoomFramePtr MessageFrame(int64_t room, int64_t seq) {
  chat::v1::ServerEvent ev;
  ev.mutable_message()->set_room("r");
  ev.mutable_message()->set_seq(seq);
  return core::MakeRoomFrame(room, seq, ev);
}

std::vector<int64_t> Nonces(const std::vector<chat::v1::ServerEvent>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) out.push_back(e.pong().nonce());
  return out;
}

std::vector<int64_t> Seqs(const std::vector<chat::v1::ServerEvent>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) {
    if (e.has_message()) out.push_back(e.message().seq());
  }
  return out;
}

TEST(OutboxTest, OneWriteInFlightAndWhatQueuesBehindItCarriesTheBufferHint) {
  FakeWriter writer;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, OutboxLimits{});
  ASSERT_TRUE(outbox->PushEvent(0, Pong(1)));
  ASSERT_TRUE(outbox->PushEvent(0, Pong(2)));
  ASSERT_TRUE(outbox->PushEvent(0, Pong(3)));
  ASSERT_EQ(writer.write_count(), 1u);  // the others wait for the first
  EXPECT_FALSE(writer.writes()[0].buffer_hint);  // nothing was queued behind it yet
  outbox->OnWriteDone(true);
  ASSERT_EQ(writer.write_count(), 2u);
  EXPECT_TRUE(writer.writes()[1].buffer_hint);  // 3 waits behind 2: let them leave together
  outbox->OnWriteDone(true);
  ASSERT_EQ(writer.write_count(), 3u);
  EXPECT_FALSE(writer.writes()[2].buffer_hint);  // the last one flushes
  outbox->OnWriteDone(true);
  EXPECT_EQ(Nonces(writer.Events()), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(outbox->queued(), 0u);
  EXPECT_EQ(outbox->stats().frames_written, 3u);
  outbox->Detach();
}

TEST(OutboxTest, AConnectStreamThatAskedForBatchesGetsWhatQueuedInOneMessage) {
  FakeWriter writer;
  OutboxLimits limits;
  limits.max_batch = 3;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, limits);
  for (int i = 1; i <= 5; ++i) outbox->PushEvent(0, Pong(i));
  ASSERT_EQ(writer.write_count(), 1u);  // 1 alone: nothing queued when it started
  outbox->OnWriteDone(true);
  ASSERT_EQ(writer.write_count(), 2u);
  chat::v1::ServerEvent batch;
  ASSERT_TRUE(batch.ParseFromString(writer.writes()[1].bytes));
  ASSERT_TRUE(batch.has_batch());
  EXPECT_EQ(batch.batch().events_size(), 3);  // 2, 3, 4: at most max_batch
  outbox->OnWriteDone(true);
  outbox->OnWriteDone(true);
  EXPECT_EQ(Nonces(writer.Events()), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(outbox->stats().frames_written, 5u);  // a batch counts its events
  outbox->Detach();
}

TEST(OutboxTest, ABatchWithItsFieldHeadersStaysWithin64KiB) {
  FakeWriter writer;
  OutboxLimits limits;
  limits.max_batch = 4096;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, limits);
  ASSERT_TRUE(outbox->PushEvent(0, Pong(0)));  // the first write goes alone
  chat::v1::ServerEvent big = Pong(1);
  big.set_ref(std::string(60000, 'r'));
  ASSERT_TRUE(outbox->PushEvent(0, big));
  // 4 bytes each, and a 2-byte header each in a batch: the events alone would
  // fit under 64 KiB, with their headers they do not.
  for (int i = 2; i < 1400; ++i) ASSERT_TRUE(outbox->PushEvent(0, Pong(i % 100)));
  outbox->OnWriteDone(true);
  ASSERT_EQ(writer.write_count(), 2u);
  chat::v1::ServerEvent batch;
  ASSERT_TRUE(batch.ParseFromString(writer.writes()[1].bytes));
  ASSERT_TRUE(batch.has_batch());
  EXPECT_LE(writer.writes()[1].bytes.size(), 64u * 1024);
  EXPECT_GT(writer.writes()[1].bytes.size(), 64u * 1024 - 64);  // and not much less
  while (outbox->queued() > 0) outbox->OnWriteDone(true);
  outbox->Detach();
}

TEST(OutboxTest, OverflowEndsTheStreamWithAReasonInsteadOfSkipping) {
  FakeWriter writer;
  OutboxLimits limits;
  limits.max_events = 4;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, limits);
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(outbox->PushEvent(0, Pong(i)));
  EXPECT_FALSE(outbox->PushEvent(0, Pong(5)));
  ASSERT_TRUE(writer.finish().has_value());
  EXPECT_EQ(writer.finish()->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(writer.finish()->error_message(), HasSubstr("since_seq"));
  EXPECT_TRUE(outbox->finished());
  EXPECT_FALSE(outbox->PushEvent(0, Pong(6)));
  outbox->OnWriteDone(true);  // the write in flight still comes back
  EXPECT_EQ(writer.write_count(), 1u);
  outbox->Detach();
}

TEST(OutboxTest, ByteLimitCountsToo) {
  FakeWriter writer;
  OutboxLimits limits;
  limits.max_bytes = 40;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, limits);
  chat::v1::ServerEvent big;
  big.mutable_error()->set_message(std::string(30, 'x'));
  ASSERT_TRUE(outbox->PushEvent(0, big));
  EXPECT_FALSE(outbox->PushEvent(0, big));
  ASSERT_TRUE(writer.finish().has_value());
  EXPECT_EQ(writer.finish()->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  outbox->Detach();
}

TEST(OutboxTest, ConnectTakesARoomsMessagesFromWhereItsSessionWentLive) {
  FakeWriter writer;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, OutboxLimits{});
  outbox->OnRoomFrame(MessageFrame(1, 1));  // not in the room: dropped
  EXPECT_EQ(writer.write_count(), 0u);
  outbox->AddRoom(1, 5);             // live, having been given 1..5
  outbox->OnRoomFrame(MessageFrame(1, 5));  // already given
  outbox->OnRoomFrame(MessageFrame(1, 6));
  outbox->OnRoomFrame(MessageFrame(2, 1));  // another room
  ASSERT_TRUE(writer.WaitForWrites(1));
  outbox->OnWriteDone(true);
  EXPECT_EQ(Seqs(writer.Events()), (std::vector<int64_t>{6}));
  EXPECT_EQ(outbox->stats().room_frames, 1u);
  outbox->RemoveRoom(1);
  outbox->OnRoomFrame(MessageFrame(1, 7));
  EXPECT_EQ(writer.write_count(), 1u);
  outbox->Detach();
}

TEST(OutboxTest, AConnectStreamEndsAtAGapRatherThanMissAMessage) {
  FakeWriter writer;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, OutboxLimits{});
  outbox->AddRoom(1, 5);
  outbox->OnRoomFrame(MessageFrame(1, 7));
  ASSERT_TRUE(writer.finish().has_value());
  EXPECT_EQ(writer.finish()->error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(writer.finish()->error_message(), HasSubstr("since_seq"));
  outbox->Detach();
}

TEST(OutboxTest, AGatewayTakesEachRoomFrameOnceWhileAnyOfItsSessionsIsLive) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kGateway, &writer, OutboxLimits{});
  outbox->AddRoom(1, 0);  // two browser sessions in room 1
  outbox->AddRoom(1, 3);
  outbox->OnRoomFrame(MessageFrame(1, 4));
  outbox->OnWriteDone(true);
  outbox->RemoveRoom(1);  // one left: the other still gets the room
  outbox->OnRoomFrame(MessageFrame(1, 5));
  outbox->OnWriteDone(true);
  outbox->RemoveRoom(1);
  outbox->OnRoomFrame(MessageFrame(1, 6));
  auto items = writer.GatewayItems();
  ASSERT_EQ(items.size(), 2u);
  for (const auto& d : items) EXPECT_EQ(d.session(), 0u);  // a room event: once per stream
  EXPECT_EQ(Seqs(writer.Events()), (std::vector<int64_t>{4, 5}));
  outbox->Detach();
}

TEST(OutboxTest, AGatewayAddressesSessionEventsAndTheBridgesRequests) {
  FakeWriter writer(FakeWriter::Stream::kGateway);
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kGateway, &writer, OutboxLimits{});
  outbox->PushEvent(7, Pong(1), /*request=*/9);
  outbox->OnWriteDone(true);
  outbox->PushReplay(8, MessageFrame(1, 3));
  outbox->OnWriteDone(true);
  auto items = writer.GatewayItems();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].session(), 7u);
  EXPECT_EQ(items[0].request(), 9u);
  EXPECT_EQ(items[0].event().pong().nonce(), 1);
  EXPECT_EQ(items[1].session(), 8u);
  EXPECT_EQ(items[1].event().message().seq(), 3);
  outbox->Detach();
}

TEST(OutboxTest, FinishWhenDrainedWaitsForWhatIsQueued) {
  FakeWriter writer;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, OutboxLimits{});
  outbox->PushEvent(0, Pong(1));
  outbox->PushEvent(0, Pong(2));
  outbox->FinishWhenDrained(grpc::Status::OK);
  EXPECT_FALSE(writer.finish().has_value());
  outbox->OnWriteDone(true);
  EXPECT_FALSE(writer.finish().has_value());
  outbox->OnWriteDone(true);
  ASSERT_TRUE(writer.finish().has_value());
  EXPECT_TRUE(writer.finish()->ok());
  EXPECT_EQ(Nonces(writer.Events()), (std::vector<int64_t>{1, 2}));
  outbox->Detach();
}

TEST(OutboxTest, AFailedWriteEndsTheStreamAndDetachSilencesIt) {
  FakeWriter writer;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, OutboxLimits{});
  outbox->PushEvent(0, Pong(1));
  outbox->PushEvent(0, Pong(2));
  outbox->OnWriteDone(false);  // the client is gone
  ASSERT_TRUE(writer.finish().has_value());
  EXPECT_EQ(writer.finish()->error_code(), grpc::StatusCode::CANCELLED);
  outbox->Detach();
  EXPECT_FALSE(outbox->PushEvent(0, Pong(3)));
  outbox->AddRoom(1, 0);
  outbox->OnRoomFrame(MessageFrame(1, 1));
  EXPECT_EQ(writer.write_count(), 1u);
}

TEST(OutboxTest, WaitersRunOnceTheQueueDrainsToTheLowWaterMark) {
  FakeWriter writer;
  OutboxLimits limits;
  limits.max_events = 16;
  limits.low_water_events = 2;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, limits);
  for (int i = 0; i < 6; ++i) outbox->PushEvent(0, Pong(i));
  int writable = 0, reads = 0;
  outbox->WhenWritable([&] { ++writable; });
  outbox->ReadWhenRoom(/*high_water=*/3, [&] { ++reads; });
  EXPECT_EQ(writable, 0);
  EXPECT_EQ(reads, 0);
  for (int i = 0; i < 3; ++i) outbox->OnWriteDone(true);  // 3 left: above the mark
  EXPECT_EQ(writable, 0);
  outbox->OnWriteDone(true);  // 2 left
  EXPECT_EQ(writable, 1);
  EXPECT_EQ(reads, 1);
  outbox->WhenWritable([&] { ++writable; });  // at the mark already: runs now
  EXPECT_EQ(writable, 2);
  outbox->ReadWhenRoom(3, [&] { ++reads; });
  EXPECT_EQ(reads, 2);
  outbox->Detach();
}

TEST(OutboxTest, RoomFramesOfAConnectStreamAreWrittenByItsFanoutLane) {
  core::WriteKicker kicker(1);
  FakeWriter writer;
  auto outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, &writer, OutboxLimits{}, nullptr, &kicker);
  outbox->AddRoom(1, 0);
  outbox->OnRoomFrame(MessageFrame(1, 1));
  // Published here, written by the lane's thread.
  ASSERT_TRUE(writer.WaitForWrites(1));
  outbox->OnWriteDone(true);
  EXPECT_EQ(Seqs(writer.Events()), (std::vector<int64_t>{1}));
  outbox->Detach();
  kicker.Stop();
}

}  // namespace
}  // namespace chat::testing
