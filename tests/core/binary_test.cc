// The real chat-core binary: flags, start-up errors, reflection and health as
// grpcurl sees them, graceful shutdown, and surviving kill -9 with nothing
// acknowledged lost.
#include <signal.h>

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"
#include "reflection_client.h"

namespace chat::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.channel_id", std::rand());
  // Reconnect quickly after a restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

TEST(CoreBinaryTest, HelpListsEveryFlag) {
  auto r = RunCommand({BinaryPath("chat-core"), "--help"});
  std::string all = r.out + r.err;
  for (const char* flag : {"--listen", "--db", "--sync_full", "--max_text_bytes", "--gateway_secret_file",
                           "--allow_guests", "--token_ttl", "--log_level", "--fanout_threads"}) {
    EXPECT_THAT(all, HasSubstr(flag));
  }
  EXPECT_THAT(all, HasSubstr("SQLite database file"));
}

// The last line chat-core wrote to stderr (its error line).
std::string LastLine(const std::string& err) {
  std::string trimmed = err.substr(0, err.find_last_not_of('\n') + 1);
  return trimmed.substr(trimmed.rfind('\n') + 1);
}

// chat-core with `flags` refuses to start: exit code `code`, `message` in its
// last line, and no crash.
void ExpectRefused(std::vector<std::string> flags, int code, const std::string& message) {
  flags.insert(flags.begin(), BinaryPath("chat-core"));
  auto r = RunCommand(flags);
  EXPECT_EQ(r.exit_code, code) << flags[1] << "\n" << r.err;
  EXPECT_THAT(LastLine(r.err), HasSubstr(message)) << flags[1];
}

TEST(CoreBinaryTest, ABadAddressOrABusyPortIsOneClearLineNotACrash) {
  for (const char* listen : {"foo", "256.1.1.1:5", "127.0.0.1:99999", ":80", "127.0.0.1:"}) {
    auto r = RunCommand({BinaryPath("chat-core"), std::string("--listen=") + listen, "--db=:memory:"});
    EXPECT_NE(r.exit_code, 0) << listen;
    EXPECT_LT(r.exit_code, 128) << listen << ": killed by a signal\n" << r.err;
    EXPECT_THAT(LastLine(r.err), HasSubstr(listen)) << r.err;
  }
  // A port another process holds.
  auto holder = ChildProcess::Start({{BinaryPath("chat-core"), "--listen=127.0.0.1:0", "--db=:memory:"}});
  auto line = holder->WaitForLine("chat-core listening on ", 10s);
  ASSERT_TRUE(line.has_value());
  std::string busy = line->substr(std::string("chat-core listening on ").size());
  ExpectRefused({"--listen=" + busy, "--db=:memory:"}, 1, "cannot listen on " + busy + ": Address already in use");
  ExpectRefused({"--connect_api=sideways", "--db=:memory:"}, 2, "--connect_api must be core or callback");
  ExpectRefused({"--stream_queue_events=-5", "--db=:memory:"}, 2, "--stream_queue_events must not be negative");
  ExpectRefused({"--min_client_ping_interval=-1s", "--db=:memory:"}, 2, "min_client_ping_interval must not be negative");
}

