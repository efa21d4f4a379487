// Conformance, part 2: accounts, sessions, schema versions, and errors,
// overload and Close. See store_conformance.h.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_LIFECYCLE_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_LIFECYCLE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store_conformance_fixture.h"

namespace chat::core::conformance {

// ---------------------------------------------------------------------------
// Accounts and sessions

TYPED_TEST_P(StoreConformanceLifecycleTest, UsersAreCreatedOnceAndFoundByKey) {
  int64_t alice_id;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto u = Call<UserRecord>([&](auto cb) { s->CreateUser("Alice", "alice", "$argon2id$x", 1, cb); });
    ASSERT_TRUE(u.ok()) << u.status();
    EXPECT_GT(u->id, 0);
    EXPECT_EQ(u->username, "Alice");
    EXPECT_EQ(u->password_hash, "$argon2id$x");
    alice_id = u->id;
    auto dup = Call<UserRecord>([&](auto cb) { s->CreateUser("ALICE", "alice", "h", 1, cb); });
    EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists) << dup.status();
    auto bob = Call<UserRecord>([&](auto cb) { s->CreateUser("bob", "bob", "h2", 1, cb); });
    ASSERT_TRUE(bob.ok()) << bob.status();
    EXPECT_NE(bob->id, alice_id);
    auto nobody = Call<UserRecord>([&](auto cb) { s->FindUser("nobody", cb); });
    EXPECT_EQ(nobody.status().code(), absl::StatusCode::kNotFound) << nobody.status();
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto found = Call<UserRecord>([&](auto cb) { s->FindUser("alice", cb); });
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->id, alice_id);
  EXPECT_EQ(found->username, "Alice");
  EXPECT_EQ(found->password_hash, "$argon2id$x");
}

