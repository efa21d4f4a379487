// ChatService over real gRPC channels against an in-process chat-core on port 0.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bridge_fixture.h"  // ExpectContiguous
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using chat::v1::ClientEvent;
using chat::v1::MemberEvent;
using chat::v1::ServerEvent;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

core::CoreOptions OptionsFor(core::ConnectApi api) {
  core::CoreOptions o = TestCoreOptions();
  o.services.connect_api = api;
  return o;
}

// Every test of this fixture runs with Connect on each API chat-core can serve
// it on (connect_core_call.h, connect_reactor.h): if the core-API path stops
// working with the gRPC in use, these fail.
class ChatServiceTest : public ::testing::TestWithParam<core::ConnectApi> {
 protected:
  TestCore core_{OptionsFor(GetParam())};
  std::unique_ptr<chat::v1::ChatService::Stub> stub_ = core_.Chat();

  chat::v1::Room CreateRoom(const std::string& token, const std::string& name) {
    auto ctx = AuthedContext(token);
    chat::v1::CreateRoomRequest req;
    req.set_name(name);
    chat::v1::Room room;
    grpc::Status st = stub_->CreateRoom(ctx.get(), req, &room);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return room;
  }
};

TEST_P(ChatServiceTest, LobbyExistsAndRoomsCanBeCreatedListedAndFetched) {
  std::string token = core_.Token("alice");
  {
    auto ctx = AuthedContext(token);
    chat::v1::ListRoomsResponse resp;
    ASSERT_TRUE(stub_->ListRooms(ctx.get(), {}, &resp).ok());
    ASSERT_EQ(resp.rooms_size(), 1);
    EXPECT_EQ(resp.rooms(0).name(), "lobby");
  }
  chat::v1::Room created = CreateRoom(token, "general");
  EXPECT_EQ(created.name(), "general");
  EXPECT_EQ(created.created_by(), "alice");
  EXPECT_EQ(created.last_seq(), 0);
  {
    auto ctx = AuthedContext(token);
    chat::v1::CreateRoomRequest req;
    req.set_name("general");
    chat::v1::Room room;
    grpc::Status st = stub_->CreateRoom(ctx.get(), req, &room);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  }
  for (const std::string& bad : std::vector<std::string>{"", "Upper", "has space", std::string(65, 'a'), "sl/ash", "é"}) {
    auto ctx = AuthedContext(token);
    chat::v1::CreateRoomRequest req;
    req.set_name(bad);
    chat::v1::Room room;
    grpc::Status st = stub_->CreateRoom(ctx.get(), req, &room);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "name '" << bad << "'";
    EXPECT_THAT(st.error_message(), HasSubstr("[a-z0-9._-]"));
  }
  {
    auto ctx = AuthedContext(token);
    chat::v1::GetRoomRequest req;
    req.set_name("general");
    chat::v1::Room room;
    ASSERT_TRUE(stub_->GetRoom(ctx.get(), req, &room).ok());
    EXPECT_EQ(room.name(), "general");
  }
  {
    auto ctx = AuthedContext(token);
    chat::v1::GetRoomRequest req;
    req.set_name("nope");
    chat::v1::Room room;
    EXPECT_EQ(stub_->GetRoom(ctx.get(), req, &room).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    auto ctx = AuthedContext(token);
    chat::v1::ListRoomsResponse resp;
    ASSERT_TRUE(stub_->ListRooms(ctx.get(), {}, &resp).ok());
    ASSERT_EQ(resp.rooms_size(), 2);
    EXPECT_EQ(resp.rooms(0).name(), "general");
    EXPECT_EQ(resp.rooms(1).name(), "lobby");
  }
}

TEST_P(ChatServiceTest, EveryCallNeedsAValidToken) {
  for (const std::string& token : {std::string(""), std::string("not-a-token")}) {
    auto ctx = AuthedContext(token);
    chat::v1::ListRoomsResponse resp;
    grpc::Status st = stub_->ListRooms(ctx.get(), {}, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
    EventClient client(stub_.get(), token);
    auto done = client.WaitDone();
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Basic abc");
  chat::v1::ListRoomsResponse resp;
  EXPECT_EQ(stub_->ListRooms(&ctx, {}, &resp).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_P(ChatServiceTest, SeveralClientsGetEveryMessageExactlyOnceInSeqOrder) {
  constexpr int kClients = 4;
  constexpr int kPerClient = 50;
  std::vector<std::string> tokens;
  std::vector<std::unique_ptr<EventClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    tokens.push_back(core_.Token(absl::StrCat("user", i)));
    clients.push_back(std::make_unique<EventClient>(stub_.get(), tokens.back()));
    ASSERT_TRUE(clients.back()->Join("lobby"));
    ASSERT_TRUE(clients.back()->WaitFor(IsJoined("lobby")));
  }
  std::vector<std::thread> senders;
  for (int i = 0; i < kClients; ++i) {
    senders.emplace_back([&, i] {
      for (int k = 0; k < kPerClient; ++k) {
        clients[i]->SendText("lobby", absl::StrCat("hello ", k, " from ", i), absl::StrCat("c", i, "-", k));
      }
    });
  }
  for (auto& t : senders) t.join();
  const int total = kClients * kPerClient;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i]->WaitForCount(IsAnyMessage("lobby"), total));
    auto msgs = clients[i]->Messages("lobby");
    ExpectContiguous(msgs, 1, total);
    // Each client's own sends come back, each with an ack naming its seq.
    for (int k = 0; k < kPerClient; ++k) {
      auto ack = clients[i]->WaitFor(IsAck(absl::StrCat("c", i, "-", k)));
      ASSERT_TRUE(ack.has_value());
      const auto& m = msgs[ack->ack().seq() - 1];
      EXPECT_EQ(m.author(), absl::StrCat("user", i));
      EXPECT_EQ(m.text(), absl::StrCat("hello ", k, " from ", i));
      EXPECT_EQ(m.client_msg_id(), absl::StrCat("c", i, "-", k));
      EXPECT_TRUE(m.has_sent_at());
    }
  }
  // Per sender, messages keep the order they were sent in.
  auto msgs = clients[0]->Messages("lobby");
  for (int i = 0; i < kClients; ++i) {
    int next = 0;
    for (const auto& m : msgs) {
      if (m.author() == absl::StrCat("user", i)) {
        EXPECT_EQ(m.text(), absl::StrCat("hello ", next, " from ", i));
        ++next;
      }
    }
    EXPECT_EQ(next, kPerClient);
  }
}

TEST_P(ChatServiceTest, OwnMessageComesBackBeforeItsAck) {
  EventClient c(stub_.get(), core_.Token("alice"));
  c.Join("lobby");
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  c.SendText("lobby", "hi", "m1", "r1");
  auto ack = c.WaitFor(IsAck("m1"));
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->ref(), "r1");
  EXPECT_EQ(ack->ack().seq(), 1);
  EXPECT_FALSE(ack->ack().duplicate());
  auto events = c.Events();
  int msg_at = -1, ack_at = -1;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    if (events[i].has_message()) msg_at = i;
    if (events[i].has_ack()) ack_at = i;
  }
  ASSERT_GE(msg_at, 0);
  EXPECT_LT(msg_at, ack_at);
}

