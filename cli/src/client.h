// ChatClient: the unary calls of AuthService and ChatService on a list of
// equal chat-core nodes, each call with a deadline and (when a token is set)
// the bearer metadata. A call goes to the node that answered last; if that node
// is UNAVAILABLE (refused, down, shutting down, or not connected within the
// connect timeout) the call goes to the next node, once round the list;
// any other answer is final. Errors come back as absl::Status with a one-line
// message meant for people ("cannot reach chat-core at ...").
//
// Threading: thread-safe (gRPC stubs are; the preferred node is under a mutex).
// Lifetime: owns one channel per node; live streams (LiveClient) use them via
// channel()/chat_stub() and must end before the ChatClient is destroyed.
#ifndef CHAT_CLI_SRC_CLIENT_H_
#define CHAT_CLI_SRC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::cli {

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

// What a "tls://" address is dialled with (PEM text, loaded by Main).
struct ChannelTls {
  // Trusted CAs: --ca, else the system's trust store.
  std::string root_certs;
  // A client certificate and key (--cert/--key), for a chat-core that asks for one.
  std::string cert_chain;
  std::string private_key;
};

// A channel (TLS for a "tls://" address, else plaintext) with keepalive pings (every 20 s; chat-core allows one
// every 10 s) and quick reconnect backoff, so `tail` notices a restarted
// chat-core within a few seconds.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server, const ChannelTls& tls = {});

// A status from gRPC, with the message reworded for the common failures.
// `sent_token`: whether the call carried a token (only then is UNAUTHENTICATED
// a token problem, worth the hint "run 'chat login'").
absl::Status CallError(const grpc::Status& status, const std::string& server,
                       bool sent_token = true, const std::string& hint = "run 'chat login'");

// Waits until `channel` has either connected or failed to (true: a call made
// now gets its answer or fails fast), or until `timeout` passed or `stop`
// returned true (false; `stop` is asked every 100 ms). Starts connecting if the
// channel is idle.
bool AwaitConnectAttempt(grpc::Channel* channel, absl::Duration timeout,
                         const std::function<bool()>& stop = {});
// The UNAVAILABLE status of a node that did not connect within `timeout`.
grpc::Status NotConnectedStatus(absl::Duration timeout);

struct ChatClientOptions {
  ChannelTls tls;
  // Deadline of each call, from when it is sent.
  absl::Duration deadline = absl::Seconds(10);
  // How long a node may take to connect before the next node is tried. The last
  // node of a round is not rushed: its call just has the deadline.
  absl::Duration connect_timeout = absl::Seconds(3);
  // Added to UNAUTHENTICATED answers to calls that carried the token: what to
  // do about it (an API token from --token/CHAT_TOKEN is not fixed by logging in).
  std::string unauthenticated_hint = "run 'chat login'";
};

class ChatClient {
 public:
  // `servers`: at least one address (HOST:PORT), in order of preference.
  ChatClient(std::vector<std::string> servers, std::string token, ChatClientOptions options = {});

  size_t node_count() const { return nodes_.size(); }
  const std::string& address(size_t node) const { return nodes_[node]->address; }
  const std::string& token() const { return token_; }
  const ChatClientOptions& options() const { return options_; }
  grpc::Channel* channel(size_t node) const { return nodes_[node]->channel.get(); }
  chat::v1::ChatService::Stub* chat_stub(size_t node) const { return nodes_[node]->chat.get(); }
  // The node that answered last (at first the first one); calls start there.
  // LiveClient sets it to the node its stream is connected to.
  size_t preferred() const;
  void set_preferred(size_t node);

  absl::StatusOr<chat::v1::RegisterResponse> Register(const chat::v1::RegisterRequest& request);
  absl::StatusOr<chat::v1::LoginResponse> Login(const chat::v1::LoginRequest& request);
  absl::Status Logout();
  absl::StatusOr<chat::v1::WhoAmIResponse> WhoAmI();
  // One page of rooms (request.limit, request.cursor; see ListRoomsRequest).
  absl::StatusOr<chat::v1::ListRoomsResponse> ListRooms(const chat::v1::ListRoomsRequest& request = {});
  absl::StatusOr<chat::v1::Room> CreateRoom(const chat::v1::CreateRoomRequest& request);
  absl::StatusOr<chat::v1::Room> GetRoom(const std::string& name);
  absl::StatusOr<chat::v1::SendMessageResponse> SendMessage(
      const chat::v1::SendMessageRequest& request);
  absl::StatusOr<chat::v1::GetHistoryResponse> GetHistory(
      const chat::v1::GetHistoryRequest& request);