TYPED_TEST_P(StoreConformanceLifecycleTest, SessionsLoadUntilTheyExpireOrAreRevoked) {
  const std::string live(32, 'a'), old(32, 'b'), revoked(32, 'c'), edge(32, 'd');
  int64_t user_id;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto u = Call<UserRecord>([&](auto cb) { s->CreateUser("Alice", "alice", "h", 1, cb); });
    ASSERT_TRUE(u.ok()) << u.status();
    user_id = u->id;
    const std::vector<SessionRecord> sessions = {{live, user_id, "Alice", 10'000},
                                                 {old, user_id, "Alice", 100},
                                                 {revoked, user_id, "Alice", 10'000},
                                                 {edge, user_id, "Alice", 1'000}};
    for (const SessionRecord& session : sessions) {
      auto r = Call<bool>([&](auto cb) { s->CreateSession(session, 1, cb); });
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(*r);
    }
    auto revoke = [&](const std::string& hash) {
      return Call<bool>([&](auto cb) { s->RevokeSession(hash, cb); });
    };
    auto find = [&](const std::string& hash, int64_t now_ms) {
      return Call<SessionRecord>([&](auto cb) { s->FindSession(hash, now_ms, cb); });
    };
    auto found = find(live, 500);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->user_id, user_id);
    EXPECT_EQ(found->username, "Alice");
    EXPECT_EQ(found->expires_at_ms, 10'000);
    EXPECT_EQ(find(old, 500).status().code(), absl::StatusCode::kNotFound);    // expired at 100
    EXPECT_EQ(find(live, 10'000).status().code(), absl::StatusCode::kNotFound);  // expires at now
    EXPECT_TRUE(find(revoked, 500).ok());
    EXPECT_EQ(revoke(revoked).value_or(false), true);
    EXPECT_EQ(find(revoked, 500).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(revoke(revoked).value_or(true), false);
    EXPECT_EQ(revoke(std::string(32, 'z')).value_or(true), false);
    // Expired at exactly now: gone.
    auto loaded = s->LoadSessions(1'000);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_EQ(loaded->size(), 1u);
    EXPECT_EQ((*loaded)[0].token_hash, live);
    EXPECT_EQ((*loaded)[0].user_id, user_id);
    EXPECT_EQ((*loaded)[0].username, "Alice");
    EXPECT_EQ((*loaded)[0].expires_at_ms, 10'000);
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  // The expired ones were deleted for good: an earlier clock does not bring
  // them back.
  auto loaded = s->LoadSessions(0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].token_hash, live);
  loaded = s->LoadSessions(10'000);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->empty());
}

TYPED_TEST_P(StoreConformanceLifecycleTest, ASessionNeedsAUserAndAFreshToken) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto u = Call<UserRecord>([&](auto cb) { s->CreateUser("Alice", "alice", "h", 1, cb); });
  ASSERT_TRUE(u.ok()) << u.status();
  const std::string hash(32, 'a');
  auto nobody = Call<bool>([&](auto cb) { s->CreateSession({hash, u->id + 1000, "x", 10}, 1, cb); });
  EXPECT_FALSE(nobody.ok());
  ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateSession({hash, u->id, "Alice", 10}, 1, cb); }).ok());
  auto again = Call<bool>([&](auto cb) { s->CreateSession({hash, u->id, "Alice", 20}, 1, cb); });
  EXPECT_FALSE(again.ok());
  auto loaded = s->LoadSessions(0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].expires_at_ms, 10);
}

TYPED_TEST_P(StoreConformanceLifecycleTest, TrimSessionsKeepsTheNewestOfAUser) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto alice = Call<UserRecord>([&](auto cb) { s->CreateUser("Alice", "alice", "h", 1, cb); });
  auto bob = Call<UserRecord>([&](auto cb) { s->CreateUser("Bob", "bob", "h", 1, cb); });
  ASSERT_TRUE(alice.ok() && bob.ok());
  // Alice's sessions a..e created at 1..5; bob's one must stay.
  std::vector<SessionRecord> mine;
  for (int i = 0; i < 5; ++i) {
    SessionRecord r{std::string(32, static_cast<char>('a' + i)), alice->id, "Alice", 10'000};
    ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateSession(r, i + 1, cb); }).ok());
    mine.push_back(r);
  }
  const SessionRecord bobs{std::string(32, 'z'), bob->id, "Bob", 10'000};
  ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateSession(bobs, 1, cb); }).ok());
  // `newest` stays even when older by creation time than the ones kept.
  auto gone = Call<std::vector<std::string>>([&](auto cb) { s->TrimSessions(mine[0], 3, cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ::testing::UnorderedElementsAre(mine[1].token_hash, mine[2].token_hash));
  auto again = Call<std::vector<std::string>>([&](auto cb) { s->TrimSessions(mine[4], 3, cb); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty());
  auto bad = Call<std::vector<std::string>>([&](auto cb) { s->TrimSessions(mine[4], 0, cb); });
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto loaded = s->LoadSessions(0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<std::string> left;
  for (const SessionRecord& r : *loaded) left.push_back(r.token_hash);
  EXPECT_THAT(left, ::testing::UnorderedElementsAre(mine[0].token_hash, mine[3].token_hash, mine[4].token_hash,
                                                   bobs.token_hash));
  auto found = Call<SessionRecord>([&](auto cb) { s->FindSession(mine[1].token_hash, 0, cb); });
  EXPECT_EQ(found.status().code(), absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConformanceLifecycleTest, DeleteExpiredSessionsLeavesTheLiveOnes) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto u = Call<UserRecord>([&](auto cb) { s->CreateUser("Alice", "alice", "h", 1, cb); });
  ASSERT_TRUE(u.ok()) << u.status();
  for (int64_t expires : {100, 200, 300}) {
    SessionRecord r{std::string(32, static_cast<char>('a' + expires / 100)), u->id, "Alice", expires};
    ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateSession(r, 1, cb); }).ok());
  }
  auto n = Call<int64_t>([&](auto cb) { s->DeleteExpiredSessions(200, cb); });
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  n = Call<int64_t>([&](auto cb) { s->DeleteExpiredSessions(200, cb); });
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  auto loaded = s->LoadSessions(0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].expires_at_ms, 300);
}

// ---------------------------------------------------------------------------
// Schema versions

