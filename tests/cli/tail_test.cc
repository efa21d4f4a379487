// End-to-end tests of `chat tail`: backlog, live messages, and resuming after
// chat-core restarts with nothing lost or repeated.
#include <signal.h>


#include "absl/strings/str_cat.h"
#include "cli_test_util.h"
#include "client.h"
#include "config.h"
#include "chat/v1/chat.pb.h"
#include "gmock/gmock.h"

namespace chat::cli::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(CliTest, TailPrintsTheBacklogThenLiveMessages) {
  User alice("alice");
  Login(alice);
  CreateRoom(alice, "general");
  for (int i = 1; i <= 3; ++i) Send(alice, "general", absl::StrCat("old ", i));
  auto tail = Start(alice, {"tail", "general", "-n", "2", "--json"});
  ASSERT_NE(tail, nullptr);
  auto backlog = ReadUntilSeq(tail.get(), 3);
  EXPECT_THAT(Seqs(backlog), ElementsAre(2, 3));
  Send(alice, "general", "live 4");
  auto live = ReadUntilSeq(tail.get(), 4);
  ASSERT_THAT(Seqs(live), ElementsAre(4));
  EXPECT_EQ(live[0].text(), "live 4");
  EXPECT_EQ(live[0].author(), "alice");

  // Ctrl-C is the normal way out.
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);
  EXPECT_EQ(tail->stderr_text(), "");
}

TEST_F(CliTest, TailFollowsSeveralRoomsInHumanForm) {
  User alice("alice");
  Login(alice);
  CreateRoom(alice, "one");
  CreateRoom(alice, "two");
  auto tail = Start(alice, {"tail", "one", "two", "--since", "0"});
  ASSERT_NE(tail, nullptr);
  Send(alice, "one", "first");
  ASSERT_TRUE(tail->WaitForLine("#1", 10s)) << tail->stderr_text();
  Send(alice, "two", "second");
  auto line = tail->WaitForLine("#1", 10s);
  ASSERT_TRUE(line) << tail->stdout_text();
  EXPECT_THAT(*line, HasSubstr("[two] alice  second"));
  tail->Signal(SIGTERM);
  EXPECT_EQ(tail->Wait(10s), 0);
  EXPECT_THAT(tail->stdout_text(), HasSubstr("[one] alice  first"));
}

TEST_F(CliTest, TailResumesAfterChatCoreRestarts) {
  User alice("alice");
  Login(alice);
  CreateRoom(alice, "general");
  auto tail = Start(alice, {"tail", "general", "--since", "0", "--json"});
  ASSERT_NE(tail, nullptr);
  std::vector<chat::v1::Message> seen;
  EXPECT_EQ(Send(alice, "general", "one"), 1);
  ReadUntilSeq(tail.get(), 1, &seen);

  // chat-core dies without a goodbye: sends fail meanwhile, tail keeps trying.
  core_->Kill9();
  RunResult down = Chat(alice, {"send", "general", "lost?"});
  EXPECT_EQ(down.exit_code, 5) << down.err;
  RestartCore(/*kill9=*/true);
  // Sent right away, most likely before tail is back: it must get them on resume.
  EXPECT_EQ(Send(alice, "general", "two"), 2);
  EXPECT_EQ(Send(alice, "general", "three"), 3);
  ReadUntilSeq(tail.get(), 3, &seen);

  // A graceful restart ends the stream with UNAVAILABLE ("shutting down").
  RestartCore(/*kill9=*/false);
  EXPECT_EQ(Send(alice, "general", "four"), 4);
  ReadUntilSeq(tail.get(), 4, &seen);
  EXPECT_EQ(Send(alice, "general", "five"), 5);
  ReadUntilSeq(tail.get(), 5, &seen);

  // Every message exactly once, in order.
  EXPECT_THAT(Seqs(seen), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(seen[1].text(), "two");
  EXPECT_EQ(seen[4].text(), "five");
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);
  EXPECT_THAT(tail->stderr_text(), HasSubstr("reconnecting"));
  EXPECT_THAT(tail->stderr_text(), HasSubstr("reconnected"));
  EXPECT_EQ(tail->stdout_text().find("lost?"), std::string::npos);
}

