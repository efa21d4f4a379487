#include "cluster_env.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "core_fixture.h"
#include "gtest/gtest.h"
#include "pg_cluster.h"
#include "pg_conn.h"
#include "reflection_client.h"

namespace chat::testing {

std::shared_ptr<grpc::Channel> NodeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.channel_id", std::rand());  // a connection of its own
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

bool WaitServing(const std::string& address, std::chrono::milliseconds timeout) {
  auto channel = NodeChannel(address);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto health = HealthCheck(channel);
    if (health.ok() && *health == "SERVING") return true;
    std::this_thread::sleep_for(50ms);  // polling a server that is starting
  }
  return false;
}

std::string NodeToken(const std::string& address, const std::string& user) {
  return RegisterAndLogin(chat::v1::AuthService::NewStub(NodeChannel(address)).get(), user);
}

ClusterEnv::ClusterEnv(std::string db) : db_(std::move(db)) {
  if (db_.empty()) {
    auto uri = NewTestDatabase();
    if (!uri.ok()) ADD_FAILURE() << "no PostgreSQL for the test: " << uri.status();
    db_ = uri.value_or("postgresql://nowhere");
  }
}

ClusterEnv::~ClusterEnv() {
  for (auto& [name, node] : nodes_) {
    if (node != nullptr) node->Kill9();
  }
}

CoreProcess* ClusterEnv::Launch(const std::string& name, std::vector<std::string> flags) {
  flags.push_back("--node_id=" + name);
  flags.push_back("--log_level=info");
  auto node = CoreProcess::Start(db_, std::move(flags));
  if (node == nullptr) return nullptr;
  {
    absl::MutexLock lock(&mu_);
    live_[name] = node->address();
  }
  nodes_[name] = std::move(node);
  return nodes_[name].get();
}

CoreProcess* ClusterEnv::Start(const std::string& name, std::vector<std::string> flags) {
  CoreProcess* node = Launch(name, std::move(flags));
  if (node == nullptr) return nullptr;
  if (!WaitServing(node->address())) {
    ADD_FAILURE() << "node " << name << " did not serve: " << node->process()->stderr_text();
    return nullptr;
  }
  return node;
}

std::string ClusterEnv::address(const std::string& name) const { return nodes_.at(name)->address(); }

void ClusterEnv::Kill(const std::string& name) {
  {
    absl::MutexLock lock(&mu_);
    live_.erase(name);
  }
  nodes_.at(name)->Kill9();
}

std::vector<std::string> ClusterEnv::Addresses() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, address] : live_) out.push_back(address);
  return out;
}

std::vector<std::vector<std::string>> ClusterEnv::Query(const std::string& sql) const {
  std::vector<std::vector<std::string>> rows;
  auto conn = core::PgConn::Connect(db_, absl::Seconds(10));
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return rows;
  }
  auto r = (*conn)->Exec(sql);
  if (!r.ok()) {
    ADD_FAILURE() << sql << ": " << r.status();
    return rows;
  }
  for (int i = 0; i < r->rows(); ++i) {
    rows.emplace_back();
    for (int c = 0; c < r->columns(); ++c) rows.back().emplace_back(r->Text(i, c));
  }
  return rows;
}

RoomFollower::RoomFollower(Nodes nodes, std::string token, std::string room, size_t first_node)
    : nodes_(std::move(nodes)), token_(std::move(token)), room_(std::move(room)), next_node_(first_node) {
  thread_ = std::thread([this] { Run(); });
}

RoomFollower::~RoomFollower() {
  stop_ = true;
  thread_.join();
}

void RoomFollower::Run() {
  bool first = true;
  while (!stop_) {
    std::vector<std::string> nodes = nodes_();
    if (nodes.empty()) {
      std::this_thread::sleep_for(20ms);  // every node is down for a moment
      continue;
    }
    std::string address = nodes[next_node_++ % nodes.size()];
    auto stub = chat::v1::ChatService::NewStub(NodeChannel(address));
    EventClient client(stub.get(), token_);
    int64_t last;
    {
      absl::MutexLock lock(&mu_);
      last = messages_.empty() ? 0 : messages_.back().seq();
      if (!first) ++reconnects_;
    }
    first = false;
    client.Join(room_, last);
    size_t seen = 0;
    while (!stop_ && !client.done()) {
      auto events = client.EventsFrom(seen, 100ms);
      seen += events.size();
      absl::MutexLock lock(&mu_);
      for (const auto& ev : events) {
        if (!ev.has_message() || ev.message().room() != room_) continue;
        int64_t have = messages_.empty() ? 0 : messages_.back().seq();
        if (ev.message().seq() <= have) {
          problems_.push_back(absl::StrCat("duplicate seq ", ev.message().seq(), " after ", have, " from ", address));
        } else if (ev.message().seq() != have + 1) {
          problems_.push_back(absl::StrCat("gap: seq ", ev.message().seq(), " after ", have, " from ", address));
        } else {
          messages_.push_back(ev.message());
        }
      }
    }
    client.Cancel();
    if (!stop_) std::this_thread::sleep_for(20ms);  // then the next node
  }
}

bool RoomFollower::WaitForSeq(int64_t seq, std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto there = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !messages_.empty() && messages_.back().seq() >= seq;
  };
  return seq == 0 || mu_.AwaitWithTimeout(absl::Condition(&there), absl::FromChrono(timeout));
}

std::vector<chat::v1::Message> RoomFollower::messages() const {
  absl::MutexLock lock(&mu_);
  return messages_;
}

std::vector<std::string> RoomFollower::problems() const {
  absl::MutexLock lock(&mu_);
  return problems_;
}

int RoomFollower::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

ResilientWriter::ResilientWriter(RoomFollower::Nodes nodes, std::string token, std::string room, std::string name,
                                 std::chrono::milliseconds pause)
    : nodes_(std::move(nodes)), token_(std::move(token)), room_(std::move(room)), name_(std::move(name)),
      pause_(pause) {
  thread_ = std::thread([this] { Run(); });
}

ResilientWriter::~ResilientWriter() { Stop(); }

void ResilientWriter::Stop(std::chrono::milliseconds timeout) {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ResilientWriter::Run() {
  size_t node = 0;
  for (int i = 1; !stop_; ++i) {
    std::string id = absl::StrCat(name_, "-", i);
    // The same client_msg_id until some node acknowledges it.
    for (int attempt = 0;; ++attempt) {
      std::vector<std::string> nodes = nodes_();
      if (nodes.empty()) {
        std::this_thread::sleep_for(20ms);
        continue;
      }
      auto stub = chat::v1::ChatService::NewStub(NodeChannel(nodes[node % nodes.size()]));
      auto ctx = AuthedContext(token_, 3s);
      chat::v1::SendMessageRequest req;
      req.set_room(room_);
      req.set_text(absl::StrCat(name_, " says ", i));
      req.set_client_msg_id(id);
      chat::v1::SendMessageResponse resp;
      grpc::Status st = stub->SendMessage(ctx.get(), req, &resp);
      {
        absl::MutexLock lock(&mu_);
        if (st.ok()) {
          acked_[id] = resp.message().seq();
          break;
        }
        ++failures_[st.error_code()];
      }
      ++node;  // the next node
      if (stop_ && attempt > 200) break;  // give up only when told to stop
      std::this_thread::sleep_for(20ms);
    }
    if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
  }
}

std::map<std::string, int64_t> ResilientWriter::acked() const {
  absl::MutexLock lock(&mu_);
  return acked_;
}

std::map<grpc::StatusCode, int> ResilientWriter::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

}  // namespace chat::testing
