// Room creation limits on a cluster (issue 27): rooms are made on any node, so
// the per-user rate and the global cap are counted in PostgreSQL, and two
// nodes creating at once cannot both take the last room. ListRooms pages on
// any node cover the rooms every node made. Real chat-core processes.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster_env.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

grpc::Status CreateOn(const std::string& address, const std::string& token, const std::string& name) {
  auto stub = chat::v1::ChatService::NewStub(NodeChannel(address));
  auto ctx = AuthedContext(token);
  chat::v1::CreateRoomRequest req;
  req.set_name(name);
  chat::v1::Room room;
  return stub->CreateRoom(ctx.get(), req, &room);
}

TEST(RoomLimitsClusterTest, TheRateAndTheCapHoldAcrossNodes) {
  constexpr int kMaxRooms = 12, kPerUser = 3;
  ClusterEnv env;
  const std::vector<std::string> flags = {absl::StrCat("--max_rooms=", kMaxRooms),
                                          absl::StrCat("--max_room_creates_per_user_per_hour=", kPerUser)};
  ASSERT_NE(env.Start("a", flags), nullptr);
  ASSERT_NE(env.Start("b", flags), nullptr);
  const std::string nodes[2] = {env.address("a"), env.address("b")};

  // Alice's loop, alternating nodes: the rate counts her rooms on both.
  const std::string alice = NodeToken(nodes[0], "alice");
  int made = 0;
  for (int i = 0; i < 8; ++i) {
    grpc::Status st = CreateOn(nodes[i % 2], alice, absl::StrCat("alice-", i));
    if (st.ok()) {
      ++made;
      continue;
    }
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("too many rooms created: at most 3 per user every hour"));
  }
  EXPECT_EQ(made, kPerUser);

  // Many users on both nodes at once race for the last rooms: lobby + 3 are
  // made, so exactly 8 more get in, whichever node they asked.
  constexpr int kUsers = 8, kEach = 2;
  std::vector<std::string> tokens;
  for (int u = 0; u < kUsers; ++u) tokens.push_back(NodeToken(nodes[u % 2], absl::StrCat("user", u)));
  std::atomic<int> ok{0}, capped{0}, other{0};
  std::vector<std::thread> threads;
  for (int u = 0; u < kUsers; ++u) {
    threads.emplace_back([&, u] {
      for (int k = 0; k < kEach; ++k) {
        grpc::Status st = CreateOn(nodes[(u + k) % 2], tokens[u], absl::StrCat("u", u, "-", k));
        if (st.ok()) {
          ++ok;
        } else if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
                   st.error_message().find("room limit reached") != std::string::npos) {
          ++capped;
        } else {
          ++other;
          ADD_FAILURE() << st.error_code() << " " << st.error_message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kMaxRooms - 1 - kPerUser);
  EXPECT_EQ(capped.load(), kUsers * kEach - (kMaxRooms - 1 - kPerUser));
  EXPECT_EQ(other.load(), 0);
  auto rows = env.Query("SELECT count(*) FROM rooms");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], absl::StrCat(kMaxRooms));

  // Every room, on either node, in pages of 5: the node that did not make a
  // room lists it too (once it has heard of it).
  for (const std::string& node : nodes) {
    auto stub = chat::v1::ChatService::NewStub(NodeChannel(node));
    std::vector<std::string> names;
    ASSERT_TRUE(Eventually([&] {
      names.clear();
      std::string cursor;
      do {
        auto ctx = AuthedContext(alice);
        chat::v1::ListRoomsRequest req;
        req.set_limit(5);
        req.set_cursor(cursor);
        chat::v1::ListRoomsResponse page;
        if (!stub->ListRooms(ctx.get(), req, &page).ok() || page.rooms_size() > 5) return false;
        for (const auto& r : page.rooms()) names.push_back(r.name());
        cursor = page.next_cursor();
      } while (!cursor.empty());
      return names.size() == static_cast<size_t>(kMaxRooms);
    })) << node << " lists " << names.size();
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  }
}

}  // namespace
}  // namespace chat::testing
