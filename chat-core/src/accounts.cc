#include "accounts.h"

#include <sodium.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/log.h"
#include "chat/validate.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "accounts";
constexpr char kBadLogin[] = "invalid username or password";

std::string UsernameKey(absl::string_view username) { return absl::AsciiStrToLower(std::string(username)); }

}  // namespace

absl::Status FailureLimiter::Check(const std::string& key, int64_t now_ms, int64_t* retry_after_ms) {
  absl::MutexLock lock(&mu_);
  PruneLocked(now_ms);
  auto it = failures_.find(key);
  if (it == failures_.end()) return absl::OkStatus();
  auto& q = it->second;
  while (!q.empty() && q.front() <= now_ms - window_ms_) q.pop_front();
  if (static_cast<int>(q.size()) < max_) return absl::OkStatus();
  int64_t wait = q.front() + window_ms_ - now_ms;
  *retry_after_ms = wait;
  return absl::ResourceExhaustedError(absl::StrCat(
      "too many failed logins; retry in ", (wait + 999) / 1000, " s"));
}

void FailureLimiter::RecordFailure(const std::string& key, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  auto& q = failures_[key];
  q.push_back(now_ms);
  while (static_cast<int>(q.size()) > max_) q.pop_front();
}

void FailureLimiter::Reset(const std::string& key) {
  absl::MutexLock lock(&mu_);
  failures_.erase(key);
}

void FailureLimiter::PruneLocked(int64_t now_ms) {
  // Forget keys whose failures all left the window, at most once a minute.
  if (now_ms - last_prune_ms_ < 60'000) return;
  last_prune_ms_ = now_ms;
  for (auto it = failures_.begin(); it != failures_.end();) {
    if (it->second.empty() || it->second.back() <= now_ms - window_ms_) {
      failures_.erase(it++);
    } else {
      ++it;
    }
  }
}

Accounts::Accounts(Store* store, AccountsOptions options)
    : store_(store),
      options_(std::move(options)),
      user_limiter_(options_.max_failures_per_user, options_.failure_window),
      peer_limiter_(options_.max_failures_per_peer, options_.failure_window) {
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
  for (int i = 0; i < std::max(1, options_.hash_threads); ++i) {
    hashers_.emplace_back([this] { HashLoop(); });
  }
  return absl::OkStatus();
}

void Accounts::Close() {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    if (closed_) return;
    closed_ = true;
  }
  jobs_cv_.notify_all();
  for (auto& t : hashers_) {
    if (t.joinable()) t.join();
  }
}

void Accounts::HashLoop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(jobs_mu_);
      jobs_cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void Accounts::RunHashJob(std::function<void()> job, std::function<void()> refused) {
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    if (!closed_ && static_cast<int>(jobs_.size()) < options_.max_queued_hashes) {
      jobs_.push_back(std::move(job));
      jobs_cv_.notify_one();
      return;
    }
  }
  refused();
}

void Accounts::Forget(const std::string& token_hash) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(token_hash);
}

std::string Accounts::HashToken(absl::string_view token) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

absl::StatusOr<Identity> Accounts::AuthenticateToken(absl::string_view token,
                                                     absl::string_view guest_name) const {
  if (token.empty()) {
    if (options_.allow_guests && !guest_name.empty()) {
      if (absl::Status st = ValidateUsername(guest_name); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("guest name: ", st.message()));
      }
      Identity id;
      id.user = absl::StrCat("~", guest_name);
      id.guest = true;
      return id;
    }
    return absl::UnauthenticatedError(
        "missing credentials: send `authorization: Bearer <token>` (from AuthService.Login)");
  }
  std::string hash = HashToken(token);
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(hash);
  if (it == sessions_.end()) {
    return absl::UnauthenticatedError("invalid or revoked session token; log in again");
  }
  if (it->second.expires_at_ms <= NowMs()) {
    return absl::UnauthenticatedError("session token expired; log in again");
  }
  Identity id;
  id.user = it->second.username;
  id.token_hash = std::move(hash);
  id.expires_at_ms = it->second.expires_at_ms;
  return id;
}

