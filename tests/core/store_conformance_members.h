// Conformance, part 3: room kinds and topics, member rows (CreateRoomAs,
// LoadMembers, ReadMembers, WriteMembers and its checks), and the migration
// of a database from before them. See store_conformance.h.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_MEMBERS_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_MEMBERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store_conformance_fixture.h"

namespace chat::core::conformance {

// "room/user:state:role" (Brief) for a room's id.
inline std::string In(int64_t room, const std::string& user, MemberState state, Role role = Role::kNone) {
  return absl::StrCat(room, "/", user, ":", static_cast<int>(state), ":", static_cast<int>(role));
}

// ---------------------------------------------------------------------------
// CreateRoomAs

TYPED_TEST_P(StoreConformanceMembersTest, CreateRoomAsStoresKindTopicAndMembersTogether) {
  int64_t id;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto lobby = CreateRoom(*s, "lobby", "alice");
    ASSERT_TRUE(lobby.ok()) << lobby.status();
    EXPECT_EQ(lobby->kind, RoomKind::kPublic);
    EXPECT_EQ(lobby->topic, "");
    EXPECT_FALSE(lobby->archived);
    RoomRecord spec = Spec("secret", "Alice", RoomKind::kPrivate, "plans é");
    spec.id = 999;  // ignored, as are created_at_ms and last_seq
    spec.last_seq = 7;
    auto r = CreateRoomAs(*s, spec,
                          {Row(0, "Alice", MemberState::kMember, Role::kOwner, "", 1000),
                           Row(0, "bob", MemberState::kInvited, Role::kNone, "Alice", 1000, "come")},
                          {}, 1234);
    ASSERT_TRUE(r.ok()) << r.status();
    id = r->id;
    EXPECT_GT(id, lobby->id);
    EXPECT_EQ(r->name, "secret");
    EXPECT_EQ(r->created_by, "Alice");
    EXPECT_EQ(r->created_at_ms, 1234);
    EXPECT_EQ(r->last_seq, 0);
    EXPECT_EQ(r->kind, RoomKind::kPrivate);
    EXPECT_EQ(r->topic, "plans é");
    EXPECT_FALSE(r->archived);
    auto rows = ReadMembers(*s, id);
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_THAT(Briefs(*rows), ElementsAre(In(id, "Alice", MemberState::kMember, Role::kOwner),
                                           In(id, "bob", MemberState::kInvited)));
    EXPECT_EQ((*rows)[1].by, "Alice");
    EXPECT_EQ((*rows)[1].at_ms, 1000);
    EXPECT_EQ((*rows)[1].reason, "come");
    // The public room has no rows.
    EXPECT_THAT(*ReadMembers(*s, lobby->id), ::testing::IsEmpty());
    auto dm = CreateRoomAs(*s, Spec("dm.0123", "", RoomKind::kDirect),
                           {Row(0, "Carol", MemberState::kMember, Role::kMember),
                            Row(0, "dave", MemberState::kMember, Role::kMember)});
    ASSERT_TRUE(dm.ok()) << dm.status();
    EXPECT_EQ(dm->kind, RoomKind::kDirect);
  }
  // All of it is stored, and loads.
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 3u);
  EXPECT_EQ((*rooms)[0].kind, RoomKind::kPublic);
  EXPECT_EQ((*rooms)[1].kind, RoomKind::kPrivate);
  EXPECT_EQ((*rooms)[1].topic, "plans é");
  EXPECT_EQ((*rooms)[2].kind, RoomKind::kDirect);
  auto all = s->LoadMembers();
  ASSERT_TRUE(all.ok()) << all.status();
  const int64_t dm = (*rooms)[2].id;
  EXPECT_THAT(Briefs(*all), ElementsAre(In(id, "Alice", MemberState::kMember, Role::kOwner),
                                        In(id, "bob", MemberState::kInvited),
                                        In(dm, "Carol", MemberState::kMember, Role::kMember),
                                        In(dm, "dave", MemberState::kMember, Role::kMember)));
  auto every = ReadMembers(*s, 0);
  ASSERT_TRUE(every.ok()) << every.status();
  EXPECT_EQ(Briefs(*every), Briefs(*all));
}

