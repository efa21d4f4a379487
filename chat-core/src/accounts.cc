#include "accounts.h"

#include <sodium.h>

#include <algorithm>
#include <cerrno>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "chat/log.h"
#include "chat/thread_priority.h"
#include "chat/validate.h"
#include "core_metrics.h"

namespace chat::core {
namespace {

// Password hashing is the one CPU-heavy thing chat-core does on request, and a
// flood of logins or registrations (each refused or not only after hashing)
// would otherwise take cores from the fan-out. Login hashing runs 10 nice
// levels below the process, so chat traffic goes first when the cores are busy
// and hashing still gets every idle cycle; registration hashing runs at nice 19
// (about 1.5% of a core that something else wants): a registration may wait, a
// login should not. Not SCHED_IDLE, which would stop registrations altogether
// while the cores are saturated.
bool NiceHashingThread() {
  LowerThisThreadsPriority(10);
  return true;
}
bool LowestHashingThread() {
  LowerThisThreadsPriority(19);
  return true;
}

constexpr char kLog[] = "accounts";
constexpr char kBadLogin[] = "invalid username or password";

std::string UsernameKey(absl::string_view username) { return absl::AsciiStrToLower(std::string(username)); }

}  // namespace

Accounts::Accounts(Store* store, AccountsOptions options, std::unique_ptr<LoginLimiter> limiter)
    : store_(store),
      options_(std::move(options)),
      limiter_(limiter != nullptr ? std::move(limiter) : NewLocalLoginLimiter(options_.login_limits)),
      hashers_(static_cast<size_t>(std::max(1, options_.max_queued_hashes))),
      registration_hashers_(static_cast<size_t>(std::max(1, options_.max_queued_registrations))) {
  if (!options_.now_ms) options_.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
}

Accounts::~Accounts() { Close(); }

absl::Status Accounts::Init() {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  if (options_.pwhash_opslimit < crypto_pwhash_OPSLIMIT_MIN ||
      options_.pwhash_memlimit < crypto_pwhash_MEMLIMIT_MIN) {
    return absl::InvalidArgumentError("password hashing limits are below libsodium's minimum");
  }
  // Unknown users are verified against this, so a miss costs what a hit costs.
  char dummy[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(dummy, "not a password", 14, options_.pwhash_opslimit,
                            options_.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::ResourceExhaustedError("cannot hash a password: out of memory");
  }
  dummy_hash_ = dummy;
  auto sessions = store_->LoadSessions(NowMs());
  if (!sessions.ok()) return sessions.status();
  {
    absl::MutexLock lock(&mu_);
    for (auto& s : *sessions) sessions_[s.token_hash] = std::move(s);
  }
  absl::MutexLock lock(&mu_);
  if (!hashing_) {  // Init may run again after a failed load
    hashing_ = true;
    hashers_.Start(static_cast<size_t>(std::max(1, options_.hash_threads)), /*max_batch=*/1,
                   [](size_t, std::vector<std::function<void()>>& jobs) {
                     static thread_local const bool niced = NiceHashingThread();
                     (void)niced;
                     for (auto& job : jobs) job();
                   });
    registration_hashers_.Start(static_cast<size_t>(std::max(1, options_.registration_hash_threads)),
                                /*max_batch=*/1, [](size_t, std::vector<std::function<void()>>& jobs) {
                                  static thread_local const bool niced = LowestHashingThread();
                                  (void)niced;
                                  for (auto& job : jobs) job();
                                });
    if (options_.session_sweep_interval > absl::ZeroDuration()) sweeper_ = std::thread([this] { SweepLoop(); });
  }
  return absl::OkStatus();
}

void Accounts::Close() {
  {
    absl::MutexLock lock(&sweep_mu_);
    closing_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  waits_.Stop();  // answers the logins waiting for their turn
  hashers_.Stop();
  registration_hashers_.Stop();
}

void Accounts::SweepLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&sweep_mu_);
      auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sweep_mu_) { return closing_; };
      if (sweep_mu_.AwaitWithTimeout(absl::Condition(&closing), options_.session_sweep_interval)) return;
    }
    // Waits for the store's answer, so that Close never leaves one running.
    absl::Notification swept;
    SweepExpired([&swept](absl::StatusOr<int64_t> n) {
      if (!n.ok()) CHAT_LOG_WARN(kLog, "expired sessions not swept: %s", n.status().message());
      if (n.ok() && *n > 0) CHAT_LOG_INFO(kLog, "swept %d expired sessions", static_cast<int>(*n));
      swept.Notify();
    });
    swept.WaitForNotification();
  }
}

