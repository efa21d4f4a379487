// LiveSessions: the registry of this node's live streams and sessions, for what
// reaches them all: logout and revocation (by token), token expiry, events for
// every session (a room was created), and shutdown.
//
// Threading: thread-safe; kills and pushes happen outside its lock.
// Lifetime: owned by the Hub; it holds streams and sessions only weakly.
#ifndef CHAT_CORE_SRC_LIVE_SESSIONS_H_
#define CHAT_CORE_SRC_LIVE_SESSIONS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "outbox.h"

namespace chat::core {

class Session;

class LiveSessions {
 public:
  // False after Shutdown().
  bool AddStream(const std::shared_ptr<Outbox>& outbox);
  void RemoveStream(Outbox* outbox);
  void AddSession(const std::shared_ptr<Session>& session);
  void RemoveSession(Session* session);

  // Ends every live session that uses this token (logout, revocation).
  void KillSessionsWithToken(const std::string& token_hash, const std::string& reason);
  // Ends every session whose token expired by now_ms; how many.
  int KillExpired(int64_t now_ms);
  // Gives `event` to every live session: once per stream (a gateway stream
  // fans it out to its browsers).
  void PushToAll(const chat::v1::ServerEvent& event);
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

  mutable absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<Outbox*, std::weak_ptr<Outbox>> streams_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<Session*>> by_token_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_LIVE_SESSIONS_H_