  // Membership and moderation (docs/cli.md, "Private rooms, direct messages
  // and moderation").
  absl::StatusOr<chat::v1::Room> OpenDirect(const chat::v1::OpenDirectRequest& request);
  absl::StatusOr<chat::v1::Room> UpdateRoom(const chat::v1::UpdateRoomRequest& request);
  absl::StatusOr<chat::v1::DeleteRoomResponse> DeleteRoom(const chat::v1::DeleteRoomRequest& request);
  absl::StatusOr<chat::v1::MembershipEvent> Invite(const chat::v1::InviteRequest& request);
  absl::StatusOr<chat::v1::MembershipEvent> RespondInvite(const chat::v1::RespondInviteRequest& request);
  absl::StatusOr<chat::v1::ListInvitesResponse> ListInvites();
  absl::StatusOr<chat::v1::MembershipEvent> LeaveRoom(const chat::v1::LeaveRoomRequest& request);
  absl::StatusOr<chat::v1::MembershipEvent> Kick(const chat::v1::KickRequest& request);
  absl::StatusOr<chat::v1::MembershipEvent> Ban(const chat::v1::BanRequest& request);
  absl::StatusOr<chat::v1::MembershipEvent> Unban(const chat::v1::UnbanRequest& request);
  absl::StatusOr<chat::v1::MembershipEvent> SetRole(const chat::v1::SetRoleRequest& request);
  absl::StatusOr<chat::v1::ListMembersResponse> ListMembers(const chat::v1::ListMembersRequest& request);
  absl::StatusOr<chat::v1::MessageDeleted> DeleteMessage(const chat::v1::DeleteMessageRequest& request);
  absl::StatusOr<chat::v1::SearchUsersResponse> SearchUsers(const chat::v1::SearchUsersRequest& request);
  absl::StatusOr<chat::v1::DisableAccountResponse> DisableAccount(
      const chat::v1::DisableAccountRequest& request);
  absl::StatusOr<chat::v1::GetUsersResponse> GetUsers(const chat::v1::GetUsersRequest& request);

  // The account lifecycle and integrations (docs/cli.md, "Accounts, bots,
  // API tokens and webhooks"). Each needs a login session, not an API token.
  absl::StatusOr<chat::v1::ChangePasswordResponse> ChangePassword(const chat::v1::ChangePasswordRequest& request);
  absl::StatusOr<chat::v1::ListSessionsResponse> ListSessions();
  absl::StatusOr<chat::v1::RevokeSessionResponse> RevokeSession(const chat::v1::RevokeSessionRequest& request);
  absl::StatusOr<chat::v1::UserProfile> UpdateProfile(const chat::v1::UpdateProfileRequest& request);
  absl::StatusOr<chat::v1::DeleteAccountResponse> DeleteAccount(const chat::v1::DeleteAccountRequest& request);
  absl::StatusOr<chat::v1::InviteCode> CreateInvite(const chat::v1::CreateInviteRequest& request);
  absl::StatusOr<chat::v1::UserProfile> CreateBot(const chat::v1::CreateBotRequest& request);
  absl::StatusOr<chat::v1::ListBotsResponse> ListBots(const chat::v1::ListBotsRequest& request);
  absl::StatusOr<chat::v1::DeleteBotResponse> DeleteBot(const chat::v1::DeleteBotRequest& request);
  absl::StatusOr<chat::v1::CreateApiTokenResponse> CreateApiToken(const chat::v1::CreateApiTokenRequest& request);
  absl::StatusOr<chat::v1::ListApiTokensResponse> ListApiTokens(const chat::v1::ListApiTokensRequest& request);
  absl::StatusOr<chat::v1::RevokeApiTokenResponse> RevokeApiToken(const chat::v1::RevokeApiTokenRequest& request);
  absl::StatusOr<chat::v1::CreateWebhookResponse> CreateWebhook(const chat::v1::CreateWebhookRequest& request);
  absl::StatusOr<chat::v1::ListWebhooksResponse> ListWebhooks();
  absl::StatusOr<chat::v1::RevokeWebhookResponse> RevokeWebhook(const chat::v1::RevokeWebhookRequest& request);

 private:
  struct Node {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<chat::v1::AuthService::Stub> auth;
    std::unique_ptr<chat::v1::ChatService::Stub> chat;
  };
  using Attempt = absl::FunctionRef<grpc::Status(const Node&, grpc::ClientContext*)>;

  // Runs `attempt` on the nodes in turn, from the preferred one, until one
  // answers with anything but UNAVAILABLE; that node becomes the preferred one.
  absl::Status OnSomeNode(bool with_token, Attempt attempt);
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(
      std::unique_ptr<Stub> Node::*stub,
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
      const Request& request, bool with_token = true);

  const std::string token_;
  const ChatClientOptions options_;
  std::vector<std::unique_ptr<Node>> nodes_;
  mutable absl::Mutex mu_;
  size_t preferred_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_CLIENT_H_
