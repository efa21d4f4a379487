#include "bridge_fixture.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chat/json_codec.h"
#include "gtest/gtest.h"

namespace chat::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

bridge::BridgeOptions TestBridgeOptions(const std::string& core_address) {
  bridge::BridgeOptions o;
  o.listen = "127.0.0.1:0";
  o.core = {core_address};
  o.threads = 2;
  o.reconnect_min = absl::Milliseconds(50);
  o.reconnect_max = absl::Milliseconds(300);
  return o;
}

HttpResult HttpRequest(int port, const std::string& method, const std::string& target,
                       const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpResult out;
  net::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  if (ec) return out;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");  // unless `headers` name another
    req.body() = body;
  }
  for (const auto& [k, v] : headers) req.set(k, v);
  req.prepare_payload();
  http::write(socket, req, ec);
  if (ec) return out;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (method == "HEAD") parser.skip(true);
  http::read(socket, buffer, parser, ec);
  if (ec) return out;
  return ToHttpResult(parser.get());
}

HttpResult ToHttpResult(const http::response<http::string_body>& res) {
  HttpResult out;
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res) {
    std::string name = absl::AsciiStrToLower(std::string(f.name_string()));
    if (name == "set-cookie") out.set_cookies.emplace_back(f.value());
    out.headers[name] = std::string(f.value());
  }
  return out;
}

std::string SessionCookie(const HttpResult& r) {
  for (const auto& c : r.set_cookies) {
    for (const std::string name : {"chat_session=", "__Host-chat_session="}) {
      if (c.rfind(name, 0) == 0) return c.substr(name.size(), c.find(';') - name.size());
    }
  }
  return "";
}

WsClient::WsClient() : ws_(io_), work_(net::make_work_guard(io_)) {}

std::unique_ptr<WsClient> WsClient::Connect(int port, const Options& options, int* http_status) {
  std::unique_ptr<WsClient> c(new WsClient());
  beast::error_code ec;
  if (options.receive_buffer > 0) {
    c->ws_.next_layer().open(tcp::v4(), ec);
    c->ws_.next_layer().set_option(net::socket_base::receive_buffer_size(options.receive_buffer), ec);
  }
  c->ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  if (ec) {
    if (http_status) *http_status = -1;
    return nullptr;
  }
  std::string host = "127.0.0.1:" + std::to_string(port);
  c->ws_.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    if (options.origin == "self") {
      req.set(http::field::origin, "http://" + host);
    } else if (!options.origin.empty()) {
      req.set(http::field::origin, options.origin);
    }
    if (!options.cookie.empty()) req.set(http::field::cookie, "chat_session=" + options.cookie);
    if (!options.bearer.empty()) req.set(http::field::authorization, "Bearer " + options.bearer);
  }));
  c->ws_.read_message_max(64 << 20);
  websocket::response_type res;
  c->ws_.handshake(res, host, options.target, ec);
  if (ec) {
    if (http_status) *http_status = static_cast<int>(res.result_int());
    return nullptr;
  }
  if (http_status) *http_status = 101;
  c->io_thread_ = std::thread([raw = c.get()] { raw->io_.run(); });
  if (options.start_reading) c->StartReading();
  return c;
}

WsClient::~WsClient() {
  // Closing the socket on its own thread ends the read and any write; the
  // thread returns once their handlers have run.
  net::post(io_, [this] {
    beast::error_code ec;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
    work_.reset();
  });
  if (io_thread_.joinable()) io_thread_.join();
}

void WsClient::StartReading() {
  net::post(io_, [this] { StartRead(); });
}

void WsClient::StartRead() {
  ws_.async_read(read_buffer_, [this](beast::error_code ec, size_t) { OnRead(ec); });
}

void WsClient::OnRead(beast::error_code ec) {
  if (ec) {
    Closed closed;
    // A close frame may have arrived even when the teardown after it failed.
    if (ec == websocket::error::closed || ws_.reason().code != 0) {
      closed.code = ws_.reason().code;
      closed.reason = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
    } else {
      closed.reason = ec.message();
    }
    log_.Finish(closed);
    return;
  }
  std::string frame = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  {
    absl::MutexLock lock(&frames_mu_);
    frames_.push_back(frame);
  }
  for (absl::string_view line : absl::StrSplit(frame, '\n')) {
    chat::v1::ServerEvent ev;
    if (FromJson(line, &ev).ok()) {
      log_.Add(std::move(ev));
    } else {
      ADD_FAILURE() << "unparsable line from the bridge: " << line;
    }
  }
  StartRead();
}

