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
  if (absl::Status st = WriteInviteCodeFile(); !st.ok()) return st;
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
    RenewLive();
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
  const SessionRecord& s = it->second;
  if (s.expires_at_ms <= NowMs()) {
    // Another node may have renewed it since it was cached: the store knows.
    if (options_.shared_sessions) return std::nullopt;
    return absl::UnauthenticatedError(s.kind == CredentialKind::kApiToken ? "API token expired"
                                                                          : "session token expired; log in again");
  }
  Identity id;
  id.user = s.username;
  id.token_hash = hash;
  id.expires_at_ms = s.expires_at_ms >= kNeverExpiresMs ? 0 : s.expires_at_ms;
  id.bot = s.account_kind == AccountKind::kBot;
  if (s.kind == CredentialKind::kApiToken) {
    id.api_token = true;
    id.token_name = s.name;
    id.token_rooms = s.rooms;
    id.token_actions = s.actions;
  }
  return id;
}

std::optional<SessionRecord> Accounts::CachedSession(const std::string& token_hash) const {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(token_hash);
  if (it == sessions_.end()) return std::nullopt;
  return it->second;
}

void Accounts::AnswerFromCache(const std::string& hash, IdentityCallback done) {
  std::optional<int64_t> renewed = Renew(hash);
  auto cached = FromCache(hash);
  if (!cached.has_value()) {
    done(absl::UnauthenticatedError("invalid or revoked session token; log in again"));
    return;
  }
  if (renewed.has_value() && cached->ok()) {
    std::function<void(const std::string&, int64_t)> hook;
    {
      absl::MutexLock lock(&mu_);
      hook = renewed_;
    }
    if (hook) hook(hash, *renewed);
  }
  done(std::move(*cached));
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
  if (auto cached = FromCache(hash)) {
    if (!cached->ok()) return done(std::move(*cached));
    return AnswerFromCache(hash, std::move(done));
  }
  uint64_t asked_at;
  {
    absl::MutexLock lock(&mu_);
    asked_at = revocations_;
  }
  // Logged in on another node: the store knows.
  store_->FindSession(hash, NowMs(), [this, hash, asked_at, done = std::move(done)](absl::StatusOr<SessionRecord> s) {
    if (absl::IsNotFound(s.status())) {
      absl::MutexLock lock(&mu_);
      auto held = sessions_.find(hash);
      if (held != sessions_.end() && held->second.expires_at_ms <= NowMs()) {
        // Cached, expired, and not renewed elsewhere: it is over.
        const bool token = held->second.kind == CredentialKind::kApiToken;
        sessions_.erase(held);
        return done(absl::UnauthenticatedError(token ? "API token expired" : "session token expired; log in again"));
      }
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
    AnswerFromCache(hash, std::move(done));
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

void Accounts::Register(const std::string& username, const std::string& password, const std::string& invite_code,
                        const std::string& peer, std::function<void(absl::StatusOr<std::string>)> done) {
  if (options_.metrics != nullptr) {
    done = [m = options_.metrics, done = std::move(done)](absl::StatusOr<std::string> r) {
      m->Registration(r.status());
      done(std::move(r));
    };
  }
  if (options_.registration == RegistrationMode::kClosed) {
    return done(absl::PermissionDeniedError("registration is closed on this server"));
  }
  const bool by_invite = options_.registration == RegistrationMode::kInvite;
  if (by_invite && invite_code.empty()) {
    return done(absl::FailedPreconditionError(
        "this server registers by invitation: ask an admin for an invite code"));
  }
  if (absl::Status st = ValidateUsername(username); !st.ok()) return done(st);
  if (absl::Status st = ValidatePassword(password); !st.ok()) return done(st);
  // Only its hash is stored; a code of absurd length is no code.
  const std::string invite_hash = by_invite ? HashToken(invite_code.substr(0, 256)) : std::string();
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<std::string>)>>(std::move(done));
  limiter_->CheckRegistration(peer, NowMs(), [this, username, password, invite_hash, peer,
                                              shared_done](absl::Status allowed) {
    if (!allowed.ok()) return (*shared_done)(allowed);
    std::function<void()> job = [this, username, password, invite_hash, peer, shared_done] {
        // Counted once it hashes, whatever the store says (a taken name cost
        // a hash too).
        limiter_->EndRegistration(peer, NowMs(), /*counted=*/true);
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str_alg(hash, password.data(), password.size(), options_.pwhash_opslimit,
                                  options_.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
          return (*shared_done)(absl::ResourceExhaustedError("cannot hash the password: out of memory"));
        }
        auto stored = [username, shared_done](absl::StatusOr<UserRecord> user) {
          if (!user.ok()) return (*shared_done)(user.status());
          CHAT_LOGF_INFO(kLog, LogFields().User(username), "user '%s' registered", username);
          (*shared_done)(user->username);
        };
        if (invite_hash.empty()) {
          store_->CreateUser(username, UsernameKey(username), hash, NowMs(), std::move(stored));
          return;
        }
        // The code is consumed in the transaction that creates the user.
        NewAccount account;
        account.username = username;
        account.username_key = UsernameKey(username);
        account.password_hash = hash;
        account.invite_code_hash = invite_hash;
        account.now_ms = NowMs();
        store_->CreateAccount(account, std::move(stored));
    };
    if (!Queued(registration_hashers_.queue().Push(job))) {
      limiter_->EndRegistration(peer, NowMs(), /*counted=*/false);
      (*shared_done)(absl::ResourceExhaustedError("too many registrations in progress; retry in 1 s"));
    }
  });
}

}  // namespace chat::core
