// Accounts: registration, login, logout, token checks, and the account
// lifecycle of #29: API tokens, renewal of login sessions while they are used,
// password changes and deletion (accounts_lifecycle.cc).
//
// Passwords are hashed with Argon2id (libsodium crypto_pwhash_str) on a small
// pool of hashing threads, never on gRPC threads, and never stored or logged in
// clear. Tokens are 256 random bits; only their BLAKE2b hash is stored, and the
// live sessions are cached in memory so a token check never touches the disk.
// Failed logins are limited per (username, address) pair and per address, and
// slowed down per username; registrations are limited per address and hash on
// threads of their own, so a flood of them cannot crowd out logins
// (login_limiter.h). A user keeps at most max_sessions_per_user sessions (a
// login past that ends the oldest), and expired sessions are swept from memory
// and the store every session_sweep_interval.
//
// Credentials: a login session and an API token are both rows of the store's
// sessions table (SessionRecord.kind), cached alike here. A login session lives
// token_ttl after its last renewal and at most session_max_age after the login:
// it is renewed when it is used (an authenticated call; a sweep, for each token
// a live stream uses) and less than 3/4 of token_ttl remains. An API token
// never renews; its last use is written at most once a minute per node.
//
// Threading: thread-safe; Authenticate* never block. Callbacks run on a hashing
// or store thread. Lifetime: owned by CoreServer; Close() stops the hashing
// threads (pending work is answered with UNAVAILABLE) and the sweeper.
#ifndef CHAT_CORE_SRC_ACCOUNTS_H_
#define CHAT_CORE_SRC_ACCOUNTS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "delayed_calls.h"
#include "identity.h"
#include "login_limiter.h"
#include "store.h"
#include "work_queue.h"

namespace chat::core {

class CoreMetrics;

// Who may register (chat-core --registration); values as in
// chat.v1.RegistrationMode.
enum class RegistrationMode : int { kOpen = 1, kInvite = 2, kClosed = 3 };

struct AccountsOptions {
  // A login session's idle lifetime: it ends this long after its last renewal.
  absl::Duration token_ttl = absl::Hours(24 * 7);
  // A login session ends this long after the login, however much it is used.
  absl::Duration session_max_age = absl::Hours(24 * 30);
  RegistrationMode registration = RegistrationMode::kOpen;
  // Users (not only admins) may create registration invites.
  bool users_may_invite = false;
  // Non-empty: at start-up, if no file is there, one registration invite
  // code (valid 7 days) is made and written to it (mode 0600): how the first
  // account of a server in invite mode registers.
  std::string invite_code_file;
  // Without a token, a call may name itself with `x-chat-user` (a guest).
  bool allow_guests = false;
  // Argon2id cost. Default: OWASP's minimum (m=19 MiB, t=2, p=1).
  uint64_t pwhash_opslimit = 2;
  size_t pwhash_memlimit = 19 * 1024 * 1024;
  int hash_threads = 2;
  // Login hashing jobs queued beyond this are refused with RESOURCE_EXHAUSTED.
  int max_queued_hashes = 64;
  // Registrations hash on threads of their own, with a queue of their own.
  int registration_hash_threads = 1;
  int max_queued_registrations = 16;
  // Sessions one user may hold; a login past that ends the oldest (0: no cap).
  int max_sessions_per_user = 100;
  // How often expired sessions are deleted from the store and memory.
  absl::Duration session_sweep_interval = absl::Minutes(1);
  // Failed logins per pair, per peer and per username; registrations per peer.
  LoginLimits login_limits;
  // A login that the per-username slowdown holds back waits for its turn for
  // up to this long (in the call, answered late) before it is refused.
  absl::Duration login_slowdown_wait = absl::Seconds(3);
  // Several nodes share the store (a cluster): a token this node has not seen
  // is looked up in the store (another node logged it in).
  bool shared_sessions = false;
  std::function<int64_t()> now_ms;
  // Prometheus metrics (core_metrics.h): logins, registrations, refused
  // tokens; null: off. Not owned.
  CoreMetrics* metrics = nullptr;
};

struct LoginResult {
  std::string token;
  std::string username;
  int64_t expires_at_ms = 0;
  // The session is never renewed past this.
  int64_t max_expires_at_ms = 0;
  // The user's oldest sessions this login ended (max_sessions_per_user): the
  // caller ends their live streams.
  std::vector<std::string> evicted_token_hashes;
};

using IdentityCallback = std::function<void(absl::StatusOr<Identity>)>;

// A new API token: its secret (shown once) and what was stored.
struct NewApiToken {
  std::string secret;
  SessionRecord record;
};

// Token hashes a change of the store revoked (their streams must end).
using RevokedCallback = std::function<void(absl::StatusOr<std::vector<std::string>>)>;

class Accounts {
 public:
  // `limiter`: where failed logins are counted (null: in memory).
  Accounts(Store* store, AccountsOptions options, std::unique_ptr<LoginLimiter> limiter = nullptr);
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // Loads the live sessions and starts the hashing threads. Start-up only; may
  // be called again after it failed (the database was away).
  absl::Status Init();
  void Close();

