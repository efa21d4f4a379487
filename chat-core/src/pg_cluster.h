// PgCluster: the Cluster on PostgreSQL (docs/scaling.md, "Between nodes").
// One connection of its own LISTENs to the store's notifications (messages,
// rooms, revoked sessions) and to presence and typing, writes this node's
// presence and typing, beats for this node, and declares a node that stopped
// beating gone (removing its presence and telling everyone). After every
// (re)connect it hands the Hub the stored presence and every room's newest seq,
// so anything missed while it was away is caught up from the store.
//
// Threading: thread-safe; one thread of its own does all the database work and
// every ClusterEvents call. Lifetime: owned by CoreServer; Stop() joins the
// thread and removes this node and its presence from the database.
#ifndef CHAT_CORE_SRC_PG_CLUSTER_H_
#define CHAT_CORE_SRC_PG_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "cluster.h"
#include "pg_conn.h"

namespace chat::core {

struct PgClusterOptions {
  PgConnectOptions pg;
  // Empty: a fresh random id.
  std::string node_id;
  absl::Duration heartbeat_interval = absl::Seconds(2);
  // A node whose last beat is older than this is gone.
  absl::Duration node_timeout = absl::Seconds(10);
  // How often every room's newest seq is checked against what was published.
  absl::Duration seq_check_interval = absl::Seconds(1);
};

std::unique_ptr<Cluster> NewPgCluster(PgClusterOptions options);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_CLUSTER_H_
