// A test of PgStore beyond the Store contract: a fresh database on the test
// run's PostgreSQL, a store on it, and cluster nodes listening to it (what
// the other nodes of a cluster would hear). Used by pg_members_test.cc and
// pg_accounts_test.cc.
#ifndef CHAT_TESTS_CORE_PG_NODES_FIXTURE_H_
#define CHAT_TESTS_CORE_PG_NODES_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "cluster.h"
#include "gtest/gtest.h"
// chat-core's PgCluster; plain "pg_cluster.h" is the test harness's
// (tests/testing), which NewTestDatabase comes from.
#include "../../chat-core/src/pg_cluster.h"
#include "pg_cluster.h"
#include "pg_store.h"

namespace chat::core {

class PgNodesTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kWait = absl::Seconds(30);

  void SetUp() override {
    auto uri = chat::testing::NewTestDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status();
    uri_ = *uri;
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  // Another store on the same database (another node's).
  std::unique_ptr<PgStore> OpenStore() {
    PgStoreOptions o;
    o.pg.uri = uri_;
    auto store = OpenPgStore(o);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A cluster node listening on the test's database, joined.
  std::unique_ptr<Cluster> StartCluster(ClusterEvents* events,
                                        absl::Duration seq_check_interval = PgClusterOptions().seq_check_interval) {
    PgClusterOptions o;
    o.pg.uri = uri_;
    o.seq_check_interval = seq_check_interval;
    auto cluster = NewPgCluster(o);
    cluster->Start(events);
    absl::Time deadline = absl::Now() + kWait;
    while (!cluster->connected() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    EXPECT_TRUE(cluster->connected());
    return cluster;
  }

  std::string uri_;
  std::unique_ptr<PgStore> store_;
};

}  // namespace chat::core

#endif  // CHAT_TESTS_CORE_PG_NODES_FIXTURE_H_
