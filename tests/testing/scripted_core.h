// ScriptedCore: a stand-in for chat-core's side of the Gateway stream, for
// the bridge's tests of what the real chat-core does not do on demand.
#ifndef CHAT_TESTS_TESTING_SCRIPTED_CORE_H_
#define CHAT_TESTS_TESTING_SCRIPTED_CORE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridge_fixture.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::testing {

// A stand-in for chat-core's side of the Gateway stream that a test scripts
// item by item, for what the real chat-core does not do on demand: drop a room
// message (so the bridge must fill a gap), answer a request with an error. A
// real gRPC server on port 0 that marks its streams accepted as chat-core does.
//
// Threading: the test thread sends and waits; a gRPC thread reads each stream.
// Lifetime: declare it before the bridge that talks to it.
class ScriptedCore {
 public:
  ScriptedCore();
  ~ScriptedCore();
  std::string address() const;
  // Sends `down` on the open stream; false if there is none.
  bool Send(const chat::v1::GatewayDown& down);
  using Pred = std::function<bool(const chat::v1::GatewayUp&)>;
  // The first item received (on any stream) matching `pred`.
  std::optional<chat::v1::GatewayUp> WaitFor(const Pred& pred, std::chrono::milliseconds timeout = 10s);
  std::vector<chat::v1::GatewayUp> Received() const;
  // Opens the session of the next `open` item received as `user`; its id.
  uint64_t AcceptNextOpen(const std::string& user);
  // A browser (bearer `token`) on the bridge at `port`, its session opened
  // here as `user` and joined to `room` (its join answered with `joined`,
  // latest seq 0, ref "j1"); its session id in *session. nullptr on failure.
  std::unique_ptr<WsClient> JoinedBrowser(int port, const std::string& user, const std::string& room,
                                          uint64_t* session);
  // `event` for `session`, answering the bridge's `request` (0: none).
  static chat::v1::GatewayDown ForSession(uint64_t session, const chat::v1::ServerEvent& event,
                                          uint64_t request = 0);
  // Message `seq` of `room`, as chat-core fans it out (session 0) or replays
  // it to one session.
  static chat::v1::GatewayDown RoomMessage(const std::string& room, int64_t seq, uint64_t session = 0);
  // Ends the open stream with UNAVAILABLE, as a node that goes away.
  void EndStream();
  // false: new streams are refused (UNAVAILABLE, not accepted), as by a node
  // that is down; true (the default): accepted.
  void SetAccepting(bool accepting);

 private:
  class Service;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  size_t opens_accepted_ = 0;
};

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_SCRIPTED_CORE_H_