void Accounts::SweepExpired(std::function<void(absl::StatusOr<int64_t>)> done) {
  const int64_t now = NowMs();
  {
    absl::MutexLock lock(&mu_);
    absl::erase_if(sessions_, [now](const auto& kv) { return kv.second.expires_at_ms <= now; });
    absl::erase_if(unknown_, [now](const auto& kv) { return kv.second <= now; });
  }
  store_->DeleteExpiredSessions(now, [done = std::move(done)](absl::StatusOr<int64_t> n) {
    if (done) done(std::move(n));
  });
}

bool Accounts::SessionLive(const Identity& who) const {
  if (who.guest || who.token_hash.empty()) return true;
  absl::MutexLock lock(&mu_);
  if (revoking_.contains(who.token_hash)) return false;
  auto it = sessions_.find(who.token_hash);
  return it != sessions_.end() && it->second.expires_at_ms > NowMs();
}

void Accounts::RunHashJob(std::function<void()> job, std::function<void()> refused) {
  if (!Queued(hashers_.queue().Push(job))) refused();
}

void Accounts::Forget(const std::string& token_hash) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(token_hash);
  MarkGoneLocked(token_hash);
}

void Accounts::MarkGoneLocked(const std::string& hash) {
  if (gone_.size() >= 100'000) gone_.clear();  // lookups take milliseconds, not 100,000 revocations
  gone_[hash] = ++revocations_;
}

std::string Accounts::HashToken(absl::string_view token) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::optional<absl::StatusOr<Identity>> Accounts::FromCache(const std::string& hash) const {
  absl::MutexLock lock(&mu_);
  if (revoking_.contains(hash)) return absl::UnauthenticatedError("invalid or revoked session token; log in again");
  auto it = sessions_.find(hash);
  if (it == sessions_.end()) {
    auto unknown = unknown_.find(hash);
    if (!options_.shared_sessions || (unknown != unknown_.end() && unknown->second > NowMs())) {
      return absl::UnauthenticatedError("invalid or revoked session token; log in again");
    }
    return std::nullopt;
  }
  if (it->second.expires_at_ms <= NowMs()) return absl::UnauthenticatedError("session token expired; log in again");
  Identity id;
  id.user = it->second.username;
  id.token_hash = hash;
  id.expires_at_ms = it->second.expires_at_ms;
  return id;
}

void Accounts::AuthenticateToken(absl::string_view token, absl::string_view guest_name, IdentityCallback done) {
  if (options_.metrics != nullptr) {
    done = [m = options_.metrics, done = std::move(done)](absl::StatusOr<Identity> who) {
      if (absl::IsUnauthenticated(who.status())) m->TokenRefused();
      done(std::move(who));
    };
  }
  if (token.empty()) {
    if (options_.allow_guests && !guest_name.empty()) {
      if (absl::Status st = ValidateUsername(guest_name); !st.ok()) {
        return done(absl::InvalidArgumentError(absl::StrCat("guest name: ", st.message())));
      }
      Identity id;
      id.user = absl::StrCat("~", guest_name);
      id.guest = true;
      return done(id);
    }
    return done(absl::UnauthenticatedError(
        "missing credentials: send `authorization: Bearer <token>` (from AuthService.Login)"));
  }
  std::string hash = HashToken(token);
  if (auto cached = FromCache(hash)) return done(std::move(*cached));
  uint64_t asked_at;
  {
    absl::MutexLock lock(&mu_);
    asked_at = revocations_;
  }
  // Logged in on another node: the store knows.
  store_->FindSession(hash, NowMs(), [this, hash, asked_at, done = std::move(done)](absl::StatusOr<SessionRecord> s) {
    if (absl::IsNotFound(s.status())) {
      absl::MutexLock lock(&mu_);
      if (unknown_.size() >= 100'000) unknown_.clear();
      unknown_[hash] = NowMs() + 5'000;
    } else if (s.ok()) {
      absl::MutexLock lock(&mu_);
      // Revoked since the lookup began (it may have read the row before the
      // delete): it stays out.
      auto gone = gone_.find(hash);
      const bool revoked_since = gone != gone_.end() && gone->second > asked_at;
      if (!revoking_.contains(hash) && !revoked_since) sessions_[hash] = *s;
    } else {
      return done(s.status());  // the store is away: UNAVAILABLE, not a verdict
    }
    auto cached = FromCache(hash);
    done(cached ? std::move(*cached) : absl::UnauthenticatedError("invalid or revoked session token; log in again"));
  });
}

void Accounts::Authenticate(absl::string_view authorization, absl::string_view guest_user, IdentityCallback done) {
  if (authorization.empty()) return AuthenticateToken("", guest_user, std::move(done));
  constexpr absl::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(authorization, kBearer)) {
    if (options_.metrics != nullptr) options_.metrics->TokenRefused();
    return done(absl::UnauthenticatedError("authorization metadata must be `Bearer <token>`"));
  }
  absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(kBearer.size()));
  if (token.empty()) {
    if (options_.metrics != nullptr) options_.metrics->TokenRefused();
    return done(absl::UnauthenticatedError("empty bearer token"));
  }
  AuthenticateToken(token, "", std::move(done));
}