TYPED_TEST_P(StoreConformanceMembersTest, ARefusedCreateRoomAsStoresNoMembers) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(CreateRoom(*s, "taken", "alice").ok());
  auto again = CreateRoomAs(*s, Spec("taken", "bob", RoomKind::kPrivate),
                            {Row(0, "bob", MemberState::kMember, Role::kOwner)});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  // The quota holds for private rooms too.
  RoomQuota quota;
  quota.per_creator = 1;
  quota.window_ms = 1000;
  ASSERT_TRUE(CreateRoomAs(*s, Spec("p1", "bob", RoomKind::kPrivate),
                           {Row(0, "bob", MemberState::kMember, Role::kOwner)}, quota, 5000)
                  .ok());
  auto over = CreateRoomAs(*s, Spec("p2", "bob", RoomKind::kPrivate),
                           {Row(0, "bob", MemberState::kMember, Role::kOwner)}, quota, 5100);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  quota = RoomQuota{};
  quota.max_rooms = 2;
  auto capped = CreateRoomAs(*s, Spec("p3", "carol", RoomKind::kPrivate),
                             {Row(0, "carol", MemberState::kMember, Role::kOwner)}, quota, 5100);
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kResourceExhausted) << capped.status();
  auto rows = s->LoadMembers();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].user, "bob");
  EXPECT_EQ(s->LoadRooms()->size(), 2u);
}

// ---------------------------------------------------------------------------
// WriteMembers

TYPED_TEST_P(StoreConformanceMembersTest, WriteMembersAppliesOnlyWhatIsExpected) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t room = CreateRoom(*s, "r")->id;
  // Invited: no row before.
  ASSERT_TRUE(WriteMembers(*s, {Expecting(MemberState::kNone, Row(room, "Bob", MemberState::kInvited, Role::kNone,
                                                                  "alice", 10, "hi"))})
                  .ok());
  // A second invitation expecting no row: ABORTED, naming the user; nothing changes.
  auto twice = WriteMembers(*s, {Expecting(MemberState::kNone, Row(room, "Bob", MemberState::kInvited, Role::kNone,
                                                                   "carol", 11, "again"))});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kAborted) << twice.status();
  EXPECT_THAT(std::string(twice.status().message()), HasSubstr("Bob"));
  auto rows = ReadMembers(*s, room);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].by, "alice");
  EXPECT_EQ((*rows)[0].reason, "hi");
  // Rows are keyed by the lower-cased name: "BOB" is Bob's row, and takes his
  // name as given.
  ASSERT_TRUE(
      WriteMembers(*s, {Expecting(MemberState::kInvited, Row(room, "BOB", MemberState::kMember, Role::kMember))})
          .ok());
  EXPECT_THAT(Briefs(*ReadMembers(*s, room)), ElementsAre(In(room, "BOB", MemberState::kMember, Role::kMember)));
  // Expecting the wrong state.
  auto wrong = WriteMembers(*s, {Expecting(MemberState::kInvited, Row(room, "bob", MemberState::kNone))});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kAborted) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("bob"));
  // Unchecked: whatever the row is. The role belongs to members only.
  ASSERT_TRUE(WriteMembers(*s, {Unchecked(Row(room, "bob", MemberState::kBanned, Role::kModerator, "alice", 12,
                                              "spam"))})
                  .ok());
  rows = ReadMembers(*s, room);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(Briefs(*rows), ElementsAre(In(room, "bob", MemberState::kBanned)));
  EXPECT_EQ((*rows)[0].reason, "spam");
  EXPECT_EQ((*rows)[0].at_ms, 12);
  // State kNone deletes the row; deleting no row unchecked is fine.
  ASSERT_TRUE(WriteMembers(*s, {Expecting(MemberState::kBanned, Row(room, "bob", MemberState::kNone))}).ok());
  EXPECT_THAT(*ReadMembers(*s, room), ::testing::IsEmpty());
  ASSERT_TRUE(WriteMembers(*s, {Unchecked(Row(room, "bob", MemberState::kNone))}).ok());
  // No writes at all: nothing to do.
  EXPECT_TRUE(WriteMembers(*s, {}).ok());
}