TEST_P(ChatServiceTest, RoomsDoNotLeakIntoEachOther) {
  std::string a = core_.Token("alice"), b = core_.Token("bob");
  CreateRoom(a, "other");
  EventClient ca(stub_.get(), a), cb(stub_.get(), b);
  ca.Join("lobby");
  cb.Join("other");
  ASSERT_TRUE(ca.WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(cb.WaitFor(IsJoined("other")));
  ca.SendText("lobby", "for lobby", "x1");
  cb.SendText("other", "for other", "y1");
  ASSERT_TRUE(ca.WaitFor(IsAck("x1")));
  ASSERT_TRUE(cb.WaitFor(IsAck("y1")));
  // Each sees its own room's message and nothing of the other room.
  ASSERT_EQ(ca.Messages("lobby").size(), 1u);
  EXPECT_EQ(ca.Messages("other").size(), 0u);
  ASSERT_EQ(cb.Messages("other").size(), 1u);
  EXPECT_EQ(cb.Messages("lobby").size(), 0u);
  EXPECT_EQ(cb.Messages("other")[0].seq(), 1);  // seq is per room
}

TEST_P(ChatServiceTest, OneStreamCanBeInManyRooms) {
  std::string a = core_.Token("alice");
  CreateRoom(a, "r1");
  CreateRoom(a, "r2");
  EventClient c(stub_.get(), a);
  for (const char* r : {"lobby", "r1", "r2"}) {
    c.Join(r);
    ASSERT_TRUE(c.WaitFor(IsJoined(r)));
  }
  c.SendText("r1", "one", "1");
  c.SendText("r2", "two", "2");
  c.SendText("lobby", "three", "3");
  ASSERT_TRUE(c.WaitFor(IsAck("3")));
  EXPECT_EQ(c.Messages("r1").size(), 1u);
  EXPECT_EQ(c.Messages("r2").size(), 1u);
  EXPECT_EQ(c.Messages("lobby").size(), 1u);
}

TEST_P(ChatServiceTest, LeaveStopsDelivery) {
  std::string a = core_.Token("alice"), b = core_.Token("bob");
  EventClient ca(stub_.get(), a), cb(stub_.get(), b);
  ca.Join("lobby");
  cb.Join("lobby");
  ASSERT_TRUE(ca.WaitFor(IsJoined("lobby")));
  ASSERT_TRUE(cb.WaitFor(IsJoined("lobby")));
  ca.SendText("lobby", "before", "1");
  ASSERT_TRUE(cb.WaitFor(IsMessage("lobby", 1)));
  cb.Leave("lobby", "bye");
  auto left = cb.WaitFor(IsLeft("lobby"));
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->ref(), "bye");
  ca.SendText("lobby", "after", "2");
  ASSERT_TRUE(ca.WaitFor(IsMessage("lobby", 2)));
  // A marker through bob's own stream: everything queued before it has arrived.
  ClientEvent ping;
  ping.mutable_ping()->set_nonce(7);
  cb.Write(ping);
  ASSERT_TRUE(cb.WaitFor([](const ServerEvent& e) { return e.has_pong() && e.pong().nonce() == 7; }));
  EXPECT_EQ(cb.Messages("lobby").size(), 1u);
  // Sending after leaving is refused.
  cb.SendText("lobby", "late", "3");
  auto err = cb.WaitFor(IsError("send"));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->error().code(), chat::v1::Error::FAILED_PRECONDITION);
  EXPECT_EQ(err->error().client_msg_id(), "3");
}

