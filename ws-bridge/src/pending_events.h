// PendingEvents: the browser's events that chat-core has not answered yet, and
// those that wait while no gateway stream is up, so that a fail-over to another
// chat-core node loses none of them (docs/architecture.md, "Fail-over between
// chat-core nodes").
//
// An event with a direct answer (join, leave, send, ping, history, listRooms,
// createRoom, and the room management and membership requests that carry a
// ref: their answers look like pushed changes otherwise) is kept from when it is sent until its answer passes through
// (matched by kind, ref, room and, for a send, client_msg_id). When the stream
// is lost, what was sent and not answered is sent again on the next stream, in
// its order, followed by what waited meanwhile: a send carries its
// client_msg_id, so chat-core stores it once whichever node had it. A send
// without a client_msg_id that was in flight cannot be sent twice safely: it
// is given back to be refused. Typing has no answer and is not kept.
//
// Threading: not thread-safe (the session calls it under its own mutex).
// Lifetime: a member of its session; holds nothing while nothing is pending.
#ifndef CHAT_WS_BRIDGE_SRC_PENDING_EVENTS_H_
#define CHAT_WS_BRIDGE_SRC_PENDING_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "chat/compact_queue.h"
#include "chat/v1/chat.pb.h"

namespace chat::bridge {

class PendingEvents {
 public:
  // Most events of one session awaiting an answer; more are refused
  // (RESOURCE_EXHAUSTED), as chat-core refuses sends over its own bound.
  static constexpr size_t kMaxUnanswered = 4096;

  // Whether chat-core answers `event` in a way that can be matched to it:
  // an event of a kind with an answer and a ref chat-core accepts.
  static bool Tracked(const chat::v1::ClientEvent& event);

  enum class Sent {
    kKept,       // kept until its answer comes
    kUntracked,  // nothing kept (no answer to wait for)
    kTooMany,    // kMaxUnanswered are waiting for answers: refuse it
  };
  // `event` goes to chat-core now (after any kept before it).
  Sent Send(const chat::v1::ClientEvent& event);
  // No stream is up: keep `event` for the next one. false: `max_waiting` wait
  // already (refuse it). Typing is not kept (true: dropped, it would be stale).
  bool Wait(const chat::v1::ClientEvent& event, size_t max_waiting);
  // An event chat-core sent the session (not a room event): forgets the
  // browser's event it answers, if any.
  void Answered(const chat::v1::ServerEvent& event);

  struct Resend {
    std::vector<chat::v1::ClientEvent> send;    // to send again, in order
    std::vector<chat::v1::ClientEvent> refuse;  // in flight, not safe to send twice
  };
  // The session is open on a new stream: everything not answered, in order,
  // and nothing is kept any more (call Send for each again).
  Resend TakeForResend();

  // Sent and not answered yet.
  size_t unanswered() const;
  size_t waiting() const { return waiting_; }

 private:
  struct Entry {
    chat::v1::ClientEvent event;
    bool sent = false;      // else it waits for a stream
    bool answered = false;  // answered, not yet popped (it was not the oldest)
  };

  // In the browser's order; answered ones leave from the front. Storage is
  // given back when it empties.
  chat::CompactQueue<Entry, 0> entries_;
  size_t waiting_ = 0;
  size_t answered_ = 0;
};

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_PENDING_EVENTS_H_