TYPED_TEST_P(StoreConformanceMembersTest, WriteMembersIsAllOrNothing) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t room = CreateRoom(*s, "r")->id;
  const int64_t other = CreateRoom(*s, "o")->id;
  ASSERT_TRUE(WriteMembers(*s, {Unchecked(Row(room, "dave", MemberState::kMember, Role::kMember))}).ok());
  // The second write's check fails: the first is not stored either.
  auto r = WriteMembers(*s, {Expecting(MemberState::kNone, Row(room, "carol", MemberState::kInvited)),
                             Expecting(MemberState::kInvited, Row(room, "dave", MemberState::kMember, Role::kOwner))});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("dave"));
  EXPECT_THAT(Briefs(*ReadMembers(*s, room)), ElementsAre(In(room, "dave", MemberState::kMember, Role::kMember)));
  // A room that does not exist: NOT_FOUND, and nothing stored.
  r = WriteMembers(*s, {Unchecked(Row(other, "erin", MemberState::kMember, Role::kOwner)),
                        Unchecked(Row(other + 1000, "erin", MemberState::kMember, Role::kOwner))});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_THAT(*ReadMembers(*s, other), ::testing::IsEmpty());
  // Writes apply in order: a later one sees an earlier one's row. A hand-over
  // of ownership across two rows and two rooms in one call.
  r = WriteMembers(*s, {Expecting(MemberState::kNone, Row(room, "carol", MemberState::kInvited)),
                        Expecting(MemberState::kInvited, Row(room, "carol", MemberState::kMember, Role::kOwner)),
                        Expecting(MemberState::kMember, Row(room, "dave", MemberState::kMember, Role::kModerator)),
                        Expecting(MemberState::kNone, Row(other, "dave", MemberState::kMember, Role::kOwner))});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Briefs(*s->LoadMembers()),
              ElementsAre(In(room, "carol", MemberState::kMember, Role::kOwner),
                          In(room, "dave", MemberState::kMember, Role::kModerator),
                          In(other, "dave", MemberState::kMember, Role::kOwner)));
  // Reading a room without rows, or one that does not exist: no rows.
  EXPECT_THAT(*ReadMembers(*s, other + 1000), ::testing::IsEmpty());
}

// Several invitations of one user in flight at once, each expecting no row:
// exactly one is stored, the others are ABORTED.
TYPED_TEST_P(StoreConformanceMembersTest, ConcurrentWritesWithTheSameExpectationOneWins) {
  constexpr int kWriters = 8;
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t room = CreateRoom(*s, "r")->id;
  for (int round = 0; round < 3; ++round) {
    const std::string user = absl::StrCat("user", round);
    std::vector<Reply<bool>> replies(kWriters);
    for (int i = 0; i < kWriters; ++i) {
      s->WriteMembers({Expecting(MemberState::kNone, Row(room, user, MemberState::kInvited, Role::kNone,
                                                         absl::StrCat("by", i)))},
                      absl::StrCat("note ", i), replies[i].Callback());
    }
    int won = 0, aborted = 0;
    std::string winner;
    for (int i = 0; i < kWriters; ++i) {
      auto r = replies[i].Wait();
      if (r.ok()) {
        ++won;
        winner = absl::StrCat("by", i);
      } else {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
        ++aborted;
      }
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(aborted, kWriters - 1);
    auto rows = ReadMembers(*s, room);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), static_cast<size_t>(round + 1));
    EXPECT_EQ(rows->back().by, winner);
  }
}

// A note is bounded on every store (PostgreSQL's NOTIFY would refuse more),
// and a refused write stores nothing.
TYPED_TEST_P(StoreConformanceMembersTest, ANoteOverTheBoundIsRefused) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t room = CreateRoom(*s, "r")->id;
  const std::string most(kMaxRoomNoteBytes, 'n'), over(kMaxRoomNoteBytes + 1, 'n');
  auto invite = [&](const std::string& user) {
    return std::vector<MemberWrite>{Expecting(MemberState::kNone, Row(room, user, MemberState::kInvited))};
  };
  EXPECT_TRUE(WriteMembers(*s, invite("ann"), most).ok());
  auto refused = WriteMembers(*s, invite("bob"), over);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(Briefs(*ReadMembers(*s, room)), ElementsAre(In(room, "ann", MemberState::kInvited)));
  RoomUpdate u;
  u.topic = "t";
  auto update = Call<RoomRecord>([&](auto cb) { s->UpdateRoom(room, u, over, cb); });
  EXPECT_EQ(update.status().code(), absl::StatusCode::kInvalidArgument) << update.status();
  auto del = Call<bool>([&](auto cb) { s->DeleteRoom(room, over, cb); });
  EXPECT_EQ(del.status().code(), absl::StatusCode::kInvalidArgument) << del.status();
  ASSERT_TRUE(Append(*s, room, "ann", "hi").ok());
  auto tomb = Call<StoredMessage>([&](auto cb) { s->DeleteMessage(room, 1, "", over, cb); });
  EXPECT_EQ(tomb.status().code(), absl::StatusCode::kInvalidArgument) << tomb.status();
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 1u);
  EXPECT_EQ((*rooms)[0].topic, "");
  EXPECT_FALSE(ReadAll(*s, room)->messages[0].deleted);
}

