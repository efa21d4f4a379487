#include "core_fixture.h"

#include <sodium.h>

#include "gtest/gtest.h"

namespace chat::testing {

core::CoreOptions TestCoreOptions() {
  core::CoreOptions o = core::DefaultCoreOptions();
  o.listen = "127.0.0.1:0";
  o.store.path = ":memory:";
  o.accounts.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN;
  o.accounts.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN;
  o.accounts.max_queued_hashes = 1024;
  // Tests register many users from one address, often at once; the attack
  // tests (account_attacks_test.cc) set these limits back.
  o.accounts.max_queued_registrations = 1024;
  o.accounts.login_limits.max_registrations_per_peer = 100'000;
  return o;
}

TestCore::TestCore(core::CoreOptions options) : options_(std::move(options)) {
  auto server = core::CoreServer::Start(options_);
  if (!server.ok()) {
    ADD_FAILURE() << "chat-core did not start: " << server.status();
    std::abort();
  }
  server_ = std::move(*server);
  address_ = server_->address();
}

TestCore::~TestCore() { Stop(); }

void TestCore::Stop() {
  if (server_) server_->Shutdown(absl::Seconds(1));
}

std::shared_ptr<grpc::Channel> TestCore::NewChannel() const {
  grpc::ChannelArguments args;
  // A channel per client, so clients do not share one HTTP/2 connection.
  args.SetInt("grpc.channel_id", std::rand());
  return grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
}

std::shared_ptr<grpc::Channel> TestCore::NewSmallWindowChannel() const {
  grpc::ChannelArguments args;
  args.SetInt("grpc.channel_id", std::rand());
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<chat::v1::ChatService::Stub> TestCore::Chat() const {
  return chat::v1::ChatService::NewStub(NewChannel());
}

std::unique_ptr<chat::v1::AuthService::Stub> TestCore::Auth() const {
  return chat::v1::AuthService::NewStub(NewChannel());
}

std::string TestCore::Token(const std::string& user, const std::string& password) {
  return RegisterAndLogin(Auth().get(), user, password);
}

std::string RegisterAndLogin(chat::v1::AuthService::Stub* auth, const std::string& user,
                             const std::string& password) {
  chat::v1::RegisterRequest reg;
  reg.set_username(user);
  reg.set_password(password);
  chat::v1::RegisterResponse registered;
  chat::v1::LoginRequest login;
  login.set_username(user);
  login.set_password(password);
  chat::v1::LoginResponse resp;
  for (bool registering : {true, false}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    grpc::Status st = registering ? auth->Register(&ctx, reg, &registered) : auth->Login(&ctx, login, &resp);
    if (!st.ok() && !(registering && st.error_code() == grpc::StatusCode::ALREADY_EXISTS)) {
      ADD_FAILURE() << (registering ? "register " : "login ") << user << ": " << st.error_message();
      return "";
    }
  }
  return resp.token();
}

std::unique_ptr<grpc::ClientContext> AuthedContext(const std::string& token,
                                                   std::chrono::milliseconds deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  return ctx;
}

EventClient::EventClient(chat::v1::ChatService::Stub* stub, const std::string& token,
                         bool start_reading,
                         const std::vector<std::pair<std::string, std::string>>& metadata) {
  if (!token.empty()) context_.AddMetadata("authorization", "Bearer " + token);
  for (const auto& [key, value] : metadata) context_.AddMetadata(key, value);
  stream_ = stub->Connect(&context_);
  writer_ = stream_.get();
  if (start_reading) StartReading();
}

EventClient::~EventClient() {
  context_.TryCancel();
  if (!reader_.joinable()) StartReading();
  reader_.join();
}

void EventClient::StartReading() {
  reader_ = std::thread([this] { ReadLoop(); });
}

void EventClient::ReadLoop() {
  chat::v1::ServerEvent ev;
  while (stream_->Read(&ev)) log_.Add(ev);
  log_.Finish(stream_->Finish());
}

bool EventClient::Write(const chat::v1::ClientEvent& event) {
  absl::MutexLock lock(&write_mu_);
  return writer_->Write(event);
}

bool EventClient::Join(const std::string& room, std::optional<int64_t> since, const std::string& ref) {
  chat::v1::ClientEvent ev;
  ev.set_ref(ref);
  ev.mutable_join()->set_room(room);
  if (since) ev.mutable_join()->set_since_seq(*since);
  return Write(ev);
}

bool EventClient::Leave(const std::string& room, const std::string& ref) {
  chat::v1::ClientEvent ev;
  ev.set_ref(ref);
  ev.mutable_leave()->set_room(room);
  return Write(ev);
}

bool EventClient::SendText(const std::string& room, const std::string& text,
                           const std::string& client_msg_id, const std::string& ref) {
  chat::v1::ClientEvent ev;
  ev.set_ref(ref);
  auto* s = ev.mutable_send();
  s->set_room(room);
  s->set_text(text);
  s->set_client_msg_id(client_msg_id);
  return Write(ev);
}

void EventClient::WritesDone() {
  absl::MutexLock lock(&write_mu_);
  writer_->WritesDone();
}

std::optional<chat::v1::ServerEvent> EventClient::WaitFor(const Pred& pred,
                                                          std::chrono::milliseconds timeout) {
  return log_.WaitFor(pred, timeout);
}

bool EventClient::WaitForCount(const Pred& pred, size_t count, std::chrono::milliseconds timeout) {
  return log_.WaitForCount(pred, count, timeout);
}

std::vector<chat::v1::ServerEvent> EventClient::Events() const { return log_.Events(); }

std::vector<chat::v1::ServerEvent> EventClient::EventsFrom(size_t index,
                                                           std::chrono::milliseconds timeout) {
  return log_.EventsFrom(index, timeout);
}

bool EventClient::done() const { return log_.done(); }

std::vector<chat::v1::Message> EventClient::Messages(const std::string& room) const {
  return MessagesIn(log_.Events(), room);
}

std::optional<grpc::Status> EventClient::WaitDone(std::chrono::milliseconds timeout) {
  return log_.WaitDone(timeout);
}

std::vector<chat::v1::Message> MessagesIn(const std::vector<chat::v1::ServerEvent>& events,
                                          const std::string& room) {
  std::vector<chat::v1::Message> out;
  for (const auto& e : events) {
    if (e.has_message() && e.message().room() == room) out.push_back(e.message());
  }
  return out;
}

EventClient::Pred IsJoined(const std::string& room) {
  return [room](const chat::v1::ServerEvent& e) { return e.has_joined() && e.joined().room() == room; };
}
EventClient::Pred IsLeft(const std::string& room) {
  return [room](const chat::v1::ServerEvent& e) { return e.has_left() && e.left().room() == room; };
}
EventClient::Pred IsAck(const std::string& id) {
  return [id](const chat::v1::ServerEvent& e) { return e.has_ack() && e.ack().client_msg_id() == id; };
}
EventClient::Pred IsMessage(const std::string& room, int64_t seq) {
  return [room, seq](const chat::v1::ServerEvent& e) {
    return e.has_message() && e.message().room() == room && e.message().seq() == seq;
  };
}
EventClient::Pred IsAnyMessage(const std::string& room) {
  return [room](const chat::v1::ServerEvent& e) { return e.has_message() && e.message().room() == room; };
}
EventClient::Pred IsError(const std::string& kind) {
  return [kind](const chat::v1::ServerEvent& e) { return e.has_error() && e.error().event() == kind; };
}
EventClient::Pred IsMember(const std::string& room, const std::string& user,
                           chat::v1::MemberEvent::Kind kind) {
  return [=](const chat::v1::ServerEvent& e) {
    return e.has_member() && e.member().room() == room && e.member().user() == user &&
           e.member().kind() == kind;
  };
}

bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

}  // namespace chat::testing
