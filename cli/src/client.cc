#include "client.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "exit_codes.h"
#include "servers.h"

namespace chat::cli {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server, const ChannelTls& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Keep pinging while `tail` only listens (gRPC's default stops after two
  // pings without data sent), so a node that vanished is noticed in 30 s.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC 1.51 uses it as the timeout of
  // a connection attempt (default 20 s), and a small one makes connecting to a
  // busy chat-core fail ("timed out before receiving SETTINGS frame").
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  args.SetMaxSendMessageSize(chat::kMaxReceiveMessageBytes);
  if (!IsTlsAddress(server)) return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.root_certs;
  ssl.pem_cert_chain = tls.cert_chain;
  ssl.pem_private_key = tls.private_key;
  return grpc::CreateCustomChannel(std::string(DialAddress(server)), grpc::SslCredentials(ssl), args);
}

namespace {

// gRPC's words for a failed TLS handshake, and what to tell the user instead.
std::optional<std::string> TlsProblem(absl::string_view grpc_message) {
  const std::string message = absl::AsciiStrToLower(grpc_message);
  auto has = [&](const char* words) { return message.find(words) != std::string::npos; };
  if (!has("handshake") && !has("ssl_error") && !has("ssl routines")) return std::nullopt;
  if (has("certificate verify failed") || has("certificate_verify_failed")) {
    return "its certificate is not trusted (unknown CA, expired, or not for this host name; see --ca)";
  }
  if (has("wrong version number") || has("wrong_version_number") || has("packet length too long") ||
      has("record layer failure")) {
    return "the port does not speak TLS (drop --tls)";
  }
  if (has("certificate required") || has("certificate_required") || has("handshake failure") ||
      has("alert")) {
    return "chat-core refused the handshake (it may want a client certificate: --cert/--key)";
  }
  return "the TLS handshake failed";
}

}  // namespace

absl::Status CallError(const grpc::Status& status, const std::string& server, bool sent_token,
                       const std::string& hint) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrReplaceAll(status.error_message(), {{"\n", " "}, {"\r", " "}});
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (auto problem = TlsProblem(message)) {
        return TlsError(absl::StrCat("TLS to chat-core at ", DialAddress(server), " failed: ", *problem));
      }
      if (IsTlsAddress(server) && message.find("Socket closed") != std::string::npos) {
        return TlsError(absl::StrCat("TLS to chat-core at ", DialAddress(server),
                                     " failed: chat-core closed the connection during the handshake (does it want a "
                                     "client certificate? --cert/--key)"));
      }
      if (message.find("failed to connect") != std::string::npos ||
          message.find("Connection refused") != std::string::npos ||
          message.find("DNS resolution failed") != std::string::npos ||
          message.find("Socket closed") != std::string::npos ||
          message.find("Connection reset") != std::string::npos) {
        // gRPC's text is long; the interesting part is at its end.
        size_t colon = message.rfind(": ");
        std::string reason = colon == std::string::npos ? message : message.substr(colon + 2);
        // A TLS port answers a plaintext client's first bytes by hanging up.
        const char* hint = !IsTlsAddress(server) && reason == "Socket closed" ? "; a TLS port? try --tls" : "";
        return absl::UnavailableError(
            absl::StrCat("cannot reach chat-core at ", server, " (", reason, hint, ")"));
      }
      return absl::UnavailableError(absl::StrCat("chat-core at ", server, " is unavailable: ", message));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(
          absl::StrCat("chat-core at ", server, " did not answer in time"));
    case grpc::StatusCode::UNAUTHENTICATED:
      // Without a token (login: "invalid username or password") there is no hint to give.
      if (!sent_token) return absl::UnauthenticatedError(message);
      return absl::UnauthenticatedError(absl::StrCat(message, " (", hint, ")"));
    case grpc::StatusCode::UNIMPLEMENTED:
      // A chat-core older than this CLI (e.g. half-way through an upgrade).
      return absl::UnimplementedError(absl::StrCat("chat-core at ", server,
                                                   " does not offer this call (is it older than this chat?)",
                                                   message.empty() ? "" : absl::StrCat(": ", message)));
    default:
      if (message.empty()) message = StatusCodeName(static_cast<absl::StatusCode>(status.error_code()));
      return FromGrpcStatus(grpc::Status(status.error_code(), message));
  }
}

