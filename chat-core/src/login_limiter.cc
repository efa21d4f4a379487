#include "login_limiter.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chat::core {

namespace {
int64_t Seconds(int64_t wait_ms) { return std::max<int64_t>(1, (wait_ms + 999) / 1000); }
}  // namespace

absl::Status TooManyFailures(int64_t wait_ms) {
  return absl::ResourceExhaustedError(absl::StrCat("too many failed logins; retry in ", Seconds(wait_ms), " s"));
}

// The payload that marks a UserSlowedDown status, with its wait.
constexpr char kSlowdownPayload[] = "chat.login_slowdown_ms";

absl::Status UserSlowedDown(int64_t wait_ms) {
  absl::Status st = absl::ResourceExhaustedError(
      absl::StrCat("too many failed logins for this user; retry in ", Seconds(wait_ms), " s"));
  st.SetPayload(kSlowdownPayload, absl::Cord(absl::StrCat(std::max<int64_t>(1, wait_ms))));
  return st;
}

int64_t SlowdownWaitMs(const absl::Status& status) {
  auto payload = status.GetPayload(kSlowdownPayload);
  int64_t ms = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &ms)) return 0;
  return ms;
}

absl::Status TooManyRegistrations(int64_t wait_ms) {
  return absl::ResourceExhaustedError(
      absl::StrCat("too many registrations from this address; retry in ", Seconds(wait_ms), " s"));
}

