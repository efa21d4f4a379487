#include "auth_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace chat::bridge {

using chat::v1::AuthService;
using google::protobuf::Message;

// Requests and responses travel as the base Message: gRPC's protobuf
// serialization works on any Message through its virtual methods.
using MessageStub = grpc::TemplatedGenericStub<Message, Message>;

namespace {
class Attempts;
}  // namespace

struct AuthClient::Nodes {
  std::vector<std::unique_ptr<MessageStub>> stubs;
  absl::Duration timeout;
  std::string secret;
  // The node that answered last: the next call starts there.
  std::atomic<size_t> preferred{0};
};

// The calls in flight, for Shutdown. Apart from Nodes, so that a call can let
// go of the stubs (and their channels) before it leaves `live`.
struct AuthClient::InFlight {
  absl::Mutex mu;
  absl::flat_hash_map<const Attempts*, std::weak_ptr<Attempts>> live ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

namespace {

// "/chat.v1.AuthService/Login": the HTTP/2 path of a method.
std::string MethodPath(absl::string_view method) {
  return absl::StrCat("/", AuthService::service_full_name(), "/", method);
}

// One call, tried node after node while the answer is UNAVAILABLE. Keeps
// itself alive through the completion it waits for.
class Attempts : public std::enable_shared_from_this<Attempts> {
 public:
  Attempts(std::shared_ptr<AuthClient::Nodes> nodes, std::shared_ptr<AuthClient::InFlight> in_flight,
           AuthClient::Caller caller, std::string path, std::unique_ptr<Message> request,
           std::unique_ptr<Message> response, AuthClient::AnyDone done)
      : registration_{std::move(in_flight), this},
        nodes_(std::move(nodes)),
        caller_(std::move(caller)),
        path_(std::move(path)),
        request_(std::move(request)),
        response_(std::move(response)),
        done_(std::move(done)),
        deadline_(absl::Now() + nodes_->timeout),
        node_(nodes_->preferred.load(std::memory_order_relaxed) % nodes_->stubs.size()) {}

  // Ends the call with CANCELLED (its callback still runs once).
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    for (auto& ctx : contexts_) ctx->TryCancel();
  }

  void Start() {
    // Each attempt has its own context; all live until the call is over.
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(deadline_));
    if (!nodes_->secret.empty()) ctx->AddMetadata("x-chat-gateway-secret", nodes_->secret);
    ctx->AddMetadata("x-forwarded-for", caller_.peer);
    if (!caller_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + caller_.token);
    grpc::ClientContext* raw = ctx.get();
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) raw->TryCancel();
      contexts_.push_back(std::move(ctx));
    }
    response_->Clear();
    nodes_->stubs[node_]->UnaryCall(
        raw, path_, grpc::StubOptions(), request_.get(), response_.get(),
        [self = shared_from_this()](grpc::Status status) { self->Finished(std::move(status)); });
  }

 private:
  void Finished(grpc::Status status) {
    const bool down = status.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (down && ++tried_ < nodes_->stubs.size() && absl::Now() < deadline_) {
      node_ = (node_ + 1) % nodes_->stubs.size();
      return Start();
    }
    if (!down) nodes_->preferred.store(node_, std::memory_order_relaxed);
    if (!status.ok()) response_->Clear();
    done_(status, std::move(response_));
  }

  // Declared first, so destroyed last: the call leaves InFlight::live only once
  // done_ (and what it holds) is gone, and so are its contexts and nodes_, which
  // hold the channels. Shutdown waits for that, so the last reference to a
  // channel goes with the AuthClient, on the bridge's thread. Were it dropped
  // here, on the gRPC thread that ran the callback, gRPC 1.51 would stop its
  // callback threads from one of them: that thread cannot join itself, and
  // stays unjoined (ThreadSanitizer's "thread leak" in CI, 2026-12-07).
  struct Registration {
    std::shared_ptr<AuthClient::InFlight> in_flight;
    const Attempts* self;
    ~Registration() {
      absl::MutexLock lock(&in_flight->mu);
      in_flight->live.erase(self);
    }
  } registration_;
  const std::shared_ptr<AuthClient::Nodes> nodes_;
  const AuthClient::Caller caller_;
  const std::string path_;
  const std::unique_ptr<Message> request_;
  std::unique_ptr<Message> response_;
  const AuthClient::AnyDone done_;
  const absl::Time deadline_;
  size_t node_;
  size_t tried_ = 0;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

