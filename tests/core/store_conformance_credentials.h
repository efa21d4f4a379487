// Conformance, part 6: login sessions and API tokens in one table (#29):
// every field stored, token names, TrimSessions, ListSessions,
// UpdateSessionUse, SetPassword and DeleteUser. See store_conformance.h.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_CREDENTIALS_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_CREDENTIALS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store_conformance_fixture.h"

namespace chat::core::conformance {

using ::testing::UnorderedElementsAre;

inline absl::StatusOr<std::vector<SessionRecord>> ListSessions(Store& s, const std::string& key, int64_t now_ms = 100) {
  return Call<std::vector<SessionRecord>>([&](auto cb) { s.ListSessions(key, now_ms, cb); });
}

TYPED_TEST_P(StoreConformanceCredentialsTest, EveryFieldOfASessionIsStored) {
  UserRecord bot;
  SessionRecord token, login;
  {
    auto s = this->Open();
    ASSERT_NE(s, nullptr);
    auto alice = CreateAccount(*s, UserAccount("Alice"));
    ASSERT_TRUE(alice.ok()) << alice.status();
    auto b = CreateAccount(*s, BotAccount("CI-Bot", "alice"));
    ASSERT_TRUE(b.ok()) << b.status();
    bot = *b;
    token = TokenOf(bot, HashOf('t'), "deploy", 30, 5'000'000);
    token.rooms = {"alerts", "ops room"};
    token.actions = kTokenRead | kTokenPost;
    token.created_by = "Alice";
    token.last_used_ms = 31;
    login = LoginOf(*alice, HashOf('l'), 0, 900'000);  // created_at 0: now
    login.max_expires_at_ms = 2'000'000;
    login.peer = "ipv4:10.0.0.1:5555";
    login.client = "Mozilla/5.0 (X11)";
    EXPECT_TRUE(CreateSession(*s, token, 40).value_or(false));
    EXPECT_TRUE(CreateSession(*s, login, 41).value_or(false));
    EXPECT_EQ(CreateSession(*s, login, 41).status().code(), absl::StatusCode::kAlreadyExists) << "stored already";
    SessionRecord stranger = LoginOf(*alice, HashOf('x'), 1);
    stranger.user_id = bot.id + 1000;
    EXPECT_FALSE(CreateSession(*s, stranger).ok()) << "no such user";
  }
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto check_token = [&](const SessionRecord& r) {
    EXPECT_EQ(r.token_hash, HashOf('t'));
    EXPECT_EQ(r.user_id, bot.id);
    EXPECT_EQ(r.username, "CI-Bot");
    EXPECT_EQ(r.kind, CredentialKind::kApiToken);
    EXPECT_EQ(r.account_kind, AccountKind::kBot);
    EXPECT_EQ(r.created_at_ms, 30);
    EXPECT_EQ(r.expires_at_ms, 5'000'000);
    EXPECT_EQ(r.last_used_ms, 31);
    EXPECT_EQ(r.name, "deploy");
    EXPECT_THAT(r.rooms, ElementsAre("alerts", "ops room"));
    EXPECT_EQ(r.actions, kTokenRead | kTokenPost);
    EXPECT_EQ(r.created_by, "Alice");
  };
  auto check_login = [&](const SessionRecord& r) {
    EXPECT_EQ(r.token_hash, HashOf('l'));
    EXPECT_EQ(r.username, "Alice");
    EXPECT_EQ(r.kind, CredentialKind::kLogin);
    EXPECT_EQ(r.account_kind, AccountKind::kUser);
    EXPECT_EQ(r.created_at_ms, 41);
    EXPECT_EQ(r.expires_at_ms, 900'000);
    EXPECT_EQ(r.max_expires_at_ms, 2'000'000);
    EXPECT_EQ(r.peer, "ipv4:10.0.0.1:5555");
    EXPECT_EQ(r.client, "Mozilla/5.0 (X11)");
    EXPECT_TRUE(r.rooms.empty());
    EXPECT_EQ(r.actions, 0);
  };
  auto found = FindSession(*s, HashOf('t'));
  ASSERT_TRUE(found.ok()) << found.status();
  check_token(*found);
  found = FindSession(*s, HashOf('l'));
  ASSERT_TRUE(found.ok()) << found.status();
  check_login(*found);
  auto loaded = s->LoadSessions(100);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 2u);
  for (const SessionRecord& r : *loaded) {
    if (r.token_hash == HashOf('t')) {
      check_token(r);
    } else {
      check_login(r);
    }
  }
}

TYPED_TEST_P(StoreConformanceCredentialsTest, ATokenNameIsUniquePerAccountAmongLiveTokens) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto alice = CreateAccount(*s, UserAccount("alice"));
  auto bob = CreateAccount(*s, UserAccount("bob"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  EXPECT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('1'), "ci")).value_or(false));
  auto twice = CreateSession(*s, TokenOf(*alice, HashOf('2'), "ci"));
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kAlreadyExists) << twice.status();
  EXPECT_EQ(FindSession(*s, HashOf('2')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(CreateSession(*s, TokenOf(*bob, HashOf('3'), "ci")).value_or(false)) << "another account's";
  EXPECT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('4'), "cd")).value_or(false));
  // Login sessions have no names to clash.
  EXPECT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('5'), 1)).value_or(false));
  EXPECT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('6'), 2)).value_or(false));
  // A revoked token's name is free again; so is an expired one's.
  ASSERT_TRUE(Call<bool>([&](auto cb) { s->RevokeSession(HashOf('1'), cb); }).value_or(false));
  EXPECT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('7'), "ci")).value_or(false));
  EXPECT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('8'), "short", 10, 150)).value_or(false));
  EXPECT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('9'), "short"), /*now_ms=*/200).value_or(false));
}

