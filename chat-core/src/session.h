// Session: one client session, the logic behind every ClientEvent. A Connect
// stream has one; a gateway stream has one per browser session. Events come from
// the stream's reader; answers go to the stream's Outbox (addressed to this
// session on a gateway stream).
//
// Threading: thread-safe. Handle() is called by the stream's reader, one event at
// a time; store completions, join paging and logout arrive on other threads.
// Lock order: room -> session -> outbox. Lifetime: shared by its stream, the Hub's
// registry and pending store callbacks; Close() leaves every room and makes later
// completions no-ops. Its destructor touches nothing else.
#ifndef CHAT_CORE_SRC_SESSION_H_
#define CHAT_CORE_SRC_SESSION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chat/v1/chat.pb.h"
#include "hub.h"
#include "identity.h"
#include "outbox.h"
#include "room.h"

namespace chat::core {

struct SessionOptions {
  // Sends awaiting the store at once. At the limit a Connect stream stops reading
  // (backpressure); a gateway session gets RESOURCE_EXHAUSTED errors instead, so
  // one browser never stalls the shared gateway stream.
  int max_inflight_sends = 64;
  bool pause_reads_when_busy = true;
  int max_rooms = 256;
  // Typing events closer together than this (per room) are dropped.
  absl::Duration typing_interval = absl::Milliseconds(500);
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Hub* hub, std::shared_ptr<Outbox> outbox, uint64_t session_id, Identity identity,
          SessionOptions options);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Identity& identity() const { return identity_; }
  uint64_t session_id() const { return session_id_; }
  uint64_t member_id() const { return member_id_; }
  // When its token expires, in ms since the epoch (0: never). It starts as the
  // identity's and moves when the token is renewed (Renewed); LiveSessions'
  // KillExpired and the session's own check at each event read it.
  int64_t expires_at_ms() const { return expires_at_ms_.load(std::memory_order_relaxed); }
  // The token was renewed while in use: the new expiry, and a
  // ServerEvent{session_renewed} pushed to this session alone.
  void Renewed(int64_t expires_at_ms);
  // The kind of stream the session lives on.
  Outbox::Kind stream_kind() const { return outbox_->kind(); }

  // Handles one event (`request`: GatewayUp.request, echoed with the answer).
  // Returns false when the reader should pause until the resume hook runs
  // (only with pause_reads_when_busy).
  bool Handle(const chat::v1::ClientEvent& event, uint64_t request = 0);
  // An event that could not be parsed.
  void RejectUnreadable(const std::string& message);

  // Called (outside any lock) when a paused reader may read again.
  void SetResumeHook(std::function<void()> hook);
  // How a kill (logout, expiry) ends this session: the owner closes its stream or
  // its gateway slot.
  void SetKillHook(std::function<void(const absl::Status&)> hook);
  // Called once when the client has stopped sending and every send is answered.
  void SetDrainedHook(std::function<void()> hook);

  // The client sent its last event (half-close); the drained hook runs when the
  // last pending send is answered.
  void ClientDone();
  // Ends the session: leaves every room (member events go out), abandons pending
  // joins. Idempotent.
  void Close();
  // Ends the stream with `status` (the kill hook), once: false if the session
  // was killed before (its stream may still be ending).
  bool Kill(const absl::Status& status);

  void EmitError(const absl::Status& status, absl::string_view event, const ReplyTo& to,
                 const std::string& room = "", const std::string& client_msg_id = "");

  // An event for this session alone that answers nothing (a change that
  // concerns its user).
  void Push(chat::v1::ServerEvent event) { Reply(ReplyTo{}, std::move(event)); }
  // In the room, or joining it.
  bool InRoom(int64_t room_id) const;
  // Takes the session out of the room without its asking (kicked, banned,
  // left the membership, room deleted): `left` with the reason, and nothing of
  // the room after it. Nothing if it is not in the room.
  void ForceLeave(const Room& room, const std::string& reason);

 private:
  struct RoomState {
    std::shared_ptr<Room> room;
    bool live = false;
    uint64_t generation = 0;
    int64_t last_typing_ms = 0;
  };

  void HandleJoin(const ReplyTo& ref, const chat::v1::JoinRequest& join);
  void ContinueJoin(const std::shared_ptr<Room>& room, uint64_t generation, int64_t pos,
                    const ReplyTo& ref);
  void HandleLeave(const ReplyTo& ref, const chat::v1::LeaveRequest& leave);
  bool HandleSend(const ReplyTo& ref, const chat::v1::SendRequest& send);
  void HandleTyping(const ReplyTo& ref, const chat::v1::TypingRequest& typing);
  // Room management, membership and moderation events (session_requests.cc):
  // false if `event` is none of them.
  bool HandleRoomRequest(const ReplyTo& ref, const chat::v1::ClientEvent& event);
  template <typename T>
  static std::function<void(absl::StatusOr<T>)> AnswerWith(const std::shared_ptr<Session>& self, const ReplyTo& ref,
                                                       const char* kind, T* (chat::v1::ServerEvent::*field)());
  void Emit(const chat::v1::ServerEvent& event);
  // The direct answer to a client event.
  void Reply(const ReplyTo& to, chat::v1::ServerEvent event);
  bool StillJoining(int64_t room_id, uint64_t generation);
  void DropJoin(int64_t room_id, uint64_t generation);
  void SendDone();

  Hub* const hub_;
  const std::shared_ptr<Outbox> outbox_;
  const uint64_t session_id_;
  const uint64_t member_id_;
  const Identity identity_;
  const SessionOptions options_;
  std::atomic<int64_t> expires_at_ms_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<int64_t, RoomState> rooms_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int inflight_sends_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool client_done_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> resume_hook_ ABSL_GUARDED_BY(mu_);
  std::function<void(const absl::Status&)> kill_hook_ ABSL_GUARDED_BY(mu_);
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> drained_hook_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SESSION_H_