TEST_P(ChatServiceTest, MemberEventsAndPresence) {
  std::string a = core_.Token("alice"), b = core_.Token("bob");
  EventClient ca(stub_.get(), a);
  ca.Join("lobby");
  auto joined_a = ca.WaitFor(IsJoined("lobby"));
  ASSERT_TRUE(joined_a.has_value());
  EXPECT_THAT(joined_a->joined().members(), ElementsAre("alice"));
  {
    EventClient cb(stub_.get(), b);
    cb.Join("lobby");
    auto joined_b = cb.WaitFor(IsJoined("lobby"));
    ASSERT_TRUE(joined_b.has_value());
    EXPECT_THAT(joined_b->joined().members(), ElementsAre("alice", "bob"));
    EXPECT_EQ(joined_b->joined().member_count(), 2);
    ASSERT_TRUE(ca.WaitFor(IsMember("lobby", "bob", MemberEvent::JOINED)));
    // A second stream of the same user is not a new member.
    EventClient cb2(stub_.get(), b);
    cb2.Join("lobby");
    ASSERT_TRUE(cb2.WaitFor(IsJoined("lobby")));
    cb2.Leave("lobby");
    ASSERT_TRUE(cb2.WaitFor(IsLeft("lobby")));
    // Typing reaches the room.
    ClientEvent typing;
    typing.mutable_typing()->set_room("lobby");
    typing.mutable_typing()->set_active(true);
    cb.Write(typing);
    ASSERT_TRUE(ca.WaitFor([](const ServerEvent& e) {
      return e.has_typing() && e.typing().user() == "bob" && e.typing().active();
    }));
  }  // bob's stream ends: he leaves.
  ASSERT_TRUE(ca.WaitFor(IsMember("lobby", "bob", MemberEvent::LEFT)));
  int bob_joined = 0;
  for (const auto& e : ca.Events()) {
    if (e.has_member() && e.member().user() == "bob" && e.member().kind() == MemberEvent::JOINED) {
      ++bob_joined;
    }
  }
  EXPECT_EQ(bob_joined, 1);
}

