// Conformance, part 4: UpdateRoom, DeleteRoom, DeleteMessage (tombstones),
// SearchUsers and SetUserDisabled. See store_conformance.h.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_MODERATION_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_MODERATION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store_conformance_fixture.h"

namespace chat::core::conformance {

inline absl::StatusOr<RoomRecord> UpdateRoom(Store& s, int64_t room, std::optional<std::string> topic,
                                             std::optional<bool> archived) {
  RoomUpdate u;
  u.topic = std::move(topic);
  u.archived = archived;
  return Call<RoomRecord>([&](auto cb) { s.UpdateRoom(room, u, "note", std::move(cb)); });
}

inline absl::StatusOr<bool> DeleteRoom(Store& s, int64_t room) {
  return Call<bool>([&](auto cb) { s.DeleteRoom(room, "note", std::move(cb)); });
}

inline absl::StatusOr<StoredMessage> DeleteMessage(Store& s, int64_t room, int64_t seq, const std::string& only) {
  return Call<StoredMessage>([&](auto cb) { s.DeleteMessage(room, seq, only, "note", std::move(cb)); });
}

inline absl::StatusOr<std::vector<std::string>> SearchUsers(Store& s, const std::string& prefix, int limit = 50) {
  return Call<std::vector<std::string>>([&](auto cb) { s.SearchUsers(prefix, limit, std::move(cb)); });
}

inline absl::StatusOr<std::vector<std::string>> SetUserDisabled(Store& s, const std::string& key, bool disabled) {
  return Call<std::vector<std::string>>([&](auto cb) { s.SetUserDisabled(key, disabled, std::move(cb)); });
}

// ---------------------------------------------------------------------------
// UpdateRoom and DeleteRoom

TYPED_TEST_P(StoreConformanceModerationTest, UpdateRoomChangesOnlyWhatIsSet) {
  int64_t room;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto made = CreateRoomAs(*s, Spec("r", "alice", RoomKind::kPrivate, "first"), {}, {}, 77);
    ASSERT_TRUE(made.ok()) << made.status();
    room = made->id;
    ASSERT_TRUE(Append(*s, room, "alice", "one").ok());
    ASSERT_TRUE(Append(*s, room, "alice", "two").ok());
    auto r = UpdateRoom(*s, room, "second", std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->id, room);
    EXPECT_EQ(r->name, "r");
    EXPECT_EQ(r->created_by, "alice");
    EXPECT_EQ(r->created_at_ms, 77);
    EXPECT_EQ(r->last_seq, 2);
    EXPECT_EQ(r->kind, RoomKind::kPrivate);
    EXPECT_EQ(r->topic, "second");
    EXPECT_FALSE(r->archived);
    r = UpdateRoom(*s, room, std::nullopt, true);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->topic, "second");
    EXPECT_TRUE(r->archived);
    r = UpdateRoom(*s, room, std::nullopt, std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->topic, "second");
    EXPECT_TRUE(r->archived);
    r = UpdateRoom(*s, room, "", false);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->topic, "");
    EXPECT_FALSE(r->archived);
    r = UpdateRoom(*s, room, "third", true);
    ASSERT_TRUE(r.ok()) << r.status();
    auto missing = UpdateRoom(*s, room + 1000, "x", std::nullopt);
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 1u);
  EXPECT_EQ((*rooms)[0].topic, "third");
  EXPECT_TRUE((*rooms)[0].archived);
  EXPECT_EQ((*rooms)[0].kind, RoomKind::kPrivate);
  EXPECT_EQ((*rooms)[0].last_seq, 2);
}