void Start(std::shared_ptr<AuthClient::Nodes> nodes, std::shared_ptr<AuthClient::InFlight> in_flight,
           const AuthClient::Caller& caller, std::string path, std::unique_ptr<Message> request,
           std::unique_ptr<Message> response, AuthClient::AnyDone done) {
  auto attempts = std::make_shared<Attempts>(std::move(nodes), in_flight, caller, std::move(path),
                                             std::move(request), std::move(response), std::move(done));
  bool stopping;
  {
    absl::MutexLock lock(&in_flight->mu);
    stopping = in_flight->stopping;
    if (!stopping) in_flight->live.emplace(attempts.get(), attempts);
  }
  // After Shutdown a call still answers once, CANCELLED, from gRPC's thread.
  if (stopping) attempts->Cancel();
  attempts->Start();
}

// A call whose types are known here.
template <typename Request, typename Response>
void Run(std::shared_ptr<AuthClient::Nodes> nodes, std::shared_ptr<AuthClient::InFlight> in_flight,
         const AuthClient::Caller& caller, absl::string_view method, Request request,
         AuthClient::Done<Response> done) {
  Start(std::move(nodes), std::move(in_flight), caller, MethodPath(method),
        std::make_unique<Request>(std::move(request)), std::make_unique<Response>(),
        [done = std::move(done)](const grpc::Status& status, std::unique_ptr<Message> response) {
          done(status, static_cast<const Response&>(*response));
        });
}

}  // namespace

AuthClient::AuthClient(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout,
                       std::string gateway_secret)
    : nodes_(std::make_shared<Nodes>()), in_flight_(std::make_shared<InFlight>()) {
  for (const auto& channel : channels) nodes_->stubs.push_back(std::make_unique<MessageStub>(channel));
  nodes_->timeout = timeout;
  nodes_->secret = std::move(gateway_secret);
}

void AuthClient::Register(const Caller& caller, chat::v1::RegisterRequest request,
                          Done<chat::v1::RegisterResponse> done) {
  Run(nodes_, in_flight_, caller, "Register", std::move(request), std::move(done));
}

void AuthClient::Login(const Caller& caller, chat::v1::LoginRequest request, Done<chat::v1::LoginResponse> done) {
  Run(nodes_, in_flight_, caller, "Login", std::move(request), std::move(done));
}

void AuthClient::Logout(const Caller& caller, Done<chat::v1::LogoutResponse> done) {
  Run(nodes_, in_flight_, caller, "Logout", chat::v1::LogoutRequest(), std::move(done));
}

void AuthClient::WhoAmI(const Caller& caller, Done<chat::v1::WhoAmIResponse> done) {
  Run(nodes_, in_flight_, caller, "WhoAmI", chat::v1::WhoAmIRequest(), std::move(done));
}

void AuthClient::ServerInfo(const Caller& caller, Done<chat::v1::ServerInfoResponse> done) {
  Run(nodes_, in_flight_, caller, "ServerInfo", chat::v1::ServerInfoRequest(), std::move(done));
}

void AuthClient::PostWebhook(const Caller& caller, chat::v1::PostWebhookRequest request,
                             Done<chat::v1::PostWebhookResponse> done) {
  Run(nodes_, in_flight_, caller, "PostWebhook", std::move(request), std::move(done));
}

void AuthClient::Shutdown(absl::Duration wait) {
  std::vector<std::shared_ptr<Attempts>> calls;
  {
    absl::MutexLock lock(&in_flight_->mu);
    in_flight_->stopping = true;
    for (auto& [key, weak] : in_flight_->live) {
      if (auto call = weak.lock()) calls.push_back(std::move(call));
    }
  }
  for (auto& call : calls) call->Cancel();
  calls.clear();  // our references must not keep them alive
  absl::MutexLock lock(&in_flight_->mu);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(in_flight_->mu) { return in_flight_->live.empty(); };
  in_flight_->mu.AwaitWithTimeout(absl::Condition(&none), wait);
}

void AuthClient::Call(const Caller& caller, const google::protobuf::MethodDescriptor* method,
                      std::unique_ptr<Message> request, AnyDone done) {
  std::unique_ptr<Message> response(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->output_type())->New());
  Start(nodes_, in_flight_, caller, MethodPath(method->name()), std::move(request), std::move(response),
        std::move(done));
}

}  // namespace chat::bridge