TEST_P(ChatServiceTest, BadInputGetsClearErrorsAndTheStreamStaysOpen) {
  std::string a = core_.Token("alice");
  CreateRoom(a, "elsewhere");
  EventClient c(stub_.get(), a);
  c.Join("nope", std::nullopt, "j1");
  auto e1 = c.WaitFor(IsError("join"));
  ASSERT_TRUE(e1.has_value());
  EXPECT_EQ(e1->error().code(), chat::v1::Error::NOT_FOUND);
  EXPECT_EQ(e1->ref(), "j1");

  c.Join("lobby");
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  c.SendText("lobby", "", "empty");
  c.SendText("lobby", std::string(4097, 'x'), "big");
  c.SendText("ghost", "hi", "ghost");
  c.SendText("elsewhere", "hi", "notjoined");
  auto by_id = [&](const std::string& id) {
    return c.WaitFor([id](const ServerEvent& e) { return e.has_error() && e.error().client_msg_id() == id; });
  };
  auto empty = by_id("empty"), big = by_id("big"), ghost = by_id("ghost"),
       notjoined = by_id("notjoined");
  ASSERT_TRUE(empty && big && ghost && notjoined);
  EXPECT_EQ(empty->error().code(), chat::v1::Error::INVALID_ARGUMENT);
  EXPECT_EQ(big->error().code(), chat::v1::Error::INVALID_ARGUMENT);
  EXPECT_THAT(big->error().message(), HasSubstr("4096"));
  EXPECT_EQ(ghost->error().code(), chat::v1::Error::NOT_FOUND);
  EXPECT_EQ(notjoined->error().code(), chat::v1::Error::FAILED_PRECONDITION);

  // Invalid UTF-8 in a string field makes the whole event unreadable.
  c.SendText("lobby", std::string("\xff\xfe"), "utf8");
  auto utf8 = c.WaitFor([](const ServerEvent& e) {
    return e.has_error() && e.error().message().find("cannot parse") != std::string::npos;
  });
  ASSERT_TRUE(utf8.has_value());
  EXPECT_EQ(utf8->error().code(), chat::v1::Error::INVALID_ARGUMENT);

  // An empty event.
  ClientEvent empty_event;
  empty_event.set_ref("e");
  c.Write(empty_event);
  auto e2 = c.WaitFor([](const ServerEvent& e) { return e.has_error() && e.ref() == "e"; });
  ASSERT_TRUE(e2.has_value());
  EXPECT_EQ(e2->error().code(), chat::v1::Error::INVALID_ARGUMENT);

  // Joining twice, leaving a room one is not in.
  c.Join("lobby", std::nullopt, "again");
  auto again = c.WaitFor([](const ServerEvent& e) { return e.has_error() && e.ref() == "again"; });
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->error().code(), chat::v1::Error::FAILED_PRECONDITION);
  c.Leave("elsewhere", "lv");
  auto lv = c.WaitFor([](const ServerEvent& e) { return e.has_error() && e.ref() == "lv"; });
  ASSERT_TRUE(lv.has_value());
  EXPECT_EQ(lv->error().code(), chat::v1::Error::FAILED_PRECONDITION);

  // Still open and working.
  c.SendText("lobby", "still here", "ok");
  ASSERT_TRUE(c.WaitFor(IsAck("ok")));
  EXPECT_FALSE(c.WaitDone(0ms).has_value());
}

