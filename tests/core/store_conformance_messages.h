// Conformance, part 1: rooms, appends (seq, order, durability), idempotency
// and history paging. See store_conformance.h.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_MESSAGES_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_MESSAGES_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "store_conformance_fixture.h"

namespace chat::core::conformance {

// ---------------------------------------------------------------------------
// Rooms

TYPED_TEST_P(StoreConformanceMessagesTest, CreateRoomReturnsItAndRefusesATakenName) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto a = CreateRoom(*s, "lobby", "alice", 1234);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_GT(a->id, 0);
  EXPECT_EQ(a->name, "lobby");
  EXPECT_EQ(a->created_by, "alice");
  EXPECT_EQ(a->created_at_ms, 1234);
  EXPECT_EQ(a->last_seq, 0);
  auto taken = CreateRoom(*s, "lobby", "bob");
  EXPECT_EQ(taken.status().code(), absl::StatusCode::kAlreadyExists) << taken.status();
  // Names compare byte for byte.
  auto b = CreateRoom(*s, "Lobby");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(b->id, a->id);
}

// The attack: one user creates rooms in a loop; the store refuses past the
// creator's rate and past the global cap, and nobody else is held back.
TYPED_TEST_P(StoreConformanceMessagesTest, RoomQuotaRefusesPastTheCreatorsRateAndTheCap) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  RoomQuota quota;
  quota.max_rooms = 6;
  quota.per_creator = 2;
  quota.window_ms = 1000;
  auto create = [&](const std::string& name, const std::string& by, int64_t now_ms) {
    return Call<RoomRecord>([&](auto cb) { s->CreateRoomWithin(name, by, now_ms, quota, std::move(cb)); });
  };
  ASSERT_TRUE(create("a1", "alice", 10'000).ok());
  ASSERT_TRUE(create("a2", "alice", 10'100).ok());
  auto third = create("a3", "alice", 10'200);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted) << third.status();
  EXPECT_THAT(std::string(third.status().message()), ::testing::HasSubstr("at most 2 per user"));
  // A taken name is ALREADY_EXISTS, whatever the quota.
  EXPECT_EQ(create("a1", "alice", 10'200).status().code(), absl::StatusCode::kAlreadyExists);
  // Another user is not held back; chat-core itself ("") has no rate.
  ASSERT_TRUE(create("b1", "bob", 10'200).ok());
  ASSERT_TRUE(create("sys1", "", 10'200).ok());
  ASSERT_TRUE(create("sys2", "", 10'200).ok());
  // Once the window has passed alice's first room, she may create again...
  ASSERT_TRUE(create("a3", "alice", 11'050).ok());
  // ...but now there are 6 rooms: the cap refuses everyone.
  auto capped = create("b2", "bob", 11'100);
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kResourceExhausted) << capped.status();
  EXPECT_THAT(std::string(capped.status().message()), ::testing::HasSubstr("at most 6 rooms"));
  auto loaded = s->LoadRooms();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->size(), 6u);
  // Without a quota the store is as before.
  EXPECT_TRUE(CreateRoom(*s, "free", "bob").ok());
}

TYPED_TEST_P(StoreConformanceMessagesTest, RoomQuotaIsExactForCreatesInFlightTogether) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  RoomQuota quota;
  quota.max_rooms = 7;
  std::vector<Reply<RoomRecord>> replies(20);
  for (size_t i = 0; i < replies.size(); ++i) {
    s->CreateRoomWithin(absl::StrCat("r", i), absl::StrCat("u", i), 1, quota, replies[i].Callback());
  }
  int made = 0, refused = 0;
  for (auto& r : replies) {
    auto room = r.Wait();
    if (room.ok()) {
      ++made;
    } else {
      EXPECT_EQ(room.status().code(), absl::StatusCode::kResourceExhausted) << room.status();
      ++refused;
    }
  }
  EXPECT_EQ(made, 7);
  EXPECT_EQ(refused, 13);
}

TYPED_TEST_P(StoreConformanceMessagesTest, LoadRoomsListsRoomsInCreationOrderWithLastSeq) {
  std::vector<RoomRecord> made;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    for (const char* name : {"c", "a", "b"}) {
      auto r = CreateRoom(*s, name, absl::StrCat("by-", name), 100 + made.size());
      ASSERT_TRUE(r.ok()) << r.status();
      made.push_back(*r);
    }
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(Append(*s, made[0].id, "u", "x").ok());
    ASSERT_TRUE(Append(*s, made[2].id, "u", "x").ok());
    made[0].last_seq = 2;
    made[2].last_seq = 1;
    auto loaded = s->LoadRooms();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_EQ(loaded->size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*loaded)[i].last_seq, made[i].last_seq) << i;
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto loaded = s->LoadRooms();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const RoomRecord& r = (*loaded)[i];
    EXPECT_EQ(r.id, made[i].id);
    EXPECT_EQ(r.name, made[i].name);
    EXPECT_EQ(r.created_by, made[i].created_by);
    EXPECT_EQ(r.created_at_ms, made[i].created_at_ms);
    EXPECT_EQ(r.last_seq, made[i].last_seq) << r.name;
  }
  // The counters go on from there.
  EXPECT_EQ(Append(*s, made[0].id, "u", "x")->message.seq, 3);
  EXPECT_EQ(Append(*s, made[1].id, "u", "x")->message.seq, 1);
}

// ---------------------------------------------------------------------------
// Append

TYPED_TEST_P(StoreConformanceMessagesTest, SeqsStartAtOneAndCountPerRoom) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t a = CreateRoom(*s, "a")->id;
  int64_t b = CreateRoom(*s, "b")->id;
  const std::string text = "h\xC3\xA9llo \xF0\x9F\x91\x8B, \"quoted\"\nline";
  auto first = Append(*s, Message(a, "alice", text, "m-1", 777));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->duplicate);
  const StoredMessage& m = first->message;
  EXPECT_EQ(m.room_id, a);
  EXPECT_EQ(m.seq, 1);
  EXPECT_EQ(m.author, "alice");
  EXPECT_EQ(m.text, text);
  EXPECT_EQ(m.sent_at_ms, 777);
  EXPECT_EQ(m.client_msg_id, "m-1");
  EXPECT_EQ(Append(*s, a, "bob", "2")->message.seq, 2);
  EXPECT_EQ(Append(*s, b, "bob", "1")->message.seq, 1);
  EXPECT_EQ(Append(*s, a, "bob", "3")->message.seq, 3);
  auto page = ReadAll(*s, a);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(Seqs(*page), ElementsAre(1, 2, 3));
  const StoredMessage& stored = page->messages[0];
  EXPECT_EQ(stored.room_id, a);
  EXPECT_EQ(stored.author, "alice");
  EXPECT_EQ(stored.text, text);
  EXPECT_EQ(stored.sent_at_ms, 777);
  EXPECT_EQ(stored.client_msg_id, "m-1");
}

TYPED_TEST_P(StoreConformanceMessagesTest, AppendToAnUnknownRoomIsNotFoundAndUsesNoSeq) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  ASSERT_EQ(Append(*s, room, "u", "1")->message.seq, 1);
  auto missing = Append(*s, room + 1000, "u", "x");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_EQ(Append(*s, room, "u", "2")->message.seq, 2);
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  EXPECT_EQ(rooms->size(), 1u);
}

// Of two appends to one room, the one called first gets the lower seq, even
// when the caller does not wait for the first (the hub sends in that order).
TYPED_TEST_P(StoreConformanceMessagesTest, AppendsCalledInTurnGetSeqsInThatOrder) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  std::vector<Reply<AppendResult>> replies;
  while (replies.size() < 300) {
    const int i = static_cast<int>(replies.size());
    s->Append(Message(room, "u", absl::StrCat(i)), replies.emplace_back().Callback());
  }
  for (int i = 0; i < static_cast<int>(replies.size()); ++i) {
    auto r = replies[i].Wait();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->message.seq, i + 1);
    EXPECT_EQ(r->message.text, absl::StrCat(i));
  }
}

TYPED_TEST_P(StoreConformanceMessagesTest, ConcurrentAppendsStayGapFreeAndCompleteInSeqOrder) {
  std::vector<int64_t> rooms;
  constexpr int kThreads = 4, kPer = 500;
  absl::Mutex mu;
  std::map<int64_t, std::vector<int64_t>> completed;  // guarded by mu
  int failures = 0;                                   // guarded by mu
  std::map<int64_t, std::atomic<int>> running;         // callbacks running per room
  std::atomic<bool> overlapped{false};
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 4; ++i) rooms.push_back(CreateRoom(*s, absl::StrCat("r", i))->id);
    for (int64_t room : rooms) running[room].store(0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPer; ++i) {
          int64_t room = rooms[(t + i) % rooms.size()];
          s->Append(Message(room, absl::StrCat("u", t), "m"), [&, room](absl::StatusOr<AppendResult> r) {
            if (running.at(room).fetch_add(1) != 0) overlapped = true;
            {
              absl::MutexLock lock(&mu);
              if (r.ok()) {
                completed[room].push_back(r->message.seq);
              } else {
                ++failures;
              }
            }
            running.at(room).fetch_sub(1);
          });
        }
      });
    }
    for (auto& t : threads) t.join();
    auto all_done = [&] {
      mu.AssertHeld();
      size_t n = failures;
      for (auto& [room, seqs] : completed) n += seqs.size();
      return n == static_cast<size_t>(kThreads * kPer);
    };
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_done), kReplyDeadline));
    EXPECT_EQ(failures, 0);
    EXPECT_FALSE(overlapped) << "two callbacks of one room ran at the same time";
    for (auto& [room, seqs] : completed) {
      EXPECT_THAT(seqs, ElementsAreArray(OneTo(seqs.size()))) << "room " << room;
    }
  }
  // All of it is there after a reopen.
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto loaded = s->LoadRooms();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::MutexLock lock(&mu);
  for (const RoomRecord& r : *loaded) {
    EXPECT_EQ(r.last_seq, static_cast<int64_t>(completed[r.id].size())) << r.name;
    auto page = ReadAll(*s, r.id);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_THAT(Seqs(*page), ElementsAreArray(OneTo(completed[r.id].size())));
  }
}

