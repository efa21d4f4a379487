// Accounts: registration, login, logout and token checks.
//
// Passwords are hashed with Argon2id (libsodium crypto_pwhash_str) on a small
// pool of hashing threads, never on gRPC threads, and never stored or logged in
// clear. Tokens are 256 random bits; only their BLAKE2b hash is stored, and the
// live sessions are cached in memory so a token check never touches the disk.
// Failed logins are rate-limited per username and per peer.
//
// Threading: thread-safe; Authenticate* never block. Callbacks run on a hashing
// or store thread. Lifetime: owned by CoreServer; Close() stops the hashing
// threads (pending work is answered with UNAVAILABLE).
#ifndef CHAT_CORE_SRC_ACCOUNTS_H_
#define CHAT_CORE_SRC_ACCOUNTS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include "absl/strings/string_view.h"
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity.h"
#include "store.h"

namespace chat::core {

struct AccountsOptions {
  absl::Duration token_ttl = absl::Hours(24 * 7);
  // Without a token, a call may name itself with `x-chat-user` (a guest).
  bool allow_guests = false;
  // Argon2id cost. Default: OWASP's minimum (m=19 MiB, t=2, p=1).
  uint64_t pwhash_opslimit = 2;
  size_t pwhash_memlimit = 19 * 1024 * 1024;
  int hash_threads = 2;
  // Hashing jobs queued beyond this are refused with RESOURCE_EXHAUSTED.
  int max_queued_hashes = 64;
  // Failed logins allowed per window, per username and per peer.
  int max_failures_per_user = 5;
  int max_failures_per_peer = 20;
  absl::Duration failure_window = absl::Minutes(5);
  std::function<int64_t()> now_ms;
};

struct LoginResult {
  std::string token;
  std::string username;
  int64_t expires_at_ms = 0;
};

// A sliding window of failures per key. Thread-safe.
class FailureLimiter {
 public:
  FailureLimiter(int max_failures, absl::Duration window)
      : max_(max_failures), window_ms_(absl::ToInt64Milliseconds(window)) {}
  // OK, or RESOURCE_EXHAUSTED with the seconds to wait in the message.
  absl::Status Check(const std::string& key, int64_t now_ms, int64_t* retry_after_ms);
  void RecordFailure(const std::string& key, int64_t now_ms);
  void Reset(const std::string& key);

 private:
  void PruneLocked(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const int max_;
  const int64_t window_ms_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::deque<int64_t>> failures_ ABSL_GUARDED_BY(mu_);
  int64_t last_prune_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

class Accounts {
 public:
  Accounts(Store* store, AccountsOptions options);
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // Loads the live sessions and starts the hashing threads. Start-up only.
  absl::Status Init();
  void Close();

  const AccountsOptions& options() const { return options_; }

  // From call metadata: the `authorization` value ("Bearer <token>"), or in guest
  // mode the `x-chat-user` value. UNAUTHENTICATED with a reason otherwise.
  absl::StatusOr<Identity> Authenticate(absl::string_view authorization,
                                        absl::string_view guest_user) const;
  // A token (or, in guest mode, a guest name) handed over by a gateway.
  absl::StatusOr<Identity> AuthenticateToken(absl::string_view token,
                                             absl::string_view guest_name) const;

  void Register(const std::string& username, const std::string& password,
                std::function<void(absl::StatusOr<std::string>)> done);
  // `peer` keys the per-peer rate limit. On RESOURCE_EXHAUSTED, the message says
  // how long to wait.
  void Login(const std::string& username, const std::string& password, const std::string& peer,
             std::function<void(absl::StatusOr<LoginResult>)> done);
  // Revokes the token: it stops working at once; done runs once the revocation
  // is stored.
  void Logout(const Identity& identity, std::function<void(absl::Status)> done);

  // Drops a session revoked elsewhere (another node) from the cache.
  void Forget(const std::string& token_hash);

  static std::string HashToken(absl::string_view token);

 private:
  void RunHashJob(std::function<void()> job, std::function<void()> refused);
  void HashLoop();
  int64_t NowMs() const { return options_.now_ms(); }

  Store* const store_;
  AccountsOptions options_;
  FailureLimiter user_limiter_;
  FailureLimiter peer_limiter_;
  std::string dummy_hash_;

  mutable absl::Mutex mu_;
  // token hash -> session
  absl::flat_hash_map<std::string, SessionRecord> sessions_ ABSL_GUARDED_BY(mu_);

  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  bool closed_ = false;
  std::vector<std::thread> hashers_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ACCOUNTS_H_
