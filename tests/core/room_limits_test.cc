// Room abuse (issue 27): a user creating rooms in a loop, ListRooms of every
// room in one reply, and a per-room recent ring that grows with the rooms.
// Against an in-process chat-core on port 0 over real gRPC channels, and the
// RecentRing on its own.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recent_ring.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

grpc::Status CreateRoom(chat::v1::ChatService::Stub* stub, const std::string& token, const std::string& name) {
  auto ctx = AuthedContext(token);
  chat::v1::CreateRoomRequest req;
  req.set_name(name);
  chat::v1::Room room;
  return stub->CreateRoom(ctx.get(), req, &room);
}

grpc::Status ListRooms(chat::v1::ChatService::Stub* stub, const std::string& token, int limit,
                       const std::string& cursor, chat::v1::ListRoomsResponse* out) {
  auto ctx = AuthedContext(token);
  chat::v1::ListRoomsRequest req;
  req.set_limit(limit);
  req.set_cursor(cursor);
  return stub->ListRooms(ctx.get(), req, out);
}

core::CoreOptions QuotaOptions(int64_t max_rooms, int64_t per_user) {
  core::CoreOptions o = TestCoreOptions();
  o.hub.room_quota.max_rooms = max_rooms;
  o.hub.room_quota.per_creator = per_user;
  return o;
}

TEST(RoomLimitsTest, ARoomCreatingLoopIsRefusedAfterTheRateAndOthersStillCreate) {
  TestCore core(QuotaOptions(/*max_rooms=*/100, /*per_user=*/3));
  auto stub = core.Chat();
  const std::string alice = core.Token("alice"), bob = core.Token("bob");
  int made = 0;
  grpc::Status refused;
  for (int i = 0; i < 10; ++i) {
    grpc::Status st = CreateRoom(stub.get(), alice, absl::StrCat("spam-", i));
    if (st.ok()) {
      ++made;
    } else {
      refused = st;
      EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    }
  }
  EXPECT_EQ(made, 3);
  EXPECT_THAT(refused.error_message(), HasSubstr("too many rooms created: at most 3 per user every hour"));
  // Bob is not held back by alice's loop.
  EXPECT_TRUE(CreateRoom(stub.get(), bob, "bobs-room").ok());

  // The same refusal as an error event on a Connect stream.
  EventClient client(stub.get(), alice);
  chat::v1::ClientEvent ev;
  ev.set_ref("c1");
  ev.mutable_create_room()->set_name("one-more");
  ASSERT_TRUE(client.Write(ev));
  auto err = client.WaitFor(IsError("createRoom"));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ref(), "c1");
  EXPECT_EQ(err->error().code(), chat::v1::Error::RESOURCE_EXHAUSTED);
  EXPECT_THAT(err->error().message(), HasSubstr("too many rooms created"));
}

TEST(RoomLimitsTest, TheGlobalCapRefusesEveryoneOnceReached) {
  // lobby + 4 more.
  TestCore core(QuotaOptions(/*max_rooms=*/5, /*per_user=*/0));
  auto stub = core.Chat();
  const std::string alice = core.Token("alice"), bob = core.Token("bob");
  EXPECT_TRUE(CreateRoom(stub.get(), alice, "a1").ok());
  EXPECT_TRUE(CreateRoom(stub.get(), alice, "a2").ok());
  EXPECT_TRUE(CreateRoom(stub.get(), bob, "b1").ok());
  EXPECT_TRUE(CreateRoom(stub.get(), bob, "b2").ok());
  for (const std::string& token : {alice, bob}) {
    grpc::Status st = CreateRoom(stub.get(), token, "one-too-many");
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("room limit reached: this server holds at most 5 rooms"));
  }
  chat::v1::ListRoomsResponse all;
  ASSERT_TRUE(ListRooms(stub.get(), alice, 0, "", &all).ok());
  EXPECT_EQ(all.rooms_size(), 5);
}

TEST(RoomLimitsTest, ListRoomsComesInPagesByName) {
  TestCore core;
  auto stub = core.Chat();
  const std::string token = core.Token("alice");
  std::vector<std::string> names = {"lobby"};
  for (int i = 0; i < 25; ++i) {
    names.push_back(absl::StrCat("room-", i / 10, i % 10));
    ASSERT_TRUE(CreateRoom(stub.get(), token, names.back()).ok());
  }
  std::sort(names.begin(), names.end());

  std::vector<std::string> seen;
  std::vector<int> sizes;
  std::string cursor;
  do {
    chat::v1::ListRoomsResponse page;
    grpc::Status st = ListRooms(stub.get(), token, 10, cursor, &page);
    ASSERT_TRUE(st.ok()) << st.error_message();
    sizes.push_back(page.rooms_size());
    for (const auto& r : page.rooms()) seen.push_back(r.name());
    cursor = page.next_cursor();
    ASSERT_LT(sizes.size(), 10u);
  } while (!cursor.empty());
  EXPECT_THAT(sizes, ::testing::ElementsAre(10, 10, 6));
  EXPECT_EQ(seen, names);

  // A client that does not page gets every room while there are at most 1000.
  chat::v1::ListRoomsResponse all;
  ASSERT_TRUE(ListRooms(stub.get(), token, 0, "", &all).ok());
  EXPECT_EQ(all.rooms_size(), 26);
  EXPECT_EQ(all.next_cursor(), "");

  for (int bad : {-1, 1001}) {
    chat::v1::ListRoomsResponse out;
    grpc::Status st = ListRooms(stub.get(), token, bad, "", &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(st.error_message(), HasSubstr("limit must be between 1 and 1000"));
  }
  chat::v1::ListRoomsResponse out;
  grpc::Status st = ListRooms(stub.get(), token, 5, "Not A Cursor", &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("cursor"));

  // The same pages on a Connect stream.
  EventClient client(stub.get(), token);
  chat::v1::ClientEvent ev;
  ev.set_ref("p1");
  ev.mutable_list_rooms()->set_limit(2);
  ev.mutable_list_rooms()->set_cursor("room-23");
  ASSERT_TRUE(client.Write(ev));
  auto rooms = client.WaitFor([](const chat::v1::ServerEvent& e) { return e.has_rooms() && e.ref() == "p1"; });
  ASSERT_TRUE(rooms.has_value());
  ASSERT_EQ(rooms->rooms().rooms_size(), 1);
  EXPECT_EQ(rooms->rooms().rooms(0).name(), "room-24");
  EXPECT_EQ(rooms->rooms().next_cursor(), "");
  ev.set_ref("p2");
  ev.mutable_list_rooms()->set_limit(5000);
  ASSERT_TRUE(client.Write(ev));
  auto err = client.WaitFor(IsError("listRooms"));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->ref(), "p2");
  EXPECT_EQ(err->error().code(), chat::v1::Error::INVALID_ARGUMENT);
}