  const AccountsOptions& options() const { return options_; }

  // From call metadata: the `authorization` value ("Bearer <token>"), or in guest
  // mode the `x-chat-user` value. UNAUTHENTICATED with a reason otherwise.
  // Answers before it returns, unless the token is one this node has not seen
  // and sessions are shared: then once the store answered, on a store thread.
  void Authenticate(absl::string_view authorization, absl::string_view guest_user, IdentityCallback done);
  // A token (or, in guest mode, a guest name) handed over by a gateway.
  void AuthenticateToken(absl::string_view token, absl::string_view guest_name, IdentityCallback done);

  // `peer` keys the per-address registration limit. On RESOURCE_EXHAUSTED,
  // the message says how long to wait. By options().registration: closed:
  // PERMISSION_DENIED; invite: FAILED_PRECONDITION without an invite code, and
  // the store's FAILED_PRECONDITION for a bad one (open: the code is ignored).
  void Register(const std::string& username, const std::string& password, const std::string& invite_code,
                const std::string& peer, std::function<void(absl::StatusOr<std::string>)> done);
  // `peer` keys the per-peer rate limit. On RESOURCE_EXHAUSTED, the message says
  // how long to wait. `client` (what logs in) and `peer` are kept with the
  // session for ListSessions. A bot: PERMISSION_DENIED; a deleted account:
  // UNAUTHENTICATED as for a wrong password.
  void Login(const std::string& username, const std::string& password, const std::string& client,
             const std::string& peer, std::function<void(absl::StatusOr<LoginResult>)> done);
  // Revokes the token: it is refused at once, and `done` runs once the
  // revocation is stored. If the store cannot delete it, nothing changed (the
  // token works again, here and after a restart) and `done` hears UNAVAILABLE
  // saying to retry: a logout is never reported done unless it is stored.
  void Logout(const Identity& identity, std::function<void(absl::Status)> done);

  // Revokes any credential of the cache or the store by its hash, as Logout
  // does (refused at once; `done` once stored, or UNAVAILABLE and nothing
  // changed).
  void Revoke(const std::string& token_hash, std::function<void(absl::Status)> done);

  // Drops a session revoked elsewhere (another node, or a store call that
  // revoked it) from the cache.
  void Forget(const std::string& token_hash);

  // The cached record of a credential; nullopt if it is not cached.
  std::optional<SessionRecord> CachedSession(const std::string& token_hash) const;

  // --- Renewal (accounts_lifecycle.cc).
  //
  // A use of the credential now: a login session with less than 3/4 of
  // token_ttl left is renewed (to now + token_ttl, at most its max expiry),
  // and the new expiry written with Store::UpdateSessionUse; otherwise its
  // last use is written if the last write is a minute old. Returns the new
  // expiry if it was renewed. Authenticate* do this for every call (and tell
  // the `renewed` hook); the sweeper for every token that has a live stream.
  std::optional<int64_t> Renew(const std::string& token_hash);
  // Set once, before Init (or with the sweeper running: they are read under
  // a lock). `live_token_hashes`: the tokens this node's live streams use
  // (LiveSessions); `renewed`: a token was renewed (its streams learn their
  // new expiry). Both are called without Accounts' locks held.
  void SetRenewalHooks(std::function<std::vector<std::string>()> live_token_hashes,
                       std::function<void(const std::string& token_hash, int64_t expires_at_ms)> renewed);

  // --- Passwords, deletion, API tokens (accounts_lifecycle.cc).
  //
  // Checks `password` of `username` on a hashing thread, counted by the
  // failed-login limiter under `peer` (so a stolen session cannot guess the
  // password faster than a login could): the user, or PERMISSION_DENIED
  // "wrong password", or RESOURCE_EXHAUSTED.
  void CheckPassword(const std::string& username, const std::string& password, const std::string& peer,
                     std::function<void(absl::StatusOr<UserRecord>)> done);
  // Checks the old password, hashes the new one (rules as Register), stores
  // it and revokes every other login session of the account (not `who`'s, not
  // API tokens): `done` gets the revoked hashes (forgotten here already).
  void ChangePassword(const Identity& who, const std::string& old_password, const std::string& new_password,
                      const std::string& peer, RevokedCallback done);
  // Checks the password, then deletes the account (Store::DeleteUser): every
  // token hash it revoked (its bots' too), forgotten here already.
  void DeleteAccount(const Identity& who, const std::string& password, const std::string& peer,
                     RevokedCallback done);
  // Stores a new API token of `spec.user_id`/`spec.username` (kind, name,
  // rooms, actions, expires_at_ms, created_by, account_kind as given; the
  // token hash and created_at are filled in) and caches it.
  void CreateApiToken(SessionRecord spec, std::function<void(absl::StatusOr<NewApiToken>)> done);

