#include "login_limiter.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace chat::core {

absl::Status TooManyFailures(int64_t wait_ms) {
  return absl::ResourceExhaustedError(absl::StrCat("too many failed logins; retry in ", (wait_ms + 999) / 1000, " s"));
}

absl::Status FailureLimiter::Begin(const std::string& key, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  PruneLocked(now_ms);
  Entry& e = entries_[key];
  auto& q = e.failures;
  while (!q.empty() && q.front() <= now_ms - window_ms_) q.pop_front();
  if (static_cast<int>(q.size()) + e.in_flight < max_) {
    ++e.in_flight;
    return absl::OkStatus();
  }
  const bool empty = q.empty() && e.in_flight == 0;
  // Only attempts in flight: one of them ends within a hash's time.
  absl::Status refused = TooManyFailures(q.empty() ? 1000 : q.front() + window_ms_ - now_ms);
  if (empty) entries_.erase(key);  // max_ <= 0
  return refused;
}

void FailureLimiter::End(const std::string& key, int64_t now_ms, bool failed) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[key];
  if (e.in_flight > 0) --e.in_flight;
  if (failed) {
    e.failures.push_back(now_ms);
    while (static_cast<int>(e.failures.size()) > max_) e.failures.pop_front();
  }
  if (e.failures.empty() && e.in_flight == 0) entries_.erase(key);
}

void FailureLimiter::Reset(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.failures.clear();
  if (it->second.in_flight == 0) entries_.erase(it);
}

void FailureLimiter::PruneLocked(int64_t now_ms) {
  // Forget keys whose failures all left the window, at most once a minute.
  if (now_ms - last_prune_ms_ < 60'000) return;
  last_prune_ms_ = now_ms;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.in_flight == 0 && (e.failures.empty() || e.failures.back() <= now_ms - window_ms_)) {
      entries_.erase(it++);
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
    absl::Status st = users_.Begin(user_key, now_ms);
    if (st.ok()) {
      st = peers_.Begin(peer, now_ms);
      if (!st.ok()) users_.End(user_key, now_ms, /*failed=*/false);
    }
    done(st);
  }
  void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void()> done) override {
    users_.End(user_key, now_ms, /*failed=*/true);
    peers_.End(peer, now_ms, /*failed=*/true);
    done();
  }
  void RecordSuccess(const std::string& user_key, const std::string& peer) override {
    users_.Reset(user_key);
    Abandon(user_key, peer);
  }
  void Abandon(const std::string& user_key, const std::string& peer) override {
    users_.End(user_key, 0, /*failed=*/false);
    peers_.End(peer, 0, /*failed=*/false);
  }

 private:
  FailureLimiter users_;
  FailureLimiter peers_;
};

// Keys in the shared table: "u:<username key>" and "p:<peer>".
std::string UserKey(const std::string& k) { return "u:" + k; }
std::string PeerKey(const std::string& k) { return "p:" + k; }

// The failures live in the shared table; the attempts in flight on this node
// are added to their count (a burst spread over N nodes gets at most N times
// the limit in guesses; on one node, the limit). A count and the end of an
// attempt are both answered on the cluster's thread, in the order asked, so a
// failure is never missed between the table and the in-flight count.
class ClusterLoginLimiter final : public LoginLimiter {
 public:
  ClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster) : limits_(limits), cluster_(cluster) {}

  void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
             std::function<void(absl::Status)> done) override {
    const int64_t window = absl::ToInt64Milliseconds(limits_.window);
    cluster_->CountLoginFailures(
        {UserKey(user_key), PeerKey(peer)}, now_ms - window,
        [this, user_key, peer, window, now_ms, done = std::move(done)](absl::StatusOr<std::vector<FailureCount>> counts) {
          if (!counts.ok()) return done(counts.status());
          const int max[2] = {limits_.max_failures_per_user, limits_.max_failures_per_peer};
          {
            absl::MutexLock lock(&mu_);
            const int flying[2] = {InFlightLocked(users_, user_key), InFlightLocked(peers_, peer)};
            for (size_t i = 0; i < counts->size() && i < 2; ++i) {
              const FailureCount& c = (*counts)[i];
              // Blocked at least until the oldest failure in the window ages
              // out, or (only attempts in flight) until one of them ends.
              if (c.count + flying[i] >= max[i]) {
                return done(TooManyFailures(c.count > 0 ? c.oldest_ms + window - now_ms : 1000));
              }
            }
            ++users_[user_key];
            ++peers_[peer];
          }
          done(absl::OkStatus());
        });
  }
  void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void()> done) override {
    // A failure that could not be stored is still answered as a failure.
    cluster_->RecordLoginFailures({UserKey(user_key), PeerKey(peer)}, now_ms,
                                  [this, user_key, peer, done = std::move(done)](absl::Status) {
                                    Abandon(user_key, peer);  // now counted in the table
                                    done();
                                  });
  }
  void RecordSuccess(const std::string& user_key, const std::string& peer) override {
    cluster_->ClearLoginFailures(UserKey(user_key));
    Abandon(user_key, peer);
  }
  void Abandon(const std::string& user_key, const std::string& peer) override {
    absl::MutexLock lock(&mu_);
    EndLocked(users_, user_key);
    EndLocked(peers_, peer);
  }

 private:
  using Counts = absl::flat_hash_map<std::string, int>;
  static int InFlightLocked(const Counts& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  }
  static void EndLocked(Counts& m, const std::string& k) {
    auto it = m.find(k);
    if (it != m.end() && --it->second <= 0) m.erase(it);
  }

  const LoginLimits limits_;
  Cluster* const cluster_;
  absl::Mutex mu_;
  Counts users_ ABSL_GUARDED_BY(mu_);
  Counts peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<LoginLimiter> NewLocalLoginLimiter(const LoginLimits& limits) {
  return std::make_unique<LocalLoginLimiter>(limits);
}

std::unique_ptr<LoginLimiter> NewClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster) {
  return std::make_unique<ClusterLoginLimiter>(limits, cluster);
}

}  // namespace chat::core