// Sends and closes wait until they are written (or have failed), as a
// blocking write would, but the write itself runs on the I/O thread.
void WsClient::Post(Write write) {
  absl::Notification done;
  write.done = &done;
  net::post(io_, [this, write = std::move(write)]() mutable {
    writes_.push_back(std::move(write));
    if (writes_.size() == 1) StartWrite();
  });
  done.WaitForNotification();
}

void WsClient::StartWrite() {
  Write& w = writes_.front();
  auto next = [this](beast::error_code, size_t = 0) {
    writes_.front().done->Notify();
    writes_.pop_front();
    if (!writes_.empty()) StartWrite();
  };
  if (w.kind == Write::Kind::kClose) {
    ws_.async_close(websocket::close_code::normal, [next](beast::error_code ec) { next(ec); });
    return;
  }
  ws_.binary(w.kind == Write::Kind::kBinary);
  ws_.async_write(net::buffer(w.bytes), next);
}

void WsClient::SendText(const std::string& text) { Post({text, Write::Kind::kText}); }

void WsClient::SendBinary(const std::string& bytes) { Post({bytes, Write::Kind::kBinary}); }

void WsClient::Send(const chat::v1::ClientEvent& event) { SendText(ToJson(event)); }

void WsClient::Join(const std::string& room, std::optional<int64_t> since, const std::string& ref) {
  chat::v1::ClientEvent ev;
  ev.set_ref(ref);
  ev.mutable_join()->set_room(room);
  if (since) ev.mutable_join()->set_since_seq(*since);
  Send(ev);
}

void WsClient::SendMessage(const std::string& room, const std::string& text, const std::string& id) {
  chat::v1::ClientEvent ev;
  ev.mutable_send()->set_room(room);
  ev.mutable_send()->set_text(text);
  ev.mutable_send()->set_client_msg_id(id);
  Send(ev);
}

void WsClient::Ping(int64_t nonce, const std::string& ref) {
  chat::v1::ClientEvent ev;
  ev.set_ref(ref);
  ev.mutable_ping()->set_nonce(nonce);
  Send(ev);
}

void WsClient::CloseNormally() { Post({"", Write::Kind::kClose}); }

std::optional<chat::v1::ServerEvent> WsClient::WaitFor(const Pred& pred, std::chrono::milliseconds timeout) {
  return log_.WaitFor(pred, timeout);
}

bool WsClient::WaitForCount(const Pred& pred, size_t n, std::chrono::milliseconds timeout) {
  return log_.WaitForCount(pred, n, timeout);
}

std::vector<chat::v1::ServerEvent> WsClient::Events() const { return log_.Events(); }

std::vector<chat::v1::Message> WsClient::Messages(const std::string& room) const {
  return MessagesIn(log_.Events(), room);
}

std::vector<std::string> WsClient::Frames() const {
  absl::MutexLock lock(&frames_mu_);
  return frames_;
}

std::optional<WsClient::Closed> WsClient::WaitClosed(std::chrono::milliseconds timeout) {
  return log_.WaitDone(timeout);
}

BridgeEnv::BridgeEnv(std::function<void(bridge::BridgeOptions&)> tweak, core::CoreOptions core_options)
    : core_options_(std::move(core_options)) {
  core_ = std::make_unique<TestCore>(core_options_);
  core_options_.listen = core_->address();  // restarts come back on the same port
  auto options = TestBridgeOptions(core_->address());
  if (tweak) tweak(options);
  auto b = bridge::Bridge::Start(options);
  if (!b.ok()) {
    ADD_FAILURE() << "bridge did not start: " << b.status();
    std::abort();
  }
  bridge_ = std::move(*b);
  // Wait for the gateway stream.
  if (!Eventually([&] { return bridge_->stats().gateway.connected; })) {
    ADD_FAILURE() << "the bridge did not connect to chat-core";
  }
}