TEST(CoreBinaryTest, StartupErrorsAreClearAndExitNonZero) {
  TempDir dir;
  std::string corrupt = dir.File("corrupt.db");
  std::ofstream(corrupt) << std::string(4096, '!');
  ExpectRefused({"--listen=127.0.0.1:0", "--db=" + corrupt}, 1, corrupt + ": file is not a database");
  ExpectRefused({"--listen=127.0.0.1:0", "--db=/proc/nope/chat.db"}, 1, "/proc/nope/chat.db");
  ExpectRefused({"--max_text_bytes=0", "--db=:memory:"}, 2, "max_text_bytes must be between 1 and 32768");
  RunResult r;
  for (const char* lanes : {"--fanout_threads=-1", "--fanout_threads=65"}) {
    r = RunCommand({BinaryPath("chat-core"), lanes, "--db=:memory:"});
    EXPECT_EQ(r.exit_code, 2) << lanes;
    EXPECT_THAT(r.err, HasSubstr("fanout_threads must be between 0 (one per core) and 64")) << lanes;
  }

  // The gateway secret: a file that is missing, or holds too short a secret.
  ExpectRefused({"--db=:memory:", "--gateway_secret_file=" + dir.File("none")}, 2,
                "cannot read gateway secret file " + dir.File("none"));
  std::ofstream(dir.File("short.secret")) << "tooshort\n";
  ExpectRefused({"--db=:memory:", "--gateway_secret_file=" + dir.File("short.secret")}, 2,
                "shorter than 16 characters");
  r = RunCommand({BinaryPath("ws-bridge"), "--gateway_secret_file=" + dir.File("short.secret")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("shorter than 16 characters"));

  // ws-bridge's limits: the message names the flag and its rule.
  for (const auto& [flag, rule] : std::vector<std::pair<std::string, std::string>>{
           {"--presence_delay=-1s", "--presence_delay must be between 0 and 10s"},
           {"--presence_delay=11s", "--presence_delay must be between 0 and 10s"},
           {"--presence_max_delay=20ms", "--presence_max_delay must be between --presence_delay and 10s"},
           {"--presence_max_delay=11s", "--presence_max_delay must be between --presence_delay and 10s"},
           {"--socket_send_buffer=-1", "--socket_send_buffer must be"},
           {"--max_queued_events=-1", "--max_queued_events must be at least 16"},
           {"--threads=0", "--threads must be at least 1"}}) {
    r = RunCommand({BinaryPath("ws-bridge"), flag});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr(rule)) << flag;
  }

  auto running = CoreProcess::Start(":memory:");
  ASSERT_NE(running, nullptr);
  ExpectRefused({"--listen=" + running->address(), "--db=:memory:"}, 1, "cannot listen on " + running->address());
}

TEST(CoreBinaryTest, ReflectionAndHealthWorkLikeGrpcurl) {
  auto core = CoreProcess::Start(":memory:");
  ASSERT_NE(core, nullptr);
  auto channel = Channel(core->address());
  auto services = ReflectListServices(channel);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("chat.v1.ChatService"));
  EXPECT_THAT(*services, Contains("chat.v1.AuthService"));
  EXPECT_THAT(*services, Contains("chat.v1.GatewayService"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
  // Connect is registered apart from the generated service, as a method of the same one.
  EXPECT_EQ(std::count(services->begin(), services->end(), "chat.v1.ChatService"), 1);
  auto health = HealthCheck(channel);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");

  // Register, log in, create a room and list rooms, knowing only what reflection says.
  ASSERT_TRUE(ReflectCallJson(channel, "chat.v1.AuthService/Register",
                              R"({"username":"grpcurl","password":"long password"})")
                  .ok());
  auto login = ReflectCallJson(channel, "chat.v1.AuthService/Login",
                               R"({"username":"grpcurl","password":"long password"})");
  ASSERT_TRUE(login.ok()) << login.status();
  size_t at = login->find("\"token\":\"");
  ASSERT_NE(at, std::string::npos);
  std::string token = login->substr(at + 9, login->find('"', at + 9) - at - 9);
  std::map<std::string, std::string> md = {{"authorization", "Bearer " + token}};
  auto created = ReflectCallJson(channel, "chat.v1.ChatService/CreateRoom", R"({"name":"via-reflection"})", md);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_THAT(*created, HasSubstr("\"name\":\"via-reflection\""));
  auto rooms = ReflectCallJson(channel, "chat.v1.ChatService/ListRooms", "{}", md);
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  EXPECT_THAT(*rooms, HasSubstr("\"name\":\"lobby\""));
  EXPECT_THAT(*rooms, HasSubstr("\"name\":\"via-reflection\""));
  auto denied = ReflectCallJson(channel, "chat.v1.ChatService/ListRooms", "{}");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated);

  // A method no service has is answered, not left hanging.
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  grpc::ByteBuffer request(nullptr, 0), response;
  auto call = stub.PrepareUnaryCall(&ctx, "/chat.v1.ChatService/NoSuchMethod", request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, &cq);
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
}

// Registers `user` on the chat-core behind `channel` and logs in: its token, or "" on failure.
std::string RegisterAndLogin(const std::shared_ptr<grpc::Channel>& channel, const std::string& user) {
  auto auth = chat::v1::AuthService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    chat::v1::RegisterRequest req;
    req.set_username(user);
    req.set_password("long password");
    chat::v1::RegisterResponse resp;
    if (!auth->Register(&ctx, req, &resp).ok()) return "";
  }
  grpc::ClientContext ctx;
  chat::v1::LoginRequest req;
  req.set_username(user);
  req.set_password("long password");
  chat::v1::LoginResponse login;
  if (!auth->Login(&ctx, req, &login).ok()) return "";
  return login.token();
}

