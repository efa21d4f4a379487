// EventNarrator: turns the live events of private rooms, direct messages and
// moderation (membership changes, rooms created/updated/deleted, deleted
// messages, being put out of a room) into the "-- ..." lines of the
// interactive mode, from one user's point of view. It remembers what it needs
// to say what changed: the rooms joined (to tell a new topic from an old one),
// the messages shown lately (to say which one was deleted), and the rooms it
// told the user they were put out of (chat-core says so twice: a `left` and a
// membership or room event, in either order; the user hears it once).
//
// Threading: thread-safe (one mutex; the session calls it from the input
// thread and the LiveClient's dispatcher). Lifetime: owned by the session.
#ifndef CHAT_CLI_SRC_EVENT_NARRATOR_H_
#define CHAT_CLI_SRC_EVENT_NARRATOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"

namespace chat::cli {

class EventNarrator {
 public:
  // `me`: the user the session belongs to; `recent`: how many messages to
  // remember for deletions.
  explicit EventNarrator(std::string me, size_t recent = 2000);

  // A room the session joined, as chat-core described it.
  void TrackRoom(const chat::v1::Room& room);
  // A message that was shown.
  void SawMessage(const chat::v1::Message& message);
  // The lines (plain text, untrusted parts sanitized) for `event`; none for
  // events this class does not narrate (messages, joins, acks, ...) or that
  // repeat what was already told.
  std::vector<std::string> Narrate(const chat::v1::ServerEvent& event);

 private:
  // Being put out of `room`: told once for the pair of events that say it.
  std::vector<std::string> Removal(const std::string& room, std::string text)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string DescribeDeleted(const chat::v1::MessageDeleted& deleted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string me_;
  const size_t recent_limit_;
  absl::Mutex mu_;
  std::map<std::string, chat::v1::Room> rooms_ ABSL_GUARDED_BY(mu_);
  // (room, seq) -> (author, text); oldest first in recent_order_.
  std::map<std::pair<std::string, int64_t>, std::pair<std::string, std::string>> recent_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, int64_t>> recent_order_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> removed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_EVENT_NARRATOR_H_
