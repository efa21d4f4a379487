// Bots in chat-core's rooms: a bot's messages say so (author_kind BOT) live,
// in history and on resume, from the ring and from the store; GetUsers shows
// users, bots (with their owner) and deleted accounts; a moderator's invite
// of a bot makes it a member at once. Over a real Hub on SQLite (the message
// tests) and a real server on port 0 (GetUsers, invites).
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core_fixture.h"
#include "fake_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "membership_calls.h"
#include "memory_store.h"
#include "room_access.h"
#include "session.h"

namespace chat::testing {
namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;
using ::testing::ElementsAre;

// A store call's answer, waited for.
template <typename T>
absl::StatusOr<T> Await(const std::function<void(core::StoreCallback<T>)>& call) {
  absl::Notification done;
  absl::StatusOr<T> out = absl::UnknownError("no answer");
  call([&](absl::StatusOr<T> r) {
    out = std::move(r);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(10))) return absl::DeadlineExceededError("store");
  return out;
}

// "ann: USER" for each message, in order.
std::vector<std::string> Kinds(const std::vector<chat::v1::Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.author() + ": " + chat::v1::AccountKind_Name(m.author_kind()));
  return out;
}

struct Client {
  Client(core::Hub* hub, core::Identity who) : writer(FakeWriter::Stream::kConnect, /*auto_complete=*/true) {
    outbox = std::make_shared<core::Outbox>(core::Outbox::Kind::kConnect, &writer, core::OutboxLimits{}, nullptr,
                                            hub->kicker());
    writer.Attach(outbox.get());
    session = std::make_shared<core::Session>(hub, outbox, 0, std::move(who), core::SessionOptions{});
  }
  ~Client() {
    session->Close();
    outbox->Detach();
    writer.Attach(nullptr);
  }
  void Join(const std::string& room, std::optional<int64_t> since = std::nullopt) {
    ClientEvent ev;
    ev.mutable_join()->set_room(room);
    if (since) ev.mutable_join()->set_since_seq(*since);
    session->Handle(ev);
  }
  void Send(const std::string& text) {
    ClientEvent ev;
    ev.mutable_send()->set_room("lobby");
    ev.mutable_send()->set_text(text);
    ev.mutable_send()->set_client_msg_id(text);
    session->Handle(ev);
  }
  std::vector<chat::v1::Message> Messages() const {
    std::vector<chat::v1::Message> out;
    for (const auto& e : writer.Events()) {
      if (e.has_message()) out.push_back(e.message());
    }
    return out;
  }
  FakeWriter writer;
  std::shared_ptr<core::Outbox> outbox;
  std::shared_ptr<core::Session> session;
};

auto HasAck(const std::string& id) {
  return [id](const ServerEvent& e) { return e.has_ack() && e.ack().client_msg_id() == id; };
}

class BotMessagesTest : public ::testing::Test {
 protected:
  BotMessagesTest() {
    store_ = OpenMemoryStore();
    core::HubOptions options;
    options.fanout_threads = 1;
    options.room.recent_frames = 2;  // a resume from 0 pages from the store, then the ring
    hub_ = std::make_unique<core::Hub>(store_.get(), options);
    EXPECT_TRUE(hub_->Init().ok());
  }
  ~BotMessagesTest() override {
    hub_->StopFanout();
    store_->Close();
  }
  static core::Identity User(const std::string& name) {
    core::Identity who;
    who.user = name;
    return who;
  }
  static core::Identity Bot(const std::string& name) {
    core::Identity who = User(name);
    who.bot = true;
    who.api_token = true;
    who.token_name = "deploys";
    return who;
  }

  std::unique_ptr<core::Store> store_;
  std::unique_ptr<core::Hub> hub_;
};

