// History, resume by since_seq, and idempotent sends, over real gRPC.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using chat::v1::GetHistoryRequest;
using chat::v1::GetHistoryResponse;
using chat::v1::ServerEvent;

class HistoryTest : public ::testing::Test {
 protected:
  TestCore core_;
  std::unique_ptr<chat::v1::ChatService::Stub> stub_ = core_.Chat();
  std::string token_ = core_.Token("alice");

  void Post(const std::string& room, int n, const std::string& prefix = "m") {
    for (int i = 0; i < n; ++i) {
      auto ctx = AuthedContext(token_);
      chat::v1::SendMessageRequest req;
      req.set_room(room);
      req.set_text(absl::StrCat(prefix, i));
      chat::v1::SendMessageResponse resp;
      ASSERT_TRUE(stub_->SendMessage(ctx.get(), req, &resp).ok());
    }
  }

  grpc::Status History(const GetHistoryRequest& req, GetHistoryResponse* resp) {
    auto ctx = AuthedContext(token_);
    return stub_->GetHistory(ctx.get(), req, resp);
  }

  void MakeRoom(const std::string& name) {
    auto ctx = AuthedContext(token_);
    chat::v1::CreateRoomRequest req;
    req.set_name(name);
    chat::v1::Room room;
    ASSERT_TRUE(stub_->CreateRoom(ctx.get(), req, &room).ok());
  }
};

std::vector<int64_t> Seqs(const GetHistoryResponse& r) {
  std::vector<int64_t> out;
  for (const auto& m : r.messages()) out.push_back(m.seq());
  return out;
}

TEST_F(HistoryTest, PagesAtTheEdges) {
  MakeRoom("empty");
  GetHistoryRequest req;
  req.set_room("empty");
  GetHistoryResponse resp;
  ASSERT_TRUE(History(req, &resp).ok());
  EXPECT_EQ(resp.messages_size(), 0);
  EXPECT_FALSE(resp.has_more());

  Post("lobby", 12);
  req.set_room("lobby");
  req.set_limit(12);  // exactly the page size
  ASSERT_TRUE(History(req, &resp).ok());
  EXPECT_EQ(resp.messages_size(), 12);
  EXPECT_FALSE(resp.has_more());
  EXPECT_EQ(resp.messages(0).seq(), 12);  // newest first by default
  EXPECT_EQ(resp.messages(0).author(), "alice");
  EXPECT_EQ(resp.messages(0).text(), "m11");
  EXPECT_TRUE(resp.messages(0).has_sent_at());

  req.set_limit(5);
  ASSERT_TRUE(History(req, &resp).ok());
  EXPECT_THAT(Seqs(resp), ::testing::ElementsAre(12, 11, 10, 9, 8));
  EXPECT_TRUE(resp.has_more());
  req.set_before_seq(8);
  ASSERT_TRUE(History(req, &resp).ok());
  EXPECT_THAT(Seqs(resp), ::testing::ElementsAre(7, 6, 5, 4, 3));
  EXPECT_TRUE(resp.has_more());
  req.set_before_seq(3);
  ASSERT_TRUE(History(req, &resp).ok());
  EXPECT_THAT(Seqs(resp), ::testing::ElementsAre(2, 1));
  EXPECT_FALSE(resp.has_more());
  req.set_order(chat::v1::HISTORY_ORDER_OLDEST_FIRST);
  ASSERT_TRUE(History(req, &resp).ok());
  EXPECT_THAT(Seqs(resp), ::testing::ElementsAre(1, 2));

  GetHistoryRequest fwd;
  fwd.set_room("lobby");
  fwd.set_after_seq(0);
  fwd.set_limit(5);
  ASSERT_TRUE(History(fwd, &resp).ok());
  EXPECT_THAT(Seqs(resp), ::testing::ElementsAre(1, 2, 3, 4, 5));  // oldest first by default
  EXPECT_TRUE(resp.has_more());
  fwd.set_after_seq(10);
  ASSERT_TRUE(History(fwd, &resp).ok());
  EXPECT_THAT(Seqs(resp), ::testing::ElementsAre(11, 12));
  EXPECT_FALSE(resp.has_more());
  fwd.set_after_seq(99);
  ASSERT_TRUE(History(fwd, &resp).ok());
  EXPECT_EQ(resp.messages_size(), 0);
}

