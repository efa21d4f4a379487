// What every Connect stream is made of, whichever gRPC API serves it (the
// public callback API, connect_reactor.h, or gRPC core's C API,
// connect_core_call.h): the caller's identity, its outbound queue (Outbox) and
// its one Session, wired so that logout ends the stream, a half-close finishes
// it once every send is answered, and reads pause while the client does not
// read what comes back.
//
// Threading: StartConnectSession runs on the stream's first reaction; the hooks
// it installs run on store, hashing or write-completion threads.
// Lifetime: the stream owns the returned parts; the hooks hold the outbox only
// weakly, and `start_read` is called under the outbox lock, which the stream's
// Detach takes before the stream goes away.
#ifndef CHAT_CORE_SRC_CONNECT_SESSION_H_
#define CHAT_CORE_SRC_CONNECT_SESSION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "authenticator.h"
#include "hub.h"
#include "outbox.h"
#include "service_options.h"
#include "session.h"

namespace chat::core {

// The `x-chat-batch` metadata of a Connect call: the most events the client takes
// in one ServerEvent{batch}; 1 (one event per message) when absent.
inline constexpr char kBatchHeader[] = "x-chat-batch";
absl::StatusOr<size_t> BatchLimit(const std::optional<std::string>& value);

struct ConnectSession {
  std::shared_ptr<Outbox> outbox;
  std::shared_ptr<Session> session;
  // Reads beyond this many queued events wait (flow control for fast senders).
  size_t pause_reads_above = 0;
};

// What a Connect call's metadata says, copied before the call's metadata goes.
struct ConnectMetadata {
  std::string authorization;
  std::string guest_user;
  std::optional<std::string> batch;
};
// Reads it with `metadata(key)` (nullopt if absent).
ConnectMetadata ReadConnectMetadata(
    absl::FunctionRef<std::optional<absl::string_view>(absl::string_view)> metadata);

// Authenticates the call, reads its batch limit, and builds and registers its
// outbox and session; `done` gets them, or the status the stream must end with
// (bad credentials, a bad x-chat-batch, shutting down). `writer` is the stream;
// `lane` its fan-out lane (Outbox::kAnyLane: any); `start_read` starts the
// stream's next read. `done` runs before this returns, or (a token another node
// issued) on a store thread.
void StartConnectSession(Hub* hub, const Authenticator& auth, const ServiceOptions& options, ConnectMetadata md,
                         OutboxWriter* writer, size_t lane, std::function<void()> start_read,
                         std::function<void(absl::StatusOr<ConnectSession>)> done);

// Where a Connect stream keeps its session, which may be made (authentication
// can wait for a store) after the client already left.
// Threading: thread-safe. Lifetime: the stream's; the session is set once.
class ConnectSlot {
 public:
  // The session is made. False if the stream ended first: its outbox is then
  // finished (CANCELLED) and the caller starts nothing.
  bool Fill(ConnectSession parts);
  // The stream ended: a session made later is finished at once. True if the
  // session exists (the caller finishes it as it needs).
  bool End();
  // The session, once Fill returned: reactions that read it come only after
  // the first read, which Fill's caller starts.
  ConnectSession* operator->() { return &*parts_; }
  ConnectSession& operator*() { return *parts_; }
  bool filled() const;

 private:
  mutable absl::Mutex mu_;
  std::optional<ConnectSession> parts_;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads the client's next event, unless the client sends faster than it reads
// what comes back: then its events wait until its queue drains.
void ReadNextWhenRoom(const ConnectSession& parts, const std::function<void()>& start_read);

// The stream is over: the session leaves its rooms and the hub forgets both.
// `cancelled`: the client never got the stream's status (Outbox::CountEnd).
void EndConnectSession(Hub* hub, const ConnectSession& parts, bool cancelled);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CONNECT_SESSION_H_
