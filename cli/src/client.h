// ChatClient: the unary calls of AuthService and ChatService for one chat-core
// server, each with a deadline and (when a token is set) the bearer metadata.
// Errors come back as absl::Status with a one-line message meant for people
// ("cannot reach chat-core at ...").
//
// Threading: thread-safe (gRPC stubs are). Lifetime: owns its channel; live
// streams (LiveClient) share the channel via channel().
#ifndef CHAT_CLI_SRC_CLIENT_H_
#define CHAT_CLI_SRC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::cli {

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

// An insecure channel with keepalive pings (every 20 s; chat-core allows one
// every 10 s) and quick reconnect backoff, so `tail` notices a restarted
// chat-core within a few seconds.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server);

// A status from gRPC, with the message reworded for the common failures.
absl::Status CallError(const grpc::Status& status, const std::string& server);

class ChatClient {
 public:
  ChatClient(std::string server, std::string token,
             absl::Duration deadline = absl::Seconds(10));

  const std::string& server() const { return server_; }
  const std::string& token() const { return token_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  chat::v1::ChatService::Stub* chat_stub() { return chat_.get(); }

  absl::StatusOr<chat::v1::RegisterResponse> Register(const std::string& username,
                                                      const std::string& password);
  absl::StatusOr<chat::v1::LoginResponse> Login(const std::string& username,
                                                const std::string& password);
  absl::Status Logout();
  absl::StatusOr<chat::v1::WhoAmIResponse> WhoAmI();
  absl::StatusOr<chat::v1::ListRoomsResponse> ListRooms();
  absl::StatusOr<chat::v1::Room> CreateRoom(const std::string& name);
  absl::StatusOr<chat::v1::Room> GetRoom(const std::string& name);
  absl::StatusOr<chat::v1::SendMessageResponse> SendMessage(
      const chat::v1::SendMessageRequest& request);
  absl::StatusOr<chat::v1::GetHistoryResponse> GetHistory(
      const chat::v1::GetHistoryRequest& request);

 private:
  void Prepare(grpc::ClientContext* context) const;
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(
      Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
      const Request& request) const;

  const std::string server_;
  const std::string token_;
  const absl::Duration deadline_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<chat::v1::AuthService::Stub> auth_;
  std::unique_ptr<chat::v1::ChatService::Stub> chat_;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_CLIENT_H_
