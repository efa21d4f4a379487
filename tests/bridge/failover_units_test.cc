// The pure parts of fail-over: which node next and how long to wait
// (NodeRotation), and the browser's events kept across a lost stream
// (PendingEvents).
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_rotation.h"
#include "pending_events.h"

namespace chat::bridge {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

TEST(BridgeNodeRotationTest, TriesEveryNodeAtOnceThenBacksOffPerRound) {
  NodeRotation r(3, absl::Milliseconds(200), absl::Milliseconds(700));
  EXPECT_EQ(r.node(), 0u);
  // A round: the next two nodes at once, then a wait before the first again.
  EXPECT_EQ(r.Failed(1.0), absl::ZeroDuration());
  EXPECT_EQ(r.node(), 1u);
  EXPECT_EQ(r.Failed(1.0), absl::ZeroDuration());
  EXPECT_EQ(r.node(), 2u);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(200));
  EXPECT_EQ(r.node(), 0u);
  // The next round waits twice as long, then it stops growing at the bound.
  r.Failed(1.0);
  r.Failed(1.0);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(400));
  r.Failed(1.0);
  r.Failed(1.0);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(700));
  r.Failed(1.0);
  r.Failed(1.0);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(700));
}

TEST(BridgeNodeRotationTest, JitterPicksBetweenHalfAndAllOfTheBackoff) {
  NodeRotation low(1, absl::Milliseconds(200), absl::Seconds(5));
  EXPECT_EQ(low.Failed(0.0), absl::Milliseconds(100));
  NodeRotation mid(1, absl::Milliseconds(200), absl::Seconds(5));
  EXPECT_EQ(mid.Failed(0.5), absl::Milliseconds(150));
  NodeRotation wild(1, absl::Milliseconds(200), absl::Seconds(5));
  EXPECT_EQ(wild.Failed(7), absl::Milliseconds(200)) << "jitter is clamped to [0, 1]";
}

TEST(BridgeNodeRotationTest, ANodeThatAcceptsEndsTheRoundAndResetsTheBackoff) {
  NodeRotation r(2, absl::Milliseconds(100), absl::Seconds(1));
  r.Failed(1.0);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(100));
  r.Failed(1.0);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(200));
  EXPECT_EQ(r.node(), 0u);
  r.Succeeded();
  EXPECT_EQ(r.node(), 0u) << "the node that took the stream stays";
  // Its stream ends later: the other node at once, and the next wait is short again.
  EXPECT_EQ(r.Failed(1.0), absl::ZeroDuration());
  EXPECT_EQ(r.node(), 1u);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(100));
}

TEST(BridgeNodeRotationTest, OneNodeWaitsAfterEveryFailure) {
  NodeRotation r(1, absl::Milliseconds(50), absl::Milliseconds(100));
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(50));
  EXPECT_EQ(r.node(), 0u);
  EXPECT_EQ(r.Failed(1.0), absl::Milliseconds(100));
}

ClientEvent Send(const std::string& room, const std::string& id, const std::string& ref = "") {
  ClientEvent e;
  e.set_ref(ref);
  e.mutable_send()->set_room(room);
  e.mutable_send()->set_text("hi");
  e.mutable_send()->set_client_msg_id(id);
  return e;
}
ClientEvent Join(const std::string& room, const std::string& ref = "") {
  ClientEvent e;
  e.set_ref(ref);
  e.mutable_join()->set_room(room);
  return e;
}
ServerEvent Ack(const std::string& room, const std::string& id, const std::string& ref = "") {
  ServerEvent e;
  e.set_ref(ref);
  e.mutable_ack()->set_room(room);
  e.mutable_ack()->set_client_msg_id(id);
  return e;
}

// The events to send again, as "kind:ref" (sends as "send:<client_msg_id>").
std::vector<std::string> Names(const std::vector<ClientEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.has_send() ? "send:" + e.send().client_msg_id() : e.ref());
  return out;
}

