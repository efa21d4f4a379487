#include "chat_service.h"

#include "chat/validate.h"
#include "connect_core_call.h"
#include "connect_reactor.h"
#include "token_scope.h"
#include "unary_call.h"

namespace chat::core {
namespace {
// ChatService.Connect's index among the service's methods, in proto order.
constexpr int kConnectMethodIndex = 5;
}  // namespace

ChatServiceImpl::ChatServiceImpl(Hub* hub, const Authenticator* auth, const ServiceOptions* options)
    : hub_(hub), auth_(auth), options_(options) {
#if CHAT_CONNECT_ON_CORE_API
  if (options->connect_api == ConnectApi::kCore) {
    // The generated method goes, and the same path comes back as a raw method
    // of this service, so the service is still listed once.
    MarkMethodGeneric(kConnectMethodIndex);
    connect_core_method_ = NewConnectCoreMethod();
    AddMethod(connect_core_method_);
  }
#endif
}

template <typename Req, typename Resp>
grpc::ServerUnaryReactor* ChatServiceImpl::Members(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp,
                                                   int action, absl::string_view room,
                                                   void (Membership::*op)(const Identity&, const Req&, Answer<Resp>)) {
  // `room` points into *req, which outlives the call.
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp, action, room, op](const Identity& who, UnaryDone done) {
    if (absl::Status st = CheckTokenScope(who, action, room); !st.ok()) return done(st);
    (hub_->membership().*op)(who, *req, Respond(resp, done));
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::CreateRoom(grpc::CallbackServerContext* ctx,
                                                      const chat::v1::CreateRoomRequest* req, chat::v1::Room* resp) {
  return Members(ctx, req, resp, kTokenManage, req->name(), &Membership::CreateRoom);
}

grpc::ServerUnaryReactor* ChatServiceImpl::ListRooms(grpc::CallbackServerContext* ctx,
                                                     const chat::v1::ListRoomsRequest* req,
                                                     chat::v1::ListRoomsResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = CheckTokenScope(who, kTokenRead, ""); !st.ok()) return done(st);
    auto page = hub_->ListRooms(*req, who);
    if (page.ok()) *resp = std::move(*page);
    done(page.status());
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetRoom(grpc::CallbackServerContext* ctx,
                                                   const chat::v1::GetRoomRequest* req, chat::v1::Room* resp) {
  return Members(ctx, req, resp, kTokenRead, req->name(), &Membership::GetRoom);
}

grpc::ServerUnaryReactor* ChatServiceImpl::SendMessage(grpc::CallbackServerContext* ctx,
                                                       const chat::v1::SendMessageRequest* req,
                                                       chat::v1::SendMessageResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = CheckTokenScope(who, kTokenPost, req->room()); !st.ok()) return done(st);
    auto room = hub_->LookupRoomFor(who, req->room());
    if (!room.ok()) return done(room.status());
    // A stream's send needs a join, which checks bans; a unary send checks here.
    absl::Status valid = (*room)->access().CheckJoin(hub_->ActorOf(who));
    if (valid.ok()) valid = (*room)->access().CheckSend(req->room());
    if (valid.ok()) valid = ValidateText(req->text(), hub_->options().max_text_bytes);
    if (valid.ok()) valid = ValidateClientMsgId(req->client_msg_id());
    if (!valid.ok()) return done(valid);
    hub_->Send(who, *room, req->text(), req->client_msg_id(),
               [resp, done](absl::StatusOr<chat::v1::Message> m, bool duplicate) {
                 if (m.ok()) {
                   *resp->mutable_message() = std::move(*m);
                   resp->set_duplicate(duplicate);
                 }
                 done(m.status());
               });
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetHistory(grpc::CallbackServerContext* ctx,
                                                      const chat::v1::GetHistoryRequest* req,
                                                      chat::v1::GetHistoryResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = CheckTokenScope(who, kTokenRead, req->room()); !st.ok()) return done(st);
    hub_->History(*req, who, Respond(resp, done));
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::OpenDirect(grpc::CallbackServerContext* ctx, const chat::v1::OpenDirectRequest* req,
                                              chat::v1::Room* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    absl::Status st = CheckTokenScope(who, kTokenManage, "");
    if (st.ok()) st = CheckTokenAllRooms(who);
    if (!st.ok()) return done(st);
    hub_->membership().OpenDirect(who, *req, Respond(resp, done));
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::UpdateRoom(grpc::CallbackServerContext* ctx, const chat::v1::UpdateRoomRequest* req,
                                              chat::v1::Room* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::UpdateRoom);
}

grpc::ServerUnaryReactor* ChatServiceImpl::DeleteRoom(grpc::CallbackServerContext* ctx, const chat::v1::DeleteRoomRequest* req,
                                              chat::v1::DeleteRoomResponse* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::DeleteRoom);
}

grpc::ServerUnaryReactor* ChatServiceImpl::Invite(grpc::CallbackServerContext* ctx, const chat::v1::InviteRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::Invite);
}

