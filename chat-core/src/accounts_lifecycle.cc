// Accounts: renewal of login sessions, the last use of API tokens, password
// changes, account deletion and new API tokens (#29; docs/security.md).
#include <sodium.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "accounts.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "tokens.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "accounts";
// A credential's last use is written at most this often per node (each write
// is a store round trip; "to the minute" is what a session list needs).
constexpr int64_t kUseWriteIntervalMs = 60'000;

std::string UsernameKey(absl::string_view username) { return absl::AsciiStrToLower(std::string(username)); }

}  // namespace

int64_t Accounts::RenewalBound(const SessionRecord& s) const {
  if (s.max_expires_at_ms > 0) return s.max_expires_at_ms;
  // Stored before sessions had a bound: the login's time gives it; without
  // that (a session from before renewal), it is not renewed at all and ends
  // when it was always going to.
  if (s.created_at_ms > 0) return s.created_at_ms + absl::ToInt64Milliseconds(options_.session_max_age);
  return s.expires_at_ms;
}

std::optional<int64_t> Accounts::Renew(const std::string& token_hash) {
  const int64_t now = NowMs();
  const int64_t ttl = absl::ToInt64Milliseconds(options_.token_ttl);
  int64_t expires = 0;
  std::optional<int64_t> renewed;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(token_hash);
    if (it == sessions_.end() || revoking_.contains(token_hash)) return std::nullopt;
    SessionRecord& s = it->second;
    if (s.expires_at_ms <= now) return std::nullopt;
    // Renewed once a quarter of the idle lifetime has gone by: a session in
    // steady use is written about four times per ttl, not on every call.
    if (s.kind == CredentialKind::kLogin && s.expires_at_ms - now < ttl / 4 * 3) {
      const int64_t to = std::min(now + ttl, RenewalBound(s));
      if (to > s.expires_at_ms) {
        s.expires_at_ms = to;
        renewed = to;
      }
    }
    if (!renewed.has_value() && now - s.last_used_ms < kUseWriteIntervalMs) return std::nullopt;
    s.last_used_ms = now;
    expires = s.expires_at_ms;
  }
  // Written in the background: the cache already holds the new expiry, and a
  // failed write costs only an earlier expiry after a restart.
  store_->UpdateSessionUse(token_hash, expires, now, [this, token_hash](absl::StatusOr<bool> found) {
    if (!found.ok()) {
      CHAT_LOG_WARN(kLog, "the use of a session was not stored: %s", found.status().message());
    } else if (!*found) {
      // Revoked elsewhere (a notice this node missed) or swept: gone here too.
      Forget(token_hash);
    }
  });
  return renewed;
}

void Accounts::SetRenewalHooks(std::function<std::vector<std::string>()> live_token_hashes,
                               std::function<void(const std::string&, int64_t)> renewed) {
  absl::MutexLock lock(&mu_);
  live_token_hashes_ = std::move(live_token_hashes);
  renewed_ = std::move(renewed);
}

void Accounts::RenewLive() {
  std::function<std::vector<std::string>()> live;
  std::function<void(const std::string&, int64_t)> renewed;
  {
    absl::MutexLock lock(&mu_);
    live = live_token_hashes_;
    renewed = renewed_;
  }
  if (!live) return;
  for (const std::string& hash : live()) {
    std::optional<int64_t> to = Renew(hash);
    if (to.has_value() && renewed) renewed(hash, *to);
  }
}

void Accounts::CheckPassword(const std::string& username, const std::string& password, const std::string& peer,
                             std::function<void(absl::StatusOr<UserRecord>)> done) {
  if (password.size() > kMaxPasswordBytes) {
    return done(absl::InvalidArgumentError(absl::StrCat("password must be at most ", kMaxPasswordBytes, " bytes")));
  }
  const std::string key = UsernameKey(username);
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<UserRecord>)>>(std::move(done));
  limiter_->Check(key, peer, NowMs(), [this, key, password, peer, shared_done](absl::Status allowed) {
    if (!allowed.ok()) return (*shared_done)(allowed);
    store_->FindUser(key, [this, key, password, peer, shared_done](absl::StatusOr<UserRecord> user) {
      if (!user.ok()) {
        limiter_->Abandon(key, peer);
        // The caller's own account, gone meanwhile (deleted on another node).
        if (absl::IsNotFound(user.status())) return (*shared_done)(absl::NotFoundError("no such account"));
        return (*shared_done)(user.status());
      }
      if (user->deleted || user->password_hash.empty()) {
        limiter_->Abandon(key, peer);
        return (*shared_done)(absl::FailedPreconditionError("this account has no password"));
      }
      RunHashJob(
          [this, key, password, peer, shared_done, user = *user] {
            if (crypto_pwhash_str_verify(user.password_hash.c_str(), password.data(), password.size()) != 0) {
              limiter_->RecordFailure(key, peer, NowMs(),
                                      [shared_done] { (*shared_done)(absl::PermissionDeniedError("wrong password")); });
              return;
            }
            limiter_->RecordSuccess(key, peer);
            (*shared_done)(user);
          },
          [this, key, peer, shared_done] {
            limiter_->Abandon(key, peer);
            (*shared_done)(absl::ResourceExhaustedError("too many password checks in progress; retry shortly"));
          });
    });
  });
}