void Accounts::Register(const std::string& username, const std::string& password, const std::string& peer,
                        std::function<void(absl::StatusOr<std::string>)> done) {
  if (options_.metrics != nullptr) {
    done = [m = options_.metrics, done = std::move(done)](absl::StatusOr<std::string> r) {
      m->Registration(r.status());
      done(std::move(r));
    };
  }
  if (absl::Status st = ValidateUsername(username); !st.ok()) return done(st);
  if (absl::Status st = ValidatePassword(password); !st.ok()) return done(st);
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<std::string>)>>(std::move(done));
  limiter_->CheckRegistration(peer, NowMs(), [this, username, password, peer, shared_done](absl::Status allowed) {
    if (!allowed.ok()) return (*shared_done)(allowed);
    std::function<void()> job = [this, username, password, peer, shared_done] {
        // Counted once it hashes, whatever the store says (a taken name cost
        // a hash too).
        limiter_->EndRegistration(peer, NowMs(), /*counted=*/true);
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str_alg(hash, password.data(), password.size(), options_.pwhash_opslimit,
                                  options_.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
          return (*shared_done)(absl::ResourceExhaustedError("cannot hash the password: out of memory"));
        }
        store_->CreateUser(username, UsernameKey(username), hash, NowMs(),
                           [username, shared_done](absl::StatusOr<UserRecord> user) {
                             if (!user.ok()) return (*shared_done)(user.status());
                             CHAT_LOGF_INFO(kLog, LogFields().User(username), "user '%s' registered", username);
                             (*shared_done)(user->username);
                           });
    };
    if (!Queued(registration_hashers_.queue().Push(job))) {
      limiter_->EndRegistration(peer, NowMs(), /*counted=*/false);
      (*shared_done)(absl::ResourceExhaustedError("too many registrations in progress; retry in 1 s"));
    }
  });
}

