#include "scripted_core.h"

#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace chat::testing {

// The scripted core's streams, on gRPC's callback API: one read and one write
// in flight each, writes queued from the test thread.
class ScriptedCore::Service final : public chat::v1::GatewayService::CallbackService {
 public:
  class Stream final : public grpc::ServerBidiReactor<chat::v1::GatewayUp, chat::v1::GatewayDown> {
   public:
    Stream(Service* service, grpc::CallbackServerContext* ctx, bool accept) : service_(service) {
      if (!accept) {
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the scripted core is down"));
        return;
      }
      ctx->AddInitialMetadata("x-chat-gateway", "accepted");
      StartSendInitialMetadata();
      StartRead(&up_);
    }
    void End() {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the scripted core ended the stream"));
    }
    void Write(const chat::v1::GatewayDown& down) {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      queue_.push_back(down);
      if (queue_.size() == 1) StartWrite(&queue_.front());
    }
    void OnReadDone(bool ok) override {
      if (ok) {
        service_->log_.Add(up_);
        StartRead(&up_);
        return;
      }
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      Finish(grpc::Status::OK);
    }
    void OnWriteDone(bool ok) override {
      absl::MutexLock lock(&mu_);
      queue_.pop_front();
      if (ok && !finished_ && !queue_.empty()) StartWrite(&queue_.front());
    }
    void OnDone() override {
      service_->Forget(this);
      delete this;
    }

   private:
    Service* const service_;
    chat::v1::GatewayUp up_;
    absl::Mutex mu_;
    std::deque<chat::v1::GatewayDown> queue_ ABSL_GUARDED_BY(mu_);
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
  };

  grpc::ServerBidiReactor<chat::v1::GatewayUp, chat::v1::GatewayDown>* Gateway(
      grpc::CallbackServerContext* ctx) override {
    bool accept;
    {
      absl::MutexLock lock(&mu_);
      accept = accepting_;
    }
    auto* stream = new Stream(this, ctx, accept);
    if (accept) {
      absl::MutexLock lock(&mu_);
      stream_ = stream;
    }
    return stream;
  }

  void EndStream() {
    absl::MutexLock lock(&mu_);
    if (stream_ != nullptr) stream_->End();
  }

  void SetAccepting(bool accepting) {
    absl::MutexLock lock(&mu_);
    accepting_ = accepting;
  }

  bool Send(const chat::v1::GatewayDown& down) {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr) return false;
    stream_->Write(down);
    return true;
  }

  void Forget(Stream* stream) {
    absl::MutexLock lock(&mu_);
    if (stream_ == stream) stream_ = nullptr;
  }

  EventLog<chat::v1::GatewayUp, bool> log_;

 private:
  absl::Mutex mu_;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool accepting_ ABSL_GUARDED_BY(mu_) = true;
};

ScriptedCore::ScriptedCore() : service_(std::make_unique<Service>()) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    ADD_FAILURE() << "the scripted core did not start";
    std::abort();
  }
}

ScriptedCore::~ScriptedCore() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }

std::string ScriptedCore::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool ScriptedCore::Send(const chat::v1::GatewayDown& down) { return service_->Send(down); }

std::optional<chat::v1::GatewayUp> ScriptedCore::WaitFor(const Pred& pred, std::chrono::milliseconds timeout) {
  return service_->log_.WaitFor(pred, timeout);
}

std::vector<chat::v1::GatewayUp> ScriptedCore::Received() const { return service_->log_.Events(); }

std::unique_ptr<WsClient> ScriptedCore::JoinedBrowser(int port, const std::string& user, const std::string& room,
                                                      uint64_t* session) {
  WsClient::Options o;
  o.bearer = "token-of-" + user;
  o.origin = "";
  std::thread accept([&] { *session = AcceptNextOpen(user); });
  auto browser = WsClient::Connect(port, o);
  accept.join();
  if (browser == nullptr || *session == 0) return nullptr;
  const size_t joins_before = Received().size();
  browser->Join(room, std::nullopt, "j1");
  size_t seen = 0;
  if (!WaitFor([&](const chat::v1::GatewayUp& up) { return seen++ >= joins_before && up.event().has_join(); })) {
    return nullptr;
  }
  chat::v1::ServerEvent joined;
  joined.set_ref("j1");
  joined.mutable_joined()->set_room(room);
  if (!Send(ForSession(*session, joined)) || !browser->WaitFor(WsJoined(room))) return nullptr;
  return browser;
}

chat::v1::GatewayDown ScriptedCore::ForSession(uint64_t session, const chat::v1::ServerEvent& event,
                                               uint64_t request) {
  chat::v1::GatewayDown down;
  down.set_session(session);
  down.set_request(request);
  *down.mutable_event() = event;
  return down;
}

chat::v1::GatewayDown ScriptedCore::RoomMessage(const std::string& room, int64_t seq, uint64_t session) {
  chat::v1::GatewayDown down;
  down.set_session(session);
  auto* m = down.mutable_event()->mutable_message();
  m->set_room(room);
  m->set_seq(seq);
  m->set_author("bob");
  m->set_text("text " + std::to_string(seq));
  return down;
}

void ScriptedCore::EndStream() { service_->EndStream(); }

void ScriptedCore::SetAccepting(bool accepting) { service_->SetAccepting(accepting); }

uint64_t ScriptedCore::AcceptNextOpen(const std::string& user) {
  // The first open not yet accepted: skip the ones answered before.
  size_t seen = 0;
  auto open = WaitFor([&](const chat::v1::GatewayUp& up) { return up.has_open() && seen++ == opens_accepted_; });
  if (!open) return 0;
  ++opens_accepted_;
  chat::v1::GatewayDown down;
  down.set_session(open->session());
  down.mutable_opened()->set_user(user);
  Send(down);
  return open->session();
}

}  // namespace chat::testing