  // Whether `who`'s session is still good now (a guest's always is): false
  // once its logout began, it was ended for a newer one, or it expired. A live
  // session registered with LiveSessions and then found not good here ends:
  // that closes the gap between a token's check and the registration of its
  // stream, which a logout could otherwise slip through.
  bool SessionLive(const Identity& who) const;

  // Deletes expired sessions from the store and the cache now (the sweeper
  // does this every session_sweep_interval); `done` with how many rows went.
  void SweepExpired(std::function<void(absl::StatusOr<int64_t>)> done = nullptr);

  static std::string HashToken(absl::string_view token);

  // Answers every login waiting for its turn (UNAVAILABLE, shutting down),
  // and from now on refuses instead of waiting. Close() does it too.
  void StopWaitingLogins() { waits_.Stop(); }

 private:
  // options_.invite_code_file (start-up; blocks on the store).
  absl::Status WriteInviteCodeFile();
  void RunHashJob(std::function<void()> job, std::function<void()> refused);
  void SweepLoop();
  // The renewal step of a sweep: every token with a live stream is used.
  void RenewLive();
  // Answers `done` from the cache after a use of `hash` (Renew), telling the
  // renewed hook of a renewal.
  void AnswerFromCache(const std::string& hash, IdentityCallback done);
  void CreateSessionFor(const UserRecord& user, const std::string& client, const std::string& peer,
                        std::function<void(absl::StatusOr<LoginResult>)> done);
  // The cached session of `hash` as an identity; nullopt if not cached.
  std::optional<absl::StatusOr<Identity>> FromCache(const std::string& hash) const;
  // Asks the limiter, and logs in if allowed; a slowed-down attempt that may
  // go by `wait_until` waits (DelayedCalls) and asks again.
  void CheckThenLogin(const std::string& key, const std::string& password, const std::string& client,
                      const std::string& peer,
                      std::shared_ptr<bool> limited, absl::Time wait_until,
                      std::function<void(absl::StatusOr<LoginResult>)> done);
  void Verify(const std::string& key, const std::string& password, const std::string& client,
              const std::string& peer, absl::StatusOr<UserRecord> user,
              std::function<void(absl::StatusOr<LoginResult>)> done);
  int64_t NowMs() const { return options_.now_ms(); }
  // The latest a login session may be renewed to: its max_expires_at_ms, or
  // (stored before renewal) session_max_age after its creation, or (neither
  // known) its present expiry.
  int64_t RenewalBound(const SessionRecord& s) const;

  Store* const store_;
  AccountsOptions options_;
  std::unique_ptr<LoginLimiter> limiter_;
  std::string dummy_hash_;

  mutable absl::Mutex mu_;
  // token hash -> session
  absl::flat_hash_map<std::string, SessionRecord> sessions_ ABSL_GUARDED_BY(mu_);
  // Token hashes the store did not know lately -> until when that holds, so
  // a flood of bad tokens is not a flood of queries.
  absl::flat_hash_map<std::string, int64_t> unknown_ ABSL_GUARDED_BY(mu_);
  // Token hashes whose logout is being stored: refused meanwhile.
  absl::flat_hash_set<std::string> revoking_ ABSL_GUARDED_BY(mu_);
  // Token hashes revoked lately (logout, another node's logout, the session
  // cap) -> the count of revocations when it was: a store lookup that began
  // before it must not bring the session back into the cache.
  absl::flat_hash_map<std::string, uint64_t> gone_ ABSL_GUARDED_BY(mu_);
  uint64_t revocations_ ABSL_GUARDED_BY(mu_) = 0;
  void MarkGoneLocked(const std::string& hash) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  WorkerPool<std::function<void()>> hashers_;
  WorkerPool<std::function<void()>> registration_hashers_;
  // Slowed-down logins waiting for their turn; past kMaxWaitingLogins the
  // next is refused at once (each holds a call).
  DelayedCalls waits_;
  static constexpr size_t kMaxWaitingLogins = 1024;
  bool hashing_ ABSL_GUARDED_BY(mu_) = false;

  std::function<std::vector<std::string>()> live_token_hashes_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&, int64_t)> renewed_ ABSL_GUARDED_BY(mu_);

  absl::Mutex sweep_mu_;
  bool closing_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweeper_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_ACCOUNTS_H_