TYPED_TEST_P(StoreConformanceCredentialsTest, TrimSessionsLeavesApiTokensAlone) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto alice = CreateAccount(*s, UserAccount("alice"));
  ASSERT_TRUE(alice.ok()) << alice.status();
  // Tokens made before and after the logins, so the order cannot hide them.
  ASSERT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('a'), "early", 1)).ok());
  for (char c : {'1', '2', '3'}) ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf(c), 10 + c - '0')).ok());
  ASSERT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('b'), "late", 50)).ok());
  auto trimmed = Call<std::vector<std::string>>(
      [&](auto cb) { s->TrimSessions(LoginOf(*alice, HashOf('3'), 13), 2, cb); });
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_THAT(*trimmed, ElementsAre(HashOf('1')));
  auto left = ListSessions(*s, "alice");
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_THAT(HashesOf(*left), ElementsAre(HashOf('a'), HashOf('2'), HashOf('3'), HashOf('b')));
  trimmed = Call<std::vector<std::string>>([&](auto cb) { s->TrimSessions(LoginOf(*alice, HashOf('3'), 13), 1, cb); });
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_THAT(*trimmed, ElementsAre(HashOf('2')));
  EXPECT_THAT(HashesOf(*ListSessions(*s, "alice")), ElementsAre(HashOf('a'), HashOf('3'), HashOf('b')));
}

