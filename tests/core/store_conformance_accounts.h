// Conformance, part 5: bots and display names, registration invites,
// webhooks, the author kind of messages, and the migration from the release
// before them (#29). See store_conformance.h.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_ACCOUNTS_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_ACCOUNTS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store_conformance_fixture.h"

namespace chat::core::conformance {

inline std::vector<std::string> Usernames(const std::vector<UserRecord>& users) {
  std::vector<std::string> out;
  for (const UserRecord& u : users) out.push_back(u.username);
  return out;
}

// ---------------------------------------------------------------------------
// Bots and display names

TYPED_TEST_P(StoreConformanceAccountsTest, BotsBelongToAUserAndKeepTheirFields) {
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    NewAccount alice = UserAccount("Alice", 7);
    alice.display_name = "Alice A.";
    auto a = CreateAccount(*s, alice);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_GT(a->id, 0);
    EXPECT_EQ(a->kind, AccountKind::kUser);
    EXPECT_EQ(a->display_name, "Alice A.");
    EXPECT_EQ(a->created_at_ms, 7);
    EXPECT_EQ(a->owner, "");
    auto bot = CreateAccount(*s, BotAccount("CI-Bot", "alice", 8));
    ASSERT_TRUE(bot.ok()) << bot.status();
    EXPECT_EQ(bot->kind, AccountKind::kBot);
    EXPECT_EQ(bot->owner, "Alice");  // as registered
    EXPECT_EQ(bot->password_hash, "");
    ASSERT_TRUE(CreateAccount(*s, BotAccount("zz-bot", "alice")).ok());
    ASSERT_TRUE(CreateAccount(*s, UserAccount("bob")).ok());
    ASSERT_TRUE(CreateAccount(*s, BotAccount("bobs-bot", "bob")).ok());
    // A bot needs a live user to own it: not a stranger, not a bot.
    EXPECT_EQ(CreateAccount(*s, BotAccount("lost", "nobody")).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(CreateAccount(*s, BotAccount("sub", "ci-bot")).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(FindUser(*s, "lost").status().code(), absl::StatusCode::kNotFound);
    // Any taken name, a bot's too.
    EXPECT_EQ(CreateAccount(*s, UserAccount("ci-bot")).status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(CreateAccount(*s, BotAccount("ALICE", "bob")).status().code(), absl::StatusCode::kAlreadyExists);
    auto renamed = Call<UserRecord>([&](auto cb) { s->SetDisplayName("ci-bot", "Build robot", cb); });
    ASSERT_TRUE(renamed.ok()) << renamed.status();
    EXPECT_EQ(renamed->display_name, "Build robot");
    EXPECT_EQ(renamed->username, "CI-Bot");
    EXPECT_EQ(Call<UserRecord>([&](auto cb) { s->SetDisplayName("nobody", "x", cb); }).status().code(),
              absl::StatusCode::kNotFound);
  }
  auto s = this->Open();  // all of it was stored
  ASSERT_NE(s, nullptr);
  auto bot = FindUser(*s, "ci-bot");
  ASSERT_TRUE(bot.ok()) << bot.status();
  EXPECT_EQ(bot->username, "CI-Bot");
  EXPECT_EQ(bot->kind, AccountKind::kBot);
  EXPECT_EQ(bot->owner, "Alice");
  EXPECT_EQ(bot->display_name, "Build robot");
  EXPECT_EQ(bot->created_at_ms, 8);
  EXPECT_FALSE(bot->deleted);
  auto alice = FindUser(*s, "alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->kind, AccountKind::kUser);
  EXPECT_EQ(alice->display_name, "Alice A.");
  EXPECT_EQ(alice->password_hash, "h");
  // FindUsers: the keys that exist, in key order, each once.
  auto some = Call<std::vector<UserRecord>>(
      [&](auto cb) { s->FindUsers({"zz-bot", "nobody", "alice", "ci-bot", "alice"}, cb); });
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_THAT(Usernames(*some), ElementsAre("Alice", "CI-Bot", "zz-bot"));
  EXPECT_EQ((*some)[1].owner, "Alice");
  auto none = Call<std::vector<UserRecord>>([&](auto cb) { s->FindUsers({}, cb); });
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  // ListBots: an owner's, or every bot, by key.
  auto mine = Call<std::vector<UserRecord>>([&](auto cb) { s->ListBots("alice", cb); });
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_THAT(Usernames(*mine), ElementsAre("CI-Bot", "zz-bot"));
  auto all = Call<std::vector<UserRecord>>([&](auto cb) { s->ListBots("", cb); });
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Usernames(*all), ElementsAre("bobs-bot", "CI-Bot", "zz-bot"));
  EXPECT_TRUE(Call<std::vector<UserRecord>>([&](auto cb) { s->ListBots("carol", cb); })->empty());
}

// ---------------------------------------------------------------------------
// Registration invites

TYPED_TEST_P(StoreConformanceAccountsTest, AnInviteCodeIsUsedOnceBeforeItExpires) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto invite = [&](const std::string& hash, int64_t expires) {
    return Call<bool>([&](auto cb) { s->CreateRegistrationInvite({hash, "admin", 10, expires}, cb); });
  };
  ASSERT_TRUE(invite(HashOf('1'), 10'000).ok());
  ASSERT_TRUE(invite(HashOf('2'), 1'000).ok());
  EXPECT_EQ(invite(HashOf('1'), 20'000).status().code(), absl::StatusCode::kAlreadyExists);
  auto with = [&](const std::string& name, const std::string& code, int64_t now) {
    NewAccount a = UserAccount(name, now);
    a.invite_code_hash = code;
    return CreateAccount(*s, a);
  };
  // A taken name does not use the code up.
  ASSERT_TRUE(CreateAccount(*s, UserAccount("taken")).ok());
  EXPECT_EQ(with("Taken", HashOf('1'), 500).status().code(), absl::StatusCode::kAlreadyExists);
  auto first = with("erin", HashOf('1'), 500);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->username, "erin");
  // Used, unknown, expired (at its expiry): refused, and nothing stored.
  for (auto [name, code, now] : {std::tuple{"frank", HashOf('1'), 600}, {"gina", HashOf('9'), 600},
                                  {"hal", HashOf('2'), 1'000}}) {
    auto refused = with(name, code, now);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << name << ": " << refused.status();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("invite code unknown, used or expired"));
    EXPECT_EQ(FindUser(*s, name).status().code(), absl::StatusCode::kNotFound) << name;
  }
  EXPECT_TRUE(with("hal", HashOf('2'), 999).ok());
}

TYPED_TEST_P(StoreConformanceAccountsTest, OneInviteUsedByManyAtOnceMakesOneAccount) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(Call<bool>([&](auto cb) { s->CreateRegistrationInvite({HashOf('i'), "admin", 1, 10'000}, cb); }).ok());
  constexpr int kTries = 8;
  std::vector<Reply<UserRecord>> replies(kTries);
  std::vector<std::thread> threads;
  for (int i = 0; i < kTries; ++i) {
    threads.emplace_back([&, i] {
      NewAccount a = UserAccount(absl::StrCat("racer", i), 5);
      a.invite_code_hash = HashOf('i');
      s->CreateAccount(a, replies[i].Callback());
    });
  }
  for (auto& t : threads) t.join();
  int made = 0;
  std::vector<std::string> keys;
  for (int i = 0; i < kTries; ++i) {
    auto r = replies[i].Wait();
    keys.push_back(absl::StrCat("racer", i));
    if (r.ok()) {
      ++made;
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
    }
  }
  EXPECT_EQ(made, 1);
  auto stored = Call<std::vector<UserRecord>>([&](auto cb) { s->FindUsers(keys, cb); });
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->size(), 1u);
}

// ---------------------------------------------------------------------------
// Webhooks

TYPED_TEST_P(StoreConformanceAccountsTest, WebhooksPostAsABotUntilRevoked) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto room = CreateRoom(*s, "alerts");
  ASSERT_TRUE(room.ok()) << room.status();
  ASSERT_TRUE(CreateAccount(*s, UserAccount("Alice")).ok());
  ASSERT_TRUE(CreateAccount(*s, UserAccount("bob")).ok());
  ASSERT_TRUE(CreateAccount(*s, BotAccount("CI-Bot", "alice")).ok());
  const std::string secret("\x01\x00\xff secret", 10);
  auto hook = [&](const std::string& id, int64_t room_id, const std::string& bot, const std::string& by) {
    WebhookRecord h{id, secret, room_id, bot, by, absl::StrCat("hook ", id), 77};
    return Call<WebhookRecord>([&](auto cb) { s->CreateWebhook(h, cb); });
  };
  auto made = hook("00000000000000b2", room->id, "ci-bot", "Alice");
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->bot, "CI-Bot");  // as registered
  ASSERT_TRUE(hook("00000000000000a1", room->id, "CI-Bot", "bob").ok());
  EXPECT_EQ(hook("00000000000000a1", room->id, "CI-Bot", "Alice").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(hook("00000000000000c3", room->id + 100, "CI-Bot", "Alice").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hook("00000000000000c3", room->id, "nobot", "Alice").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(hook("00000000000000c3", room->id, "bob", "Alice").status().code(), absl::StatusCode::kNotFound)
      << "a user is not a bot";
  auto found = Call<WebhookRecord>([&](auto cb) { s->FindWebhook("00000000000000b2", cb); });
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->secret_hash, secret);
  EXPECT_EQ(found->room_id, room->id);
  EXPECT_EQ(found->bot, "CI-Bot");
  EXPECT_EQ(found->created_by, "Alice");
  EXPECT_EQ(found->name, "hook 00000000000000b2");
  EXPECT_EQ(found->created_at_ms, 77);
  auto ids = [&](const std::string& by) {
    std::vector<std::string> out;
    auto list = Call<std::vector<WebhookRecord>>([&](auto cb) { s->ListWebhooks(by, cb); });
    EXPECT_TRUE(list.ok()) << list.status();
    for (const WebhookRecord& h : list.value_or(std::vector<WebhookRecord>{})) out.push_back(h.id);
    return out;
  };
  EXPECT_THAT(ids(""), ElementsAre("00000000000000a1", "00000000000000b2"));
  EXPECT_THAT(ids("alice"), ElementsAre("00000000000000b2"));
  EXPECT_THAT(ids("bob"), ElementsAre("00000000000000a1"));
  auto revoke = [&](const std::string& id) { return Call<bool>([&](auto cb) { s->RevokeWebhook(id, cb); }); };
  EXPECT_EQ(revoke("00000000000000b2").value_or(false), true);
  EXPECT_EQ(revoke("00000000000000b2").value_or(true), false);
  EXPECT_EQ(revoke("ffffffffffffffff").value_or(true), false);
  EXPECT_EQ(Call<WebhookRecord>([&](auto cb) { s->FindWebhook("00000000000000b2", cb); }).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(ids(""), ElementsAre("00000000000000a1"));
  // A revoked id is never given again.
  EXPECT_EQ(hook("00000000000000b2", room->id, "CI-Bot", "Alice").status().code(), absl::StatusCode::kAlreadyExists);
}

// ---------------------------------------------------------------------------
// The author kind of messages

TYPED_TEST_P(StoreConformanceAccountsTest, AMessageKeepsItsAuthorsKind) {
  int64_t room_id;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto room = CreateRoom(*s, "r");
    ASSERT_TRUE(room.ok()) << room.status();
    room_id = room->id;
    AppendRequest by_bot = Message(room_id, "ci-bot", "build ok", "b-1");
    by_bot.author_kind = AccountKind::kBot;
    auto sent = Append(*s, by_bot);
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_EQ(sent->message.author_kind, AccountKind::kBot);
    auto user = Append(*s, room_id, "ann", "thanks");
    ASSERT_TRUE(user.ok()) << user.status();
    EXPECT_EQ(user->message.author_kind, AccountKind::kUser);
    // A retry answers with the original, kind and all.
    auto again = Append(*s, by_bot);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->message.author_kind, AccountKind::kBot);
    AppendRequest third = Message(room_id, "ci-bot", "deploying");
    third.author_kind = AccountKind::kBot;
    ASSERT_TRUE(Append(*s, third).ok());
    auto tomb = Call<StoredMessage>([&](auto cb) { s->DeleteMessage(room_id, 3, "", "", cb); });
    ASSERT_TRUE(tomb.ok()) << tomb.status();
    EXPECT_EQ(tomb->author_kind, AccountKind::kBot);
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto page = ReadAll(*s, room_id);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(Seqs(*page), ElementsAre(1, 2, 3));
  EXPECT_EQ(page->messages[0].author_kind, AccountKind::kBot);
  EXPECT_EQ(page->messages[1].author_kind, AccountKind::kUser);
  EXPECT_EQ(page->messages[2].author_kind, AccountKind::kBot);
  EXPECT_TRUE(page->messages[2].deleted);
  auto latest = Read(*s, room_id, D::kLatest, 0, 1);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->messages[0].author_kind, AccountKind::kBot);
}

// ---------------------------------------------------------------------------
// The migration from the last release without bots and tokens

TYPED_TEST_P(StoreConformanceAccountsTest, ADatabaseFromBeforeBotsIsMigrated) {
  std::vector<LegacyRoom> legacy(1);
  legacy[0] = OldLobby("Carol");
  SessionRecord old_login;
  old_login.token_hash = HashOf('o');
  old_login.username = "Carol";
  old_login.created_at_ms = 20;
  old_login.expires_at_ms = 900'000;
  absl::Status made = this->factory_.MakePreAccountsDatabase(legacy, {"Carol", "dave"}, {old_login});
  if (absl::IsUnimplemented(made)) GTEST_SKIP() << made;
  ASSERT_TRUE(made.ok()) << made;

  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  // Accounts are users with their old fields.
  auto carol = FindUser(*s, "carol");
  ASSERT_TRUE(carol.ok()) << carol.status();
  EXPECT_EQ(carol->username, "Carol");
  EXPECT_EQ(carol->password_hash, "h");
  EXPECT_EQ(carol->kind, AccountKind::kUser);
  EXPECT_EQ(carol->owner, "");
  EXPECT_EQ(carol->display_name, "");
  EXPECT_FALSE(carol->deleted);
  EXPECT_EQ(carol->created_at_ms, 1);
  // The old session is a login session without a bound on renewal.
  auto loaded = s->LoadSessions(100);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  const SessionRecord& session = (*loaded)[0];
  EXPECT_EQ(session.token_hash, HashOf('o'));
  EXPECT_EQ(session.user_id, carol->id);
  EXPECT_EQ(session.username, "Carol");
  EXPECT_EQ(session.kind, CredentialKind::kLogin);
  EXPECT_EQ(session.account_kind, AccountKind::kUser);
  EXPECT_EQ(session.created_at_ms, 20);
  EXPECT_EQ(session.expires_at_ms, 900'000);
  EXPECT_EQ(session.max_expires_at_ms, 0);
  EXPECT_EQ(session.last_used_ms, 0);
  auto listed = Call<std::vector<SessionRecord>>([&](auto cb) { s->ListSessions("carol", 100, cb); });
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(HashesOf(*listed), ElementsAre(HashOf('o')));
  // Old messages are users'.
  auto rooms = s->LoadRooms();
  ASSERT_TRUE(rooms.ok()) << rooms.status();
  ASSERT_EQ(rooms->size(), 1u);
  auto page = ReadAll(*s, (*rooms)[0].id);
  ASSERT_TRUE(page.ok()) << page.status();
  ExpectKeptMessages(*page, legacy[0].messages);
  for (const StoredMessage& m : page->messages) EXPECT_EQ(m.author_kind, AccountKind::kUser);
  // What this version added works on the old rows.
  auto bot = CreateAccount(*s, BotAccount("carols-bot", "carol"));
  ASSERT_TRUE(bot.ok()) << bot.status();
  EXPECT_TRUE(CreateSession(*s, TokenOf(*bot, HashOf('t'), "ci")).value_or(false));
  AppendRequest by_bot = Message((*rooms)[0].id, "carols-bot", "hi");
  by_bot.author_kind = AccountKind::kBot;
  auto sent = Append(*s, by_bot);
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->message.seq, 4);
  auto renewed = Call<bool>([&](auto cb) { s->UpdateSessionUse(HashOf('o'), 950'000, 100, cb); });
  EXPECT_EQ(renewed.value_or(false), true);
  auto gone = Call<std::vector<std::string>>([&](auto cb) { s->DeleteUser("carol", cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ::testing::UnorderedElementsAre(HashOf('o'), HashOf('t')));
  s->Close();
  s = this->Open();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(FindUser(*s, "carol")->deleted);
  EXPECT_EQ(ReadAll(*s, (*rooms)[0].id)->messages[3].author_kind, AccountKind::kBot);
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceAccountsTest,
                            BotsBelongToAUserAndKeepTheirFields,
                            AnInviteCodeIsUsedOnceBeforeItExpires,
                            OneInviteUsedByManyAtOnceMakesOneAccount,
                            WebhooksPostAsABotUntilRevoked,
                            AMessageKeepsItsAuthorsKind,
                            ADatabaseFromBeforeBotsIsMigrated);

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_ACCOUNTS_H_