TEST_F(HistoryTest, BadCursorsAndLimitsAreInvalidArguments) {
  Post("lobby", 3);
  GetHistoryResponse resp;
  auto expect_invalid = [&](GetHistoryRequest req, const std::string& what) {
    grpc::Status st = History(req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << what;
    EXPECT_FALSE(st.error_message().empty());
  };
  GetHistoryRequest req;
  req.set_room("lobby");
  req.set_before_seq(0);
  expect_invalid(req, "before_seq 0");
  req.set_before_seq(-5);
  expect_invalid(req, "before_seq -5");
  req.set_after_seq(-1);
  expect_invalid(req, "after_seq -1");
  GetHistoryRequest lim;
  lim.set_room("lobby");
  lim.set_limit(501);
  expect_invalid(lim, "limit 501");
  lim.set_limit(-1);
  expect_invalid(lim, "limit -1");
  GetHistoryRequest bad_room;
  bad_room.set_room("Not A Room");
  expect_invalid(bad_room, "bad room name");
  GetHistoryRequest missing;
  missing.set_room("missing");
  EXPECT_EQ(History(missing, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(HistoryTest, JoinSinceReplaysWhatWasMissedThenGoesLive) {
  Post("lobby", 30);
  EventClient c(stub_.get(), token_);
  c.Join("lobby", 25, "j");
  auto joined = c.WaitFor(IsJoined("lobby"));
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->joined().latest_seq(), 30);
  EXPECT_EQ(joined->ref(), "j");
  // The replay came before `joined`.
  auto events = c.Events();
  std::vector<int64_t> before_joined;
  for (const auto& e : events) {
    if (e.has_joined()) break;
    if (e.has_message()) before_joined.push_back(e.message().seq());
  }
  EXPECT_THAT(before_joined, ::testing::ElementsAre(26, 27, 28, 29, 30));
  Post("lobby", 2);
  ASSERT_TRUE(c.WaitFor(IsMessage("lobby", 32)));
  auto msgs = c.Messages("lobby");
  ASSERT_EQ(msgs.size(), 7u);
  for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(msgs[i].seq(), 26 + static_cast<int64_t>(i));

  // Without since_seq: nothing replayed.
  EventClient d(stub_.get(), token_);
  d.Join("lobby");
  ASSERT_TRUE(d.WaitFor(IsJoined("lobby")));
  EXPECT_TRUE(d.Messages("lobby").empty());
  // since_seq ahead of the room is refused.
  EventClient e(stub_.get(), token_);
  e.Join("lobby", 1000);
  auto err = e.WaitFor(IsError("join"));
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->error().code(), chat::v1::Error::OUT_OF_RANGE);
}

TEST_F(HistoryTest, FarBehindJoinIsServedInPagesFromTheStore) {
  // More than the in-memory ring (1024 by default) and than a stream's queue.
  core::CoreOptions options = TestCoreOptions();
  options.hub.room.recent_frames = 64;
  options.services.connect_outbox = core::OutboxLimits{512, 4 << 20, 128};
  TestCore core(options);
  auto stub = core.Chat();
  std::string token = core.Token("bob");
  constexpr int kStored = 3000;
  {
    EventClient w(stub.get(), token);
    w.Join("lobby");
    ASSERT_TRUE(w.WaitFor(IsJoined("lobby")));
    for (int i = 0; i < kStored; ++i) w.SendText("lobby", absl::StrCat(i), absl::StrCat("w", i));
    ASSERT_TRUE(w.WaitFor(IsAck(absl::StrCat("w", kStored - 1)), 60s));
  }
  EventClient c(stub.get(), token);
  c.Join("lobby", 0);
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby"), 60s));
  auto msgs = c.Messages("lobby");
  ASSERT_EQ(msgs.size(), static_cast<size_t>(kStored));
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(msgs[i].seq(), static_cast<int64_t>(i + 1));
  EXPECT_FALSE(c.WaitDone(0ms).has_value());  // not ended for overflow
}

TEST(FlowControlTest, ASenderThatDoesNotReadIsSlowedNotDropped) {
  // Every send brings back two events (its message and its ack). A client that
  // sends 2000 at once and does not read yet is itself no longer read once half
  // its 320-event queue is full: flow control slows it down, its stream stays up
  // and nothing is lost. (Half the queue must hold what the 64 sends in flight
  // can still bring back.)
  core::CoreOptions options = TestCoreOptions();
  options.services.connect_outbox = core::OutboxLimits{320, 1 << 20, 32};
  TestCore core(options);
  auto stub = core.Chat();
  EventClient w(stub.get(), core.Token("fast"), /*start_reading=*/false);
  constexpr int kSends = 2000;
  std::thread sender([&] {
    w.Join("lobby");
    for (int i = 0; i < kSends; ++i) w.SendText("lobby", absl::StrCat(i), absl::StrCat("f", i));
  });
  // Give chat-core time to fill the queue while nobody reads it.
  std::this_thread::sleep_for(500ms);
  w.StartReading();
  sender.join();
  ASSERT_TRUE(w.WaitFor(IsAck(absl::StrCat("f", kSends - 1)), 60s))
      << "stream ended: " << w.WaitDone(0ms).value_or(grpc::Status::OK).error_message();
  auto msgs = w.Messages("lobby");
  ASSERT_EQ(msgs.size(), static_cast<size_t>(kSends));
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(msgs[i].seq(), static_cast<int64_t>(i + 1));
  EXPECT_FALSE(w.WaitDone(0ms).has_value());
}

TEST(FlowControlTest, SendsAreStoredInTheOrderTheyWereSentAcrossReadPauses) {
  // With 2 sends in flight at most, the stream pauses and resumes its reads on
  // nearly every send. A resumed read must never overtake the send whose
  // bookkeeping paused it (found by chat-bench: two sends swapped seqs under
  // load). Other threads keep the CPUs busy so the paths interleave.
  core::CoreOptions options = TestCoreOptions();
  options.services.connect_session.max_inflight_sends = 2;
  TestCore core(options);
  auto stub = core.Chat();
  EventClient w(stub.get(), core.Token("ordered"));
  w.Join("lobby");
  ASSERT_TRUE(w.WaitFor(IsJoined("lobby")));
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;
  for (int i = 0; i < 2; ++i) {
    hogs.emplace_back([&] {
      volatile uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x + 1;
    });
  }
  constexpr int kSends = 20000;
  for (int i = 0; i < kSends; ++i) w.SendText("lobby", absl::StrCat(i), absl::StrCat("o", i));
  bool all_acked = w.WaitFor(IsAck(absl::StrCat("o", kSends - 1)), 60s).has_value();
  stop = true;
  for (auto& t : hogs) t.join();
  ASSERT_TRUE(all_acked);
  auto msgs = w.Messages("lobby");
  ASSERT_EQ(msgs.size(), static_cast<size_t>(kSends));
  for (size_t i = 0; i < msgs.size(); ++i) {
    ASSERT_EQ(msgs[i].text(), absl::StrCat(i)) << "seq " << msgs[i].seq() << " holds the wrong send";
  }
}

TEST(ReplayBurstTest, ResumeRespectsASmallStreamQueue) {
  // A queue of 16 events: the replay must go in steps that fit, not in one burst
  // from the in-memory ring that overflows it.
  core::CoreOptions options = TestCoreOptions();
  options.services.connect_outbox = core::OutboxLimits{16, 1 << 20, 256};
  TestCore core(options);
  auto stub = core.Chat();
  std::string token = core.Token("small");
  {
    EventClient w(stub.get(), token);
    w.Join("lobby");
    ASSERT_TRUE(w.WaitFor(IsJoined("lobby")));
    for (int i = 0; i < 60; ++i) {
      w.SendText("lobby", absl::StrCat(i), absl::StrCat("q", i));
      ASSERT_TRUE(w.WaitFor(IsAck(absl::StrCat("q", i))));
    }
  }
  EventClient c(stub.get(), token);
  c.Join("lobby", 0);
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  auto msgs = c.Messages("lobby");
  ASSERT_EQ(msgs.size(), 60u);
  for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(msgs[i].seq(), static_cast<int64_t>(i + 1));
  EXPECT_FALSE(c.WaitDone(0ms).has_value());
}

// The hard part: clients that keep reconnecting with since_seq while senders keep
// sending must see every message exactly once, in order.
TEST(ResumeRaceTest, ReplayAndLiveNeverGapOrDuplicateUnderLoad) {
  core::CoreOptions options = TestCoreOptions();
  options.hub.room.recent_frames = 32;  // force both ring and store replays
  options.hub.replay_page = 16;
  TestCore core(options);
  auto stub = core.Chat();
  std::vector<std::string> sender_tokens;
  for (int i = 0; i < 3; ++i) sender_tokens.push_back(core.Token(absl::StrCat("sender", i)));
  std::string reader_token = core.Token("reader");

  constexpr int kPerSender = 400;
  std::atomic<bool> go{false};
  std::vector<std::thread> senders;
  for (int i = 0; i < 3; ++i) {
    senders.emplace_back([&, i] {
      auto s = core.Chat();
      EventClient c(s.get(), sender_tokens[i]);
      c.Join("lobby");
      c.WaitFor(IsJoined("lobby"));
      while (!go.load()) std::this_thread::yield();
      for (int k = 0; k < kPerSender; ++k) {
        c.SendText("lobby", absl::StrCat(i, ":", k), absl::StrCat(i, "-", k));
        // Paced so the reader's reconnects interleave with the sends.
        std::this_thread::sleep_for(1ms);
      }
      c.WaitFor(IsAck(absl::StrCat(i, "-", kPerSender - 1)), 60s);
    });
  }
  const int64_t total = 3 * kPerSender;
  std::vector<int64_t> seen;  // the reader's view, across reconnects
  go.store(true);
  int reconnects = 0;
  while (static_cast<int64_t>(seen.size()) < total && reconnects < 400) {
    ++reconnects;
    EventClient c(stub.get(), reader_token);
    int64_t since = seen.empty() ? 0 : seen.back();
    c.Join("lobby", since);
    ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
    // Stay for a few live messages (or a moment), then drop the connection.
    size_t stay = std::min<size_t>(total - seen.size(), 1 + (reconnects % 7) * 5);
    c.WaitForCount(IsAnyMessage("lobby"), stay, 200ms);
    for (const auto& m : c.Messages("lobby")) {
      ASSERT_EQ(m.seq(), (seen.empty() ? 0 : seen.back()) + 1)
          << "gap or duplicate after " << reconnects << " reconnects";
      seen.push_back(m.seq());
    }
  }
  for (auto& t : senders) t.join();
  // Drain whatever is left.
  EventClient c(stub.get(), reader_token);
  c.Join("lobby", seen.empty() ? 0 : seen.back());
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  for (const auto& m : c.Messages("lobby")) {
    ASSERT_EQ(m.seq(), (seen.empty() ? 0 : seen.back()) + 1);
    seen.push_back(m.seq());
  }
  ASSERT_EQ(static_cast<int64_t>(seen.size()), total);
  // The race was exercised: the reader came back many times while messages
  // were being sent (fewer under load, when each pass takes a bigger bite).
  EXPECT_GE(reconnects, 10);
  std::cerr << "reader reconnected " << reconnects << " times\n";
}

TEST_F(HistoryTest, RetriedSendGetsTheOriginalSeqAndNoSecondMessage) {
  EventClient c(stub_.get(), token_);
  c.Join("lobby");
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  c.SendText("lobby", "once", "retry-me", "first");
  auto first = c.WaitFor([](const ServerEvent& e) { return e.has_ack() && e.ref() == "first"; });
  ASSERT_TRUE(first.has_value());
  c.SendText("lobby", "once", "retry-me", "second");
  auto second = c.WaitFor([](const ServerEvent& e) { return e.has_ack() && e.ref() == "second"; });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->ack().seq(), first->ack().seq());
  EXPECT_TRUE(second->ack().duplicate());
  // The unary path sees the same original.
  auto ctx = AuthedContext(token_);
  chat::v1::SendMessageRequest req;
  req.set_room("lobby");
  req.set_text("once");
  req.set_client_msg_id("retry-me");
  chat::v1::SendMessageResponse resp;
  ASSERT_TRUE(stub_->SendMessage(ctx.get(), req, &resp).ok());
  EXPECT_TRUE(resp.duplicate());
  EXPECT_EQ(resp.message().seq(), first->ack().seq());
  // Only one copy was delivered and stored.
  c.SendText("lobby", "marker", "marker");
  ASSERT_TRUE(c.WaitFor(IsAck("marker")));
  EXPECT_EQ(c.Messages("lobby").size(), 2u);
  GetHistoryRequest h;
  h.set_room("lobby");
  GetHistoryResponse hr;
  ASSERT_TRUE(History(h, &hr).ok());
  EXPECT_EQ(hr.messages_size(), 2);
}

TEST(HistoryRestartTest, MessagesAndIdempotencySurviveARestart) {
  TempDir dir;
  core::CoreOptions options = TestCoreOptions();
  options.store.path = dir.File("chat.db");
  std::string token;
  int64_t seq;
  {
    TestCore core(options);
    token = core.Token("alice");
    auto stub = core.Chat();
    auto ctx = AuthedContext(token);
    chat::v1::SendMessageRequest req;
    req.set_room("lobby");
    req.set_text("persist me");
    req.set_client_msg_id("p1");
    chat::v1::SendMessageResponse resp;
    ASSERT_TRUE(stub->SendMessage(ctx.get(), req, &resp).ok());
    seq = resp.message().seq();
  }
  TestCore core(options);
  auto stub = core.Chat();
  // The token still works (sessions are stored), the message is there, and a
  // retry is recognised.
  auto ctx = AuthedContext(token);
  chat::v1::SendMessageRequest req;
  req.set_room("lobby");
  req.set_text("persist me");
  req.set_client_msg_id("p1");
  chat::v1::SendMessageResponse resp;
  ASSERT_TRUE(stub->SendMessage(ctx.get(), req, &resp).ok());
  EXPECT_TRUE(resp.duplicate());
  EXPECT_EQ(resp.message().seq(), seq);
  EventClient c(stub.get(), token);
  c.Join("lobby", 0);
  ASSERT_TRUE(c.WaitFor(IsJoined("lobby")));
  ASSERT_EQ(c.Messages("lobby").size(), 1u);
  EXPECT_EQ(c.Messages("lobby")[0].text(), "persist me");
}

}  // namespace
}  // namespace chat::testing
