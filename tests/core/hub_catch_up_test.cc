// The Hub's catch-up in a cluster: what other nodes report as a room's newest
// stored seq is read from the store only when it is newer than what this node
// published, once per gap, and not at all for an empty room. (Every node hears
// every room's newest seq each second: a read per empty room per second would
// be a read per room per second per node.)
#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "hub.h"
#include "memory_store.h"

namespace chat::testing {
namespace {

// A Store that counts history reads and passes everything to SQLite.
class CountingStore final : public core::Store {
 public:
  explicit CountingStore(core::Store* inner) : inner_(inner) {}
  absl::StatusOr<std::vector<core::RoomRecord>> LoadRooms() override { return inner_->LoadRooms(); }
  absl::StatusOr<std::vector<core::SessionRecord>> LoadSessions(int64_t now_ms) override {
    return inner_->LoadSessions(now_ms);
  }
  void CreateRoomAs(const core::RoomRecord& spec, std::vector<core::MemberRecord> members, int64_t now_ms,
                    const core::RoomQuota& quota, core::StoreCallback<core::RoomRecord> done) override {
    inner_->CreateRoomAs(spec, std::move(members), now_ms, quota, std::move(done));
  }
  absl::StatusOr<std::vector<core::MemberRecord>> LoadMembers() override { return inner_->LoadMembers(); }
  void ReadMembers(int64_t room_id, core::StoreCallback<std::vector<core::MemberRecord>> done) override {
    inner_->ReadMembers(room_id, std::move(done));
  }
  void WriteMembers(std::vector<core::MemberWrite> writes, const std::string& note,
                    core::StoreCallback<bool> done) override {
    inner_->WriteMembers(std::move(writes), note, std::move(done));
  }
  void UpdateRoom(int64_t room_id, const core::RoomUpdate& update, const std::string& note,
                  core::StoreCallback<core::RoomRecord> done) override {
    inner_->UpdateRoom(room_id, update, note, std::move(done));
  }
  void DeleteRoom(int64_t room_id, const std::string& note, core::StoreCallback<bool> done) override {
    inner_->DeleteRoom(room_id, note, std::move(done));
  }
  void DeleteMessage(int64_t room_id, int64_t seq, const std::string& only_author, const std::string& note,
                     core::StoreCallback<core::StoredMessage> done) override {
    inner_->DeleteMessage(room_id, seq, only_author, note, std::move(done));
  }
  void SearchUsers(const std::string& prefix_key, int limit,
                   core::StoreCallback<std::vector<std::string>> done) override {
    inner_->SearchUsers(prefix_key, limit, std::move(done));
  }
  void SetUserDisabled(const std::string& username_key, bool disabled,
                       core::StoreCallback<std::vector<std::string>> done) override {
    inner_->SetUserDisabled(username_key, disabled, std::move(done));
  }
  void Append(core::AppendRequest request, core::StoreCallback<core::AppendResult> done) override {
    inner_->Append(std::move(request), std::move(done));
  }
  void ReadHistory(const core::HistoryQuery& query, core::StoreCallback<core::HistoryPage> done) override {
    reads.fetch_add(1);
    inner_->ReadHistory(query, std::move(done));
  }
  void FindUser(const std::string& username_key, core::StoreCallback<core::UserRecord> done) override {
    inner_->FindUser(username_key, std::move(done));
  }
  void CreateSession(const core::SessionRecord& session, int64_t now_ms, core::StoreCallback<bool> done) override {
    inner_->CreateSession(session, now_ms, std::move(done));
  }
  void FindSession(const std::string& token_hash, int64_t now_ms,
                   core::StoreCallback<core::SessionRecord> done) override {
    inner_->FindSession(token_hash, now_ms, std::move(done));
  }
  void RevokeSession(const std::string& token_hash, core::StoreCallback<bool> done) override {
    inner_->RevokeSession(token_hash, std::move(done));
  }
  void TrimSessions(const core::SessionRecord& newest, int max_sessions,
                    core::StoreCallback<std::vector<std::string>> done) override {
    inner_->TrimSessions(newest, max_sessions, std::move(done));
  }
  void DeleteExpiredSessions(int64_t now_ms, core::StoreCallback<int64_t> done) override {
    inner_->DeleteExpiredSessions(now_ms, std::move(done));
  }
  void CreateAccount(const core::NewAccount& account, core::StoreCallback<core::UserRecord> done) override {
    inner_->CreateAccount(account, std::move(done));
  }
  void FindUsers(const std::vector<std::string>& keys,
                 core::StoreCallback<std::vector<core::UserRecord>> done) override {
    inner_->FindUsers(keys, std::move(done));
  }
  void ListBots(const std::string& owner_key, core::StoreCallback<std::vector<core::UserRecord>> done) override {
    inner_->ListBots(owner_key, std::move(done));
  }
  void SetDisplayName(const std::string& key, const std::string& name,
                      core::StoreCallback<core::UserRecord> done) override {
    inner_->SetDisplayName(key, name, std::move(done));
  }
  void SetPassword(const std::string& key, const std::string& hash, const std::string& keep,
                   core::StoreCallback<std::vector<std::string>> done) override {
    inner_->SetPassword(key, hash, keep, std::move(done));
  }
  void DeleteUser(const std::string& key, core::StoreCallback<std::vector<std::string>> done) override {
    inner_->DeleteUser(key, std::move(done));
  }
  void ListSessions(const std::string& key, int64_t now_ms,
                    core::StoreCallback<std::vector<core::SessionRecord>> done) override {
    inner_->ListSessions(key, now_ms, std::move(done));
  }
  void UpdateSessionUse(const std::string& token_hash, int64_t expires_at_ms, int64_t last_used_ms,
                        core::StoreCallback<bool> done) override {
    inner_->UpdateSessionUse(token_hash, expires_at_ms, last_used_ms, std::move(done));
  }
  void CreateWebhook(const core::WebhookRecord& hook, core::StoreCallback<core::WebhookRecord> done) override {
    inner_->CreateWebhook(hook, std::move(done));
  }
  void ListWebhooks(const std::string& key, core::StoreCallback<std::vector<core::WebhookRecord>> done) override {
    inner_->ListWebhooks(key, std::move(done));
  }
  void FindWebhook(const std::string& id, core::StoreCallback<core::WebhookRecord> done) override {
    inner_->FindWebhook(id, std::move(done));
  }
  void RevokeWebhook(const std::string& id, core::StoreCallback<bool> done) override {
    inner_->RevokeWebhook(id, std::move(done));
  }
  void CreateRegistrationInvite(const core::RegistrationInviteRecord& invite,
                                core::StoreCallback<bool> done) override {
    inner_->CreateRegistrationInvite(invite, std::move(done));
  }
  void Close() override { inner_->Close(); }