TYPED_TEST_P(StoreConformanceModerationTest, DeleteRoomRemovesItsMessagesAndMembersAndFreesTheName) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t keep = CreateRoom(*s, "keep")->id;
  auto made = CreateRoomAs(*s, Spec("gone", "alice", RoomKind::kPrivate, "t"),
                           {Row(0, "alice", MemberState::kMember, Role::kOwner)});
  ASSERT_TRUE(made.ok()) << made.status();
  const int64_t room = made->id;
  ASSERT_TRUE(WriteMembers(*s, {Unchecked(Row(keep, "alice", MemberState::kMember, Role::kOwner))}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append(*s, room, "alice", absl::StrCat("m", i), absl::StrCat("c", i)).ok());
  ASSERT_TRUE(Append(*s, keep, "alice", "stays").ok());

  auto deleted = DeleteRoom(*s, room);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  auto again = DeleteRoom(*s, room);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kNotFound) << again.status();
  EXPECT_THAT(*ReadMembers(*s, room), ::testing::IsEmpty());
  EXPECT_THAT(Seqs(*ReadAll(*s, room)), ::testing::IsEmpty());
  auto late = Append(*s, room, "alice", "late");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kNotFound) << late.status();
  auto write = WriteMembers(*s, {Unchecked(Row(room, "bob", MemberState::kMember, Role::kMember))});
  EXPECT_EQ(write.status().code(), absl::StatusCode::kNotFound) << write.status();
  EXPECT_EQ(DeleteMessage(*s, room, 1, "").status().code(), absl::StatusCode::kNotFound);
  // The other room is untouched.
  EXPECT_THAT(Seqs(*ReadAll(*s, keep)), ElementsAre(1));
  EXPECT_THAT(Briefs(*s->LoadMembers()), ElementsAre(Brief(Row(keep, "alice", MemberState::kMember, Role::kOwner))));

  // The name is free again, for a new room with a new id that starts afresh
  // (an old client_msg_id is new there).
  auto reborn = CreateRoom(*s, "gone", "bob");
  ASSERT_TRUE(reborn.ok()) << reborn.status();
  EXPECT_NE(reborn->id, room);
  EXPECT_EQ(reborn->kind, RoomKind::kPublic);
  auto first = Append(*s, reborn->id, "alice", "again", "c0");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->duplicate);
  EXPECT_EQ(first->message.seq, 1);
  s->Close();
  s = this->Open();
  ASSERT_NE(s, nullptr);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 2u);
  EXPECT_EQ((*rooms)[1].name, "gone");
  EXPECT_EQ((*rooms)[1].last_seq, 1);
  EXPECT_EQ((*rooms)[1].topic, "");
  // The id of the last room deleted is not given to the next one either.
  ASSERT_TRUE(DeleteRoom(*s, reborn->id).ok());
  auto next = CreateRoom(*s, "next");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(next->id, reborn->id);
}

// ---------------------------------------------------------------------------
// DeleteMessage