// A tail that stops reading is cut off by chat-core (RESOURCE_EXHAUSTED); it
// reconnects and catches up from where it was. A small queue makes the cut-off
// quick; the ring of recent messages is kept smaller than the queue because
// chat-core pushes a resume from its ring all at once, regardless of the queue
// limit (with a ring larger than the queue, such a resume is cut off again).
class SlowTailTest : public CliTest {
 protected:
  void SetUp() override {
    core_ = CoreProcess::Start(data_.File("chat.db"),
                               {"--stream_queue_events=600", "--recent_messages=100"});
    ASSERT_NE(core_, nullptr);
  }
};

TEST_F(SlowTailTest, TailCatchesUpAfterBeingTooSlow) {
  User alice("alice");
  Login(alice);
  auto tail = Start(alice, {"tail", "lobby", "--since", "0", "--json"});
  ASSERT_NE(tail, nullptr);
  EXPECT_EQ(Send(alice, "lobby", "first"), 1);
  ASSERT_EQ(ReadUntilSeq(tail.get(), 1).size(), 1u);

  // Nobody reads tail's output meanwhile: the pipe fills, tail blocks writing,
  // stops reading its stream; flow control fills, then chat-core's queue.
  CredentialStore store(alice.CredentialsPath());
  ASSERT_TRUE(store.Load().ok());
  ChatClient client({server()}, store.Find({server()})->token);
  const int kCount = 3000;
  for (int i = 2; i <= kCount; ++i) {
    chat::v1::SendMessageRequest request;
    request.set_room("lobby");
    request.set_text(absl::StrCat(i, " ", std::string(4000, 'x')));
    request.set_client_msg_id(absl::StrCat("m", i));
    auto sent = client.SendMessage(request);
    ASSERT_TRUE(sent.ok()) << sent.status();
  }
  std::vector<int64_t> seqs = Seqs(ReadUntilSeq(tail.get(), kCount, 30s));
  for (size_t i = 1; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << "gap or repeat after #" << seqs[i - 1];
  }
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kCount - 1));
  for (int i = 0; i < kCount - 1; ++i) EXPECT_EQ(seqs[i], i + 2);
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);
  EXPECT_THAT(tail->stderr_text(), HasSubstr("not reading fast enough"));
  EXPECT_THAT(tail->stderr_text(), HasSubstr("reconnected"));
}

TEST_F(CliTest, TailEndsWithThreeWhenLoggedOut) {
  User alice("alice");
  Login(alice);
  auto tail = Start(alice, {"tail", "lobby", "--json"});
  ASSERT_NE(tail, nullptr);
  // Once a message arrives the session is live.
  Send(alice, "lobby", "hi");
  ASSERT_TRUE(tail->WaitForLine("{", 10s)) << tail->stderr_text();
  RunResult out = Chat(alice, {"logout"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(tail->Wait(10s), 3);
  EXPECT_THAT(tail->stderr_text(), HasSubstr("logged out"));
  EXPECT_EQ(Lines(tail->stderr_text()).size(), 1u) << tail->stderr_text();
}

TEST_F(CliTest, TailSinceReplaysEverythingAfterASeq) {
  User alice("alice");
  Login(alice);
  for (int i = 1; i <= 5; ++i) Send(alice, "lobby", absl::StrCat("m", i));
  auto tail = Start(alice, {"tail", "lobby", "--since", "2", "--json"});
  ASSERT_NE(tail, nullptr);
  EXPECT_THAT(Seqs(ReadUntilSeq(tail.get(), 5)), ElementsAre(3, 4, 5));
  tail->Signal(SIGINT);
  EXPECT_EQ(tail->Wait(10s), 0);

  RunResult ahead = Chat(alice, {"tail", "lobby", "--since", "99"});
  EXPECT_EQ(ahead.exit_code, 2);
  EXPECT_THAT(ahead.err, HasSubstr("ahead"));
}

}  // namespace
}  // namespace chat::cli::testing
