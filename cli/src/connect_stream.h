// ConnectStream: one ChatService.Connect stream (gRPC callback API) of a
// LiveClient. Reads are issued one at a time: the first in Start(), each next
// one by the owner (ReadNext) once it has handled the previous event, so a slow
// terminal pushes back on chat-core instead of queueing without bound. Writes
// are queued and issued one at a time. One hold covers reads and writes started
// outside reactions; it is removed once reading has ended and no write is in
// flight, after which OnDone reports the status.
//
// Threading: thread-safe; events and the end reach the Owner from gRPC's threads.
// Lifetime: created and deleted by the owner, deleted only after Owner::Done.
#ifndef CHAT_CLI_SRC_CONNECT_STREAM_H_
#define CHAT_CLI_SRC_CONNECT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::cli {

class ConnectStream : public grpc::ClientBidiReactor<chat::v1::ClientEvent, chat::v1::ServerEvent> {
 public:
  // Who gets the stream's events. Threading: called from gRPC's reactions, must
  // not block. Lifetime: must outlive the stream.
  class Owner {
   public:
    virtual ~Owner() = default;
    // An event; the next read starts only when the owner calls ReadNext().
    virtual void StreamEvent(ConnectStream* stream, chat::v1::ServerEvent event) = 0;
    // The stream ended; the last use of `stream` by gRPC.
    virtual void StreamDone(ConnectStream* stream, const grpc::Status& status) = 0;
  };

  // wait_for_ready: wait for the node to come back instead of failing at once
  // while it cannot be reached.
  ConnectStream(Owner* owner, const std::string& token, bool wait_for_ready);

  void Start(chat::v1::ChatService::Stub* stub);
  // Queues an event; dropped once the stream is ending.
  void Write(chat::v1::ClientEvent event);
  void ReadNext() { StartRead(&incoming_); }
  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  Owner* const owner_;
  grpc::ClientContext context_;
  chat::v1::ServerEvent incoming_;
  absl::Mutex mu_;
  std::deque<chat::v1::ClientEvent> outgoing_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_CONNECT_STREAM_H_
