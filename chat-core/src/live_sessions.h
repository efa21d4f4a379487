// LiveSessions: the registry of this node's live streams and sessions, for what
// reaches them all: logout and revocation (by token), token expiry and
// renewal, events for every session (a room was created), and shutdown.
//
// Threading: thread-safe; kills and pushes happen outside its lock.
// Lifetime: owned by the Hub; it holds streams and sessions only weakly.
#ifndef CHAT_CORE_SRC_LIVE_SESSIONS_H_
#define CHAT_CORE_SRC_LIVE_SESSIONS_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "identity.h"
#include "outbox.h"

namespace chat::core {

class Session;

class LiveSessions {
 public:
  // At most `max_per_user` live sessions per user name on this node (Connect
  // streams and browser sessions on gateway streams together; 0: no cap).
  explicit LiveSessions(int max_per_user = 0) : max_per_user_(max_per_user) {}

  // False after Shutdown().
  bool AddStream(const std::shared_ptr<Outbox>& outbox);
  void RemoveStream(Outbox* outbox);
  // RESOURCE_EXHAUSTED, and the session is not added, if its user already has
  // max_per_user live sessions here. UNAUTHENTICATED, and it is not added, if
  // the session check (SetSessionCheck) finds its token revoked once it is
  // registered: a logout that ran between the token's check and now cannot
  // leave it open (the logout's kill comes after its revocation, so either
  // the kill finds the session or the check finds the revocation).
  absl::Status AddSession(const std::shared_ptr<Session>& session);
  void RemoveSession(Session* session);
  // Set once, before any session is added (Accounts::SessionLive).
  void SetSessionCheck(std::function<bool(const Identity&)> check) { session_check_ = std::move(check); }

  // Ends every live session that uses this token (logout, revocation).
  void KillSessionsWithToken(const std::string& token_hash, const std::string& reason);
  // Ends every session whose token expired by now_ms (Session::expires_at_ms,
  // which renewal moves); how many (a session killed before is not counted).
  int KillExpired(int64_t now_ms);
  // The token hashes with a live session on this node (each once), for the
  // renewal sweep: a token in use here is renewed by this node.
  std::vector<std::string> LiveTokenHashes() const;
  // The token was renewed: every live session of it here expires at
  // `expires_at_ms` from now on, and is told (ServerEvent.session_renewed; to
  // a browser session alone on a gateway stream). How many sessions.
  int RenewToken(const std::string& token_hash, int64_t expires_at_ms);
  // Gives `event` to every live session: once per stream (a gateway stream
  // fans it out to its browsers).
  void PushToAll(const chat::v1::ServerEvent& event);
  // The live sessions of `user` (exact name), and of everyone.
  std::vector<std::shared_ptr<Session>> SessionsOf(const std::string& user) const;
  std::vector<std::shared_ptr<Session>> AllSessions() const;
  // Ends every live stream with UNAVAILABLE and refuses new ones.
  void Shutdown();
  bool shutting_down() const;

  struct Counts {
    int64_t sessions = 0;
    int64_t streams = 0;
  };
  Counts counts() const;

  // For metrics, by Outbox::Kind: open streams, their sessions, the events
  // waiting in their queues and the longest queue. Takes each stream's lock
  // in turn (never two at once); for a scrape, not for a hot path.
  struct KindCounts {
    int64_t streams = 0;
    int64_t sessions = 0;
    uint64_t queued = 0;
    uint64_t max_queued = 0;
  };
  std::array<KindCounts, 2> CountByKind() const;

 private:
  std::vector<std::shared_ptr<Outbox>> StreamsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckAdded(const std::shared_ptr<Session>& session) ABSL_LOCKS_EXCLUDED(mu_);

  const int max_per_user_;
  std::function<bool(const Identity&)> session_check_;
  mutable absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // user name -> live sessions (only while max_per_user_ > 0).
  absl::flat_hash_map<std::string, int> per_user_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Outbox*, std::weak_ptr<Outbox>> streams_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<Session*>> by_token_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_LIVE_SESSIONS_H_
