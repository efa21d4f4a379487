// RoomSequencer: what one browser session has been given of each of its rooms,
// so that room messages reach the browser strictly in seq order, none twice
// and none missing (docs/architecture.md, "Per-room order at the bridge").
//
// Per room it keeps the last seq given to the browser, the messages held back
// after a gap, and the bridge's own request outstanding for the room: a gap
// fill (a history request) or, after a fail-over, a rejoin with since_seq. It
// decides what to deliver, what to drop, when to ask for a fill and from which
// seq, and when to give up. It does no I/O and knows no clock.
//
// Threading: not thread-safe (the session calls it under its own mutex).
// Lifetime: a member of its session.
#ifndef CHAT_WS_BRIDGE_SRC_ROOM_SEQUENCER_H_
#define CHAT_WS_BRIDGE_SRC_ROOM_SEQUENCER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace chat::bridge {

class RoomSequencer {
 public:
  using Frame = std::shared_ptr<const std::string>;

  enum class Verdict {
    kDeliver,  // give the message to the browser now; nothing is held behind it
    kDeliverAndDrain,  // give it now, then the held messages TakeReady hands out
    kDrop,     // not for the browser: given already, or the room is not live
    kHold,     // held after a gap; a request that closes it is out already
    kFill,     // held after a gap: ask for the room's history after LastSeq (then Asked)
    kTooFar,   // more held than the bound: give up (the browser resumes by seq)
  };
  // What a request of the bridge's own was for.
  enum class Ask { kFill, kRejoin };
  // After a fill's messages were offered.
  enum class FillOutcome {
    kDone,   // nothing held any more (or a request is out again)
    kFill,   // it made progress, but a gap remains: ask again from LastSeq
    kStuck,  // it made no progress: give up
  };

  explicit RoomSequencer(size_t max_held) : max_held_(max_held) {}

  // A message of `room`. `live`: from the room's fan-out, taken only while the
  // room is live. Otherwise a replayed message (a join with since_seq sends
  // them before `joined`) or a filled one, taken whether or not the room is
  // live yet. On kHold and kFill the frame has been moved in.
  Verdict Offer(const std::string& room, int64_t seq, Frame& frame, bool live);
  // After kDeliverAndDrain: the next held message now in line, if any (call
  // until false).
  bool TakeReady(const std::string& room, Frame* frame);

  // The room went live (its `joined`): from now on its fan-out counts. The
  // first `joined` of a room that had no message yet sets the last seq.
  void Joined(const std::string& room, int64_t latest_seq);
  // The browser left the room, or the bridge gave up on it.
  void Left(const std::string& room);
  bool IsLive(const std::string& room) const;
  // The last seq given to the browser in `room` (0 if none).
  int64_t LastSeq(const std::string& room) const;

  // The bridge asks `request` for `room` (it is the room's only one).
  void Asked(const std::string& room, uint64_t request, Ask ask);
  // The request out for `room` (0: none).
  uint64_t Outstanding(const std::string& room) const;
  // The room and purpose of the bridge's request `request`, which is forgotten;
  // nullopt for a request that is not (or no longer) out, e.g. from a stream
  // that has since been lost.
  std::optional<std::pair<std::string, Ask>> Answered(uint64_t request);
  // After the messages of a fill were offered; `before`: LastSeq when it came.
  FillOutcome AfterFill(const std::string& room, int64_t before) const;

  // The gateway stream was lost: no room is live, held messages and requests
  // are dropped (the rejoin replays them). Rooms that were live are to be
  // rejoined; a room still joining keeps what it was given (its join is sent
  // again and its replay deduplicated).
  void Lost();
  // The rooms to rejoin after Lost, with the since_seq for each, in name order.
  std::vector<std::pair<std::string, int64_t>> RoomsToRejoin() const;

  // Forgets everything (the session ended).
  void Clear() { rooms_.clear(); }
  size_t rooms() const { return rooms_.size(); }
  size_t held(const std::string& room) const;

 private:
  struct Room {
    bool live = false;
    bool rejoin = false;  // live before a lost stream; not yet rejoined
    bool have_seq = false;
    int64_t last_seq = 0;
    std::map<int64_t, Frame> held;
    uint64_t request = 0;  // the bridge's own request out for this room (0: none)
    Ask ask = Ask::kFill;
  };

  const size_t max_held_;
  absl::flat_hash_map<std::string, Room> rooms_;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_ROOM_SEQUENCER_H_
