// One user cannot hold any number of live streams (docs/security.md, "Threat
// model"): chat-core's --max_streams_per_user counts a user's Connect streams
// and browser WebSockets (sessions on a bridge's gateway stream) together, on
// the real chat-core and ws-bridge binaries. Over the cap a Connect stream ends
// with RESOURCE_EXHAUSTED and a WebSocket upgrade is answered 429, both saying
// why; other users are not touched, and a closed stream frees its slot.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bridge_fixture.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A raw WebSocket upgrade with `cookie`, to see a refusal's status and body.
HttpResult Upgrade(int port, const std::string& cookie) {
  return HttpRequest(port, "GET", "/ws", "",
                     {{"Connection", "Upgrade"},
                      {"Upgrade", "websocket"},
                      {"Sec-WebSocket-Version", "13"},
                      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                      {"Origin", "http://127.0.0.1:" + std::to_string(port)},
                      {"Cookie", "chat_session=" + cookie}});
}

TEST(StreamCapTest, OneUserCannotHoldMoreThanMaxStreamsOnEitherPath) {
  TempDir dir;
  auto core = CoreProcess::Start(dir.File("chat.db"), {"--max_streams_per_user=3", "--pwhash_memlimit_kib=64"});
  ASSERT_NE(core, nullptr);
  auto bridge = BridgeProcess::Start({"--core=" + core->address()});
  ASSERT_NE(bridge, nullptr);
  auto channel = grpc::CreateChannel(core->address(), grpc::InsecureChannelCredentials());
  auto auth = chat::v1::AuthService::NewStub(channel);
  auto chat = chat::v1::ChatService::NewStub(channel);
  std::string token = RegisterAndLogin(auth.get(), "hoarder");
  ASSERT_FALSE(token.empty());
  std::string cookie = BridgeLogin(bridge->port(), "hoarder");  // a second session of the same user
  ASSERT_FALSE(cookie.empty());

  // Two Connect streams and one WebSocket: the cap.
  std::vector<std::unique_ptr<EventClient>> native;
  for (int i = 0; i < 2; ++i) {
    native.push_back(std::make_unique<EventClient>(chat.get(), token));
    ASSERT_TRUE(native.back()->Join("lobby"));
    ASSERT_TRUE(native.back()->WaitFor(IsJoined("lobby")).has_value());
  }
  WsClient::Options ws_options;
  ws_options.cookie = cookie;
  auto ws = WsClient::Connect(bridge->port(), ws_options);
  ASSERT_NE(ws, nullptr);
  ws->Join("lobby");
  ASSERT_TRUE(ws->WaitFor(WsJoined("lobby")).has_value());

  // A fourth, by either path, is refused with the reason.
  EventClient over(chat.get(), token);
  auto st = over.WaitDone(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st->error_message(), HasSubstr("hoarder already has 3 live streams on this node (--max_streams_per_user)"));
  HttpResult refused = Upgrade(bridge->port(), cookie);
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(refused.body, HasSubstr("already has 3 live streams"));

  // The streams that were in are untouched, and another user is not limited.
  ASSERT_TRUE(native[0]->SendText("lobby", "still here", "m1"));
  EXPECT_TRUE(ws->WaitFor(WsAnyMessage("lobby")).has_value());
  std::string other = RegisterAndLogin(auth.get(), "bystander");
  std::vector<std::unique_ptr<EventClient>> others;
  for (int i = 0; i < 3; ++i) {
    others.push_back(std::make_unique<EventClient>(chat.get(), other));
    ASSERT_TRUE(others.back()->Join("lobby"));
    EXPECT_TRUE(others.back()->WaitFor(IsJoined("lobby")).has_value()) << i;
  }

  // A closed stream frees its slot (once chat-core saw it end).
  native[1]->Cancel();
  native[1]->WaitDone(10s);
  native.pop_back();
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    auto again = WsClient::Connect(bridge->port(), ws_options);
    if (again != nullptr) {
      again->Join("lobby");
      admitted = again->WaitFor(WsJoined("lobby"), 5s).has_value();
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_TRUE(admitted) << "a freed slot was never given out again";
}

TEST(StreamCapTest, ZeroMeansNoCapAndANegativeCapIsRefused) {
  RunResult r = RunCommand({BinaryPath("chat-core"), "--db=:memory:", "--max_streams_per_user=-1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--max_streams_per_user must not be negative"));

  TempDir dir;
  auto core = CoreProcess::Start(dir.File("chat.db"), {"--max_streams_per_user=0", "--pwhash_memlimit_kib=64"});
  ASSERT_NE(core, nullptr);
  auto channel = grpc::CreateChannel(core->address(), grpc::InsecureChannelCredentials());
  auto auth = chat::v1::AuthService::NewStub(channel);
  auto chat = chat::v1::ChatService::NewStub(channel);
  std::string token = RegisterAndLogin(auth.get(), "many");
  std::vector<std::unique_ptr<EventClient>> streams;
  for (int i = 0; i < 80; ++i) {  // more than the default cap of 64
    streams.push_back(std::make_unique<EventClient>(chat.get(), token));
    ASSERT_TRUE(streams.back()->Join("lobby"));
  }
  for (auto& s : streams) EXPECT_TRUE(s->WaitFor(IsJoined("lobby")).has_value());
}

}  // namespace
}  // namespace chat::testing
