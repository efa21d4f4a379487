// Renewal of login sessions while they are used (#29): with a tiny idle
// lifetime, a session that keeps being used outlives its first expiry, up to
// its absolute bound; one left alone expires. The sweep renews the tokens of
// live streams through Accounts' renewal hooks.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <chrono>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "account_calls.h"
#include "auth_calls.h"
#include "core_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace chat::testing {
namespace {

using google::protobuf::util::TimeUtil;

core::CoreOptions ShortSessions() {
  core::CoreOptions o = TestCoreOptions();
  o.accounts.token_ttl = absl::Seconds(2);
  o.accounts.session_max_age = absl::Seconds(4);
  o.accounts.session_sweep_interval = absl::Milliseconds(200);
  return o;
}

int64_t ExpiresMs(chat::v1::AuthService::Stub* auth, const std::string& token, grpc::Status* status = nullptr) {
  chat::v1::WhoAmIResponse me;
  grpc::Status st = WhoAmI(auth, token, &me);
  if (status != nullptr) *status = st;
  return st.ok() ? TimeUtil::TimestampToMilliseconds(me.expires_at()) : 0;
}

TEST(AccountRenewalTest, AUsedSessionIsRenewedUpToItsBoundAndAnIdleOneExpires) {
  TestCore core(ShortSessions());
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "").ok());
  chat::v1::LoginResponse used_login, idle_login;
  ASSERT_TRUE(Login(auth.get(), "alice", "correct horse", "", &used_login).ok());
  ASSERT_TRUE(Login(auth.get(), "alice", "correct horse", "", &idle_login).ok());
  const int64_t first_expiry = TimeUtil::TimestampToMilliseconds(used_login.expires_at());
  const int64_t bound = TimeUtil::TimestampToMilliseconds(used_login.max_expires_at());
  EXPECT_NEAR(bound - first_expiry, 2000, 200);

  // Used every 200 ms: renewed (after a quarter of the ttl) and still valid
  // past its first expiry.
  int64_t latest = first_expiry;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 3s) {
    grpc::Status st;
    int64_t now_expires = ExpiresMs(auth.get(), used_login.token(), &st);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_GE(now_expires, latest);
    EXPECT_LE(now_expires, bound);
    latest = now_expires;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(latest, first_expiry + 500);
  // The idle one expired at its first expiry.
  grpc::Status idle;
  ExpiresMs(auth.get(), idle_login.token(), &idle);
  EXPECT_EQ(idle.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The renewal was stored: the session list says so.
  chat::v1::ListSessionsResponse listed;
  ASSERT_TRUE(ListSessions(auth.get(), used_login.token(), &listed).ok());
  ASSERT_EQ(listed.sessions_size(), 1);
  EXPECT_GT(TimeUtil::TimestampToMilliseconds(listed.sessions(0).expires_at()), first_expiry);
  // However much it is used, it ends at its bound.
  EXPECT_TRUE(Eventually(
      [&] {
        grpc::Status st;
        ExpiresMs(auth.get(), used_login.token(), &st);
        return st.error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      3s));
  EXPECT_GE(absl::ToUnixMillis(absl::Now()), bound - 250);
}

TEST(AccountRenewalTest, TheSweepRenewsTheTokensOfLiveStreams) {
  TestCore core(ShortSessions());
  auto auth = core.Auth();
  ASSERT_TRUE(Register(auth.get(), "alice", "").ok());
  chat::v1::LoginResponse login;
  ASSERT_TRUE(Login(auth.get(), "alice", "correct horse", "", &login).ok());
  const std::string hash = core::Accounts::HashToken(login.token());
  const int64_t first_expiry = TimeUtil::TimestampToMilliseconds(login.expires_at());
  // Stands in for LiveSessions: the token has a live stream; renewals are
  // recorded (shared: the sweeper may still hold the hook as the test ends).
  struct Seen {
    absl::Mutex mu;
    std::vector<int64_t> renewals ABSL_GUARDED_BY(mu);
  };
  auto seen = std::make_shared<Seen>();
  core.server()->accounts()->SetRenewalHooks([hash] { return std::vector<std::string>{hash}; },
                                             [seen, hash](const std::string& renewed, int64_t expires_at_ms) {
                                               absl::MutexLock lock(&seen->mu);
                                               if (renewed == hash) seen->renewals.push_back(expires_at_ms);
                                             });
  // No call is made with the token: only the sweep uses it.
  std::this_thread::sleep_for(2500ms);
  {
    absl::MutexLock lock(&seen->mu);
    ASSERT_FALSE(seen->renewals.empty());
    EXPECT_GT(seen->renewals.back(), first_expiry);
    for (size_t i = 1; i < seen->renewals.size(); ++i) EXPECT_GT(seen->renewals[i], seen->renewals[i - 1]);
  }
  grpc::Status st;
  ExpiresMs(auth.get(), login.token(), &st);
  EXPECT_TRUE(st.ok()) << "renewed by the sweep, yet " << st.error_message();
  core.server()->accounts()->SetRenewalHooks(nullptr, nullptr);
}

}  // namespace
}  // namespace chat::testing
