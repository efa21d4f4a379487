// LiveClient: a live session with chat-core (ChatService.Connect) that survives
// drops and moves between the nodes of the ChatClient's list. It remembers the
// rooms it is in, the last seq seen in each and the sends not yet acknowledged;
// when the stream ends with a retryable status (UNAVAILABLE, RESOURCE_EXHAUSTED,
// ...) it reconnects to the next node (round robin; backoff after a full round
// of failed attempts), rejoins every room with since_seq = the last seq seen (so
// chat-core replays exactly what was missed) and resends the unacknowledged
// messages with their original client_msg_id (so none is stored twice, whichever
// node gets the retry). Events reach a LiveObserver with duplicates filtered out.
// The procedure is the one docs/protocol.md gives every gRPC client.
//
// Threading: thread-safe. One internal thread (the dispatcher) runs the observer
// callbacks, one at a time; the stream is a ConnectStream (gRPC callback API).
// Lifetime: Start() once; Stop() may be called from any thread, callbacks
// included; the destructor stops and joins the dispatcher, so it must not run on
// the dispatcher thread. The ChatClient and observer must outlive it.
#ifndef CHAT_CLI_SRC_LIVE_CLIENT_H_
#define CHAT_CLI_SRC_LIVE_CLIENT_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chat/v1/chat.grpc.pb.h"
#include "client.h"
#include "connect_stream.h"

namespace chat::cli {

// What a LiveClient reports. Threading: called on the LiveClient's dispatcher
// thread, one call at a time. Lifetime: must outlive the LiveClient.
class LiveObserver {
 public:
  virtual ~LiveObserver() = default;
  // Every event from chat-core, except messages already delivered and events
  // for rooms that were left. A `left` with a reason (chat-core ended the
  // session in the room: kicked, banned, deleted) has already taken the room
  // off the client's list. On the dispatcher thread.
  virtual void OnEvent(const chat::v1::ServerEvent& event) = 0;
  // The stream dropped with a retryable status; reconnecting, first to `next`
  // (an address of the list). Once per outage.
  virtual void OnDisconnected(const absl::Status& status, const std::string& next) {}
  // About to try `address`, after OnDisconnected and before each attempt until
  // one works (with several nodes the address changes from attempt to attempt).
  virtual void OnReconnecting(const std::string& address) {}
  // The first event of a new stream from `address` arrived after OnDisconnected.
  virtual void OnReconnected(const std::string& address) {}
  // Something worth telling the user that is not an event.
  virtual void OnNotice(const std::string& text) {}
  // The session ended for good (not after Stop()); nothing follows.
  virtual void OnClosed(const absl::Status& status) = 0;
};

struct LiveClientOptions {
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(5);
  // Rounds of attempts (one per node) to open the first stream before giving up
  // (a brand-new connection can fail once in a while even though chat-core is
  // up); after a stream has worked, reconnecting never gives up.
  int first_connect_attempts = 3;
};

class LiveClient : private ConnectStream::Owner {
 public:
  LiveClient(ChatClient* client, LiveObserver* observer, LiveClientOptions options = {});
  ~LiveClient();
  LiveClient(const LiveClient&) = delete;
  LiveClient& operator=(const LiveClient&) = delete;

  void Start();
  // Joins `room`; with since_seq, every message after it is delivered first.
  // No-op if already in the room.
  void Join(const std::string& room, std::optional<int64_t> since_seq);
  void Leave(const std::string& room);
  // Sends `text` to `room` (which must be joined) and returns its client_msg_id.
  // Queued while disconnected; resent after a reconnect until acknowledged.
  std::string Send(const std::string& room, const std::string& text);
  void Stop();

  // Waits until no send awaits its ack (true), or the session ended or the
  // timeout passed (false).
  bool WaitForSends(absl::Duration timeout);
  // Waits until the session ended (Stop() or OnClosed).
  void WaitUntilClosed();

  bool InRoom(const std::string& room) const;
  std::vector<std::string> Rooms() const;
  // Members as of the last `joined` event and member events since.
  std::vector<std::string> Members(const std::string& room) const;
  bool connected() const;

 private:
  struct RoomState {
    std::optional<int64_t> last_seq;
    bool live = false;
    std::set<std::string> members;
  };
  struct PendingSend {
    std::string client_msg_id;
    std::string room;
    std::string text;
  };

  // ConnectStream::Owner, from the stream's reactions.
  void StreamEvent(ConnectStream* stream, chat::v1::ServerEvent event) override;
  void StreamDone(ConnectStream* stream, const grpc::Status& status) override;

  void Run();
  // One attempt on `node`: a stream, resumed, read until it ends. Returns how
  // it ended; *connected says whether any event came.
  grpc::Status RunStream(size_t node, bool wait_for_ready, bool* connected);
  // Waits `pause` unless Stop() comes first; returns false if it did.
  bool Pause(absl::Duration pause);
  void Process(const chat::v1::ServerEvent& event);
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteJoin(const std::string& room, std::optional<int64_t> since_seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriteSend(const PendingSend& send) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ChatClient* const client_;
  LiveObserver* const observer_;
  const LiveClientOptions options_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::map<std::string, RoomState> rooms_ ABSL_GUARDED_BY(mu_);
  std::deque<PendingSend> pending_ ABSL_GUARDED_BY(mu_);
  ConnectStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  size_t stream_node_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<chat::v1::ServerEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> stream_status_ ABSL_GUARDED_BY(mu_);
  bool stream_connected_ ABSL_GUARDED_BY(mu_) = false;
  bool reported_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// A random client_msg_id (128 bits, hex).
std::string RandomClientMsgId();

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_LIVE_CLIENT_H_