// When done runs, the message is committed: another store opened on the same
// database, while the first still runs, reads it.
TYPED_TEST_P(StoreConformanceMessagesTest, AnAppendIsDurableBeforeItsCallback) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  for (int i = 1; i <= 3; ++i) {
    auto r = Append(*s, room, "u", absl::StrCat("m", i));
    ASSERT_TRUE(r.ok()) << r.status();
    // And the writer's own store reads it at once.
    auto page = Read(*s, room, D::kLatest, 0, 1);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_THAT(Seqs(*page), ElementsAre(i));
  }
  auto other = this->Open();
  ASSERT_NE(other, nullptr);
  auto page = ReadAll(*other, room);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Seqs(*page), ElementsAre(1, 2, 3));
  EXPECT_EQ(page->messages[2].text, "m3");
}

// ---------------------------------------------------------------------------
// Idempotency

TYPED_TEST_P(StoreConformanceMessagesTest, ARepeatedClientMsgIdGetsTheOriginalBack) {
  int64_t room, other_room;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    room = CreateRoom(*s, "r")->id;
    other_room = CreateRoom(*s, "other")->id;
    auto first = Append(*s, Message(room, "alice", "hello", "id-1", 100));
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_FALSE(first->duplicate);
    auto again = Append(*s, Message(room, "alice", "hello (retry)", "id-1", 200));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->message.seq, 1);
    EXPECT_EQ(again->message.text, "hello");
    EXPECT_EQ(again->message.sent_at_ms, 100);
    EXPECT_EQ(again->message.author, "alice");
    EXPECT_EQ(again->message.client_msg_id, "id-1");
    // Another author, or another room, may use the same id.
    auto bob = Append(*s, room, "bob", "hi", "id-1");
    EXPECT_FALSE(bob->duplicate);
    EXPECT_EQ(bob->message.seq, 2);
    auto elsewhere = Append(*s, other_room, "alice", "hi", "id-1");
    EXPECT_FALSE(elsewhere->duplicate);
    EXPECT_EQ(elsewhere->message.seq, 1);
    EXPECT_THAT(Seqs(*ReadAll(*s, room)), ElementsAre(1, 2));
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto again = Append(*s, room, "alice", "hello", "id-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->message.seq, 1);
  EXPECT_EQ(again->message.text, "hello");
  EXPECT_EQ(Append(*s, room, "alice", "new", "id-2")->message.seq, 3);
  EXPECT_THAT(Seqs(*ReadAll(*s, room)), ElementsAre(1, 2, 3));
}

