#include "live_sessions.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "chat/log.h"
#include "session.h"

namespace chat::core {

bool LiveSessions::AddStream(const std::shared_ptr<Outbox>& outbox) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  streams_[outbox.get()] = outbox;
  return true;
}

void LiveSessions::RemoveStream(Outbox* outbox) {
  absl::MutexLock lock(&mu_);
  streams_.erase(outbox);
}

absl::Status LiveSessions::AddSession(const std::shared_ptr<Session>& session) {
  absl::ReleasableMutexLock lock(&mu_);
  if (max_per_user_ > 0) {
    int& live = per_user_[session->identity().user];
    if (live >= max_per_user_) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "%s already has %d live streams on this node (--max_streams_per_user); close one first",
          session->identity().user, live));
    }
    ++live;
  }
  sessions_[session.get()] = session;
  if (!session->identity().token_hash.empty()) by_token_[session->identity().token_hash].insert(session.get());
  lock.Release();
  return CheckAdded(session);
}

absl::Status LiveSessions::CheckAdded(const std::shared_ptr<Session>& session) {
  // Outside mu_ (the check takes Accounts' lock), after the registration.
  if (!session_check_ || session_check_(session->identity())) return absl::OkStatus();
  RemoveSession(session.get());
  return absl::UnauthenticatedError("invalid or revoked session token; log in again");
}

void LiveSessions::RemoveSession(Session* session) {
  absl::MutexLock lock(&mu_);
  if (sessions_.erase(session) == 0) return;
  if (max_per_user_ > 0) {
    auto user = per_user_.find(session->identity().user);
    if (user != per_user_.end() && --user->second <= 0) per_user_.erase(user);
  }
  const std::string& hash = session->identity().token_hash;
  if (hash.empty()) return;
  auto it = by_token_.find(hash);
  if (it == by_token_.end()) return;
  it->second.erase(session);
  if (it->second.empty()) by_token_.erase(it);
}

void LiveSessions::KillSessionsWithToken(const std::string& token_hash, const std::string& reason) {
  std::vector<std::shared_ptr<Session>> doomed;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_token_.find(token_hash);
    if (it == by_token_.end()) return;
    for (Session* s : it->second) {
      if (auto sp = sessions_[s].lock()) doomed.push_back(std::move(sp));
    }
  }
  for (auto& s : doomed) s->Kill(absl::UnauthenticatedError(reason));
}

int LiveSessions::KillExpired(int64_t now_ms) {
  std::vector<std::shared_ptr<Session>> doomed;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [ptr, weak] : sessions_) {
      int64_t expires = ptr->expires_at_ms();
      if (expires == 0 || expires > now_ms) continue;
      if (auto sp = weak.lock()) doomed.push_back(std::move(sp));
    }
  }
  // A session killed before (its stream still ending) is not counted again.
  int killed = 0;
  for (auto& s : doomed) killed += s->Kill(absl::UnauthenticatedError("session token expired; log in again")) ? 1 : 0;
  return killed;
}

std::vector<std::string> LiveSessions::LiveTokenHashes() const {
  std::vector<std::string> out;
  absl::MutexLock lock(&mu_);
  out.reserve(by_token_.size());
  for (const auto& [hash, sessions] : by_token_) out.push_back(hash);
  return out;
}

int LiveSessions::RenewToken(const std::string& token_hash, int64_t expires_at_ms) {
  std::vector<std::shared_ptr<Session>> renewed;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_token_.find(token_hash);
    if (it == by_token_.end()) return 0;
    for (Session* s : it->second) {
      if (auto sp = sessions_[s].lock()) renewed.push_back(std::move(sp));
    }
  }
  // Outside mu_: the push takes the session's outbox lock.
  for (auto& s : renewed) s->Renewed(expires_at_ms);
  return static_cast<int>(renewed.size());
}

std::vector<std::shared_ptr<Outbox>> LiveSessions::StreamsLocked() const {
  std::vector<std::shared_ptr<Outbox>> out;
  out.reserve(streams_.size());
  for (const auto& [ptr, weak] : streams_) {
    if (auto sp = weak.lock()) out.push_back(std::move(sp));
  }
  return out;
}

void LiveSessions::PushToAll(const chat::v1::ServerEvent& event) {
  std::vector<std::shared_ptr<Outbox>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams = StreamsLocked();
  }
  for (auto& s : streams) s->PushEvent(0, event);
}

std::vector<std::shared_ptr<Session>> LiveSessions::SessionsOf(const std::string& user) const {
  std::vector<std::shared_ptr<Session>> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [raw, weak] : sessions_) {
    if (raw->identity().user != user) continue;
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::shared_ptr<Session>> LiveSessions::AllSessions() const {
  std::vector<std::shared_ptr<Session>> out;
  absl::MutexLock lock(&mu_);
  out.reserve(sessions_.size());
  for (const auto& [raw, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

void LiveSessions::Shutdown() {
  std::vector<std::shared_ptr<Outbox>> streams;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    streams = StreamsLocked();
  }
  CHAT_LOG_INFO("hub", "shutting down: ending %d streams", static_cast<int>(streams.size()));
  for (auto& s : streams) s->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
}

bool LiveSessions::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

std::array<LiveSessions::KindCounts, 2> LiveSessions::CountByKind() const {
  std::array<KindCounts, 2> out;
  std::vector<std::shared_ptr<Outbox>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams = StreamsLocked();
    for (const auto& [session, weak] : sessions_) ++out[static_cast<int>(session->stream_kind())].sessions;
  }
  for (const auto& s : streams) {
    KindCounts& k = out[static_cast<int>(s->kind())];
    const uint64_t queued = s->queued();
    ++k.streams;
    k.queued += queued;
    k.max_queued = std::max(k.max_queued, queued);
  }
  return out;
}

LiveSessions::Counts LiveSessions::counts() const {
  absl::MutexLock lock(&mu_);
  return Counts{static_cast<int64_t>(sessions_.size()), static_cast<int64_t>(streams_.size())};
}

}  // namespace chat::core
