#include "chat_service.h"

#include "chat/validate.h"
#include "connect_core_call.h"
#include "connect_reactor.h"
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

grpc::ServerUnaryReactor* ChatServiceImpl::CreateRoom(grpc::CallbackServerContext* ctx,
                                                      const chat::v1::CreateRoomRequest* req, chat::v1::Room* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    hub_->CreateRoom(req->name(), who.user, Respond(resp, done));
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::ListRooms(grpc::CallbackServerContext* ctx,
                                                     const chat::v1::ListRoomsRequest* req,
                                                     chat::v1::ListRoomsResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity&, UnaryDone done) {
    auto page = hub_->ListRooms(*req);
    if (page.ok()) *resp = std::move(*page);
    done(page.status());
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetRoom(grpc::CallbackServerContext* ctx,
                                                   const chat::v1::GetRoomRequest* req, chat::v1::Room* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity&, UnaryDone done) {
    auto room = hub_->LookupRoom(req->name());
    if (room.ok()) (*room)->Describe(resp);
    done(room.status());
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::SendMessage(grpc::CallbackServerContext* ctx,
                                                       const chat::v1::SendMessageRequest* req,
                                                       chat::v1::SendMessageResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    auto room = hub_->LookupRoom(req->room());
    if (!room.ok()) return done(room.status());
    absl::Status valid = ValidateText(req->text(), hub_->options().max_text_bytes);
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
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity&, UnaryDone done) {
    hub_->History(*req, Respond(resp, done));
  });
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