int64_t UserDelayMs(const LoginLimits& limits, int failures) {
  if (failures < limits.user_slowdown_after) return 0;
  const int64_t cap = absl::ToInt64Milliseconds(limits.user_slowdown_max);
  const int k = std::min(failures - limits.user_slowdown_after, 40);
  const int64_t base = absl::ToInt64Milliseconds(limits.user_slowdown_base);
  if (base <= 0) return 0;
  // base * 2^k, without overflowing on the way to the cap.
  int64_t d = base;
  for (int i = 0; i < k && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

std::string PairKey(const std::string& user_key, const std::string& peer) {
  return absl::StrCat(user_key, "|", peer);  // '|' is in no username
}

absl::Status CheckUserSlowdown(const LoginLimits& limits, int failures, int64_t newest_ms, int in_flight,
                               int64_t now_ms) {
  if (failures + in_flight < limits.user_slowdown_after) return absl::OkStatus();
  const int64_t delay = UserDelayMs(limits, std::max(failures, limits.user_slowdown_after));
  // Slowed down: one attempt at a time, each after the delay.
  if (in_flight > 0) return UserSlowedDown(std::max<int64_t>(delay, 1000));
  if (failures == 0) return absl::OkStatus();  // user_slowdown_after <= 0 and nothing failed yet
  const int64_t due = newest_ms + delay;
  if (now_ms >= due) return absl::OkStatus();
  return UserSlowedDown(due - now_ms);
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
  absl::Status refused = refuse_(q.empty() ? 1000 : q.front() + window_ms_ - now_ms);
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

absl::Status UserSlowdown::Begin(const std::string& key, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  PruneLocked(now_ms);
  Entry& e = entries_[key];
  const int64_t window_ms = absl::ToInt64Milliseconds(limits_.window);
  while (!e.failures.empty() && e.failures.front() <= now_ms - window_ms) e.failures.pop_front();
  absl::Status st = CheckUserSlowdown(limits_, static_cast<int>(e.failures.size()),
                                      e.failures.empty() ? 0 : e.failures.back(), e.in_flight, now_ms);
  if (st.ok()) {
    ++e.in_flight;
  } else if (e.failures.empty() && e.in_flight == 0) {
    entries_.erase(key);
  }
  return st;
}

void UserSlowdown::End(const std::string& key, int64_t now_ms, bool failed) {
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[key];
  if (e.in_flight > 0) --e.in_flight;
  if (failed) {
    e.failures.push_back(now_ms);
    // Past this many the delay is at its cap anyway.
    const size_t kept = static_cast<size_t>(std::max(0, limits_.user_slowdown_after)) + 64;
    while (e.failures.size() > kept) e.failures.pop_front();
  }
  if (e.failures.empty() && e.in_flight == 0) entries_.erase(key);
}

void UserSlowdown::PruneLocked(int64_t now_ms) {
  if (now_ms - last_prune_ms_ < 60'000) return;
  last_prune_ms_ = now_ms;
  const int64_t window_ms = absl::ToInt64Milliseconds(limits_.window);
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.in_flight == 0 && (e.failures.empty() || e.failures.back() <= now_ms - window_ms)) {
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
      : pairs_(limits.max_failures_per_pair, limits.window),
        peers_(limits.max_failures_per_peer, limits.window),
        users_(limits),
        registrations_(limits.max_registrations_per_peer, limits.registration_window, TooManyRegistrations),
        limit_registrations_(limits.max_registrations_per_peer > 0) {}

  void Check(const std::string& user_key, const std::string& peer, int64_t now_ms,
             std::function<void(absl::Status)> done) override {
    const std::string pair = PairKey(user_key, peer);
    absl::Status st = pairs_.Begin(pair, now_ms);
    if (!st.ok()) return done(st);
    st = peers_.Begin(peer, now_ms);
    if (!st.ok()) {
      pairs_.End(pair, now_ms, /*failed=*/false);
      return done(st);
    }
    st = users_.Begin(user_key, now_ms);
    if (!st.ok()) {
      pairs_.End(pair, now_ms, /*failed=*/false);
      peers_.End(peer, now_ms, /*failed=*/false);
    }
    done(st);
  }
  void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void()> done) override {
    pairs_.End(PairKey(user_key, peer), now_ms, /*failed=*/true);
    peers_.End(peer, now_ms, /*failed=*/true);
    users_.End(user_key, now_ms, /*failed=*/true);
    done();
  }
  void RecordSuccess(const std::string& user_key, const std::string& peer) override {
    pairs_.Reset(PairKey(user_key, peer));
    Abandon(user_key, peer);
  }
  void Abandon(const std::string& user_key, const std::string& peer) override {
    pairs_.End(PairKey(user_key, peer), 0, /*failed=*/false);
    peers_.End(peer, 0, /*failed=*/false);
    users_.End(user_key, 0, /*failed=*/false);
  }

  void CheckRegistration(const std::string& peer, int64_t now_ms, std::function<void(absl::Status)> done) override {
    if (!limit_registrations_) return done(absl::OkStatus());
    done(registrations_.Begin(peer, now_ms));
  }
  void EndRegistration(const std::string& peer, int64_t now_ms, bool counted) override {
    if (limit_registrations_) registrations_.End(peer, now_ms, counted);
  }

 private:
  FailureLimiter pairs_;
  FailureLimiter peers_;
  UserSlowdown users_;
  FailureLimiter registrations_;
  const bool limit_registrations_;
};

// Keys in the shared table: "u:<username key>" (the slowdown), "x:<pair>",
// "p:<peer>" and "r:<peer>" (registrations).
std::string UserKey(const std::string& k) { return "u:" + k; }
std::string PeerKey(const std::string& k) { return "p:" + k; }
std::string PairRowKey(const std::string& user_key, const std::string& peer) {
  return "x:" + PairKey(user_key, peer);
}
std::string RegistrationKey(const std::string& peer) { return "r:" + peer; }

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
        {PairRowKey(user_key, peer), PeerKey(peer), UserKey(user_key)}, now_ms - window,
        [this, user_key, peer, window, now_ms, done = std::move(done)](absl::StatusOr<std::vector<FailureCount>> counts) {
          if (!counts.ok()) return done(counts.status());
          if (counts->size() != 3) return done(absl::InternalError("login failure counts: wrong number of rows"));
          const std::string pair = PairKey(user_key, peer);
          {
            absl::MutexLock lock(&mu_);
            const int max[2] = {limits_.max_failures_per_pair, limits_.max_failures_per_peer};
            const int flying[2] = {InFlightLocked(pairs_, pair), InFlightLocked(peers_, peer)};
            for (size_t i = 0; i < 2; ++i) {
              const FailureCount& c = (*counts)[i];
              // Blocked at least until the oldest failure in the window ages
              // out, or (only attempts in flight) until one of them ends.
              if (c.count + flying[i] >= max[i]) {
                return done(TooManyFailures(c.count > 0 ? c.oldest_ms + window - now_ms : 1000));
              }
            }
            const FailureCount& user = (*counts)[2];
            absl::Status slowed =
                CheckUserSlowdown(limits_, user.count, user.newest_ms, InFlightLocked(users_, user_key), now_ms);
            if (!slowed.ok()) return done(slowed);
            ++pairs_[pair];
            ++peers_[peer];
            ++users_[user_key];
          }
          done(absl::OkStatus());
        });
  }
  void RecordFailure(const std::string& user_key, const std::string& peer, int64_t now_ms,
                     std::function<void()> done) override {
    // A failure that could not be stored is still answered as a failure.
    cluster_->RecordLoginFailures({PairRowKey(user_key, peer), PeerKey(peer), UserKey(user_key)}, now_ms,
                                  [this, user_key, peer, done = std::move(done)](absl::Status) {
                                    Abandon(user_key, peer);  // now counted in the table
                                    done();
                                  });
  }
  void RecordSuccess(const std::string& user_key, const std::string& peer) override {
    cluster_->ClearLoginFailures(PairRowKey(user_key, peer));
    Abandon(user_key, peer);
  }
  void Abandon(const std::string& user_key, const std::string& peer) override {
    absl::MutexLock lock(&mu_);
    EndLocked(pairs_, PairKey(user_key, peer));
    EndLocked(peers_, peer);
    EndLocked(users_, user_key);
  }

  void CheckRegistration(const std::string& peer, int64_t now_ms, std::function<void(absl::Status)> done) override {
    if (limits_.max_registrations_per_peer <= 0) return done(absl::OkStatus());
    const int64_t window = absl::ToInt64Milliseconds(limits_.registration_window);
    cluster_->CountLoginFailures(
        {RegistrationKey(peer)}, now_ms - window,
        [this, peer, window, now_ms, done = std::move(done)](absl::StatusOr<std::vector<FailureCount>> counts) {
          if (!counts.ok()) return done(counts.status());
          if (counts->size() != 1) return done(absl::InternalError("registration counts: wrong number of rows"));
          const FailureCount& c = (*counts)[0];
          {
            absl::MutexLock lock(&mu_);
            if (c.count + InFlightLocked(registering_, peer) >= limits_.max_registrations_per_peer) {
              return done(TooManyRegistrations(c.count > 0 ? c.oldest_ms + window - now_ms : 1000));
            }
            ++registering_[peer];
          }
          done(absl::OkStatus());
        });
  }
  void EndRegistration(const std::string& peer, int64_t now_ms, bool counted) override {
    if (limits_.max_registrations_per_peer <= 0) return;
    if (!counted) {
      absl::MutexLock lock(&mu_);
      EndLocked(registering_, peer);
      return;
    }
    cluster_->RecordLoginFailures({RegistrationKey(peer)}, now_ms, [this, peer](absl::Status) {
      absl::MutexLock lock(&mu_);
      EndLocked(registering_, peer);
    });
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
  Counts pairs_ ABSL_GUARDED_BY(mu_);
  Counts peers_ ABSL_GUARDED_BY(mu_);
  Counts users_ ABSL_GUARDED_BY(mu_);
  Counts registering_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<LoginLimiter> NewLocalLoginLimiter(const LoginLimits& limits) {
  return std::make_unique<LocalLoginLimiter>(limits);
}

std::unique_ptr<LoginLimiter> NewClusterLoginLimiter(const LoginLimits& limits, Cluster* cluster) {
  return std::make_unique<ClusterLoginLimiter>(limits, cluster);
}

}  // namespace chat::core
