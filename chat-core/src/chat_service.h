// ChatServiceImpl: chat.v1.ChatService. The unary calls (rooms, send, history)
// on gRPC's callback API; Connect streams on gRPC core's C API
// (connect_core_call.h) or on the callback API (connect_reactor.h), as
// ServiceOptions::connect_api says.
//
// Threading: handlers run on gRPC's callback threads and never block (store
// work completes on store threads). Lifetime: owned by CoreServer; outlives the
// grpc::Server.
#ifndef CHAT_CORE_SRC_CHAT_SERVICE_H_
#define CHAT_CORE_SRC_CHAT_SERVICE_H_

#include <grpcpp/server.h>

#include "authenticator.h"
#include "chat/v1/chat.grpc.pb.h"
#include "hub.h"
#include "membership.h"
#include "service_options.h"
#include "stream_reactor.h"

namespace chat::core {

// Every unary method on the callback API; Connect raw (see StartConnectCalls).
using ChatServiceBase = chat::v1::ChatService::WithCallbackMethod_CreateRoom<
    chat::v1::ChatService::WithCallbackMethod_ListRooms<
    chat::v1::ChatService::WithCallbackMethod_GetRoom<
    chat::v1::ChatService::WithCallbackMethod_SendMessage<
    chat::v1::ChatService::WithCallbackMethod_GetHistory<
    chat::v1::ChatService::WithCallbackMethod_OpenDirect<
    chat::v1::ChatService::WithCallbackMethod_UpdateRoom<
    chat::v1::ChatService::WithCallbackMethod_DeleteRoom<
    chat::v1::ChatService::WithCallbackMethod_Invite<
    chat::v1::ChatService::WithCallbackMethod_RespondInvite<
    chat::v1::ChatService::WithCallbackMethod_ListInvites<
    chat::v1::ChatService::WithCallbackMethod_LeaveRoom<
    chat::v1::ChatService::WithCallbackMethod_Kick<
    chat::v1::ChatService::WithCallbackMethod_Ban<
    chat::v1::ChatService::WithCallbackMethod_Unban<
    chat::v1::ChatService::WithCallbackMethod_SetRole<
    chat::v1::ChatService::WithCallbackMethod_ListMembers<
    chat::v1::ChatService::WithCallbackMethod_DeleteMessage<
    chat::v1::ChatService::WithCallbackMethod_SearchUsers<
    chat::v1::ChatService::WithCallbackMethod_GetUsers<
    chat::v1::ChatService::WithRawCallbackMethod_Connect<chat::v1::ChatService::Service>>>>>>>>>>>>>>>>>>>>>;

class ChatServiceImpl final : public ChatServiceBase {
 public:
  ChatServiceImpl(Hub* hub, const Authenticator* auth, const ServiceOptions* options);

  grpc::ServerUnaryReactor* CreateRoom(grpc::CallbackServerContext* ctx, const chat::v1::CreateRoomRequest* req,
                                       chat::v1::Room* resp) override;
  grpc::ServerUnaryReactor* ListRooms(grpc::CallbackServerContext* ctx, const chat::v1::ListRoomsRequest* req,
                                      chat::v1::ListRoomsResponse* resp) override;
  grpc::ServerUnaryReactor* GetRoom(grpc::CallbackServerContext* ctx, const chat::v1::GetRoomRequest* req,
                                    chat::v1::Room* resp) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx, const chat::v1::SendMessageRequest* req,
                                        chat::v1::SendMessageResponse* resp) override;
  grpc::ServerUnaryReactor* GetHistory(grpc::CallbackServerContext* ctx, const chat::v1::GetHistoryRequest* req,
                                       chat::v1::GetHistoryResponse* resp) override;
  // Membership and moderation (membership.h).
  grpc::ServerUnaryReactor* OpenDirect(grpc::CallbackServerContext* ctx, const chat::v1::OpenDirectRequest* req,
      chat::v1::Room* resp) override;
  grpc::ServerUnaryReactor* UpdateRoom(grpc::CallbackServerContext* ctx, const chat::v1::UpdateRoomRequest* req,
      chat::v1::Room* resp) override;
  grpc::ServerUnaryReactor* DeleteRoom(grpc::CallbackServerContext* ctx, const chat::v1::DeleteRoomRequest* req,
      chat::v1::DeleteRoomResponse* resp) override;
  grpc::ServerUnaryReactor* Invite(grpc::CallbackServerContext* ctx, const chat::v1::InviteRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* RespondInvite(grpc::CallbackServerContext* ctx, const chat::v1::RespondInviteRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* ListInvites(grpc::CallbackServerContext* ctx, const chat::v1::ListInvitesRequest* req,
      chat::v1::ListInvitesResponse* resp) override;
  grpc::ServerUnaryReactor* LeaveRoom(grpc::CallbackServerContext* ctx, const chat::v1::LeaveRoomRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* Kick(grpc::CallbackServerContext* ctx, const chat::v1::KickRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* Ban(grpc::CallbackServerContext* ctx, const chat::v1::BanRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* Unban(grpc::CallbackServerContext* ctx, const chat::v1::UnbanRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* SetRole(grpc::CallbackServerContext* ctx, const chat::v1::SetRoleRequest* req,
      chat::v1::MembershipEvent* resp) override;
  grpc::ServerUnaryReactor* ListMembers(grpc::CallbackServerContext* ctx, const chat::v1::ListMembersRequest* req,
      chat::v1::ListMembersResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteMessage(grpc::CallbackServerContext* ctx, const chat::v1::DeleteMessageRequest* req,
      chat::v1::MessageDeleted* resp) override;
  grpc::ServerUnaryReactor* SearchUsers(grpc::CallbackServerContext* ctx, const chat::v1::SearchUsersRequest* req,
      chat::v1::SearchUsersResponse* resp) override;
  grpc::ServerUnaryReactor* GetUsers(grpc::CallbackServerContext* ctx, const chat::v1::GetUsersRequest* req,
      chat::v1::GetUsersResponse* resp) override;
  // Connect on the callback API (ConnectApi::kCallback only).
  RawServerReactor* Connect(grpc::CallbackServerContext* ctx) override;

  // Starts taking Connect streams on gRPC core's API if that serves them. Call
  // once, after `server` (which this service is registered on) started.
  void StartConnectCalls(grpc::Server* server);

 private:
  // A call answered by a Membership method, once the caller's API token (if
  // any) allows `action` on `room` (token_scope.h; empty: none named).
  template <typename Req, typename Resp>
  grpc::ServerUnaryReactor* Members(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp,
                                    int action, absl::string_view room,
                                    void (Membership::*op)(const Identity&, const Req&, Answer<Resp>));

  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
  // Connect's core-API method (owned by grpc::Service); null on the callback API.
  grpc::internal::RpcServiceMethod* connect_core_method_ = nullptr;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CHAT_SERVICE_H_