  std::atomic<int> reads{0};

 private:
  core::Store* const inner_;
};

class HubCatchUpTest : public ::testing::Test {
 protected:
  HubCatchUpTest() {
    sqlite_ = OpenMemoryStore();
    counting_ = std::make_unique<CountingStore>(sqlite_.get());
    core::HubOptions options;
    options.fanout_threads = 1;
    options.gap_grace = absl::Milliseconds(20);
    hub_ = std::make_unique<core::Hub>(counting_.get(), options);
    EXPECT_TRUE(hub_->Init().ok());
  }
  ~HubCatchUpTest() override {
    hub_->Stop();
    hub_->StopFanout();
    sqlite_->Close();
  }

  // Appends to the store behind the Hub's back, as another node would.
  int64_t AppendElsewhere(int64_t room_id, const std::string& text) {
    absl::Notification done;
    int64_t seq = 0;
    core::AppendRequest req;
    req.room_id = room_id;
    req.author = "other-node";
    req.text = text;
    sqlite_->Append(req, [&](absl::StatusOr<core::AppendResult> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) seq = r->message.seq;
      done.Notify();
    });
    done.WaitForNotification();
    return seq;
  }

  // Waits (up to 2 s) until the room has published `seq`.
  bool WaitPublished(const std::shared_ptr<core::Room>& room, int64_t seq) {
    for (int i = 0; i < 200 && room->last_seq() < seq; ++i) absl::SleepFor(absl::Milliseconds(10));
    return room->last_seq() >= seq;
  }

  std::unique_ptr<core::Store> sqlite_;
  std::unique_ptr<CountingStore> counting_;
  std::unique_ptr<core::Hub> hub_;
};

TEST_F(HubCatchUpTest, AnEmptyRoomReportedAgainAndAgainIsNeverRead) {
  auto lobby = hub_->FindRoom("lobby");
  ASSERT_NE(lobby, nullptr);
  for (int i = 0; i < 20; ++i) {
    hub_->NoteNewerThan(lobby, 0);  // what the per-second check says of an empty room
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(100));  // five graces
  EXPECT_EQ(counting_->reads.load(), 0);
}

TEST_F(HubCatchUpTest, AStoredSeqNewerThanPublishedIsReadOnceThenNotAgain) {
  auto lobby = hub_->FindRoom("lobby");
  ASSERT_NE(lobby, nullptr);
  AppendElsewhere(lobby->id(), "one");
  int64_t newest = AppendElsewhere(lobby->id(), "two");
  ASSERT_EQ(newest, 2);
  hub_->NoteNewerThan(lobby, newest);
  ASSERT_TRUE(WaitPublished(lobby, newest)) << "the missed messages were not read";
  int after_catch_up = counting_->reads.load();
  EXPECT_EQ(after_catch_up, 1);
  for (int i = 0; i < 10; ++i) {
    hub_->NoteNewerThan(lobby, newest);  // the next checks: nothing missing now
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(counting_->reads.load(), after_catch_up);
}

}  // namespace
}  // namespace chat::testing
