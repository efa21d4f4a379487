// Test fixtures for ws-bridge: a real Bridge on port 0 in front of a real
// in-process chat-core, the real ws-bridge binary (BridgeProcess), a small HTTP
// client, and a Beast WebSocket client that splits every frame on '\n' into
// ServerEvents. (scripted_core.h: a scripted stand-in for chat-core.)
//
// Threading: used from the test thread; WsClient's own thread does its I/O.
// Lifetime: declare clients after the fixtures they talk to.
#ifndef CHAT_TESTS_TESTING_BRIDGE_FIXTURE_H_
#define CHAT_TESTS_TESTING_BRIDGE_FIXTURE_H_

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "bridge.h"
#include "chat/v1/chat.pb.h"
#include "core_fixture.h"
#include "process.h"

namespace chat::testing {

bridge::BridgeOptions TestBridgeOptions(const std::string& core_address);

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::vector<std::string> set_cookies;
};

// A parsed response as an HttpResult (HttpRequest's, and the TLS tests' own).
HttpResult ToHttpResult(const boost::beast::http::response<boost::beast::http::string_body>& res);

// One HTTP/1.1 request on a fresh connection. A body goes as application/json
// unless `headers` set another Content-Type.
HttpResult HttpRequest(int port, const std::string& method, const std::string& target,
                       const std::string& body = "", const std::map<std::string, std::string>& headers = {});

// The session cookie's value from a response (chat_session, or over TLS
// __Host-chat_session), or "".
std::string SessionCookie(const HttpResult& r);

// Registers `user` (if new) and logs in through the bridge on `port`'s HTTP
// API, as the web UI does; returns the session cookie (the token).
std::string BridgeLogin(int port, const std::string& user, const std::string& password = "correct horse");

class WsClient {
 public:
  struct Options {
    std::string cookie;  // chat_session value
    std::string bearer;
    // "" sends no Origin; "self" sends the bridge's own origin.
    std::string origin = "self";
    std::string target = "/ws";
    bool start_reading = true;
    // SO_RCVBUF for the socket (0: the system's default); small makes a
    // non-reading client push back quickly.
    int receive_buffer = 0;
  };
  struct Closed {
    int code = 0;  // the close frame's code; 0 if the connection just broke
    std::string reason;
  };

  // Connects; on a refused upgrade returns nullptr and sets *http_status.
  static std::unique_ptr<WsClient> Connect(int port, const Options& options, int* http_status = nullptr);
  ~WsClient();

  void SendText(const std::string& text);
  void SendBinary(const std::string& bytes);
  void Send(const chat::v1::ClientEvent& event);
  void Join(const std::string& room, std::optional<int64_t> since = std::nullopt, const std::string& ref = "");
  void SendMessage(const std::string& room, const std::string& text, const std::string& id);
  void Ping(int64_t nonce, const std::string& ref = "");
  void StartReading();
  void CloseNormally();

  using Pred = std::function<bool(const chat::v1::ServerEvent&)>;
  std::optional<chat::v1::ServerEvent> WaitFor(const Pred& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool WaitForCount(const Pred& pred, size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<chat::v1::ServerEvent> Events() const;
  std::vector<chat::v1::Message> Messages(const std::string& room) const;
  std::vector<std::string> Frames() const;
  // Waits for the connection to end.
  std::optional<Closed> WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  WsClient();
  // Everything below runs on io_thread_, the one thread that touches ws_
  // once the handshake is done: Beast's stream is not thread-safe, so the
  // test thread's sends and closes are posted to it and waited for.
  struct Write {
    std::string bytes;
    enum class Kind { kText, kBinary, kClose } kind = Kind::kText;
    absl::Notification* done = nullptr;
  };
  void Post(Write write);
  void StartWrite();
  void StartRead();
  void OnRead(boost::beast::error_code ec);

  boost::asio::io_context io_;
  using Socket = boost::beast::websocket::stream<boost::asio::ip::tcp::socket>;
  Socket ws_;
  boost::beast::flat_buffer read_buffer_;
  std::deque<Write> writes_;  // the front one is being written
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread io_thread_;
  mutable absl::Mutex frames_mu_;
  std::vector<std::string> frames_ ABSL_GUARDED_BY(frames_mu_);
  EventLog<chat::v1::ServerEvent, Closed> log_;
};

// A chat-core and a bridge in front of it.
class BridgeEnv {
 public:
  explicit BridgeEnv(std::function<void(bridge::BridgeOptions&)> tweak = nullptr,
                     core::CoreOptions core_options = TestCoreOptions());
  TestCore& core() { return *core_; }
  bridge::Bridge& bridge() { return *bridge_; }
  int port() const { return bridge_->port(); }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port()); }
  // Registers (if new) and logs in through the bridge's HTTP API; returns the cookie.
  std::string Login(const std::string& user, const std::string& password = "correct horse");
  std::unique_ptr<WsClient> Connect(const std::string& cookie, bool start_reading = true,
                                    int receive_buffer = 0);
  // A native gRPC client (Connect stream) of `user`, joined to `room` (its
  // joined seen). Declare it after the env.
  std::unique_ptr<EventClient> Native(const std::string& user, const std::string& room = "lobby");
  void StopBridge();
  void RestartCore();
  void StopCore();

 private:
  core::CoreOptions core_options_;
  std::unique_ptr<TestCore> core_;
  std::unique_ptr<bridge::Bridge> bridge_;
  std::vector<std::unique_ptr<chat::v1::ChatService::Stub>> stubs_;  // of Native clients
};

// The real ws-bridge binary on port 0 with `flags` (--listen is set).
// Threading: the test thread. Lifetime: SIGKILLs a bridge still running.
class BridgeProcess {
 public:
  // Starts it and waits for its "listening" line; nullptr (and a test
  // failure) if it does not come.
  static std::unique_ptr<BridgeProcess> Start(const std::vector<std::string>& flags);
  int port() const { return port_; }
  ChildProcess* process() { return process_.get(); }
  // GET /healthz: its status and body.
  HttpResult Health() const;

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// Messages seq first..last, each once, in order (a gtest assertion).
void ExpectContiguous(const std::vector<chat::v1::Message>& msgs, int64_t first, int64_t last);

WsClient::Pred WsJoined(const std::string& room);
WsClient::Pred WsMessage(const std::string& room, int64_t seq);
WsClient::Pred WsAnyMessage(const std::string& room);
WsClient::Pred WsAck(const std::string& id);
WsClient::Pred WsError(chat::v1::Error::Code code);
WsClient::Pred WsMember(const std::string& user, chat::v1::MemberEvent::Kind kind);

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_BRIDGE_FIXTURE_H_