void Accounts::ChangePassword(const Identity& who, const std::string& old_password, const std::string& new_password,
                              const std::string& peer, RevokedCallback done) {
  if (absl::Status st = ValidatePassword(new_password); !st.ok()) {
    return done(absl::InvalidArgumentError(absl::StrCat("new password: ", st.message())));
  }
  auto shared_done = std::make_shared<RevokedCallback>(std::move(done));
  CheckPassword(who.user, old_password, peer, [this, who, new_password, shared_done](absl::StatusOr<UserRecord> user) {
    if (!user.ok()) return (*shared_done)(user.status());
    RunHashJob(
        [this, who, new_password, shared_done] {
          char hash[crypto_pwhash_STRBYTES];
          if (crypto_pwhash_str_alg(hash, new_password.data(), new_password.size(), options_.pwhash_opslimit,
                                    options_.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
            return (*shared_done)(absl::ResourceExhaustedError("cannot hash the password: out of memory"));
          }
          store_->SetPassword(UsernameKey(who.user), hash, who.token_hash,
                              [this, who, shared_done](absl::StatusOr<std::vector<std::string>> revoked) {
                                if (revoked.ok()) {
                                  for (const std::string& h : *revoked) Forget(h);
                                  CHAT_LOGF_INFO(kLog, LogFields().User(who.user),
                                                 "user '%s' changed their password (%d other sessions ended)", who.user,
                                                 static_cast<int>(revoked->size()));
                                }
                                (*shared_done)(std::move(revoked));
                              });
        },
        [shared_done] {
          (*shared_done)(absl::ResourceExhaustedError("too many password changes in progress; retry shortly"));
        });
  });
}

void Accounts::DeleteAccount(const Identity& who, const std::string& password, const std::string& peer,
                             RevokedCallback done) {
  auto shared_done = std::make_shared<RevokedCallback>(std::move(done));
  CheckPassword(who.user, password, peer, [this, who, shared_done](absl::StatusOr<UserRecord> user) {
    if (!user.ok()) return (*shared_done)(user.status());
    store_->DeleteUser(
        UsernameKey(who.user), [this, who, shared_done](absl::StatusOr<std::vector<std::string>> revoked) {
          if (revoked.ok()) {
            for (const std::string& h : *revoked) Forget(h);
            CHAT_LOGF_INFO(kLog, LogFields().User(who.user), "user '%s' deleted their account", who.user);
          }
          (*shared_done)(std::move(revoked));
        });
  });
}

void Accounts::CreateApiToken(SessionRecord spec, std::function<void(absl::StatusOr<NewApiToken>)> done) {
  NewApiToken made;
  made.secret = absl::StrCat(kApiTokenPrefix, RandomBase64Url(32));
  spec.token_hash = HashToken(made.secret);
  spec.kind = CredentialKind::kApiToken;
  spec.created_at_ms = NowMs();
  spec.last_used_ms = 0;
  spec.max_expires_at_ms = 0;
  if (spec.expires_at_ms == 0) spec.expires_at_ms = kNeverExpiresMs;
  made.record = spec;
  store_->CreateSession(spec, NowMs(), [this, made = std::move(made), done = std::move(done)](absl::StatusOr<bool> ok) {
    if (!ok.ok()) {
      if (absl::IsAlreadyExists(ok.status())) {
        return done(absl::AlreadyExistsError(
            absl::StrCat("'", made.record.username, "' already has an API token named '", made.record.name, "'")));
      }
      return done(ok.status());
    }
    {
      absl::MutexLock lock(&mu_);
      sessions_[made.record.token_hash] = made.record;
    }
    CHAT_LOGF_INFO(kLog, LogFields().User(made.record.created_by), "API token '%s' made for '%s' by '%s'",
                   made.record.name, made.record.username, made.record.created_by);
    done(made);
  });
}

absl::Status Accounts::WriteInviteCodeFile() {
  const std::string& path = options_.invite_code_file;
  if (path.empty()) return absl::OkStatus();
  // O_EXCL: a file that is there already (an earlier start's code) stays as it is.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) return absl::OkStatus();
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create --invite_code_file ", path, ": ", std::strerror(errno)));
  }
  const std::string code = RandomBase64Url(16);
  RegistrationInviteRecord invite;
  invite.code_hash = HashToken(code);
  invite.created_by = "chat-core";
  invite.created_at_ms = NowMs();
  invite.expires_at_ms = invite.created_at_ms + absl::ToInt64Milliseconds(absl::Hours(24 * 7));
  absl::Notification stored;
  absl::Status result;
  store_->CreateRegistrationInvite(invite, [&](absl::StatusOr<bool> ok) {
    result = ok.status();
    stored.Notify();
  });
  stored.WaitForNotification();
  const std::string line = code + "\n";
  if (result.ok() && ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    result = absl::InternalError(absl::StrCat("cannot write --invite_code_file ", path, ": ", std::strerror(errno)));
  }
  ::close(fd);
  if (!result.ok()) {
    ::unlink(path.c_str());  // so the next start tries again
    return result;
  }
  CHAT_LOG_INFO(kLog, "wrote a registration invite code (valid 7 days) to %s", path);
  return absl::OkStatus();
}

}  // namespace chat::core