TYPED_TEST_P(StoreConformanceModerationTest, DeleteMessageLeavesATombstone) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t room = CreateRoom(*s, "r")->id;
  ASSERT_TRUE(Append(*s, Message(room, "alice", "one", "c1", 101)).ok());
  ASSERT_TRUE(Append(*s, Message(room, "alice", "two", "c2", 102)).ok());
  ASSERT_TRUE(Append(*s, Message(room, "bob", "three", "", 103)).ok());
  // Only its author, when one is named.
  auto denied = DeleteMessage(*s, room, 3, "alice");
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied) << denied.status();
  EXPECT_EQ(ReadAll(*s, room)->messages[2].text, "three");
  auto t = DeleteMessage(*s, room, 2, "alice");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->room_id, room);
  EXPECT_EQ(t->seq, 2);
  EXPECT_EQ(t->author, "alice");
  EXPECT_EQ(t->text, "");
  EXPECT_EQ(t->sent_at_ms, 102);
  EXPECT_EQ(t->client_msg_id, "c2");
  EXPECT_TRUE(t->deleted);
  // Anyone's, when none is (a moderator).
  ASSERT_TRUE(DeleteMessage(*s, room, 3, "").ok());
  // Again: fine, and nothing changes.
  auto again = DeleteMessage(*s, room, 2, "alice");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->deleted);
  EXPECT_EQ(again->sent_at_ms, 102);
  EXPECT_EQ(DeleteMessage(*s, room, 2, "").status().code(), absl::StatusCode::kOk);
  for (auto [r, seq] : {std::pair<int64_t, int64_t>{room, 4}, {room, 0}, {room + 1000, 1}}) {
    auto missing = DeleteMessage(*s, r, seq, "");
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  }
  // History keeps the tombstones in their places.
  auto page = ReadAll(*s, room);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(Seqs(*page), ElementsAre(1, 2, 3));
  EXPECT_FALSE(page->messages[0].deleted);
  EXPECT_EQ(page->messages[0].text, "one");
  for (int i : {1, 2}) {
    EXPECT_TRUE(page->messages[i].deleted);
    EXPECT_EQ(page->messages[i].text, "");
  }
  EXPECT_EQ(page->messages[2].author, "bob");
  EXPECT_EQ(page->messages[2].sent_at_ms, 103);
  auto latest = Read(*s, room, D::kLatest, 0, 2);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_THAT(Seqs(*latest), ElementsAre(2, 3));
  EXPECT_TRUE(latest->has_more);
  // A retry of a deleted message is still its duplicate; seqs go on.
  auto retry = Append(*s, room, "alice", "two", "c2");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->message.seq, 2);
  EXPECT_EQ(Append(*s, room, "alice", "four")->message.seq, 4);
  s->Close();
  s = this->Open();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(ReadAll(*s, room)->messages[1].deleted);
}

// ---------------------------------------------------------------------------
// SearchUsers and SetUserDisabled

TYPED_TEST_P(StoreConformanceModerationTest, SearchUsersMatchesAKeyPrefixLiterally) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  for (const char* name : {"Alice", "alan", "al_x", "al%y", "alz", "bob", "xal", "a_b", "al\\z"}) {
    ASSERT_TRUE(CreateUser(*s, name).ok()) << name;
  }
  // Sorted by key, in byte order ('%' < '\\' < '_' < 'a'), as registered.
  EXPECT_THAT(*SearchUsers(*s, "al"), ElementsAre("al%y", "al\\z", "al_x", "alan", "Alice", "alz"));
  // '_' and '%' are themselves, not wildcards.
  EXPECT_THAT(*SearchUsers(*s, "al_"), ElementsAre("al_x"));
  EXPECT_THAT(*SearchUsers(*s, "al%"), ElementsAre("al%y"));
  EXPECT_THAT(*SearchUsers(*s, "a_"), ElementsAre("a_b"));
  EXPECT_THAT(*SearchUsers(*s, "al\\"), ElementsAre("al\\z"));
  EXPECT_THAT(*SearchUsers(*s, "ali"), ElementsAre("Alice"));
  EXPECT_THAT(*SearchUsers(*s, "alice"), ElementsAre("Alice"));
  EXPECT_THAT(*SearchUsers(*s, "al", 2), ElementsAre("al%y", "al\\z"));
  EXPECT_THAT(*SearchUsers(*s, "alicex"), ::testing::IsEmpty());
  EXPECT_THAT(*SearchUsers(*s, "zz"), ::testing::IsEmpty());
  EXPECT_THAT(*SearchUsers(*s, "", 3), ElementsAre("a_b", "al%y", "al\\z"));
  auto bad = SearchUsers(*s, "al", 0);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