TEST(CoreBinaryTest, FanoutThreadsFlagSpreadsStreamsOverThatManyLanes) {
  // 7 streams over 3 lanes: every lane serves some, and each gets every message in order.
  auto core = CoreProcess::Start(":memory:", {"--fanout_threads=3"});
  ASSERT_NE(core, nullptr);
  auto channel = Channel(core->address());
  std::string token = RegisterAndLogin(channel, "lanes");
  ASSERT_FALSE(token.empty());
  auto stub = chat::v1::ChatService::NewStub(channel);
  std::vector<std::unique_ptr<EventClient>> clients;
  for (int i = 0; i < 7; ++i) {
    clients.push_back(std::make_unique<EventClient>(stub.get(), token));
    clients.back()->Join("lobby");
    ASSERT_TRUE(clients.back()->WaitFor(IsJoined("lobby")));
  }
  for (int i = 0; i < 20; ++i) clients[0]->SendText("lobby", absl::StrCat("m", i), absl::StrCat("id", i));
  for (auto& c : clients) {
    ASSERT_TRUE(c->WaitForCount(IsAnyMessage("lobby"), 20));
    auto messages = c->Messages("lobby");
    ASSERT_EQ(messages.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(messages[i].text(), absl::StrCat("m", i));
  }
  EXPECT_EQ(core->Stop(), 0);

  // The startup log says how many lanes there are.
  ChildProcess::Options o;
  o.argv = {BinaryPath("chat-core"), "--listen=127.0.0.1:0", "--db=:memory:", "--fanout_threads=3"};
  o.capture_stderr = true;
  auto child = ChildProcess::Start(o);
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("chat-core listening on ", 20s).has_value());
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(20s), 0);
  EXPECT_THAT(child->stderr_text(), HasSubstr("(3 fan-out lanes)"));
}

// Two chat-cores on one SQLite file would each count the rooms' seq numbers on
// their own and hand out the same ones: the second refuses to start, the first
// keeps serving, and once it stopped the file is free again.
TEST(CoreBinaryTest, ASecondCoreOnTheSameDatabaseRefusesToStart) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  auto first = CoreProcess::Start(db);
  ASSERT_NE(first, nullptr);
  ExpectRefused({"--listen=127.0.0.1:0", "--db=" + db}, 1,
                "database " + db + " is in use by another chat-core: one process per SQLite file");
  auto channel = Channel(first->address());
  EXPECT_FALSE(RegisterAndLogin(channel, "still").empty());
  EXPECT_EQ(first->Stop(), 0);
  auto second = CoreProcess::Start(db);
  ASSERT_NE(second, nullptr);
  EXPECT_FALSE(RegisterAndLogin(Channel(second->address()), "again").empty());
}

TEST(CoreBinaryTest, SigtermEndsStreamsCleanlyAndExitsZero) {
  auto core = CoreProcess::Start(":memory:");
  ASSERT_NE(core, nullptr);
  auto channel = Channel(core->address());
  std::string token = RegisterAndLogin(channel, "sig");
  ASSERT_FALSE(token.empty());
  auto stub = chat::v1::ChatService::NewStub(channel);
  EventClient c(stub.get(), token);
  c.Join("lobby");
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  EXPECT_EQ(core->Stop(), 0);
  auto st = c.WaitDone();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->error_code(), grpc::StatusCode::UNAVAILABLE);
}

// One client of the restart test: sends its messages, keeps the room's messages
// it receives (asserting no gap and no duplicate), and after a drop reconnects,
// joins with since_seq and resends what was not acknowledged.
class ResilientClient {
 public:
  ResilientClient(std::string name, std::string token, int count)
      : name_(std::move(name)), token_(std::move(token)), count_(count) {}

  void Run(const std::string& address, std::atomic<int>* total_acked) {
    auto deadline = std::chrono::steady_clock::now() + 90s;
    while (static_cast<int>(acked_.size()) < count_ && std::chrono::steady_clock::now() < deadline) {
      auto stub = chat::v1::ChatService::NewStub(Channel(address));
      EventClient c(stub.get(), token_);
      c.Join("lobby", last_seq());
      size_t index = 0;
      bool joined = false;
      std::deque<std::string> unacked = unacked_;
      // Resend what was never acknowledged, with the same ids.
      for (const auto& id : unacked) c.SendText("lobby", Text(id), id);
      while (static_cast<int>(acked_.size()) < count_) {
        while (next_ < count_ && unacked_.size() < 8) {
          std::string id = absl::StrCat(name_, "-", next_++);
          unacked_.push_back(id);
          c.SendText("lobby", Text(id), id);
        }
        auto events = c.EventsFrom(index, 2s);
        index += events.size();
        for (const auto& e : events) {
          if (e.has_joined()) joined = true;
          if (e.has_message()) Take(e.message());
          if (e.has_ack()) {
            auto it = std::find(unacked_.begin(), unacked_.end(), e.ack().client_msg_id());
            if (it != unacked_.end()) {
              unacked_.erase(it);
              acked_.insert(e.ack().client_msg_id());
              total_acked->fetch_add(1);
            }
          }
        }
        if (c.done() && c.EventsFrom(index, 0ms).empty()) break;
      }
      if (!joined) std::this_thread::sleep_for(50ms);  // server down: back off a little
      ++connections_;
    }
  }