void Accounts::Login(const std::string& username, const std::string& password, const std::string& peer,
                     std::function<void(absl::StatusOr<LoginResult>)> done) {
  // Counted once answered; `limited` says whether the failed-login limit refused it.
  std::shared_ptr<bool> limited;
  if (options_.metrics != nullptr) {
    limited = std::make_shared<bool>(false);
    done = [m = options_.metrics, limited, done = std::move(done)](absl::StatusOr<LoginResult> r) {
      m->Login(r.status(), *limited);
      done(std::move(r));
    };
  }
  if (password.size() > kMaxPasswordBytes) {
    return done(absl::InvalidArgumentError(absl::StrCat("password must be at most ", kMaxPasswordBytes, " bytes")));
  }
  // A name Register would refuse has no account: refuse it before it becomes
  // a limiter key (a 60 KB name must not cost 60 KB per attempt).
  if (absl::Status st = ValidateUsername(username); !st.ok()) return done(st);
  CheckThenLogin(UsernameKey(username), password, peer, std::move(limited), absl::Now() + options_.login_slowdown_wait,
                 std::move(done));
}

void Accounts::CheckThenLogin(const std::string& key, const std::string& password, const std::string& peer,
                              std::shared_ptr<bool> limited, absl::Time wait_until,
                              std::function<void(absl::StatusOr<LoginResult>)> done) {
  limiter_->Check(key, peer, NowMs(), [this, key, password, peer, limited, wait_until,
                                       done = std::move(done)](absl::Status allowed) mutable {
    if (!allowed.ok()) {
      // The username is slowed down (attackers elsewhere guessed wrong): wait
      // for the turn rather than refuse, if it comes soon enough.
      if (int64_t wait_ms = SlowdownWaitMs(allowed); wait_ms > 0) {
        const absl::Time at = absl::Now() + absl::Milliseconds(wait_ms);
        if (at <= wait_until && waits_.waiting() < kMaxWaitingLogins) {
          return waits_.RunAt(at, [this, key, password, peer, limited, wait_until,
                                   done = std::move(done)](bool cancelled) mutable {
            if (cancelled) return done(absl::UnavailableError("chat-core is shutting down; log in again"));
            CheckThenLogin(key, password, peer, std::move(limited), wait_until, std::move(done));
          });
        }
      }
      if (limited != nullptr) *limited = absl::IsResourceExhausted(allowed);
      return done(allowed);
    }
    // The attempt is in flight in the limiter from here until it is answered.
    store_->FindUser(key, [this, key, password, peer, done](absl::StatusOr<UserRecord> user) {
      if (!user.ok() && !absl::IsNotFound(user.status())) {
        limiter_->Abandon(key, peer);
        return done(user.status());
      }
      Verify(key, password, peer, std::move(user), done);
    });
  });
}