TEST_F(BotMessagesTest, ABotsMessagesSayBotLiveInHistoryAndOnResume) {
  Client ann(hub_.get(), User("ann"));
  Client bot(hub_.get(), Bot("ci-bot"));
  ann.Join("lobby");
  bot.Join("lobby");
  ASSERT_TRUE(ann.writer.WaitForEvent([](const ServerEvent& e) { return e.has_joined(); }));
  ASSERT_TRUE(bot.writer.WaitForEvent([](const ServerEvent& e) { return e.has_joined(); }));
  bot.Send("build 1 green");
  ASSERT_TRUE(bot.writer.WaitForEvent(HasAck("build 1 green")));
  ann.Send("thanks");
  ASSERT_TRUE(ann.writer.WaitForEvent(HasAck("thanks")));
  bot.Send("build 2 red");
  ASSERT_TRUE(bot.writer.WaitForEvent(HasAck("build 2 red")));
  bot.Send("build 3 green");
  ASSERT_TRUE(bot.writer.WaitForEvent(HasAck("build 3 green")));
  ASSERT_TRUE(ann.writer.WaitForEvent([](const ServerEvent& e) { return e.has_message() && e.message().seq() == 4; }));

  const std::vector<std::string> want = {"ci-bot: ACCOUNT_KIND_BOT", "ann: ACCOUNT_KIND_UNSPECIFIED",
                                         "ci-bot: ACCOUNT_KIND_BOT", "ci-bot: ACCOUNT_KIND_BOT"};
  // Live, to a user and to the bot itself.
  EXPECT_EQ(Kinds(ann.Messages()), want);
  EXPECT_EQ(Kinds(bot.Messages()), want);

  // History (read from the store).
  chat::v1::GetHistoryRequest req;
  req.set_room("lobby");
  req.set_order(chat::v1::HISTORY_ORDER_OLDEST_FIRST);
  absl::Notification got;
  std::vector<chat::v1::Message> history;
  hub_->History(req, User("bob"), [&](absl::StatusOr<chat::v1::GetHistoryResponse> r) {
    ASSERT_TRUE(r.ok()) << r.status();
    history.assign(r->messages().begin(), r->messages().end());
    got.Notify();
  });
  ASSERT_TRUE(got.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(Kinds(history), want);

  // Resume from 0: seqs 1-2 from the store, 3-4 from the room's ring.
  Client late(hub_.get(), User("bob"));
  late.Join("lobby", 0);
  ASSERT_TRUE(late.writer.WaitForEvent([](const ServerEvent& e) { return e.has_joined(); }));
  EXPECT_EQ(Kinds(late.Messages()), want);
  // Resume from 2: the ring alone.
  Client later(hub_.get(), User("cid"));
  later.Join("lobby", 2);
  ASSERT_TRUE(later.writer.WaitForEvent([](const ServerEvent& e) { return e.has_joined(); }));
  EXPECT_THAT(Kinds(later.Messages()), ElementsAre(want[2], want[3]));

  // And in the store's rows themselves.
  core::HistoryQuery q;
  q.room_id = hub_->FindRoom("lobby")->id();
  q.direction = core::HistoryQuery::Direction::kAfter;
  q.limit = 10;
  q.max_seq = 4;
  auto page = Await<core::HistoryPage>([&](auto cb) { store_->ReadHistory(q, std::move(cb)); });
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->messages.size(), 4u);
  EXPECT_EQ(page->messages[0].author_kind, core::AccountKind::kBot);
  EXPECT_EQ(page->messages[1].author_kind, core::AccountKind::kUser);
}

class BotAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chat_ = core_.Chat();
    auth_ = core_.Auth();
    for (const char* user : {"olga", "ann", "gone"}) tokens_[user] = core_.Token(user);
    core::NewAccount bot;
    bot.username = "CI-bot";
    bot.username_key = core::UserKey(bot.username);
    bot.kind = core::AccountKind::kBot;
    bot.owner_key = "olga";
    bot.display_name = "Deploys";
    bot.now_ms = core_.hub()->NowMs();
    auto made = Await<core::UserRecord>([&](auto cb) { store()->CreateAccount(bot, std::move(cb)); });
    ASSERT_TRUE(made.ok()) << made.status();
  }
  core::Store* store() { return core_.hub()->store(); }
  Calls As(const std::string& user) { return Calls(chat_.get(), auth_.get(), tokens_.at(user)); }
  absl::Status DeleteAccount(const std::string& user) {
    return Await<std::vector<std::string>>([&](auto cb) { store()->DeleteUser(core::UserKey(user), std::move(cb)); })
        .status();
  }
  grpc::Status GetUsers(const std::vector<std::string>& names, chat::v1::GetUsersResponse* out) {
    chat::v1::GetUsersRequest req;
    for (const auto& n : names) req.add_usernames(n);
    auto ctx = AuthedContext(tokens_.at("ann"));
    return chat_->GetUsers(ctx.get(), req, out);
  }
  grpc::Status Invite(const std::string& by, const std::string& room, const std::string& user,
                      chat::v1::MembershipEvent* out) {
    chat::v1::InviteRequest req;
    req.set_room(room);
    req.set_user(user);
    auto ctx = AuthedContext(tokens_.at(by));
    return chat_->Invite(ctx.get(), req, out);
  }

  TestCore core_;
  std::unique_ptr<chat::v1::ChatService::Stub> chat_;
  std::unique_ptr<chat::v1::AuthService::Stub> auth_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(BotAccountsTest, GetUsersShowsUsersBotsAndDeletedAccountsAndLeavesOutUnknownNames) {
  ASSERT_TRUE(Await<core::UserRecord>([&](auto cb) {
                store()->SetDisplayName("olga", "Olga K.", std::move(cb));
              }).ok());
  ASSERT_TRUE(Await<core::UserRecord>([&](auto cb) { store()->SetDisplayName("gone", "Was Here", std::move(cb)); })
                  .ok());
  ASSERT_TRUE(DeleteAccount("gone").ok());

  chat::v1::GetUsersResponse resp;
  grpc::Status st = GetUsers({"OLGA", "ci-bot", "gone", "nobody", "olga", std::string(80, 'x')}, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.users_size(), 3) << resp.DebugString();  // once each; nobody left out
  const chat::v1::UserProfile& bot = resp.users(0);
  EXPECT_EQ(bot.username(), "CI-bot");
  EXPECT_EQ(bot.kind(), chat::v1::ACCOUNT_KIND_BOT);
  EXPECT_EQ(bot.owner(), "olga");
  EXPECT_EQ(bot.display_name(), "Deploys");
  EXPECT_FALSE(bot.deleted());
  EXPECT_TRUE(bot.has_created_at());
  const chat::v1::UserProfile& gone = resp.users(1);
  EXPECT_EQ(gone.username(), "gone");
  EXPECT_TRUE(gone.deleted());
  EXPECT_EQ(gone.display_name(), "");
  const chat::v1::UserProfile& olga = resp.users(2);
  EXPECT_EQ(olga.username(), "olga");
  EXPECT_EQ(olga.kind(), chat::v1::ACCOUNT_KIND_USER);
  EXPECT_EQ(olga.display_name(), "Olga K.");
  EXPECT_EQ(olga.owner(), "");
  EXPECT_FALSE(olga.deleted());

  // 1 to 100 names.
  st = GetUsers({}, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "usernames must name 1 to 100 users");
  std::vector<std::string> many(101, "olga");
  EXPECT_EQ(GetUsers(many, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  many.pop_back();
  ASSERT_TRUE(GetUsers(many, &resp).ok());
  EXPECT_EQ(resp.users_size(), 1);
  EXPECT_EQ(GetUsers({"olga", ""}, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The same on a live session: profiles answer get_users, with its ref.
  EventClient stream(chat_.get(), tokens_.at("ann"));
  ClientEvent get;
  get.set_ref("who");
  get.mutable_get_users()->add_usernames("ci-bot");
  get.mutable_get_users()->add_usernames("nobody");
  ASSERT_TRUE(stream.Write(get));
  auto profiles = stream.WaitFor([](const ServerEvent& e) { return e.has_profiles(); });
  ASSERT_TRUE(profiles.has_value());
  EXPECT_EQ(profiles->ref(), "who");
  ASSERT_EQ(profiles->profiles().users_size(), 1);
  EXPECT_EQ(profiles->profiles().users(0).owner(), "olga");
  ClientEvent none;
  none.set_ref("none");
  none.mutable_get_users();
  ASSERT_TRUE(stream.Write(none));
  auto refused = stream.WaitFor(IsError("getUsers"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->ref(), "none");
  EXPECT_EQ(refused->error().code(), chat::v1::Error::INVALID_ARGUMENT);
}

TEST_F(BotAccountsTest, AModeratorsInviteMakesABotAMemberAtOnce) {
  ASSERT_TRUE(As("olga").CreatePrivate("ops").ok());
  // A person is invited and must accept...
  chat::v1::MembershipEvent ev;
  ASSERT_TRUE(Invite("olga", "ops", "ann", &ev).ok());
  EXPECT_EQ(ev.kind(), chat::v1::MembershipEvent::INVITED);
  // ...a bot cannot, so it joins.
  grpc::Status st = Invite("olga", "ops", "ci-bot", &ev);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ev.kind(), chat::v1::MembershipEvent::JOINED);
  EXPECT_EQ(ev.user(), "CI-bot");
  EXPECT_EQ(ev.by(), "olga");
  EXPECT_EQ(ev.role(), chat::v1::ROLE_MEMBER);
  EXPECT_EQ(ev.room_info().name(), "ops");
  auto members = As("olga").ListMembers("ops");
  ASSERT_TRUE(members.ok());
  std::vector<std::string> names;
  for (const auto& m : members->members()) names.push_back(m.user());
  EXPECT_THAT(names, ElementsAre("CI-bot", "olga"));
  EXPECT_THAT(members->invited(), ElementsAre("ann"));
  // Once more: it is a member already.
  EXPECT_EQ(Invite("olga", "ops", "ci-bot", &ev).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // A plain member may not invite it (the room's rules are unchanged).
  ASSERT_TRUE(As("ann").Respond("ops", true).ok());
  EXPECT_EQ(Invite("ann", "ops", "ci-bot", &ev).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // It can be kicked and banned like anyone, and a banned bot is not re-added.
  ASSERT_TRUE(As("olga").Kick("ops", "ci-bot", "noisy").ok());
  ASSERT_TRUE(Invite("olga", "ops", "ci-bot", &ev).ok());
  EXPECT_EQ(ev.kind(), chat::v1::MembershipEvent::JOINED);
  ASSERT_TRUE(As("olga").Ban("ops", "ci-bot", "very noisy").ok());
  EXPECT_EQ(Invite("olga", "ops", "ci-bot", &ev).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // A deleted account cannot be invited: as if it did not exist.
  ASSERT_TRUE(DeleteAccount("gone").ok());
  st = Invite("olga", "ops", "gone", &ev);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no user 'gone'");
}

}  // namespace
}  // namespace chat::testing