TYPED_TEST_P(StoreConformanceLifecycleTest, AnOlderSchemaIsMigratedWithItsDataKept) {
  std::vector<LegacyRoom> legacy(2);
  legacy[0] = OldLobby("carol");
  legacy[1].name = "old-empty";
  absl::Status made = this->factory_.MakeOldSchemaDatabase(legacy);
  if (absl::IsUnimplemented(made)) GTEST_SKIP() << made;
  ASSERT_TRUE(made.ok()) << made;

  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 2u);
  const RoomRecord& lobby = (*rooms)[0];
  EXPECT_EQ(lobby.name, "old-lobby");
  EXPECT_EQ(lobby.created_by, "carol");
  EXPECT_EQ(lobby.created_at_ms, 42);
  EXPECT_EQ(lobby.last_seq, 3);
  EXPECT_EQ((*rooms)[1].name, "old-empty");
  EXPECT_EQ((*rooms)[1].last_seq, 0);
  auto page = ReadAll(*s, lobby.id);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(Seqs(*page), ElementsAre(1, 2, 3));
  ExpectKeptMessages(*page, legacy[0].messages);
  // The old messages' idempotency keys still hold, and the counters go on.
  auto retry = Append(*s, lobby.id, "dave", "again", "c-2");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->message.seq, 2);
  EXPECT_EQ(Append(*s, lobby.id, "dave", "new", "c-4")->message.seq, 4);
  EXPECT_EQ(Append(*s, (*rooms)[1].id, "dave", "first")->message.seq, 1);
  // What later schema versions added works too.
  auto u = Call<UserRecord>([&](auto cb) { s->CreateUser("Erin", "erin", "h", 1, cb); });
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateSession({"t", u->id, "Erin", 10}, 1, cb); }).ok());
  s->Close();
  s = this->Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->LoadRooms()->at(0).last_seq, 4);
}

TYPED_TEST_P(StoreConformanceLifecycleTest, ANewerSchemaIsRefused) {
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(CreateRoom(*s, "r").ok());
  }
  absl::Status marked = this->factory_.MarkSchemaNewer();
  if (absl::IsUnimplemented(marked)) GTEST_SKIP() << marked;
  ASSERT_TRUE(marked.ok()) << marked;
  auto s = this->factory_.Open({});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("newer"));
}

// ---------------------------------------------------------------------------
// Errors, overload and Close

TYPED_TEST_P(StoreConformanceLifecycleTest, AfterCloseEveryCallIsUnavailable) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  s->Close();
  auto unavailable = [](const absl::Status& st) { return absl::IsUnavailable(st); };
  EXPECT_PRED1(unavailable, s->LoadRooms().status());
  EXPECT_PRED1(unavailable, s->LoadSessions(0).status());
  EXPECT_PRED1(unavailable, CreateRoom(*s, "other").status());
  EXPECT_PRED1(unavailable, Append(*s, room, "u", "x").status());
  EXPECT_PRED1(unavailable, Read(*s, room, D::kLatest, 0, 10).status());
  EXPECT_PRED1(unavailable,
               Call<UserRecord>([&](auto cb) { s->CreateUser("a", "a", "h", 1, cb); }).status());
  EXPECT_PRED1(unavailable, Call<UserRecord>([&](auto cb) { s->FindUser("a", cb); }).status());
  EXPECT_PRED1(unavailable,
               Call<bool>([&](auto cb) { s->CreateSession({"t", 1, "a", 10}, 1, cb); }).status());
  EXPECT_PRED1(unavailable, Call<bool>([&](auto cb) { s->RevokeSession("t", cb); }).status());
  s->Close();  // idempotent
}

// Work accepted before Close is completed as usual before Close returns, and
// no callback runs after that.
TYPED_TEST_P(StoreConformanceLifecycleTest, CloseCompletesAcceptedWorkAndRunsNoCallbackAfter) {
  constexpr int kAppends = 1000;
  int64_t room;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    room = CreateRoom(*s, "r")->id;
    std::atomic<bool> closed{false};
    std::atomic<int> answered{0}, late{0}, failed{0};
    auto note = [&](const absl::Status& st) {
      if (closed.load()) late.fetch_add(1);
      if (!st.ok()) failed.fetch_add(1);
      answered.fetch_add(1);
    };
    for (int i = 0; i < kAppends; ++i) {
      s->Append(Message(room, "u", "x"), [&](absl::StatusOr<AppendResult> r) { note(r.status()); });
      if (i % 100 == 0) {
        HistoryQuery q;
        q.room_id = room;
        s->ReadHistory(q, [&](absl::StatusOr<HistoryPage> p) { note(p.status()); });
      }
    }
    s->CreateRoom("second", "u", 1, [&](absl::StatusOr<RoomRecord> r) { note(r.status()); });
    s->Close();
    closed = true;
    EXPECT_EQ(answered.load(), kAppends + kAppends / 100 + 1);
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(late.load(), 0);
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 2u);
  EXPECT_EQ((*rooms)[0].last_seq, kAppends);
}

