// CoreServer: chat-core assembled — store, accounts, hub and the gRPC server with
// its services, health checking and reflection. main.cc and the tests build it
// from a plain options struct.
//
// Threading: Start/Shutdown from one controlling thread. Lifetime: Shutdown()
// (also run by the destructor) ends every stream with UNAVAILABLE, stops the gRPC
// server within the grace period, then drains and closes the store.
#ifndef CHAT_CORE_SRC_SERVER_H_
#define CHAT_CORE_SRC_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "accounts.h"
#include "hub.h"
#include "auth_service.h"
#include "authenticator.h"
#include "chat_service.h"
#include "core_tls.h"
#include "gateway_service.h"
#include "service_options.h"
#include "cluster_sync.h"
#include "pg_cluster.h"
#include "pg_store.h"
#include "sqlite_store.h"

namespace chat::core {

struct CoreOptions {
  // host:port; port 0 picks a free port (see CoreServer::port()).
  std::string listen = "127.0.0.1:50051";
  // TLS on the gRPC port (off: plaintext), and mTLS for gateways.
  CoreTlsOptions tls;
  // The embedded default: one node on a SQLite file.
  SqliteStoreOptions store;
  // Several equal nodes on one PostgreSQL (docs/scaling.md): used instead of
  // `store` when pg.pg.uri is set; the node then joins the cluster (whose
  // connection settings are pg.pg's).
  PgStoreOptions pg;
  PgClusterOptions cluster;
  HubOptions hub;
  AccountsOptions accounts;
  ServiceOptions services;
  int max_receive_message_bytes = 64 * 1024;
  // Keepalive: the server pings idle connections every keepalive_time and drops
  // them if no answer comes in keepalive_timeout; clients may ping as often as
  // every min_client_ping_interval.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // ws-bridge pings every 10 s by default (its --core_keepalive_time); a
  // client pinging more often than this is told to go away (too_many_pings).
  absl::Duration min_client_ping_interval = absl::Seconds(5);
  // On PostgreSQL: called once the node serves (the database answered), on
  // the thread that brought it up. (On SQLite it serves when Start returns.)
  std::function<void()> on_serving;
  // Prometheus metrics (core_metrics.h; --metrics_listen); null: off. Not
  // owned: must outlive the server.
  CoreMetrics* metrics = nullptr;
};

// Sensible defaults for the stream limits (used by main and tests).
CoreOptions DefaultCoreOptions();

// INVALID_ARGUMENT naming the setting and its allowed range if `options` cannot
// work (CoreServer::Start checks it first, so main and embedders get the same
// errors).
absl::Status ValidateCoreOptions(const CoreOptions& options);

class CoreServer {
 public:
  static absl::StatusOr<std::unique_ptr<CoreServer>> Start(CoreOptions options);
  ~CoreServer();

  int port() const { return port_; }
  // Serving (on PostgreSQL: once the database was reached and loaded).
  bool serving() const { return auth_ != nullptr && auth_->Serving().ok(); }
  // This node's id in its cluster ("" on SQLite).
  std::string node_id() const { return cluster_ != nullptr ? cluster_->node_id() : ""; }
  std::string address() const;
  Hub* hub() { return hub_.get(); }
  Accounts* accounts() { return accounts_.get(); }

  void Shutdown(absl::Duration grace = absl::Seconds(3));
  void Wait();

 private:
  CoreServer() = default;

  CoreOptions options_;
  std::string host_;
  int port_ = 0;
  // On PostgreSQL: waits for the database, loads the node, then keeps the
  // health status in step with the database connection.
  void BringUp();

  std::unique_ptr<Store> store_;
  PgStore* pg_store_ = nullptr;  // store_, on PostgreSQL
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<ClusterSync> sync_;
  std::thread bring_up_;
  absl::Mutex bring_up_mu_;
  bool stopping_ ABSL_GUARDED_BY(bring_up_mu_) = false;
  // The fan-out lanes' queues: outlive the hub's lanes and the server.
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Hub> hub_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<ChatServiceImpl> chat_;
  std::unique_ptr<GatewayServiceImpl> gateway_;
  std::unique_ptr<chat::v1::AuthService::CallbackService> auth_service_;
  // Answers methods no service has with UNIMPLEMENTED, as gRPC's own fallback
  // does; registered because ChatService leaves its generated Connect method
  // unregistered on the core API (see chat_service.h), which gRPC allows only
  // with one.
  std::unique_ptr<grpc::CallbackGenericService> unknown_methods_;
  std::unique_ptr<grpc::Server> server_;
  bool shut_down_ = false;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SERVER_H_
