// Accounts: logging in and out (the rest is in accounts.cc and
// accounts_lifecycle.cc).
#include <sodium.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "accounts.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "core_metrics.h"
#include "tokens.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "accounts";
constexpr char kBadLogin[] = "invalid username or password";

std::string UsernameKey(absl::string_view username) { return absl::AsciiStrToLower(std::string(username)); }

}  // namespace

void Accounts::Login(const std::string& username, const std::string& password, const std::string& client,
                     const std::string& peer, std::function<void(absl::StatusOr<LoginResult>)> done) {
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
  CheckThenLogin(UsernameKey(username), password, CleanLabel(client, kMaxClientBytes), peer, std::move(limited),
                 absl::Now() + options_.login_slowdown_wait, std::move(done));
}

void Accounts::CheckThenLogin(const std::string& key, const std::string& password, const std::string& client,
                              const std::string& peer, std::shared_ptr<bool> limited, absl::Time wait_until,
                              std::function<void(absl::StatusOr<LoginResult>)> done) {
  limiter_->Check(
      key, peer, NowMs(),
      [this, key, password, client, peer, limited, wait_until, done = std::move(done)](absl::Status allowed) mutable {
        if (!allowed.ok()) {
          // The username is slowed down (attackers elsewhere guessed wrong): wait
          // for the turn rather than refuse, if it comes soon enough.
          if (int64_t wait_ms = SlowdownWaitMs(allowed); wait_ms > 0) {
            const absl::Time at = absl::Now() + absl::Milliseconds(wait_ms);
            if (at <= wait_until && waits_.waiting() < kMaxWaitingLogins) {
              return waits_.RunAt(at, [this, key, password, client, peer, limited, wait_until,
                                       done = std::move(done)](bool cancelled) mutable {
                if (cancelled) return done(absl::UnavailableError("chat-core is shutting down; log in again"));
                CheckThenLogin(key, password, client, peer, std::move(limited), wait_until, std::move(done));
              });
            }
          }
          if (limited != nullptr) *limited = absl::IsResourceExhausted(allowed);
          return done(allowed);
        }
        // The attempt is in flight in the limiter from here until it is answered.
        store_->FindUser(key, [this, key, password, client, peer, done](absl::StatusOr<UserRecord> user) {
          if (!user.ok() && !absl::IsNotFound(user.status())) {
            limiter_->Abandon(key, peer);
            return done(user.status());
          }
          Verify(key, password, client, peer, std::move(user), done);
        });
      });
}

// Checks the password on a hashing thread (an unknown user against a dummy
// hash, so a miss costs what a hit costs), then stores a new session. A
// deleted account has no password: it fails as an unknown user does.
void Accounts::Verify(const std::string& key, const std::string& password, const std::string& client,
                      const std::string& peer, absl::StatusOr<UserRecord> user,
                      std::function<void(absl::StatusOr<LoginResult>)> done) {
  if (user.ok() && user->kind == AccountKind::kBot) {
    limiter_->Abandon(key, peer);  // a bot's name is public; nothing was guessed
    return done(absl::PermissionDeniedError("bots cannot log in; use an API token"));
  }
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<LoginResult>)>>(std::move(done));
  RunHashJob(
      [this, key, password, client, peer, shared_done, user = std::move(user)] {
        const bool usable = user.ok() && !user->deleted && !user->password_hash.empty();
        const std::string& stored = usable ? user->password_hash : dummy_hash_;
        bool match = crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
        if (!usable || !match) {
          limiter_->RecordFailure(key, peer, NowMs(),
                                  [shared_done] { (*shared_done)(absl::UnauthenticatedError(kBadLogin)); });
          return;
        }
        limiter_->RecordSuccess(key, peer);
        if (user->disabled) {
          (*shared_done)(absl::PermissionDeniedError("account disabled: ask a server admin"));
          return;
        }
        CreateSessionFor(*user, client, peer,
                         [shared_done](absl::StatusOr<LoginResult> r) { (*shared_done)(std::move(r)); });
      },
      [this, key, peer, shared_done] {
        limiter_->Abandon(key, peer);
        (*shared_done)(absl::ResourceExhaustedError("too many logins in progress; retry shortly"));
      });
}

void Accounts::CreateSessionFor(const UserRecord& user, const std::string& client, const std::string& peer,
                                std::function<void(absl::StatusOr<LoginResult>)> done) {
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<LoginResult>)>>(std::move(done));
  const int64_t now = NowMs();
  LoginResult result;
  result.token = RandomBase64Url(32);
  result.username = user.username;
  result.max_expires_at_ms = now + absl::ToInt64Milliseconds(options_.session_max_age);
  result.expires_at_ms = std::min(now + absl::ToInt64Milliseconds(options_.token_ttl), result.max_expires_at_ms);
  SessionRecord rec;
  rec.token_hash = HashToken(result.token);
  rec.user_id = user.id;
  rec.username = user.username;
  rec.expires_at_ms = result.expires_at_ms;
  rec.max_expires_at_ms = result.max_expires_at_ms;
  rec.kind = CredentialKind::kLogin;
  rec.created_at_ms = now;
  rec.last_used_ms = now;
  rec.peer = peer;
  rec.client = client;
  rec.account_kind = user.kind;
  store_->CreateSession(rec, now, [this, rec, result = std::move(result), shared_done](absl::StatusOr<bool> ok) {
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
                                            "user '%s' has more than %d sessions: the oldest %d ended", rec.username,
                                            options_.max_sessions_per_user, static_cast<int>(gone->size()));
                             result.evicted_token_hashes = std::move(*gone);
                           }
                           (*shared_done)(std::move(result));
                         });
  });
}

void Accounts::Logout(const Identity& identity, std::function<void(absl::Status)> done) {
  if (identity.guest || identity.token_hash.empty()) {
    return done(absl::FailedPreconditionError("guests have no session to log out of"));
  }
  Revoke(identity.token_hash, [this, user = identity.user, done = std::move(done)](absl::Status st) {
    if (!st.ok()) {
      CHAT_LOGF_WARN(kLog, LogFields().User(user), "logout of '%s' not stored: %s", user, std::string(st.message()));
      return done(absl::UnavailableError(
          absl::StrCat("logout could not be stored (", st.message(), "); the session is still valid: retry")));
    }
    CHAT_LOGF_INFO(kLog, LogFields().User(user), "user '%s' logged out", user);
    if (options_.metrics != nullptr) options_.metrics->Logout();
    done(absl::OkStatus());
  });
}

void Accounts::Revoke(const std::string& token_hash, std::function<void(absl::Status)> done) {
  // Refused from now on; forgotten for good only once the store deleted it,
  // so a failed delete cannot come back to life after a restart unannounced.
  std::optional<SessionRecord> held;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(token_hash);
    if (it != sessions_.end()) {
      held = std::move(it->second);
      sessions_.erase(it);
    }
    revoking_.insert(token_hash);
  }
  store_->RevokeSession(token_hash,
                        [this, token_hash, held = std::move(held), done = std::move(done)](absl::StatusOr<bool> r) {
                          {
                            absl::MutexLock lock(&mu_);
                            revoking_.erase(token_hash);
                            if (!r.ok() && held.has_value()) sessions_.emplace(token_hash, *held);
                            if (r.ok()) MarkGoneLocked(token_hash);
                          }
                          done(r.status());
                        });
}

}  // namespace chat::core
