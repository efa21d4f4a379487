#include "auth_client.h"

#include <atomic>
#include <utility>

#include "absl/time/clock.h"

namespace chat::bridge {

using chat::v1::AuthService;

struct AuthClient::Nodes {
  std::vector<std::unique_ptr<AuthService::Stub>> stubs;
  absl::Duration timeout;
  std::string secret;
  // The node that answered last: the next call starts there.
  std::atomic<size_t> preferred{0};
};

namespace {

// One call, tried node after node while the answer is UNAVAILABLE. Keeps
// itself alive through the completion it waits for.
template <typename Request, typename Response>
class Attempts : public std::enable_shared_from_this<Attempts<Request, Response>> {
 public:
  // The callback flavour of the stub's method (AuthService::Stub::async::Login...).
  using Call = void (AuthService::Stub::async::*)(grpc::ClientContext*, const Request*, Response*,
                                                  std::function<void(grpc::Status)>);

  Attempts(std::shared_ptr<AuthClient::Nodes> nodes, AuthClient::Caller caller, Request request, Call call,
           AuthClient::Done<Response> done)
      : nodes_(std::move(nodes)),
        caller_(std::move(caller)),
        request_(std::move(request)),
        call_(std::move(call)),
        done_(std::move(done)),
        deadline_(absl::Now() + nodes_->timeout),
        node_(nodes_->preferred.load(std::memory_order_relaxed) % nodes_->stubs.size()) {}

  void Start() {
    // Each attempt has its own context; all live until the call is over.
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(deadline_));
    if (!nodes_->secret.empty()) ctx->AddMetadata("x-chat-gateway-secret", nodes_->secret);
    ctx->AddMetadata("x-forwarded-for", caller_.peer);
    if (!caller_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + caller_.token);
    grpc::ClientContext* raw = ctx.get();
    contexts_.push_back(std::move(ctx));
    response_.Clear();
    (nodes_->stubs[node_]->async()->*call_)(
        raw, &request_, &response_,
        [self = this->shared_from_this()](grpc::Status status) { self->Finished(std::move(status)); });
  }

 private:
  void Finished(grpc::Status status) {
    const bool down = status.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (down && ++tried_ < nodes_->stubs.size() && absl::Now() < deadline_) {
      node_ = (node_ + 1) % nodes_->stubs.size();
      return Start();
    }
    if (!down) nodes_->preferred.store(node_, std::memory_order_relaxed);
    done_(status, response_);
  }

  const std::shared_ptr<AuthClient::Nodes> nodes_;
  const AuthClient::Caller caller_;
  const Request request_;
  const Call call_;
  const AuthClient::Done<Response> done_;
  const absl::Time deadline_;
  size_t node_;
  size_t tried_ = 0;
  Response response_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
};

template <typename Request, typename Response>
void Run(std::shared_ptr<AuthClient::Nodes> nodes, const AuthClient::Caller& caller, Request request,
         typename Attempts<Request, Response>::Call call, AuthClient::Done<Response> done) {
  std::make_shared<Attempts<Request, Response>>(std::move(nodes), caller, std::move(request), std::move(call),
                                                std::move(done))
      ->Start();
}

}  // namespace

AuthClient::AuthClient(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout,
                       std::string gateway_secret)
    : nodes_(std::make_shared<Nodes>()) {
  for (const auto& channel : channels) nodes_->stubs.push_back(AuthService::NewStub(channel));
  nodes_->timeout = timeout;
  nodes_->secret = std::move(gateway_secret);
}

void AuthClient::Register(const Caller& caller, chat::v1::RegisterRequest request,
                          Done<chat::v1::RegisterResponse> done) {
  Run<chat::v1::RegisterRequest, chat::v1::RegisterResponse>(nodes_, caller, std::move(request),
                                                             &AuthService::Stub::async::Register, std::move(done));
}

void AuthClient::Login(const Caller& caller, chat::v1::LoginRequest request, Done<chat::v1::LoginResponse> done) {
  Run<chat::v1::LoginRequest, chat::v1::LoginResponse>(nodes_, caller, std::move(request),
                                                       &AuthService::Stub::async::Login, std::move(done));
}

void AuthClient::Logout(const Caller& caller, Done<chat::v1::LogoutResponse> done) {
  Run<chat::v1::LogoutRequest, chat::v1::LogoutResponse>(nodes_, caller, {}, &AuthService::Stub::async::Logout,
                                                         std::move(done));
}

void AuthClient::WhoAmI(const Caller& caller, Done<chat::v1::WhoAmIResponse> done) {
  Run<chat::v1::WhoAmIRequest, chat::v1::WhoAmIResponse>(nodes_, caller, {}, &AuthService::Stub::async::WhoAmI,
                                                         std::move(done));
}

}  // namespace chat::bridge