TYPED_TEST_P(StoreConformanceCredentialsTest, ListSessionsAndUpdateSessionUse) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto alice = CreateAccount(*s, UserAccount("Alice"));
  auto bob = CreateAccount(*s, UserAccount("bob"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('3'), 30)).ok());
  ASSERT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('2'), "ci", 20)).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('1'), 10)).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('e'), 5, /*expires=*/150)).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('r'), 6)).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*bob, HashOf('b'), 1)).ok());
  ASSERT_TRUE(Call<bool>([&](auto cb) { s->RevokeSession(HashOf('r'), cb); }).value_or(false));
  // Oldest first; both kinds; not another's, not revoked, not expired at now.
  auto listed = ListSessions(*s, "alice", 150);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(HashesOf(*listed), ElementsAre(HashOf('1'), HashOf('2'), HashOf('3')));
  EXPECT_EQ((*listed)[1].kind, CredentialKind::kApiToken);
  EXPECT_EQ((*listed)[1].name, "ci");
  EXPECT_EQ((*listed)[0].username, "Alice");
  EXPECT_THAT(HashesOf(*ListSessions(*s, "alice", 149)),
              ElementsAre(HashOf('e'), HashOf('1'), HashOf('2'), HashOf('3')));
  EXPECT_TRUE(ListSessions(*s, "nobody")->empty());
  // UpdateSessionUse: renewal and last use.
  auto use = [&](const std::string& hash, int64_t expires, int64_t used) {
    return Call<bool>([&](auto cb) { s->UpdateSessionUse(hash, expires, used, cb); });
  };
  EXPECT_EQ(use(HashOf('1'), 2'000'000, 140).value_or(false), true);
  auto renewed = FindSession(*s, HashOf('1'), 1'500'000);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->expires_at_ms, 2'000'000);
  EXPECT_EQ(renewed->last_used_ms, 140);
  EXPECT_EQ(renewed->created_at_ms, 10);
  EXPECT_EQ(use(HashOf('r'), 2'000'000, 140).value_or(true), false) << "revoked";
  EXPECT_EQ(use(HashOf('z'), 2'000'000, 140).value_or(true), false) << "unknown";
  EXPECT_EQ(FindSession(*s, HashOf('r')).status().code(), absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConformanceCredentialsTest, SetPasswordEndsTheOtherLoginSessionsOnly) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto alice = CreateAccount(*s, UserAccount("alice"));
  auto bob = CreateAccount(*s, UserAccount("bob"));
  ASSERT_TRUE(alice.ok() && bob.ok());
  for (char c : {'1', '2', '3'}) ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf(c), c)).ok());
  ASSERT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('t'), "ci")).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*bob, HashOf('b'), 1)).ok());
  auto gone = Call<std::vector<std::string>>([&](auto cb) { s->SetPassword("alice", "$new", HashOf('2'), cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, UnorderedElementsAre(HashOf('1'), HashOf('3')));
  EXPECT_EQ(FindUser(*s, "alice")->password_hash, "$new");
  EXPECT_TRUE(FindSession(*s, HashOf('2')).ok()) << "the kept one";
  EXPECT_TRUE(FindSession(*s, HashOf('t')).ok()) << "API tokens stay";
  EXPECT_TRUE(FindSession(*s, HashOf('b')).ok()) << "another user's";
  EXPECT_EQ(FindSession(*s, HashOf('1')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindSession(*s, HashOf('3')).status().code(), absl::StatusCode::kNotFound);
  auto loaded = s->LoadSessions(100);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(HashesOf(*loaded), UnorderedElementsAre(HashOf('2'), HashOf('t'), HashOf('b')));
  // Keeping none (an empty hash) ends them all.
  gone = Call<std::vector<std::string>>([&](auto cb) { s->SetPassword("alice", "$newer", "", cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ElementsAre(HashOf('2')));
  EXPECT_EQ(Call<std::vector<std::string>>([&](auto cb) { s->SetPassword("nobody", "x", "", cb); }).status().code(),
            absl::StatusCode::kNotFound);
}

TYPED_TEST_P(StoreConformanceCredentialsTest, DeleteUserEndsItsCredentialsBotsAndWebhooks) {
  auto s = this->Open();
  ASSERT_NE(s, nullptr);
  auto room = CreateRoom(*s, "alerts");
  ASSERT_TRUE(room.ok()) << room.status();
  auto alice = CreateAccount(*s, UserAccount("Alice"));
  auto bob = CreateAccount(*s, UserAccount("bob"));
  auto alices_bot = CreateAccount(*s, BotAccount("alices-bot", "alice"));
  auto bobs_bot = CreateAccount(*s, BotAccount("bobs-bot", "bob"));
  ASSERT_TRUE(alice.ok() && bob.ok() && alices_bot.ok() && bobs_bot.ok());
  ASSERT_TRUE(Call<UserRecord>([&](auto cb) { s->SetDisplayName("alice", "Al", cb); }).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*alice, HashOf('l'), 1)).ok());
  ASSERT_TRUE(CreateSession(*s, TokenOf(*alice, HashOf('t'), "mine")).ok());
  ASSERT_TRUE(CreateSession(*s, TokenOf(*alices_bot, HashOf('u'), "bot")).ok());
  ASSERT_TRUE(CreateSession(*s, LoginOf(*bob, HashOf('b'), 1)).ok());
  ASSERT_TRUE(CreateSession(*s, TokenOf(*bobs_bot, HashOf('c'), "bot")).ok());
  auto hook = [&](const std::string& id, const std::string& bot, const std::string& by) {
    WebhookRecord h{id, "secret", room->id, bot, by, "", 1};
    return Call<WebhookRecord>([&](auto cb) { s->CreateWebhook(h, cb); }).ok();
  };
  ASSERT_TRUE(hook("0000000000000001", "alices-bot", "Alice"));  // posts as her bot
  ASSERT_TRUE(hook("0000000000000002", "bobs-bot", "Alice"));    // made by her (an admin)
  ASSERT_TRUE(hook("0000000000000003", "bobs-bot", "bob"));      // neither

  auto gone = Call<std::vector<std::string>>([&](auto cb) { s->DeleteUser("alice", cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, UnorderedElementsAre(HashOf('l'), HashOf('t'), HashOf('u')));
  auto deleted = FindUser(*s, "alice");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(deleted->deleted);
  EXPECT_EQ(deleted->username, "Alice");
  EXPECT_EQ(deleted->password_hash, "");
  EXPECT_EQ(deleted->display_name, "");
  EXPECT_TRUE(FindUser(*s, "alices-bot")->deleted);
  EXPECT_FALSE(FindUser(*s, "bobs-bot")->deleted);
  for (char c : {'l', 't', 'u'}) {
    EXPECT_EQ(FindSession(*s, HashOf(c)).status().code(), absl::StatusCode::kNotFound) << c;
  }
  EXPECT_TRUE(FindSession(*s, HashOf('b')).ok());
  EXPECT_TRUE(FindSession(*s, HashOf('c')).ok());
  auto hooks = Call<std::vector<WebhookRecord>>([&](auto cb) { s->ListWebhooks("", cb); });
  ASSERT_TRUE(hooks.ok()) << hooks.status();
  ASSERT_EQ(hooks->size(), 1u);
  EXPECT_EQ((*hooks)[0].id, "0000000000000003");
  EXPECT_TRUE(Call<std::vector<UserRecord>>([&](auto cb) { s->ListBots("alice", cb); })->empty());
  // The name stays taken; nothing more can be done as it.
  EXPECT_EQ(CreateAccount(*s, UserAccount("ALICE")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Call<std::vector<std::string>>([&](auto cb) { s->DeleteUser("alice", cb); }).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Call<std::vector<std::string>>([&](auto cb) { s->SetPassword("alice", "x", "", cb); }).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Call<UserRecord>([&](auto cb) { s->SetDisplayName("alice", "x", cb); }).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CreateAccount(*s, BotAccount("new-bot", "alice")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(CreateSession(*s, LoginOf(*alice, HashOf('n'), 1)).ok());
  EXPECT_EQ(FindSession(*s, HashOf('n')).status().code(), absl::StatusCode::kNotFound);
  auto some = Call<std::vector<UserRecord>>([&](auto cb) { s->FindUsers({"alice", "bob"}, cb); });
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_EQ(some->size(), 2u);
  EXPECT_TRUE((*some)[0].deleted);
  EXPECT_FALSE((*some)[1].deleted);
  auto loaded = s->LoadSessions(100);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(HashesOf(*loaded), UnorderedElementsAre(HashOf('b'), HashOf('c')));
  // Deleting a bot alone leaves its owner be.
  gone = Call<std::vector<std::string>>([&](auto cb) { s->DeleteUser("bobs-bot", cb); });
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, ElementsAre(HashOf('c')));
  EXPECT_FALSE(FindUser(*s, "bob")->deleted);
  EXPECT_TRUE(Call<std::vector<WebhookRecord>>([&](auto cb) { s->ListWebhooks("", cb); })->empty());
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformanceCredentialsTest,
                            EveryFieldOfASessionIsStored,
                            ATokenNameIsUniquePerAccountAmongLiveTokens,
                            TrimSessionsLeavesApiTokensAlone,
                            ListSessionsAndUpdateSessionUse,
                            SetPasswordEndsTheOtherLoginSessionsOnly,
                            DeleteUserEndsItsCredentialsBotsAndWebhooks);

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_CREDENTIALS_H_
