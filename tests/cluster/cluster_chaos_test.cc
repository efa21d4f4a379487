// A cluster under fire: nodes killed with SIGKILL and PostgreSQL restarted
// while writers keep sending. Every acknowledged message is stored exactly
// once, and every client that stayed or came back has all of them in order.
#include <random>

#include "absl/strings/str_cat.h"
#include "cluster_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"

namespace chat::testing {
namespace {

using ::testing::IsEmpty;

// What the database holds in `room`: client_msg_id -> seq, and whether the
// seqs are exactly 1..n.
struct Stored {
  std::map<std::string, int64_t> by_id;
  int64_t count = 0;
  int64_t max_seq = 0;
  bool gap_free = false;
};

Stored StoredIn(ClusterEnv& env, const std::string& room) {
  Stored out;
  auto rows = env.Query(absl::StrCat(
      "SELECT m.client_msg_id, m.seq FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = '", room,
      "' ORDER BY m.seq"));
  out.gap_free = true;
  for (const auto& row : rows) {
    int64_t seq = std::stoll(row[1]);
    ++out.count;
    if (seq != out.count) out.gap_free = false;
    out.max_seq = seq;
    // A client_msg_id stored twice would collide here; counted apart below.
    out.by_id[row[0]] = seq;
  }
  return out;
}

// Every acknowledged message is stored once, with the seq its ack gave.
void ExpectAckedStoredOnce(const Stored& stored, const std::vector<std::unique_ptr<ResilientWriter>>& writers) {
  EXPECT_TRUE(stored.gap_free) << "the room's seqs are not 1.." << stored.count;
  EXPECT_EQ(static_cast<int64_t>(stored.by_id.size()), stored.count) << "a client_msg_id is stored twice";
  size_t acked = 0;
  for (const auto& w : writers) {
    for (const auto& [id, seq] : w->acked()) {
      ++acked;
      auto it = stored.by_id.find(id);
      ASSERT_NE(it, stored.by_id.end()) << id << " was acknowledged (seq " << seq << ") but is not stored";
      EXPECT_EQ(it->second, seq) << id;
    }
  }
  EXPECT_GT(acked, 0u);
  std::printf("%zu messages acknowledged and stored once, seqs 1..%lld\n", acked,
              static_cast<long long>(stored.max_seq));
}

void ExpectFollowersHaveAll(const std::vector<std::unique_ptr<RoomFollower>>& followers, int64_t max_seq) {
  for (size_t i = 0; i < followers.size(); ++i) {
    ASSERT_TRUE(followers[i]->WaitForSeq(max_seq, 60s)) << "follower " << i << " stopped at "
                                                       << followers[i]->messages().size();
    EXPECT_THAT(followers[i]->problems(), IsEmpty()) << "follower " << i;
    auto messages = followers[i]->messages();
    for (size_t k = 0; k < messages.size(); ++k) ASSERT_EQ(messages[k].seq(), static_cast<int64_t>(k + 1));
  }
}

TEST(ClusterChaosTest, KillNineOfARandomNodeTenTimesUnderLoadLosesNothing) {
  ClusterEnv env;
  const std::vector<std::string> names = {"a", "b", "c"};
  for (const auto& n : names) ASSERT_NE(env.Start(n), nullptr);
  auto nodes = [&env] { return env.Addresses(); };
  std::vector<std::unique_ptr<RoomFollower>> followers;
  std::vector<std::unique_ptr<ResilientWriter>> writers;
  for (size_t i = 0; i < 3; ++i) {
    followers.push_back(std::make_unique<RoomFollower>(nodes, NodeToken(env.address("a"), absl::StrCat("reader", i)),
                                                       "lobby", i));
    writers.push_back(std::make_unique<ResilientWriter>(nodes, NodeToken(env.address("a"), absl::StrCat("writer", i)),
                                                        "lobby", absl::StrCat("w", i)));
  }
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  for (int round = 0; round < 10; ++round) {
    std::this_thread::sleep_for(400ms);  // steady load between the kills
    const std::string& victim = names[rng() % names.size()];
    env.Kill(victim);
    std::this_thread::sleep_for(200ms);
    ASSERT_NE(env.Start(victim), nullptr) << "round " << round;
  }
  std::this_thread::sleep_for(400ms);
  for (auto& w : writers) w->Stop();
  Stored stored = StoredIn(env, "lobby");
  ExpectAckedStoredOnce(stored, writers);
  ExpectFollowersHaveAll(followers, stored.max_seq);
  int reconnects = 0;
  for (auto& f : followers) reconnects += f->reconnects();
  EXPECT_GT(reconnects, 0);  // the kills did cut them off
}

TEST(ClusterChaosTest, PostgresRestartedUnderLoadLosesNothingAndNodesRecoverByThemselves) {
  auto pg = PgCluster::Create();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto db = (*pg)->NewDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  ClusterEnv env(*db);
  ASSERT_NE(env.Start("a"), nullptr);
  ASSERT_NE(env.Start("b"), nullptr);
  auto nodes = [&env] { return env.Addresses(); };
  std::vector<std::unique_ptr<RoomFollower>> followers;
  std::vector<std::unique_ptr<ResilientWriter>> writers;
  for (size_t i = 0; i < 2; ++i) {
    followers.push_back(
        std::make_unique<RoomFollower>(nodes, NodeToken(env.address("a"), absl::StrCat("reader", i)), "lobby", i));
    writers.push_back(std::make_unique<ResilientWriter>(nodes, NodeToken(env.address("a"), absl::StrCat("writer", i)),
                                                        "lobby", absl::StrCat("w", i)));
  }
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE((*pg)->Stop().ok());
  std::this_thread::sleep_for(1s);  // sends fail meanwhile
  size_t acked_while_down = 0;
  for (auto& w : writers) acked_while_down += w->acked().size();
  ASSERT_TRUE((*pg)->Start().ok());
  // The nodes reconnect by themselves: new sends are acknowledged again.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  size_t acked_after = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    acked_after = 0;
    for (auto& w : writers) acked_after += w->acked().size();
    if (acked_after > acked_while_down + 20) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GT(acked_after, acked_while_down + 20) << "sends did not recover after PostgreSQL came back";
  for (auto& w : writers) w->Stop();
  Stored stored = StoredIn(env, "lobby");
  ExpectAckedStoredOnce(stored, writers);
  // Sends that were not acknowledged were told UNAVAILABLE (and retried).
  int failed = 0;
  for (auto& w : writers) {
    for (const auto& [code, n] : w->failures()) {
      EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE) << n << " sends failed with code " << code;
      failed += n;
    }
  }
  EXPECT_GT(failed, 0);  // PostgreSQL was really away
  ExpectFollowersHaveAll(followers, stored.max_seq);
  // Live sessions stayed open through it.
  for (auto& f : followers) EXPECT_EQ(f->reconnects(), 0);
}

}  // namespace
}  // namespace chat::testing