std::string BridgeLogin(int port, const std::string& user, const std::string& password) {
  std::string body = absl::StrCat("{\"username\":\"", user, "\",\"password\":\"", password, "\"}");
  std::map<std::string, std::string> h = {{"Origin", absl::StrCat("http://127.0.0.1:", port)}};
  auto r = HttpRequest(port, "POST", "/api/register", body, h);
  if (r.status == 409) r = HttpRequest(port, "POST", "/api/login", body, h);
  EXPECT_EQ(r.status, 200) << r.body;
  return SessionCookie(r);
}

std::string BridgeEnv::Login(const std::string& user, const std::string& password) {
  return BridgeLogin(port(), user, password);
}

std::unique_ptr<WsClient> BridgeEnv::Connect(const std::string& cookie, bool start_reading,
                                             int receive_buffer) {
  WsClient::Options o;
  o.cookie = cookie;
  o.start_reading = start_reading;
  o.receive_buffer = receive_buffer;
  int status = 0;
  auto c = WsClient::Connect(port(), o, &status);
  EXPECT_NE(c, nullptr) << "upgrade refused with HTTP " << status;
  return c;
}

std::unique_ptr<EventClient> BridgeEnv::Native(const std::string& user, const std::string& room) {
  stubs_.push_back(core_->Chat());
  auto client = std::make_unique<EventClient>(stubs_.back().get(), core_->Token(user));
  client->Join(room);
  EXPECT_TRUE(client->WaitFor(IsJoined(room))) << user << " did not join " << room;
  return client;
}

void BridgeEnv::StopBridge() { bridge_->Shutdown(); }

void BridgeEnv::StopCore() { core_.reset(); }

void BridgeEnv::RestartCore() {
  core_.reset();
  core_ = std::make_unique<TestCore>(core_options_);
}

std::unique_ptr<BridgeProcess> BridgeProcess::Start(const std::vector<std::string>& flags) {
  std::unique_ptr<BridgeProcess> bridge(new BridgeProcess());
  ChildProcess::Options options;
  options.argv = {BinaryPath("ws-bridge"), "--listen=127.0.0.1:0"};
  options.argv.insert(options.argv.end(), flags.begin(), flags.end());
  bridge->process_ = ChildProcess::Start(options);  // its log goes to the test's stderr
  std::optional<std::string> listening;
  if (bridge->process_) listening = bridge->process_->WaitForLine("ws-bridge listening on ", std::chrono::seconds(20));
  if (!listening) {
    ADD_FAILURE() << "ws-bridge did not start"
                  << (bridge->process_ ? ": " + bridge->process_->stdout_text() : std::string());
    return nullptr;
  }
  bridge->port_ = std::stoi(listening->substr(listening->rfind(':') + 1));
  return bridge;
}

HttpResult BridgeProcess::Health() const { return HttpRequest(port_, "GET", "/healthz"); }

void ExpectContiguous(const std::vector<chat::v1::Message>& msgs, int64_t first, int64_t last) {
  ASSERT_EQ(static_cast<int64_t>(msgs.size()), last - first + 1);
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(msgs[i].seq(), first + static_cast<int64_t>(i));
}

WsClient::Pred WsJoined(const std::string& room) {
  return [room](const chat::v1::ServerEvent& e) { return e.has_joined() && e.joined().room() == room; };
}
WsClient::Pred WsMessage(const std::string& room, int64_t seq) {
  return [=](const chat::v1::ServerEvent& e) {
    return e.has_message() && e.message().room() == room && e.message().seq() == seq;
  };
}
WsClient::Pred WsAnyMessage(const std::string& room) {
  return [room](const chat::v1::ServerEvent& e) { return e.has_message() && e.message().room() == room; };
}
WsClient::Pred WsAck(const std::string& id) {
  return [id](const chat::v1::ServerEvent& e) { return e.has_ack() && e.ack().client_msg_id() == id; };
}
WsClient::Pred WsError(chat::v1::Error::Code code) {
  return [code](const chat::v1::ServerEvent& e) { return e.has_error() && e.error().code() == code; };
}
WsClient::Pred WsMember(const std::string& user, chat::v1::MemberEvent::Kind kind) {
  return [=](const chat::v1::ServerEvent& e) {
    return e.has_member() && e.member().user() == user && e.member().kind() == kind;
  };
}

}  // namespace chat::testing