TEST(BridgePendingEventsTest, AnsweredEventsAreForgottenAndTheRestAreSentAgainInOrder) {
  PendingEvents p;
  EXPECT_EQ(p.Send(Send("lobby", "a")), PendingEvents::Sent::kKept);
  EXPECT_EQ(p.Send(Join("x", "j")), PendingEvents::Sent::kKept);
  EXPECT_EQ(p.Send(Send("lobby", "b")), PendingEvents::Sent::kKept);
  EXPECT_EQ(p.unanswered(), 3u);
  // Answers in any order; an answer that matches nothing changes nothing.
  p.Answered(Ack("lobby", "b"));
  p.Answered(Ack("lobby", "zzz"));
  p.Answered(Ack("other", "a"));  // another room's "a"
  EXPECT_EQ(p.unanswered(), 2u);
  ServerEvent joined;
  joined.set_ref("j");
  joined.mutable_joined()->set_room("x");
  p.Answered(joined);
  EXPECT_EQ(p.unanswered(), 1u);
  // Meanwhile the stream went down: the browser's next events wait.
  ClientEvent typing;
  typing.mutable_typing()->set_room("lobby");
  EXPECT_TRUE(p.Wait(typing, 8)) << "typing is dropped, not refused";
  EXPECT_TRUE(p.Wait(Send("lobby", "c"), 8));
  EXPECT_EQ(p.waiting(), 1u);
  auto resend = p.TakeForResend();
  EXPECT_THAT(Names(resend.send), ::testing::ElementsAre("send:a", "send:c"));
  EXPECT_TRUE(resend.refuse.empty());
  EXPECT_EQ(p.unanswered(), 0u);
  EXPECT_EQ(p.waiting(), 0u);
}

TEST(BridgePendingEventsTest, ErrorsAnswerTheEventOfTheirKindRefAndRoom) {
  PendingEvents p;
  p.Send(Join("x", "r1"));
  p.Send(Join("y", "r1"));
  p.Send(Send("x", "m1", "r1"));
  ServerEvent error;
  error.set_ref("r1");
  error.mutable_error()->set_event("join");
  error.mutable_error()->set_room("y");
  p.Answered(error);
  error.mutable_error()->set_event("send");
  error.mutable_error()->set_room("x");
  error.mutable_error()->set_client_msg_id("m1");
  p.Answered(error);
  auto resend = p.TakeForResend();
  ASSERT_EQ(resend.send.size(), 1u);
  EXPECT_EQ(resend.send[0].join().room(), "x");
}

TEST(BridgePendingEventsTest, ASendWithoutIdThatWasInFlightIsRefusedNotSentTwice) {
  PendingEvents p;
  p.Send(Send("lobby", ""));
  EXPECT_TRUE(p.Wait(Send("lobby", ""), 8));  // never sent: safe to send
  auto resend = p.TakeForResend();
  ASSERT_EQ(resend.refuse.size(), 1u);
  ASSERT_EQ(resend.send.size(), 1u);
}

TEST(BridgePendingEventsTest, TheWaitingQueueIsBounded) {
  PendingEvents p;
  EXPECT_TRUE(p.Wait(Send("lobby", "1"), 2));
  EXPECT_TRUE(p.Wait(Send("lobby", "2"), 2));
  EXPECT_FALSE(p.Wait(Send("lobby", "3"), 2));
  EXPECT_EQ(p.waiting(), 2u);
  EXPECT_THAT(Names(p.TakeForResend().send), ::testing::ElementsAre("send:1", "send:2"));
}

TEST(BridgePendingEventsTest, EventsWithoutAMatchableAnswerAreNotKept) {
  PendingEvents p;
  ClientEvent typing;
  typing.mutable_typing()->set_room("lobby");
  EXPECT_EQ(p.Send(typing), PendingEvents::Sent::kUntracked);
  EXPECT_EQ(p.Send(ClientEvent()), PendingEvents::Sent::kUntracked);
  EXPECT_EQ(p.Send(Join("lobby", std::string(200, 'r'))), PendingEvents::Sent::kUntracked)
      << "chat-core answers an over-long ref without it";
  EXPECT_EQ(p.unanswered(), 0u);
}

TEST(BridgePendingEventsTest, TooManyUnansweredAreRefused) {
  PendingEvents p;
  for (size_t i = 0; i < PendingEvents::kMaxUnanswered; ++i) {
    ASSERT_EQ(p.Send(Send("lobby", std::to_string(i))), PendingEvents::Sent::kKept);
  }
  EXPECT_EQ(p.Send(Send("lobby", "one more")), PendingEvents::Sent::kTooMany);
  p.Answered(Ack("lobby", "0"));
  EXPECT_EQ(p.Send(Send("lobby", "now")), PendingEvents::Sent::kKept);
}

