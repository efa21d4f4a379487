// Private rooms, direct conversations and moderation on a cluster (issue
// 28): two real chat-core processes on one PostgreSQL. A change made on one
// node holds on the other at once: who may see a room, who is kicked or
// banned, topics, tombstones, disabled accounts.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "cluster_env.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "membership_calls.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using chat::v1::ServerEvent;

class MembershipClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(env_.Start("a", {"--admins=ada"}), nullptr);
    ASSERT_NE(env_.Start("b", {"--admins=ada"}), nullptr);
    for (const char* node : {"a", "b"}) {
      auto channel = NodeChannel(env_.address(node));
      chat_[node] = chat::v1::ChatService::NewStub(channel);
      auth_[node] = chat::v1::AuthService::NewStub(channel);
    }
    for (const char* user : {"olga", "mel", "eve", "ada", "bob"}) tokens_[user] = NodeToken(env_.address("a"), user);
  }
  Calls On(const std::string& node, const std::string& user) {
    return Calls(chat_.at(node).get(), auth_.at(node).get(), tokens_.at(user));
  }
  std::unique_ptr<EventClient> StreamOn(const std::string& node, const std::string& user) {
    return std::make_unique<EventClient>(chat_.at(node).get(), tokens_.at(user));
  }

  ClusterEnv env_;
  std::map<std::string, std::unique_ptr<chat::v1::ChatService::Stub>> chat_;
  std::map<std::string, std::unique_ptr<chat::v1::AuthService::Stub>> auth_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(MembershipClusterTest, APrivateRoomMadeOnOneNodeIsHiddenAndModeratedOnTheOther) {
  ASSERT_TRUE(On("a", "olga").CreatePrivate("secret").ok());
  ASSERT_TRUE(On("a", "olga").Invite("secret", "mel").ok());
  // The invitation is known on b, and only mel sees anything of the room there.
  ASSERT_TRUE(Eventually([&] { return On("b", "mel").ListInvites()->invites_size() == 1; }));
  EXPECT_EQ(On("b", "eve").GetRoom("secret").status().error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(On("b", "mel").Respond("secret", true).ok());
  ASSERT_TRUE(Eventually([&] { return On("a", "mel").GetRoom("secret").ok(); }));
  auto mel = StreamOn("b", "mel");
  ASSERT_TRUE(mel->Join("secret"));
  ASSERT_TRUE(mel->WaitFor(IsJoined("secret")));
  auto first = On("a", "olga").Send("secret", "hello from a");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(mel->WaitFor(IsMessage("secret", first->seq())));
  // A topic and a tombstone made on a reach b.
  ASSERT_TRUE(On("a", "olga").UpdateTopic("secret", "plans").ok());
  ASSERT_TRUE(mel->WaitFor([](const ServerEvent& e) {
    return e.has_room_changed() && e.room_changed().room().topic() == "plans";
  }));
  EXPECT_EQ(On("b", "mel").GetRoom("secret")->topic(), "plans");
  ASSERT_TRUE(On("a", "olga").DeleteMessage("secret", first->seq()).ok());
  ASSERT_TRUE(mel->WaitFor([](const ServerEvent& e) { return e.has_message_deleted(); }));
  auto replay = StreamOn("b", "mel");
  ASSERT_TRUE(replay->Join("secret", 0));
  ASSERT_TRUE(replay->WaitFor(IsJoined("secret")));
  ASSERT_EQ(replay->Messages("secret").size(), 1u);
  EXPECT_TRUE(replay->Messages("secret")[0].deleted());  // from b's memory, made a tombstone by a's note
  // A kick on a ends mel's membership on b at once.
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(On("a", "olga").Kick("secret", "mel", "done").ok());
  auto left = mel->WaitFor(IsLeft("secret"), 5s);
  ASSERT_TRUE(left.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(left->left().reason(), "kicked by olga: done");
  const size_t seen = mel->Events().size();
  ASSERT_TRUE(On("a", "olga").Send("secret", "not for mel").ok());
  EXPECT_EQ(On("b", "mel").Send("secret", "hello?").status().error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(mel->Join("lobby"));
  ASSERT_TRUE(mel->WaitFor(IsJoined("lobby")));
  auto events = mel->Events();
  for (size_t i = seen; i < events.size(); ++i) {
    EXPECT_THAT(events[i].ShortDebugString(), ::testing::Not(HasSubstr("not for mel")));
  }
}

TEST_F(MembershipClusterTest, TwoNodesOpeningTheSameDirectConversationAtOnceMakeOneRoom) {
  Result<chat::v1::Room> from_a, from_b;
  auto open = [&](const std::string& node, const std::string& user, const std::string& other) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto r = On(node, user).OpenDirect({other});
      if (r.status().error_code() != grpc::StatusCode::ABORTED) return r;  // ABORTED: retry, as it says
      std::this_thread::sleep_for(50ms);
    }
    return On(node, user).OpenDirect({other});
  };
  std::thread a([&] { from_a = open("a", "olga", "mel"); });
  std::thread b([&] { from_b = open("b", "mel", "olga"); });
  a.join();
  b.join();
  ASSERT_TRUE(from_a.ok()) << from_a.status().error_message();
  ASSERT_TRUE(from_b.ok()) << from_b.status().error_message();
  EXPECT_EQ(from_a->name(), from_b->name());
  auto rows = env_.Query("SELECT count(*) FROM rooms WHERE kind = 3");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(On("b", "eve").History(from_a->name()).status().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(MembershipClusterTest, ABanAndADisabledAccountHoldOnEveryNode) {
  ASSERT_TRUE(On("b", "olga").CreateRoom("town", chat::v1::ROOM_KIND_PUBLIC).ok());
  auto eve = StreamOn("b", "eve");
  // Node a learns of the room and of its owner.
  ASSERT_TRUE(Eventually([&] {
    auto town = On("a", "olga").GetRoom("town");
    return town.ok() && town->my_role() == chat::v1::ROLE_OWNER;
  }));
  ASSERT_TRUE(eve->Join("town"));
  ASSERT_TRUE(eve->WaitFor(IsJoined("town")));
  ASSERT_TRUE(On("a", "olga").Ban("town", "eve", "spam").ok());
  auto left = eve->WaitFor(IsLeft("town"), 5s);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->left().reason(), "banned by olga: spam");
  ASSERT_TRUE(eve->Join("town", std::nullopt, "again"));
  auto refused = eve->WaitFor([](const ServerEvent& e) { return e.ref() == "again"; });
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), chat::v1::Error::PERMISSION_DENIED);

  auto bob = StreamOn("b", "bob");
  ASSERT_TRUE(bob->Join("lobby"));
  ASSERT_TRUE(bob->WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(On("a", "ada").Disable("bob", true).ok());
  auto ended = bob->WaitDone(5s);
  ASSERT_TRUE(ended.has_value()) << "bob's stream on b outlived the disable on a";
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(LoginStatus(auth_.at("b").get(), "bob").error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace chat::testing
