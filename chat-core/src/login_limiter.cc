#include "login_limiter.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace chat::core {

absl::Status TooManyFailures(int64_t wait_ms) {
  return absl::ResourceExhaustedError(absl::StrCat("too many failed logins; retry in ", (wait_ms + 999) / 1000, " s"));
}

absl::Status FailureLimiter::Check(const std::string& key, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  PruneLocked(now_ms);
  auto it = failures_.find(key);
  if (it == failures_.end()) return absl::OkStatus();
  auto& q = it->second;
  while (!q.empty() && q.front() <= now_ms - window_ms_) q.pop_front();
  if (static_cast<int>(q.size()) < max_) return absl::OkStatus();
  return TooManyFailures(q.front() + window_ms_ - now_ms);
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

namespace {

class LocalLoginLimiter final : public LoginLimiter {
 public:
  explicit LocalLoginLimiter(const LoginLimits& limits)
      : users_(limits.max_failures_per_user, limits.window), peers_(limits.max_failures_per_peer, limits.window) {}

  void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
             std::function<void(absl::Status)> done) override {
    absl::Status st = users_.Check(user_key, now_ms);
    if (st.ok()) st = peers_.Check(peer, now_ms);
    done(st);
  }
  void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void()> done) override {
    users_.RecordFailure(user_key, now_ms);
    peers_.RecordFailure(peer, now_ms);
    done();
  }
  void RecordSuccess(const std::string& user_key) override { users_.Reset(user_key); }

 private:
  FailureLimiter users_;
  FailureLimiter peers_;
};

// Keys in the shared table: "u:<username key>" and "p:<peer>".
std::string UserKey(const std::string& k) { return "u:" + k; }
std::string PeerKey(const std::string& k) { return "p:" + k; }

class ClusterLoginLimiter final : public LoginLimiter {
 public:
  ClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster) : limits_(limits), cluster_(cluster) {}

  void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
             std::function<void(absl::Status)> done) override {
    const int64_t window = absl::ToInt64Milliseconds(limits_.window);
    cluster_->CountLoginFailures(
        {UserKey(user_key), PeerKey(peer)}, now_ms - window,
        [limits = limits_, window, now_ms, done = std::move(done)](absl::StatusOr<std::vector<FailureCount>> counts) {
          if (!counts.ok()) return done(counts.status());
          const int max[2] = {limits.max_failures_per_user, limits.max_failures_per_peer};
          for (size_t i = 0; i < counts->size() && i < 2; ++i) {
            const FailureCount& c = (*counts)[i];
            // Blocked at least until the oldest failure in the window ages out.
            if (c.count >= max[i]) return done(TooManyFailures(c.oldest_ms + window - now_ms));
          }
          done(absl::OkStatus());
        });
  }
  void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void()> done) override {
    // A failure that could not be stored is still answered as a failure.
    cluster_->RecordLoginFailures({UserKey(user_key), PeerKey(peer)}, now_ms,
                                  [done = std::move(done)](absl::Status) { done(); });
  }
  void RecordSuccess(const std::string& user_key) override { cluster_->ClearLoginFailures(UserKey(user_key)); }

 private:
  const LoginLimits limits_;
  Cluster* const cluster_;
};

}  // namespace

std::unique_ptr<LoginLimiter> NewLocalLoginLimiter(const LoginLimits& limits) {
  return std::make_unique<LocalLoginLimiter>(limits);
}

std::unique_ptr<LoginLimiter> NewClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster) {
  return std::make_unique<ClusterLoginLimiter>(limits, cluster);
}

}  // namespace chat::core