TEST(BridgePendingEventsTest, EveryKindWithAnAnswerIsMatched) {
  PendingEvents p;
  ClientEvent ping, history, list, create, leave;
  ping.set_ref("p");
  ping.mutable_ping()->set_nonce(1);
  history.set_ref("h");
  history.mutable_history()->set_room("lobby");
  list.set_ref("l");
  list.mutable_list_rooms();
  create.set_ref("c");
  create.mutable_create_room()->set_name("new");
  leave.set_ref("v");
  leave.mutable_leave()->set_room("lobby");
  for (const auto* e : {&ping, &history, &list, &create, &leave}) p.Send(*e);
  ServerEvent answers[5];
  answers[0].set_ref("p");
  answers[0].mutable_pong();
  answers[1].set_ref("h");
  answers[1].mutable_history();
  answers[2].set_ref("l");
  answers[2].mutable_rooms();
  answers[3].set_ref("c");
  answers[3].mutable_room();
  answers[4].set_ref("v");
  answers[4].mutable_left()->set_room("lobby");
  for (const auto& a : answers) p.Answered(a);
  EXPECT_EQ(p.unanswered(), 0u);
  // A room event answers nothing.
  p.Send(ping);
  ServerEvent message;
  message.mutable_message()->set_room("lobby");
  p.Answered(message);
  EXPECT_EQ(p.unanswered(), 1u);
}

TEST(BridgePendingEventsTest, GetUsersIsAnsweredByProfilesAndARenewalAnswersNothing) {
  PendingEvents p;
  ClientEvent get;
  get.set_ref("g");
  get.mutable_get_users()->add_usernames("ci-bot");
  EXPECT_EQ(p.Send(get), PendingEvents::Sent::kKept);
  // Pushed to the session alone, with no ref: answers nothing.
  ServerEvent renewed;
  renewed.mutable_session_renewed()->mutable_expires_at()->set_seconds(1);
  p.Answered(renewed);
  EXPECT_EQ(p.unanswered(), 1u);
  ServerEvent profiles;
  profiles.set_ref("g");
  profiles.mutable_profiles()->add_users()->set_username("ci-bot");
  p.Answered(profiles);
  EXPECT_EQ(p.unanswered(), 0u);
}

}  // namespace
TEST(BridgePendingEventsTest, MembershipRequestsAreKeptOnlyWithARefAndAnsweredByTheirOwnKind) {
  PendingEvents p;
  ClientEvent kick;
  kick.mutable_kick()->set_room("club");
  kick.mutable_kick()->set_user("mel");
  // Without a ref its answer looks like any pushed change: not kept.
  EXPECT_EQ(p.Send(kick), PendingEvents::Sent::kUntracked);
  kick.set_ref("k");
  EXPECT_EQ(p.Send(kick), PendingEvents::Sent::kKept);
  ClientEvent invites;
  invites.set_ref("i");
  invites.mutable_list_invites();
  EXPECT_EQ(p.Send(invites), PendingEvents::Sent::kKept);
  p.Send(Join("club", "k"));
  EXPECT_EQ(p.unanswered(), 3u);
  // A pushed membership change (no ref) and a session put out of a room (a
  // left with a reason) answer nothing.
  ServerEvent pushed;
  pushed.mutable_membership()->set_room("club");
  p.Answered(pushed);
  ServerEvent put_out;
  put_out.set_ref("k");
  put_out.mutable_left()->set_room("club");
  put_out.mutable_left()->set_reason("kicked by olga");
  p.Answered(put_out);
  EXPECT_EQ(p.unanswered(), 3u);
  // The kick's own answer (membership with its ref) answers the kick, not the join.
  ServerEvent answer;
  answer.set_ref("k");
  answer.mutable_membership()->set_room("club");
  p.Answered(answer);
  EXPECT_EQ(p.unanswered(), 2u);
  ServerEvent list;
  list.set_ref("i");
  list.mutable_invites();
  p.Answered(list);
  auto resend = p.TakeForResend();
  EXPECT_THAT(Names(resend.send), ::testing::ElementsAre("k"));
  ASSERT_EQ(resend.send.size(), 1u);
  EXPECT_TRUE(resend.send[0].has_join());
}

}  // namespace chat::bridge