// With the store's writes held up, appends beyond its bound are refused with
// UNAVAILABLE; those accepted are stored, gap-free, once the writes go on.
TYPED_TEST_P(StoreConformanceLifecycleTest, AppendsBeyondTheBoundAreRefused) {
  ConformanceOpenOptions options;
  options.max_queued_writes = 4;
  options.lock_timeout = absl::Minutes(2);
  auto s = this->Open(options);
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  constexpr int kMaxTries = 1000;
  std::vector<Reply<AppendResult>> replies(kMaxTries);
  int tried = 0;
  {
    auto lock = this->factory_.HoldWriteLock();
    ASSERT_TRUE(lock.ok()) << lock.status();
    for (; tried < kMaxTries; ++tried) {
      s->Append(Message(room, "u", absl::StrCat(tried)), replies[tried].Callback());
      // A refusal is usually answered at once; stop there.
      if (replies[tried].Arrived()) {
        ++tried;
        break;
      }
    }
  }
  int64_t stored = 0, refused = 0;
  for (int i = 0; i < tried; ++i) {
    auto r = replies[i].Wait();
    if (r.ok()) {
      EXPECT_EQ(r->message.seq, ++stored) << "append " << i;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0) << "a bound of 4 let " << tried << " appends wait";
  EXPECT_GT(stored, 0);
  EXPECT_THAT(Seqs(*ReadAll(*s, room)), ElementsAreArray(OneTo(stored)));
  EXPECT_EQ(Append(*s, room, "u", "after")->message.seq, stored + 1);
}

// A write that cannot commit fails with UNAVAILABLE and stores nothing; the
// seqs go on without a gap.
TYPED_TEST_P(StoreConformanceLifecycleTest, AWriteThatCannotCommitFailsAndStoresNothing) {
  ConformanceOpenOptions options;
  options.lock_timeout = absl::Milliseconds(200);
  auto s = this->Open(options);
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  ASSERT_EQ(Append(*s, room, "u", "1")->message.seq, 1);
  {
    auto lock = this->factory_.HoldWriteLock();
    ASSERT_TRUE(lock.ok()) << lock.status();
    auto failed = Append(*s, room, "u", "lost", "id-lost");
    EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
    auto room2 = CreateRoom(*s, "r2");
    EXPECT_EQ(room2.status().code(), absl::StatusCode::kUnavailable) << room2.status();
  }
  auto next = Append(*s, room, "u", "2", "id-lost");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(next->duplicate);
  EXPECT_EQ(next->message.seq, 2);
  auto page = ReadAll(*s, room);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Seqs(*page), ElementsAre(1, 2));
  EXPECT_EQ(page->messages[1].text, "2");
  EXPECT_TRUE(CreateRoom(*s, "r2").ok());
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceLifecycleTest,
                            UsersAreCreatedOnceAndFoundByKey,
                            SessionsLoadUntilTheyExpireOrAreRevoked,
                            ASessionNeedsAUserAndAFreshToken,
                            TrimSessionsKeepsTheNewestOfAUser,
                            DeleteExpiredSessionsLeavesTheLiveOnes,
                            AnOlderSchemaIsMigratedWithItsDataKept,
                            ANewerSchemaIsRefused,
                            AfterCloseEveryCallIsUnavailable,
                            CloseCompletesAcceptedWorkAndRunsNoCallbackAfter,
                            AppendsBeyondTheBoundAreRefused,
                            AWriteThatCannotCommitFailsAndStoresNothing);

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_LIFECYCLE_H_