TEST(RoomLimitsTest, AClientThatDoesNotPageGetsTheFirstThousandAndACursor) {
  TestCore core;
  auto stub = core.Chat();
  const std::string token = core.Token("alice");
  for (int i = 0; i < 1004; ++i) ASSERT_TRUE(CreateRoom(stub.get(), token, absl::StrCat("r", 10000 + i)).ok());
  chat::v1::ListRoomsResponse first;
  ASSERT_TRUE(ListRooms(stub.get(), token, 0, "", &first).ok());
  ASSERT_EQ(first.rooms_size(), 1000);
  EXPECT_EQ(first.next_cursor(), first.rooms(999).name());
  chat::v1::ListRoomsResponse rest;
  ASSERT_TRUE(ListRooms(stub.get(), token, 0, first.next_cursor(), &rest).ok());
  EXPECT_EQ(rest.rooms_size(), 5);  // 1004 + lobby
  EXPECT_EQ(rest.next_cursor(), "");
}

// Messages past the ring's byte bound are still replayed exactly, from the store.
TEST(RoomLimitsTest, AJoinBehindTheByteBoundedRingStillGetsEveryMessage) {
  core::CoreOptions o = TestCoreOptions();
  o.hub.room.recent_bytes = 4096;
  TestCore core(o);
  auto stub = core.Chat();
  const std::string token = core.Token("alice");
  ASSERT_TRUE(CreateRoom(stub.get(), token, "big").ok());
  const std::string text(500, 'x');
  {
    EventClient sender(stub.get(), token);
    ASSERT_TRUE(sender.Join("big"));
    ASSERT_TRUE(sender.WaitFor(IsJoined("big")).has_value());
    for (int i = 1; i <= 30; ++i) {
      ASSERT_TRUE(sender.SendText("big", text, absl::StrCat("m", i)));
      ASSERT_TRUE(sender.WaitFor(IsAck(absl::StrCat("m", i))).has_value());
    }
  }
  for (int64_t since : {0, 20, 28}) {
    EventClient late(stub.get(), token);
    ASSERT_TRUE(late.Join("big", since));
    ASSERT_TRUE(late.WaitFor(IsJoined("big")).has_value()) << since;
    std::vector<int64_t> seqs;
    for (const auto& m : late.Messages("big")) seqs.push_back(m.seq());
    std::vector<int64_t> want;
    for (int64_t s = since + 1; s <= 30; ++s) want.push_back(s);
    EXPECT_EQ(seqs, want) << "since " << since;
  }
}

core::RoomFramePtr Frame(int64_t seq, size_t text_bytes) {
  chat::v1::ServerEvent ev;
  ev.mutable_message()->set_seq(seq);
  ev.mutable_message()->set_text(std::string(text_bytes, 'x'));
  return core::MakeRoomFrame(1, seq, ev);
}

TEST(RecentRingTest, KeepsTheNewestWithinCountAndBytes) {
  const size_t cost = core::RecentRing::Cost(*Frame(1, 100));
  core::RecentRing ring(/*max_frames=*/8, /*max_bytes=*/cost * 3);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.bytes(), 0u);
  for (int64_t seq = 1; seq <= 10; ++seq) ring.Push(Frame(seq, 100));
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.front()->seq, 8);
  EXPECT_EQ(ring[2]->seq, 10);
  EXPECT_EQ(ring.bytes(), cost * 3);

  core::RecentRing by_count(/*max_frames=*/4, /*max_bytes=*/1 << 20);
  for (int64_t seq = 1; seq <= 9; ++seq) by_count.Push(Frame(seq, 10));
  ASSERT_EQ(by_count.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(by_count[i]->seq, static_cast<int64_t>(6 + i));

  // A frame bigger than the bound empties the ring: what it holds must end
  // at the newest seq.
  ring.Push(Frame(11, cost * 4));
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.bytes(), 0u);
  ring.Push(Frame(12, 100));
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.front()->seq, 12);
}

}  // namespace
}  // namespace chat::testing