TEST_P(ChatServiceTest, UnknownEventFromANewerClientGetsAnError) {
  std::string a = core_.Token("alice");
  // A ClientEvent with a field number this server does not know (99), raw.
  grpc::GenericStub generic(core_.NewChannel());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + a);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&ctx, "/chat.v1.ChatService/Connect", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::string bytes = "\x9a\x06\x00";  // field 99, length-delimited, empty
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buf(&slice, 1);
  call->Write(buf, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string data;
  for (auto& s : slices) data.append(reinterpret_cast<const char*>(s.begin()), s.size());
  ServerEvent ev;
  ASSERT_TRUE(ev.ParseFromString(data));
  ASSERT_TRUE(ev.has_error());
  EXPECT_EQ(ev.error().code(), chat::v1::Error::INVALID_ARGUMENT);
  ctx.TryCancel();
  call->Finish(nullptr, reinterpret_cast<void*>(4));
  grpc::Status st;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_P(ChatServiceTest, UnarySendMessageReachesMembersAndAnswersWithTheSeq) {
  std::string a = core_.Token("alice"), bot = core_.Token("bot");
  EventClient ca(stub_.get(), a);
  ca.Join("lobby");
  ASSERT_TRUE(ca.WaitFor(IsJoined("lobby")));
  auto ctx = AuthedContext(bot);
  chat::v1::SendMessageRequest req;
  req.set_room("lobby");
  req.set_text("beep");
  req.set_client_msg_id("b1");
  chat::v1::SendMessageResponse resp;
  ASSERT_TRUE(stub_->SendMessage(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.message().seq(), 1);
  EXPECT_EQ(resp.message().author(), "bot");
  auto m = ca.WaitFor(IsMessage("lobby", 1));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->message().text(), "beep");
  EXPECT_EQ(m->message().author(), "bot");

  req.set_room("ghost");
  auto ctx2 = AuthedContext(bot);
  EXPECT_EQ(stub_->SendMessage(ctx2.get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_room("lobby");
  req.set_text("");
  auto ctx3 = AuthedContext(bot);
  EXPECT_EQ(stub_->SendMessage(ctx3.get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(ChatServiceTest, HalfCloseFinishesAfterPendingAcks) {
  EventClient c(stub_.get(), core_.Token("alice"));
  c.Join("lobby");
  for (int i = 0; i < 20; ++i) c.SendText("lobby", "x", absl::StrCat("h", i));
  c.WritesDone();
  auto st = c.WaitDone();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->ok()) << st->error_message();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(c.WaitFor(IsAck(absl::StrCat("h", i)), 0ms)) << i;
}

TEST_P(ChatServiceTest, ShutdownEndsStreamsWithUnavailable) {
  EventClient c(stub_.get(), core_.Token("alice"));
  c.Join("lobby");
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  core_.Stop();
  auto st = c.WaitDone();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->error_code(), grpc::StatusCode::UNAVAILABLE);
}

// Connect streams live on the fan-out lanes' completion queues, with a few calls
// waiting on each: a burst of more streams than that is served, and streams the
// clients cancel or abandon are released (sessions, presence, the hub's count).
TEST_P(ChatServiceTest, PingPong) {
  EventClient c(stub_.get(), core_.Token("alice"));
  ClientEvent ping;
  ping.set_ref("p");
  ping.mutable_ping()->set_nonce(42);
  c.Write(ping);
  auto pong = c.WaitFor([](const ServerEvent& e) { return e.has_pong(); });
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->pong().nonce(), 42);
  EXPECT_EQ(pong->ref(), "p");
}


std::vector<core::ConnectApi> ConnectApis() {
  std::vector<core::ConnectApi> apis = {core::ConnectApi::kCallback};
  if (core::kConnectOnCoreApi) apis.insert(apis.begin(), core::ConnectApi::kCore);
  return apis;
}

INSTANTIATE_TEST_SUITE_P(ConnectApi, ChatServiceTest, ::testing::ValuesIn(ConnectApis()),
                         [](const ::testing::TestParamInfo<core::ConnectApi>& info) {
                           return std::string(info.param == core::ConnectApi::kCore ? "Core" : "Callback");
                         });

TEST(ConnectApiTest, ThisGrpcServesConnectOnTheCoreApiByDefault) {
  // Written for and tested with gRPC 1.51 (Debian 12): if the version check
  // stops matching the gRPC in use, this says so instead of a silent fallback.
  EXPECT_TRUE(core::kConnectOnCoreApi) << "gRPC " << GRPC_CPP_VERSION_STRING
                                      << ": Connect runs on the callback API (more memory per idle stream)";
  EXPECT_EQ(core::ServiceOptions().connect_api, core::ConnectApi::kCore);
}

}  // namespace
}  // namespace chat::testing
