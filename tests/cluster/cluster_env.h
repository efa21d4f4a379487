// Test support for chat-core clusters: several real chat-core processes on one
// PostgreSQL database (pg_cluster.h), and clients that behave as
// docs/protocol.md tells gRPC clients to ("Failing over between chat-core
// nodes"): a follower that rejoins a room with since_seq on another node when
// its node dies, and a writer that retries a send with the same client_msg_id
// until some node acknowledges it.
//
// Threading: ClusterEnv is used from the test thread; the follower and the
// writer run threads of their own and are thread-safe. Lifetime: declare
// clients after the ClusterEnv; their destructors stop their threads.
#ifndef CHAT_TESTS_CLUSTER_CLUSTER_ENV_H_
#define CHAT_TESTS_CLUSTER_CLUSTER_ENV_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.grpc.pb.h"
#include "process.h"

namespace chat::testing {

using namespace std::chrono_literals;

std::shared_ptr<grpc::Channel> NodeChannel(const std::string& address);
// Waits until the node's health is SERVING.
bool WaitServing(const std::string& address, std::chrono::milliseconds timeout = 30s);
// Registers `user` (if new) on the node and logs in; the token ("" on failure).
std::string NodeToken(const std::string& address, const std::string& user);

class ClusterEnv {
 public:
  // A fresh database on the test run's PostgreSQL, or `db` if given.
  explicit ClusterEnv(std::string db = "");
  ~ClusterEnv();

  const std::string& db() const { return db_; }
  // Starts node `name` (if it runs already, after a kill: again, on a new
  // port) and waits until it serves; nullptr (and a test failure) if not.
  CoreProcess* Start(const std::string& name, std::vector<std::string> flags = {});
  // Starts the node without waiting for it to serve.
  CoreProcess* Launch(const std::string& name, std::vector<std::string> flags = {});
  CoreProcess* node(const std::string& name) { return nodes_.at(name).get(); }
  std::string address(const std::string& name) const;
  // kill -9.
  void Kill(const std::string& name);
  // The addresses of the nodes running now (safe from any thread).
  std::vector<std::string> Addresses() const;
  // One SQL query's rows (every column as text) on the test's database.
  std::vector<std::vector<std::string>> Query(const std::string& sql) const;

 private:
  std::string db_;
  std::map<std::string, std::unique_ptr<CoreProcess>> nodes_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> live_ ABSL_GUARDED_BY(mu_);
};

// Follows one room across node deaths. Records every message in the order
// received and every break of order (a duplicate or a gap).
class RoomFollower {
 public:
  using Nodes = std::function<std::vector<std::string>()>;
  RoomFollower(Nodes nodes, std::string token, std::string room, size_t first_node = 0);
  ~RoomFollower();

  // Waits until it has seen every message up to `seq`.
  bool WaitForSeq(int64_t seq, std::chrono::milliseconds timeout = 30s);
  std::vector<chat::v1::Message> messages() const;
  std::vector<std::string> problems() const;
  int reconnects() const;

 private:
  void Run();

  const Nodes nodes_;
  const std::string token_;
  const std::string room_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::vector<chat::v1::Message> messages_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
  int reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  size_t next_node_;
  std::thread thread_;
};

// Sends numbered messages to a room with SendMessage, each with its own
// client_msg_id, retrying on the next node until one acknowledges it.
class ResilientWriter {
 public:
  ResilientWriter(RoomFollower::Nodes nodes, std::string token, std::string room, std::string name,
                  std::chrono::milliseconds pause = 5ms);
  ~ResilientWriter();
  // Stops after the message being sent is acknowledged (or `timeout`).
  void Stop(std::chrono::milliseconds timeout = 30s);
  // client_msg_id -> seq of every acknowledged message.
  std::map<std::string, int64_t> acked() const;
  // The status codes of failed attempts, by code.
  std::map<grpc::StatusCode, int> failures() const;

 private:
  void Run();

  const RoomFollower::Nodes nodes_;
  const std::string token_;
  const std::string room_;
  const std::string name_;
  const std::chrono::milliseconds pause_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> acked_ ABSL_GUARDED_BY(mu_);
  std::map<grpc::StatusCode, int> failures_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace chat::testing

#endif  // CHAT_TESTS_CLUSTER_CLUSTER_ENV_H_