absl::StatusOr<Identity> Accounts::Authenticate(absl::string_view authorization,
                                                absl::string_view guest_user) const {
  if (authorization.empty()) return AuthenticateToken("", guest_user);
  constexpr absl::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(authorization, kBearer)) {
    return absl::UnauthenticatedError("authorization metadata must be `Bearer <token>`");
  }
  absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(kBearer.size()));
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
  return AuthenticateToken(token, "");
}

void Accounts::Register(const std::string& username, const std::string& password,
                        std::function<void(absl::StatusOr<std::string>)> done) {
  if (absl::Status st = ValidateUsername(username); !st.ok()) return done(st);
  if (absl::Status st = ValidatePassword(password); !st.ok()) return done(st);
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<std::string>)>>(std::move(done));
  RunHashJob(
      [this, username, password, shared_done] {
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str_alg(hash, password.data(), password.size(), options_.pwhash_opslimit,
                                  options_.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
          return (*shared_done)(absl::ResourceExhaustedError("cannot hash the password: out of memory"));
        }
        store_->CreateUser(username, UsernameKey(username), hash, NowMs(),
                           [username, shared_done](absl::StatusOr<UserRecord> user) {
                             if (!user.ok()) return (*shared_done)(user.status());
                             CHAT_LOG_INFO(kLog, "user '%s' registered", username);
                             (*shared_done)(user->username);
                           });
      },
      [shared_done] {
        (*shared_done)(absl::ResourceExhaustedError("too many logins in progress; retry shortly"));
      });
}

void Accounts::Login(const std::string& username, const std::string& password,
                     const std::string& peer, std::function<void(absl::StatusOr<LoginResult>)> done) {
  if (password.size() > kMaxPasswordBytes) {
    return done(absl::InvalidArgumentError(
        absl::StrCat("password must be at most ", kMaxPasswordBytes, " bytes")));
  }
  const std::string key = UsernameKey(username);
  const int64_t now = NowMs();
  int64_t retry = 0;
  if (absl::Status st = user_limiter_.Check(key, now, &retry); !st.ok()) return done(st);
  if (absl::Status st = peer_limiter_.Check(peer, now, &retry); !st.ok()) return done(st);
  auto shared_done = std::make_shared<std::function<void(absl::StatusOr<LoginResult>)>>(std::move(done));
  store_->FindUser(key, [this, key, password, peer, shared_done](absl::StatusOr<UserRecord> user) {
    if (!user.ok() && user.status().code() != absl::StatusCode::kNotFound) {
      return (*shared_done)(user.status());
    }
    RunHashJob(
        [this, key, password, peer, shared_done, user = std::move(user)] {
          const std::string& stored = user.ok() ? user->password_hash : dummy_hash_;
          bool match = crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
          if (!user.ok() || !match) {
            user_limiter_.RecordFailure(key, NowMs());
            peer_limiter_.RecordFailure(peer, NowMs());
            return (*shared_done)(absl::UnauthenticatedError(kBadLogin));
          }
          user_limiter_.Reset(key);
          unsigned char raw[32];
          randombytes_buf(raw, sizeof raw);
          char encoded[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
          sodium_bin2base64(encoded, sizeof encoded, raw, sizeof raw,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING);
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
          store_->CreateSession(rec, NowMs(),
                                [this, rec, result = std::move(result), shared_done](absl::StatusOr<bool> ok) {
                                  if (!ok.ok()) return (*shared_done)(ok.status());
                                  {
                                    absl::MutexLock lock(&mu_);
                                    sessions_[rec.token_hash] = rec;
                                  }
                                  CHAT_LOG_INFO(kLog, "user '%s' logged in", rec.username);
                                  (*shared_done)(result);
                                });
        },
        [shared_done] {
          (*shared_done)(absl::ResourceExhaustedError("too many logins in progress; retry shortly"));
        });
  });
}

void Accounts::Logout(const Identity& identity, std::function<void(absl::Status)> done) {
  if (identity.guest || identity.token_hash.empty()) {
    return done(absl::FailedPreconditionError("guests have no session to log out of"));
  }
  {
    absl::MutexLock lock(&mu_);
    sessions_.erase(identity.token_hash);
  }
  CHAT_LOG_INFO(kLog, "user '%s' logged out", identity.user);
  store_->RevokeSession(identity.token_hash,
                        [done = std::move(done)](absl::StatusOr<bool> r) { done(r.status()); });
}

}  // namespace chat::core