bool AwaitConnectAttempt(grpc::Channel* channel, absl::Duration timeout,
                         const std::function<bool()>& stop) {
  const absl::Time deadline = absl::Now() + timeout;
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_TRANSIENT_FAILURE) {
    if (stop && stop()) return false;
    absl::Time now = absl::Now();
    if (now >= deadline) return false;
    // In slices, so `stop` is noticed; a state change ends a slice at once.
    channel->WaitForStateChange(state, absl::ToChronoTime(std::min(deadline, now + absl::Milliseconds(100))));
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return true;
}

grpc::Status NotConnectedStatus(absl::Duration timeout) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("no connection within ", absl::FormatDuration(timeout)));
}

ChatClient::ChatClient(std::vector<std::string> servers, std::string token, ChatClientOptions options)
    : token_(std::move(token)), options_(options) {
  for (auto& address : servers) {
    auto node = std::make_unique<Node>();
    node->address = std::move(address);
    node->channel = MakeChannel(node->address, options_.tls);
    node->auth = chat::v1::AuthService::NewStub(node->channel);
    node->chat = chat::v1::ChatService::NewStub(node->channel);
    nodes_.push_back(std::move(node));
  }
}

size_t ChatClient::preferred() const {
  absl::MutexLock lock(&mu_);
  return preferred_;
}

void ChatClient::set_preferred(size_t node) {
  absl::MutexLock lock(&mu_);
  preferred_ = node;
}

absl::Status ChatClient::OnSomeNode(bool with_token, Attempt attempt) {
  const size_t count = nodes_.size();
  const size_t first = preferred();
  std::vector<std::string> failures;
  absl::Status last;
  for (size_t k = 0; k < count; ++k) {
    const size_t index = (first + k) % count;
    const Node& node = *nodes_[index];
    grpc::Status status;
    // Only a node with another one after it is rushed; a refused connection
    // settles at once, and the call then fails fast with gRPC's reason.
    if (k + 1 < count && !AwaitConnectAttempt(node.channel.get(), options_.connect_timeout)) {
      status = NotConnectedStatus(options_.connect_timeout);
    } else {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + options_.deadline));
      if (with_token && !token_.empty()) {
        context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
      }
      status = attempt(node, &context);
    }
    last = CallError(status, node.address, with_token && !token_.empty(), options_.unauthenticated_hint);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      set_preferred(index);
      return last;
    }
    failures.emplace_back(last.message());
  }
  if (count == 1) return last;
  return absl::UnavailableError(absl::StrJoin(failures, "; "));
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> ChatClient::Call(
    std::unique_ptr<Stub> Node::*stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const Request& request, bool with_token) {
  Response response;
  absl::Status status = OnSomeNode(with_token, [&](const Node& node, grpc::ClientContext* context) {
    response.Clear();
    return ((*(node.*stub)).*method)(context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<chat::v1::RegisterResponse> ChatClient::Register(const chat::v1::RegisterRequest& request) {
  // Registration is not authenticated; a stale token must not get in the way.
  return Call(&Node::auth, &chat::v1::AuthService::Stub::Register, request, /*with_token=*/false);
}

absl::StatusOr<chat::v1::LoginResponse> ChatClient::Login(const chat::v1::LoginRequest& request) {
  return Call(&Node::auth, &chat::v1::AuthService::Stub::Login, request, /*with_token=*/false);
}

absl::Status ChatClient::Logout() {
  return Call(&Node::auth, &chat::v1::AuthService::Stub::Logout, chat::v1::LogoutRequest()).status();
}

absl::StatusOr<chat::v1::WhoAmIResponse> ChatClient::WhoAmI() {
  return Call(&Node::auth, &chat::v1::AuthService::Stub::WhoAmI, chat::v1::WhoAmIRequest());
}

absl::StatusOr<chat::v1::ListRoomsResponse> ChatClient::ListRooms(const chat::v1::ListRoomsRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::ListRooms, request);
}

absl::StatusOr<chat::v1::Room> ChatClient::CreateRoom(const chat::v1::CreateRoomRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::CreateRoom, request);
}

absl::StatusOr<chat::v1::Room> ChatClient::GetRoom(const std::string& name) {
  chat::v1::GetRoomRequest request;
  request.set_name(name);
  return Call(&Node::chat, &chat::v1::ChatService::Stub::GetRoom, request);
}

absl::StatusOr<chat::v1::SendMessageResponse> ChatClient::SendMessage(
    const chat::v1::SendMessageRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::SendMessage, request);
}

absl::StatusOr<chat::v1::GetHistoryResponse> ChatClient::GetHistory(
    const chat::v1::GetHistoryRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::GetHistory, request);
}

absl::StatusOr<chat::v1::Room> ChatClient::OpenDirect(const chat::v1::OpenDirectRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::OpenDirect, request);
}