// ---------------------------------------------------------------------------
// The migration from the last release without membership

TYPED_TEST_P(StoreConformanceMembersTest, ADatabaseFromBeforeMembershipIsMigrated) {
  std::vector<LegacyRoom> legacy(3);
  legacy[0] = OldLobby("Carol");
  legacy[1].name = "old-system";  // made by chat-core itself
  legacy[2].name = "old-ghost";
  legacy[2].created_by = "nobody";  // no such user
  legacy[2].created_at_ms = 43;
  legacy[2].messages.push_back(StoredMessage{0, 0, "nobody", "boo", 7, ""});
  absl::Status made = this->factory_.MakePreMembershipDatabase(legacy, {"Carol", "dave"});
  if (absl::IsUnimplemented(made)) GTEST_SKIP() << made;
  ASSERT_TRUE(made.ok()) << made;

  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 3u);
  for (const RoomRecord& r : *rooms) {
    EXPECT_EQ(r.kind, RoomKind::kPublic) << r.name;
    EXPECT_EQ(r.topic, "") << r.name;
    EXPECT_FALSE(r.archived) << r.name;
  }
  const RoomRecord& lobby = (*rooms)[0];
  EXPECT_EQ(lobby.name, "old-lobby");
  EXPECT_EQ(lobby.created_by, "Carol");
  EXPECT_EQ(lobby.created_at_ms, 42);
  EXPECT_EQ(lobby.last_seq, 3);
  EXPECT_EQ((*rooms)[2].last_seq, 1);
  auto page = ReadAll(*s, lobby.id);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(Seqs(*page), ElementsAre(1, 2, 3));
  ExpectKeptMessages(*page, legacy[0].messages);
  // The creator who is a registered user owns the room; nobody else has a row.
  auto members = s->LoadMembers();
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_THAT(Briefs(*members), ElementsAre(In(lobby.id, "Carol", MemberState::kMember, Role::kOwner)));
  EXPECT_EQ((*members)[0].at_ms, 42);
  // Accounts are enabled; the counters and idempotency keys go on.
  auto dave = Call<UserRecord>([&](auto cb) { s->FindUser("dave", cb); });
  ASSERT_TRUE(dave.ok()) << dave.status();
  EXPECT_FALSE(dave->disabled);
  auto retry = Append(*s, lobby.id, "dave", "again", "c-2");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->message.seq, 2);
  EXPECT_EQ(Append(*s, lobby.id, "dave", "new")->message.seq, 4);
  // What this version added works on the old rooms.
  ASSERT_TRUE(WriteMembers(*s, {Expecting(MemberState::kNone, Row(lobby.id, "dave", MemberState::kBanned))}).ok());
  auto tomb = Call<StoredMessage>([&](auto cb) { s->DeleteMessage(lobby.id, 1, "Carol", "", cb); });
  ASSERT_TRUE(tomb.ok()) << tomb.status();
  // A new room's id is above every old one.
  auto fresh = CreateRoom(*s, "new");
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_GT(fresh->id, (*rooms)[2].id);
  s->Close();
  s = this->Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->LoadMembers()->size(), 2u);
  EXPECT_TRUE(ReadAll(*s, lobby.id)->messages[0].deleted);
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceMembersTest,
                            CreateRoomAsStoresKindTopicAndMembersTogether,
                            ARefusedCreateRoomAsStoresNoMembers,
                            WriteMembersAppliesOnlyWhatIsExpected,
                            WriteMembersIsAllOrNothing,
                            ConcurrentWritesWithTheSameExpectationOneWins,
                            ANoteOverTheBoundIsRefused,
                            ADatabaseFromBeforeMembershipIsMigrated);

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_MEMBERS_H_
