#include "client.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "chat/status.h"
#include "chat/validate.h"

namespace chat::cli {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC 1.51 uses it as the timeout of
  // a connection attempt (default 20 s), and a small one makes connecting to a
  // busy chat-core fail ("timed out before receiving SETTINGS frame").
  args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  args.SetMaxSendMessageSize(chat::kMaxReceiveMessageBytes);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

absl::Status CallError(const grpc::Status& status, const std::string& server) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrReplaceAll(status.error_message(), {{"\n", " "}, {"\r", " "}});
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (message.find("failed to connect") != std::string::npos ||
          message.find("Connection refused") != std::string::npos ||
          message.find("DNS resolution failed") != std::string::npos ||
          message.find("Socket closed") != std::string::npos ||
          message.find("Connection reset") != std::string::npos) {
        // gRPC's text is long; the interesting part is at its end.
        size_t colon = message.rfind(": ");
        std::string reason = colon == std::string::npos ? message : message.substr(colon + 2);
        return absl::UnavailableError(
            absl::StrCat("cannot reach chat-core at ", server, " (", reason, ")"));
      }
      return absl::UnavailableError(absl::StrCat("chat-core at ", server, " is unavailable: ", message));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(
          absl::StrCat("chat-core at ", server, " did not answer in time"));
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(absl::StrCat(message, " (run 'chat login')"));
    default:
      return FromGrpcStatus(grpc::Status(status.error_code(), message));
  }
}

ChatClient::ChatClient(std::string server, std::string token, absl::Duration deadline)
    : server_(std::move(server)),
      token_(std::move(token)),
      deadline_(deadline),
      channel_(MakeChannel(server_)),
      auth_(chat::v1::AuthService::NewStub(channel_)),
      chat_(chat::v1::ChatService::NewStub(channel_)) {}

void ChatClient::Prepare(grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  if (!token_.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> ChatClient::Call(
    Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const Request& request) const {
  grpc::ClientContext context;
  Prepare(&context);
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return CallError(status, server_);
  return response;
}

absl::StatusOr<chat::v1::RegisterResponse> ChatClient::Register(const std::string& username,
                                                                const std::string& password) {
  chat::v1::RegisterRequest request;
  request.set_username(username);
  request.set_password(password);
  grpc::ClientContext context;
  // Registration is not authenticated; a stale token must not get in the way.
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  chat::v1::RegisterResponse response;
  grpc::Status status = auth_->Register(&context, request, &response);
  if (!status.ok()) return CallError(status, server_);
  return response;
}

absl::StatusOr<chat::v1::LoginResponse> ChatClient::Login(const std::string& username,
                                                          const std::string& password) {
  chat::v1::LoginRequest request;
  request.set_username(username);
  request.set_password(password);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  chat::v1::LoginResponse response;
  grpc::Status status = auth_->Login(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    // "invalid username or password": not a token problem, so no login hint.
    return absl::UnauthenticatedError(status.error_message());
  }
  if (!status.ok()) return CallError(status, server_);
  return response;
}

absl::Status ChatClient::Logout() {
  grpc::ClientContext context;
  Prepare(&context);
  chat::v1::LogoutResponse response;
  grpc::Status status = auth_->Logout(&context, chat::v1::LogoutRequest(), &response);
  return CallError(status, server_);
}

absl::StatusOr<chat::v1::WhoAmIResponse> ChatClient::WhoAmI() {
  return Call(auth_.get(), &chat::v1::AuthService::Stub::WhoAmI, chat::v1::WhoAmIRequest());
}

absl::StatusOr<chat::v1::ListRoomsResponse> ChatClient::ListRooms() {
  return Call(chat_.get(), &chat::v1::ChatService::Stub::ListRooms, chat::v1::ListRoomsRequest());
}

absl::StatusOr<chat::v1::Room> ChatClient::CreateRoom(const std::string& name) {
  chat::v1::CreateRoomRequest request;
  request.set_name(name);
  return Call(chat_.get(), &chat::v1::ChatService::Stub::CreateRoom, request);
}

absl::StatusOr<chat::v1::Room> ChatClient::GetRoom(const std::string& name) {
  chat::v1::GetRoomRequest request;
  request.set_name(name);
  return Call(chat_.get(), &chat::v1::ChatService::Stub::GetRoom, request);
}

absl::StatusOr<chat::v1::SendMessageResponse> ChatClient::SendMessage(
    const chat::v1::SendMessageRequest& request) {
  return Call(chat_.get(), &chat::v1::ChatService::Stub::SendMessage, request);
}

absl::StatusOr<chat::v1::GetHistoryResponse> ChatClient::GetHistory(
    const chat::v1::GetHistoryRequest& request) {
  return Call(chat_.get(), &chat::v1::ChatService::Stub::GetHistory, request);
}

}  // namespace chat::cli