TYPED_TEST_P(StoreConformanceMessagesTest, AnEmptyClientMsgIdNeverDeduplicates) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  for (int i = 1; i <= 3; ++i) {
    auto r = Append(*s, room, "alice", "same", "");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->duplicate);
    EXPECT_EQ(r->message.seq, i);
  }
}

TYPED_TEST_P(StoreConformanceMessagesTest, CopiesInFlightTogetherAreStoredOnce) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t room = CreateRoom(*s, "r")->id;
  constexpr int kCopies = 20;
  std::vector<Reply<AppendResult>> replies(kCopies);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kCopies; i += 4) s->Append(Message(room, "alice", "x", "same"), replies[i].Callback());
    });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  for (auto& reply : replies) {
    auto r = reply.Wait();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->message.seq, 1);
    fresh += r->duplicate ? 0 : 1;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_THAT(Seqs(*ReadAll(*s, room)), ElementsAre(1));
}

// ---------------------------------------------------------------------------
// History

TYPED_TEST_P(StoreConformanceMessagesTest, HistoryPagesBothWays) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  int64_t empty = CreateRoom(*s, "empty")->id;
  int64_t room = CreateRoom(*s, "r")->id;
  for (int64_t r : {empty, room + 1000}) {  // empty, and unknown
    for (D d : {D::kLatest, D::kBefore, D::kAfter}) {
      auto p = Read(*s, r, d, d == D::kBefore ? 5 : 0, 10);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_TRUE(p->messages.empty());
      EXPECT_FALSE(p->has_more);
    }
  }
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(Append(*s, room, "u", absl::StrCat(i)).ok());
  auto check = [&](D dir, int64_t cursor, int limit, int64_t max_seq,
                   std::vector<int64_t> want, bool has_more) {
    auto p = Read(*s, room, dir, cursor, limit, max_seq);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(Seqs(*p), want) << "dir " << static_cast<int>(dir) << " cursor " << cursor
                              << " limit " << limit << " max_seq " << max_seq;
    EXPECT_EQ(p->has_more, has_more) << "dir " << static_cast<int>(dir) << " cursor " << cursor
                                     << " limit " << limit << " max_seq " << max_seq;
  };
  // Latest, then walking back.
  check(D::kLatest, 0, 10, 0, OneTo(10), false);
  check(D::kLatest, 0, 11, 0, OneTo(10), false);
  check(D::kLatest, 0, 4, 0, {7, 8, 9, 10}, true);
  check(D::kBefore, 7, 4, 0, {3, 4, 5, 6}, true);
  check(D::kBefore, 3, 4, 0, {1, 2}, false);
  check(D::kBefore, 5, 4, 0, {1, 2, 3, 4}, false);
  check(D::kBefore, 1, 4, 0, {}, false);
  check(D::kBefore, 100, 1, 0, {10}, true);
  // Forward.
  check(D::kAfter, 0, 4, 0, {1, 2, 3, 4}, true);
  check(D::kAfter, 6, 4, 0, {7, 8, 9, 10}, false);
  check(D::kAfter, 9, 4, 0, {10}, false);
  check(D::kAfter, 10, 4, 0, {}, false);
  check(D::kAfter, 0, 1, 0, {1}, true);
  // Bounded by max_seq, in every direction.
  check(D::kAfter, 2, 100, 5, {3, 4, 5}, false);
  check(D::kAfter, 2, 2, 5, {3, 4}, true);
  check(D::kAfter, 2, 3, 5, {3, 4, 5}, false);
  check(D::kLatest, 0, 3, 5, {3, 4, 5}, true);
  check(D::kLatest, 0, 5, 5, OneTo(5), false);
  check(D::kBefore, 8, 2, 5, {4, 5}, true);
  check(D::kBefore, 3, 2, 5, {1, 2}, false);
  // A limit below 1 is a caller's mistake.
  for (int limit : {0, -1}) {
    auto p = Read(*s, room, D::kLatest, 0, limit);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << p.status();
  }
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceMessagesTest,
                            CreateRoomReturnsItAndRefusesATakenName,
                            RoomQuotaRefusesPastTheCreatorsRateAndTheCap,
                            RoomQuotaIsExactForCreatesInFlightTogether,
                            LoadRoomsListsRoomsInCreationOrderWithLastSeq,
                            SeqsStartAtOneAndCountPerRoom,
                            AppendToAnUnknownRoomIsNotFoundAndUsesNoSeq,
                            AppendsCalledInTurnGetSeqsInThatOrder,
                            ConcurrentAppendsStayGapFreeAndCompleteInSeqOrder,
                            AnAppendIsDurableBeforeItsCallback,
                            ARepeatedClientMsgIdGetsTheOriginalBack,
                            AnEmptyClientMsgIdNeverDeduplicates,
                            CopiesInFlightTogetherAreStoredOnce,
                            HistoryPagesBothWays);

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_MESSAGES_H_
