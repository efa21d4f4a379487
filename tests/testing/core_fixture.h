// Test fixtures for chat-core: a real CoreServer on port 0 (in-process, on a real
// SQLite database), real gRPC channels, and a Connect client that records every
// event it receives so tests can wait for what they expect with a deadline.
//
// Threading: TestCore is used from the test thread. EventClient is thread-safe;
// its reader thread records events. Lifetime: clients must be destroyed before
// the TestCore they talk to (declare them after it).
#ifndef CHAT_TESTS_TESTING_CORE_FIXTURE_H_
#define CHAT_TESTS_TESTING_CORE_FIXTURE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.grpc.pb.h"
#include "event_log.h"
#include "server.h"

namespace chat::testing {

using namespace std::chrono_literals;

// Options for tests: in-memory store, cheap password hashing (the real cost is
// covered by the accounts tests), port 0.
core::CoreOptions TestCoreOptions();

class TestCore {
 public:
  explicit TestCore(core::CoreOptions options = TestCoreOptions());
  ~TestCore();

  core::CoreServer* server() { return server_.get(); }
  core::Hub* hub() { return server_->hub(); }
  std::string address() const { return address_; }
  std::shared_ptr<grpc::Channel> NewChannel() const;
  // With BDP probing off, so the HTTP/2 window stays small (a client that stops
  // reading then pushes back on the server quickly).
  std::shared_ptr<grpc::Channel> NewSmallWindowChannel() const;
  std::unique_ptr<chat::v1::ChatService::Stub> Chat() const;
  std::unique_ptr<chat::v1::AuthService::Stub> Auth() const;

  // Registers `user` (if new) and logs in; returns the bearer token.
  std::string Token(const std::string& user, const std::string& password = "correct horse");
  void Stop();

 private:
  core::CoreOptions options_;
  std::unique_ptr<core::CoreServer> server_;
  std::string address_;
};

// Registers `user` (if new) and logs in; the token ("" and a test failure if
// either call fails).
std::string RegisterAndLogin(chat::v1::AuthService::Stub* auth, const std::string& user,
                             const std::string& password = "correct horse");

// Adds `authorization: Bearer <token>` and a deadline.
std::unique_ptr<grpc::ClientContext> AuthedContext(const std::string& token,
                                                   std::chrono::milliseconds deadline = 10s);

// A Connect (or any ClientEvent/ServerEvent) stream driven by the sync API, with a
// reader thread that records every event.
class EventClient {
 public:
  // Connect on `stub` with `token` ("" sends no authorization) and `metadata`.
  // Events are recorded as they arrive (a batch is one event).
  EventClient(chat::v1::ChatService::Stub* stub, const std::string& token, bool start_reading = true,
              const std::vector<std::pair<std::string, std::string>>& metadata = {});
  ~EventClient();

  bool Write(const chat::v1::ClientEvent& event);
  bool Join(const std::string& room, std::optional<int64_t> since = std::nullopt,
            const std::string& ref = "");
  bool Leave(const std::string& room, const std::string& ref = "");
  bool SendText(const std::string& room, const std::string& text, const std::string& client_msg_id,
                const std::string& ref = "");
  // Starts the reader thread (for clients created with start_reading = false).
  void StartReading();
  void WritesDone();

  using Pred = std::function<bool(const chat::v1::ServerEvent&)>;
  // The first recorded event matching `pred` (waiting up to `timeout`).
  std::optional<chat::v1::ServerEvent> WaitFor(const Pred& pred,
                                               std::chrono::milliseconds timeout = 10s);
  // Waits until `count` events match.
  bool WaitForCount(const Pred& pred, size_t count, std::chrono::milliseconds timeout = 10s);
  std::vector<chat::v1::ServerEvent> Events() const;
  // Events from `index` on, waiting up to `timeout` for at least one (returns
  // early, possibly empty, once the stream has ended).
  std::vector<chat::v1::ServerEvent> EventsFrom(size_t index, std::chrono::milliseconds timeout);
  bool done() const;
  std::vector<chat::v1::Message> Messages(const std::string& room) const;
  // Waits for the stream to end and returns its status.
  std::optional<grpc::Status> WaitDone(std::chrono::milliseconds timeout = 10s);
  void Cancel() { context_.TryCancel(); }

 private:
  void ReadLoop();

  grpc::ClientContext context_;
  using Stream = grpc::ClientReaderWriter<chat::v1::ClientEvent, chat::v1::ServerEvent>;
  std::unique_ptr<Stream> stream_;
  // gRPC allows one Read alongside one Write but not two Writes: the reader
  // thread uses stream_ directly, writers go through writer_ (the same stream)
  // under write_mu_, which lets the thread-safety analysis check them.
  absl::Mutex write_mu_;
  Stream* writer_ ABSL_PT_GUARDED_BY(write_mu_) = nullptr;
  EventLog<chat::v1::ServerEvent, grpc::Status> log_;
  std::thread reader_;
};

// The messages of `room`, in the order received.
std::vector<chat::v1::Message> MessagesIn(const std::vector<chat::v1::ServerEvent>& events,
                                          const std::string& room);

// Predicates.
EventClient::Pred IsJoined(const std::string& room);
EventClient::Pred IsLeft(const std::string& room);
EventClient::Pred IsAck(const std::string& client_msg_id);
EventClient::Pred IsMessage(const std::string& room, int64_t seq);
EventClient::Pred IsAnyMessage(const std::string& room);
EventClient::Pred IsError(const std::string& event_kind);
EventClient::Pred IsMember(const std::string& room, const std::string& user,
                           chat::v1::MemberEvent::Kind kind);

// Polls `cond` until true or the deadline (for state that has no event).
bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s);

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_CORE_FIXTURE_H_