TYPED_TEST_P(StoreConformanceModerationTest, DisablingAUserRevokesTheirSessionsForGood) {
  const std::string a1(32, 'a'), a2(32, 'b'), b1(32, 'c');
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto alice = CreateUser(*s, "Alice");
    auto bob = CreateUser(*s, "bob");
    ASSERT_TRUE(alice.ok() && bob.ok());
    EXPECT_FALSE(alice->disabled);
    for (const SessionRecord& r : {SessionRecord{a1, alice->id, "Alice", 10'000},
                                   SessionRecord{a2, alice->id, "Alice", 10'000},
                                   SessionRecord{b1, bob->id, "bob", 10'000}}) {
      ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateSession(r, 1, cb); }).ok());
    }
    auto gone = SetUserDisabled(*s, "alice", true);
    ASSERT_TRUE(gone.ok()) << gone.status();
    EXPECT_THAT(*gone, ::testing::UnorderedElementsAre(a1, a2));
    auto found = Call<UserRecord>([&](auto cb) { s->FindUser("alice", cb); });
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_TRUE(found->disabled);
    EXPECT_EQ(found->username, "Alice");
    EXPECT_FALSE(Call<UserRecord>([&](auto cb) { s->FindUser("bob", cb); })->disabled);
    for (const std::string& t : {a1, a2}) {
      auto session = Call<SessionRecord>([&](auto cb) { s->FindSession(t, 0, cb); });
      EXPECT_EQ(session.status().code(), absl::StatusCode::kNotFound) << session.status();
      // Revoked before: there is nothing left to revoke.
      EXPECT_FALSE(*Call<bool>([&](auto cb) { s->RevokeSession(t, cb); }));
    }
    EXPECT_TRUE(Call<SessionRecord>([&](auto cb) { s->FindSession(b1, 0, cb); }).ok());
    // Disabled again: nothing more to revoke.
    EXPECT_THAT(*SetUserDisabled(*s, "alice", true), ::testing::IsEmpty());
    auto nobody = SetUserDisabled(*s, "nobody", true);
    EXPECT_EQ(nobody.status().code(), absl::StatusCode::kNotFound) << nobody.status();
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto loaded = s->LoadSessions(0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].token_hash, b1);
  EXPECT_TRUE(Call<UserRecord>([&](auto cb) { s->FindUser("alice", cb); })->disabled);
  // Enabled again: logins work, the old sessions stay gone.
  auto back = SetUserDisabled(*s, "alice", false);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(*back, ::testing::IsEmpty());
  EXPECT_FALSE(Call<UserRecord>([&](auto cb) { s->FindUser("alice", cb); })->disabled);
  EXPECT_EQ(Call<SessionRecord>([&](auto cb) { s->FindSession(a1, 0, cb); }).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(s->LoadSessions(0)->size(), 1u);
}

TYPED_TEST_P(StoreConformanceModerationTest, AfterCloseTheNewCallsAreUnavailable) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  const int64_t room = CreateRoom(*s, "r")->id;
  s->Close();
  auto unavailable = [](const absl::Status& st) { return absl::IsUnavailable(st); };
  EXPECT_PRED1(unavailable, s->LoadMembers().status());
  EXPECT_PRED1(unavailable, ReadMembers(*s, room).status());
  EXPECT_PRED1(unavailable, CreateRoomAs(*s, Spec("p", "a", RoomKind::kPrivate), {}).status());
  EXPECT_PRED1(unavailable, WriteMembers(*s, {Unchecked(Row(room, "a", MemberState::kInvited))}).status());
  EXPECT_PRED1(unavailable, UpdateRoom(*s, room, "t", std::nullopt).status());
  EXPECT_PRED1(unavailable, DeleteRoom(*s, room).status());
  EXPECT_PRED1(unavailable, DeleteMessage(*s, room, 1, "").status());
  EXPECT_PRED1(unavailable, SearchUsers(*s, "a").status());
  EXPECT_PRED1(unavailable, SetUserDisabled(*s, "a", true).status());
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceModerationTest,
                            UpdateRoomChangesOnlyWhatIsSet,
                            DeleteRoomRemovesItsMessagesAndMembersAndFreesTheName,
                            DeleteMessageLeavesATombstone,
                            SearchUsersMatchesAKeyPrefixLiterally,
                            DisablingAUserRevokesTheirSessionsForGood,
                            AfterCloseTheNewCallsAreUnavailable);

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_MODERATION_H_
