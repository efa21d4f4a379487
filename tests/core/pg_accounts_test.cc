// What PgStore's account writes tell the other nodes, and how they hold up
// with several nodes writing at once (beyond the Store contract, which
// store_conformance_pg_test.cc checks): SetPassword and DeleteUser send each
// revoked token on chat_sessions as RevokeSession does; a bot's message
// reaches the other nodes with its author kind; an invite code and a token
// name raced from two stores are had by one.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_nodes_fixture.h"
#include "pg_store.h"
#include "store_conformance_util.h"

namespace chat::core {
namespace {

using conformance::BotAccount;
using conformance::Call;
using conformance::HashOf;
using conformance::LoginOf;
using conformance::Reply;
using conformance::TokenOf;
using conformance::UserAccount;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kWait = absl::Seconds(30);

// The revocations and messages the cluster told this node of. Threading:
// written on the cluster's thread, read on the test's. Lifetime: outlives
// the cluster.
class AccountEvents : public ClusterEvents {
 public:
  void OnMessages(int64_t, std::vector<StoredMessage> messages, int64_t) override {
    absl::MutexLock lock(&mu_);
    for (StoredMessage& m : messages) messages_.push_back(std::move(m));
  }
  void OnRoomCreated(const RoomRecord&) override {}
  void OnSessionRevoked(const std::string& token_hash) override {
    absl::MutexLock lock(&mu_);
    revoked_.push_back(token_hash);
  }
  void OnPresence(const PresenceRecord&, bool) override {}
  void OnTyping(int64_t, const std::string&, bool) override {}
  void OnNodeGone(const std::string&) override {}
  void OnRoomSeqs(const std::vector<RoomRecord>&) override {}
  void OnPresenceSnapshot(const std::vector<PresenceRecord>&) override {}
  void OnRoomChange(const std::string&) override {}

  // What was heard, once there are at least `n` (or all there are after kWait).
  std::vector<std::string> Revoked(size_t n) { return Await(&AccountEvents::revoked_, n); }
  std::vector<StoredMessage> Messages(size_t n) { return Await(&AccountEvents::messages_, n); }

 private:
  // A member pointer, not a reference: the list is only touched under mu_.
  template <typename T>
  std::vector<T> Await(std::vector<T> AccountEvents::*heard, size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return (this->*heard).size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return this->*heard;
  }

  absl::Mutex mu_;
  std::vector<std::string> revoked_ ABSL_GUARDED_BY(mu_);
  std::vector<StoredMessage> messages_ ABSL_GUARDED_BY(mu_);
};

class PgAccountsTest : public PgNodesTest {
};

TEST_F(PgAccountsTest, SetPasswordAndDeleteUserRevocationsReachEveryNode) {
  AccountEvents events;
  auto cluster = StartCluster(&events);
  Store& s = *store_;
  auto alice = conformance::CreateAccount(s, UserAccount("alice"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto bot = conformance::CreateAccount(s, BotAccount("alices-bot", "alice"));
  ASSERT_TRUE(bot.ok()) << bot.status();
  for (char c : {'1', '2', '3'}) ASSERT_TRUE(conformance::CreateSession(s, LoginOf(*alice, HashOf(c), c)).ok());
  ASSERT_TRUE(conformance::CreateSession(s, TokenOf(*alice, HashOf('t'), "ci")).ok());
  ASSERT_TRUE(conformance::CreateSession(s, TokenOf(*bot, HashOf('u'), "bot")).ok());

  auto changed = Call<std::vector<std::string>>([&](auto cb) { s.SetPassword("alice", "$new", HashOf('2'), cb); });
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_THAT(*changed, UnorderedElementsAre(HashOf('1'), HashOf('3')));
  EXPECT_THAT(events.Revoked(2), UnorderedElementsAre(HashOf('1'), HashOf('3')));

  auto deleted = Call<std::vector<std::string>>([&](auto cb) { s.DeleteUser("alice", cb); });
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_THAT(*deleted, UnorderedElementsAre(HashOf('2'), HashOf('t'), HashOf('u')));
  EXPECT_THAT(events.Revoked(5),
              UnorderedElementsAre(HashOf('1'), HashOf('3'), HashOf('2'), HashOf('t'), HashOf('u')));
  cluster->Stop();
}

TEST_F(PgAccountsTest, ABotsMessageReachesOtherNodesWithItsKind) {
  AccountEvents events;
  auto cluster = StartCluster(&events);
  const int64_t room = conformance::CreateRoom(*store_, "r")->id;
  AppendRequest by_bot = conformance::Message(room, "ci-bot", "build \"ok\"");
  by_bot.author_kind = AccountKind::kBot;
  ASSERT_TRUE(conformance::Append(*store_, by_bot).ok());
  ASSERT_TRUE(conformance::Append(*store_, room, "ann", "thanks").ok());
  auto heard = events.Messages(2);
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0].author, "ci-bot");
  EXPECT_EQ(heard[0].text, "build \"ok\"");
  EXPECT_EQ(heard[0].author_kind, AccountKind::kBot);
  EXPECT_EQ(heard[1].author, "ann");
  EXPECT_EQ(heard[1].author_kind, AccountKind::kUser);
  cluster->Stop();
}

// Two nodes (two stores, each its own connections) racing for one invite
// code: one account is made, the others are refused.
TEST_F(PgAccountsTest, AnInviteRacedFromTwoNodesMakesOneAccount) {
  auto other = OpenStore();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(Call<bool>([&](auto cb) { store_->CreateRegistrationInvite({HashOf('i'), "admin", 1, 1'000'000}, cb); })
                  .ok());
  constexpr int kTries = 10;
  std::vector<Reply<UserRecord>> replies(kTries);
  std::vector<std::thread> threads;
  for (int i = 0; i < kTries; ++i) {
    threads.emplace_back([&, i] {
      NewAccount a = UserAccount(absl::StrCat("racer", i), 5);
      a.invite_code_hash = HashOf('i');
      (i % 2 == 0 ? store_.get() : other.get())->CreateAccount(a, replies[i].Callback());
    });
  }
  for (auto& t : threads) t.join();
  int made = 0;
  for (auto& reply : replies) {
    auto r = reply.Wait();
    if (r.ok()) {
      ++made;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
    }
  }
  EXPECT_EQ(made, 1);
  other->Close();
}

// Two nodes giving one account's token the same name at once: one has it.
TEST_F(PgAccountsTest, ATokenNameRacedFromTwoNodesIsHadByOne) {
  auto other = OpenStore();
  ASSERT_NE(other, nullptr);
  auto alice = conformance::CreateAccount(*store_, UserAccount("alice"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  for (int round = 0; round < 5; ++round) {
    const std::string name = absl::StrCat("ci-", round);
    Reply<bool> a, b;
    std::thread t1([&] { store_->CreateSession(TokenOf(*alice, HashOf('a' + 2 * round), name), 1, a.Callback()); });
    std::thread t2([&] { other->CreateSession(TokenOf(*alice, HashOf('b' + 2 * round), name), 1, b.Callback()); });
    t1.join();
    t2.join();
    auto ra = a.Wait();
    auto rb = b.Wait();
    EXPECT_NE(ra.ok(), rb.ok()) << ra.status() << " / " << rb.status();
    for (const auto& r : {ra, rb}) {
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
      }
    }
  }
  auto listed = Call<std::vector<SessionRecord>>([&](auto cb) { store_->ListSessions("alice", 100, cb); });
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 5u);
  other->Close();
}

}  // namespace
}  // namespace chat::core