// Checks the password on a hashing thread (an unknown user against a dummy
// hash, so a miss costs what a hit costs), then stores a new session.
void Accounts::Verify(const std::string& key, const std::string& password, const std::string& peer,
                      absl::StatusOr<UserRecord> user, std::function<void(absl::StatusOr<LoginResult>)> done) {
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<LoginResult>)>>(std::move(done));
  RunHashJob(
      [this, key, password, peer, shared_done, user = std::move(user)] {
        const std::string& stored = user.ok() ? user->password_hash : dummy_hash_;
        bool match = crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
        if (!user.ok() || !match) {
          limiter_->RecordFailure(key, peer, NowMs(),
                                  [shared_done] { (*shared_done)(absl::UnauthenticatedError(kBadLogin)); });
          return;
        }
        limiter_->RecordSuccess(key, peer);
        if (user->disabled) {
          (*shared_done)(absl::PermissionDeniedError("account disabled: ask a server admin"));
          return;
        }
        unsigned char raw[32];
        randombytes_buf(raw, sizeof raw);
        char encoded[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
        sodium_bin2base64(encoded, sizeof encoded, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        sodium_memzero(raw, sizeof raw);
        LoginResult result;
        result.token = encoded;
        result.username = user->username;
        result.expires_at_ms = NowMs() + absl::ToInt64Milliseconds(options_.token_ttl);
        SessionRecord rec;
        rec.token_hash = HashToken(result.token);
        rec.user_id = user->id;
        rec.username = user->username;
        rec.expires_at_ms = result.expires_at_ms;
        store_->CreateSession(rec, NowMs(), [this, rec, result = std::move(result), shared_done](absl::StatusOr<bool> ok) {
          if (!ok.ok()) return (*shared_done)(ok.status());
          {
            absl::MutexLock lock(&mu_);
            sessions_[rec.token_hash] = rec;
          }
          CHAT_LOGF_INFO(kLog, LogFields().User(rec.username), "user '%s' logged in", rec.username);
          if (options_.max_sessions_per_user <= 0) return (*shared_done)(result);
          // Past the cap, the oldest sessions go (never this new one).
          store_->TrimSessions(rec, options_.max_sessions_per_user,
                               [this, rec, result, shared_done](absl::StatusOr<std::vector<std::string>> gone) mutable {
                                 if (!gone.ok()) {
                                   // The login stands; the next one trims again.
                                   CHAT_LOGF_WARN(kLog, LogFields().User(rec.username),
                                                  "old sessions of '%s' not trimmed: %s", rec.username,
                                                  std::string(gone.status().message()));
                                 } else if (!gone->empty()) {
                                   {
                                     absl::MutexLock lock(&mu_);
                                     for (const std::string& h : *gone) {
                                       sessions_.erase(h);
                                       MarkGoneLocked(h);
                                     }
                                   }
                                   CHAT_LOGF_INFO(kLog, LogFields().User(rec.username),
                                                  "user '%s' has more than %d sessions: the oldest %d ended",
                                                  rec.username, options_.max_sessions_per_user,
                                                  static_cast<int>(gone->size()));
                                   result.evicted_token_hashes = std::move(*gone);
                                 }
                                 (*shared_done)(std::move(result));
                               });
        });
      },
      [this, key, peer, shared_done] {
        limiter_->Abandon(key, peer);
        (*shared_done)(absl::ResourceExhaustedError("too many logins in progress; retry shortly"));
      });
}

void Accounts::Logout(const Identity& identity, std::function<void(absl::Status)> done) {
  if (identity.guest || identity.token_hash.empty()) {
    return done(absl::FailedPreconditionError("guests have no session to log out of"));
  }
  // Refused from now on; forgotten for good only once the store deleted it,
  // so a failed delete cannot come back to life after a restart unannounced.
  std::optional<SessionRecord> held;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(identity.token_hash);
    if (it != sessions_.end()) {
      held = std::move(it->second);
      sessions_.erase(it);
    }
    revoking_.insert(identity.token_hash);
  }
  store_->RevokeSession(identity.token_hash, [this, identity, held = std::move(held),
                                              done = std::move(done)](absl::StatusOr<bool> r) {
    {
      absl::MutexLock lock(&mu_);
      revoking_.erase(identity.token_hash);
      if (!r.ok() && held.has_value()) sessions_.emplace(identity.token_hash, *held);
      if (r.ok()) MarkGoneLocked(identity.token_hash);
    }
    if (!r.ok()) {
      CHAT_LOGF_WARN(kLog, LogFields().User(identity.user), "logout of '%s' not stored: %s", identity.user,
                     std::string(r.status().message()));
      return done(absl::UnavailableError(absl::StrCat("logout could not be stored (", r.status().message(),
                                                      "); the session is still valid: retry")));
    }
    CHAT_LOGF_INFO(kLog, LogFields().User(identity.user), "user '%s' logged out", identity.user);
    if (options_.metrics != nullptr) options_.metrics->Logout();
    done(absl::OkStatus());
  });
}

}  // namespace chat::core