grpc::ServerUnaryReactor* ChatServiceImpl::RespondInvite(grpc::CallbackServerContext* ctx, const chat::v1::RespondInviteRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::RespondInvite);
}

grpc::ServerUnaryReactor* ChatServiceImpl::ListInvites(grpc::CallbackServerContext* ctx, const chat::v1::ListInvitesRequest* req,
                                              chat::v1::ListInvitesResponse* resp) {
  return Members(ctx, req, resp, kTokenRead, "", &Membership::ListInvites);
}

grpc::ServerUnaryReactor* ChatServiceImpl::LeaveRoom(grpc::CallbackServerContext* ctx, const chat::v1::LeaveRoomRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::LeaveRoom);
}

grpc::ServerUnaryReactor* ChatServiceImpl::Kick(grpc::CallbackServerContext* ctx, const chat::v1::KickRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::Kick);
}

grpc::ServerUnaryReactor* ChatServiceImpl::Ban(grpc::CallbackServerContext* ctx, const chat::v1::BanRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::Ban);
}

grpc::ServerUnaryReactor* ChatServiceImpl::Unban(grpc::CallbackServerContext* ctx, const chat::v1::UnbanRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::Unban);
}

grpc::ServerUnaryReactor* ChatServiceImpl::SetRole(grpc::CallbackServerContext* ctx, const chat::v1::SetRoleRequest* req,
                                              chat::v1::MembershipEvent* resp) {
  return Members(ctx, req, resp, kTokenManage, req->room(), &Membership::SetRole);
}

grpc::ServerUnaryReactor* ChatServiceImpl::ListMembers(grpc::CallbackServerContext* ctx, const chat::v1::ListMembersRequest* req,
                                              chat::v1::ListMembersResponse* resp) {
  return Members(ctx, req, resp, kTokenRead, req->room(), &Membership::ListMembers);
}

grpc::ServerUnaryReactor* ChatServiceImpl::DeleteMessage(grpc::CallbackServerContext* ctx, const chat::v1::DeleteMessageRequest* req,
                                              chat::v1::MessageDeleted* resp) {
  return Members(ctx, req, resp, kTokenPost, req->room(), &Membership::DeleteMessage);
}

grpc::ServerUnaryReactor* ChatServiceImpl::SearchUsers(grpc::CallbackServerContext* ctx, const chat::v1::SearchUsersRequest* req,
                                              chat::v1::SearchUsersResponse* resp) {
  return Members(ctx, req, resp, kTokenRead, "", &Membership::SearchUsers);
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetUsers(grpc::CallbackServerContext* ctx, const chat::v1::GetUsersRequest* req,
                                                    chat::v1::GetUsersResponse* resp) {
  return Members(ctx, req, resp, kTokenRead, "", &Membership::GetUsers);
}

RawServerReactor* ChatServiceImpl::Connect(grpc::CallbackServerContext* ctx) {
  return NewConnectReactor(ctx, hub_, auth_, options_);
}

void ChatServiceImpl::StartConnectCalls(grpc::Server* server) {
#if CHAT_CONNECT_ON_CORE_API
  if (connect_core_method_ != nullptr) StartConnectCoreCalls(server, connect_core_method_, hub_, auth_, options_);
#endif
}

}  // namespace chat::core