  // A last reconnect to pick up everything up to the room's end.
  void CatchUp(const std::string& address, int64_t until) {
    auto stub = chat::v1::ChatService::NewStub(Channel(address));
    EventClient c(stub.get(), token_);
    c.Join("lobby", last_seq());
    ASSERT_TRUE(c.WaitFor(IsJoined("lobby"), 20s));
    for (const auto& m : c.Messages("lobby")) Take(m);
    EXPECT_EQ(last_seq(), until);
  }

  int64_t last_seq() const { return seen_.empty() ? 0 : seen_.back().seq(); }
  const std::vector<chat::v1::Message>& seen() const { return seen_; }
  const std::set<std::string>& acked() const { return acked_; }
  int connections() const { return connections_; }

 private:
  std::string Text(const std::string& id) const { return "text of " + id; }

  void Take(const chat::v1::Message& m) {
    if (m.seq() != last_seq() + 1) {
      ADD_FAILURE() << name_ << ": got seq " << m.seq() << " after " << last_seq();
      return;
    }
    seen_.push_back(m);
  }

  const std::string name_;
  const std::string token_;
  const int count_;
  int next_ = 0;
  int connections_ = 0;
  std::deque<std::string> unacked_;
  std::set<std::string> acked_;
  std::vector<chat::v1::Message> seen_;
};

TEST(CoreBinaryTest, SurvivesKill9WithNothingAcknowledgedLost) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  auto core = CoreProcess::Start(db);
  ASSERT_NE(core, nullptr);
  const int port = core->port();
  const std::string address = core->address();

  std::vector<std::unique_ptr<ResilientClient>> clients;
  {
    auto channel = Channel(address);
    for (int i = 0; i < 3; ++i) {
      std::string name = absl::StrCat("client", i);
      std::string token = RegisterAndLogin(channel, name);
      ASSERT_FALSE(token.empty()) << name;
      clients.push_back(std::make_unique<ResilientClient>(name, token, 150));
    }
  }
  std::atomic<int> total_acked{0};
  std::vector<std::thread> threads;
  for (auto& c : clients) threads.emplace_back([&, p = c.get()] { p->Run(address, &total_acked); });

  // Kill mid-stream, twice, and come back on the same database and port.
  for (int round = 1; round <= 2; ++round) {
    ASSERT_TRUE(Eventually([&] { return total_acked.load() >= round * 120; }, 60s));
    core->Kill9();
    core = CoreProcess::Start(db, {}, port);
    ASSERT_NE(core, nullptr) << "restart " << round;
  }
  for (auto& t : threads) t.join();

  // Every client got every one of its messages acknowledged...
  std::set<std::string> all_acked;
  for (auto& c : clients) {
    EXPECT_EQ(c->acked().size(), 150u);
    EXPECT_GE(c->connections(), 3) << "each client should have reconnected after each kill";
    all_acked.insert(c->acked().begin(), c->acked().end());
  }
  // ...and after catching up, all hold the same gap-free sequence in which every
  // acknowledged message appears exactly once.
  const int64_t total = 450;
  for (auto& c : clients) c->CatchUp(address, total);
  for (auto& c : clients) {
    ASSERT_EQ(c->seen().size(), static_cast<size_t>(total));
    for (size_t i = 0; i < c->seen().size(); ++i) {
      EXPECT_EQ(c->seen()[i].seq(), clients[0]->seen()[i].seq());
      EXPECT_EQ(c->seen()[i].client_msg_id(), clients[0]->seen()[i].client_msg_id());
    }
  }
  std::set<std::string> stored;
  for (const auto& m : clients[0]->seen()) {
    EXPECT_TRUE(stored.insert(m.client_msg_id()).second) << "duplicate " << m.client_msg_id();
  }
  EXPECT_EQ(stored, all_acked);
}

}  // namespace
}  // namespace chat::testing