absl::StatusOr<chat::v1::Room> ChatClient::UpdateRoom(const chat::v1::UpdateRoomRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::UpdateRoom, request);
}

absl::StatusOr<chat::v1::DeleteRoomResponse> ChatClient::DeleteRoom(const chat::v1::DeleteRoomRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::DeleteRoom, request);
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::Invite(const chat::v1::InviteRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::Invite, request);
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::RespondInvite(const chat::v1::RespondInviteRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::RespondInvite, request);
}

absl::StatusOr<chat::v1::ListInvitesResponse> ChatClient::ListInvites() {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::ListInvites, chat::v1::ListInvitesRequest());
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::LeaveRoom(const chat::v1::LeaveRoomRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::LeaveRoom, request);
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::Kick(const chat::v1::KickRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::Kick, request);
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::Ban(const chat::v1::BanRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::Ban, request);
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::Unban(const chat::v1::UnbanRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::Unban, request);
}

absl::StatusOr<chat::v1::MembershipEvent> ChatClient::SetRole(const chat::v1::SetRoleRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::SetRole, request);
}

absl::StatusOr<chat::v1::ListMembersResponse> ChatClient::ListMembers(const chat::v1::ListMembersRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::ListMembers, request);
}

absl::StatusOr<chat::v1::MessageDeleted> ChatClient::DeleteMessage(const chat::v1::DeleteMessageRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::DeleteMessage, request);
}

absl::StatusOr<chat::v1::SearchUsersResponse> ChatClient::SearchUsers(const chat::v1::SearchUsersRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::SearchUsers, request);
}

absl::StatusOr<chat::v1::DisableAccountResponse> ChatClient::DisableAccount(const chat::v1::DisableAccountRequest& request) {
  return Call(&Node::auth, &chat::v1::AuthService::Stub::DisableAccount, request);
}

absl::StatusOr<chat::v1::GetUsersResponse> ChatClient::GetUsers(const chat::v1::GetUsersRequest& request) {
  return Call(&Node::chat, &chat::v1::ChatService::Stub::GetUsers, request);
}

// The account lifecycle and integrations: all on AuthService.
#define CHAT_CLI_AUTH_CALL(Method, Request, Response)                                \
  absl::StatusOr<chat::v1::Response> ChatClient::Method(const chat::v1::Request& request) { \
    return Call(&Node::auth, &chat::v1::AuthService::Stub::Method, request);          \
  }
CHAT_CLI_AUTH_CALL(ChangePassword, ChangePasswordRequest, ChangePasswordResponse)
CHAT_CLI_AUTH_CALL(RevokeSession, RevokeSessionRequest, RevokeSessionResponse)
CHAT_CLI_AUTH_CALL(UpdateProfile, UpdateProfileRequest, UserProfile)
CHAT_CLI_AUTH_CALL(DeleteAccount, DeleteAccountRequest, DeleteAccountResponse)
CHAT_CLI_AUTH_CALL(CreateInvite, CreateInviteRequest, InviteCode)
CHAT_CLI_AUTH_CALL(CreateBot, CreateBotRequest, UserProfile)
CHAT_CLI_AUTH_CALL(ListBots, ListBotsRequest, ListBotsResponse)
CHAT_CLI_AUTH_CALL(DeleteBot, DeleteBotRequest, DeleteBotResponse)
CHAT_CLI_AUTH_CALL(CreateApiToken, CreateApiTokenRequest, CreateApiTokenResponse)
CHAT_CLI_AUTH_CALL(ListApiTokens, ListApiTokensRequest, ListApiTokensResponse)
CHAT_CLI_AUTH_CALL(RevokeApiToken, RevokeApiTokenRequest, RevokeApiTokenResponse)
CHAT_CLI_AUTH_CALL(CreateWebhook, CreateWebhookRequest, CreateWebhookResponse)
CHAT_CLI_AUTH_CALL(RevokeWebhook, RevokeWebhookRequest, RevokeWebhookResponse)
#undef CHAT_CLI_AUTH_CALL

absl::StatusOr<chat::v1::ListSessionsResponse> ChatClient::ListSessions() {
  return Call(&Node::auth, &chat::v1::AuthService::Stub::ListSessions, chat::v1::ListSessionsRequest());
}

absl::StatusOr<chat::v1::ListWebhooksResponse> ChatClient::ListWebhooks() {
  return Call(&Node::auth, &chat::v1::AuthService::Stub::ListWebhooks, chat::v1::ListWebhooksRequest());
}

}  // namespace chat::cli
