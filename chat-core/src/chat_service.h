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
#include "service_options.h"
#include "stream_reactor.h"

namespace chat::core {

using ChatServiceBase = chat::v1::ChatService::WithCallbackMethod_CreateRoom<
    chat::v1::ChatService::WithCallbackMethod_ListRooms<chat::v1::ChatService::WithCallbackMethod_GetRoom<
        chat::v1::ChatService::WithCallbackMethod_SendMessage<chat::v1::ChatService::WithCallbackMethod_GetHistory<
            chat::v1::ChatService::WithRawCallbackMethod_Connect<chat::v1::ChatService::Service>>>>>>;

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
  // Connect on the callback API (ConnectApi::kCallback only).
  RawServerReactor* Connect(grpc::CallbackServerContext* ctx) override;

  // Starts taking Connect streams on gRPC core's API if that serves them. Call
  // once, after `server` (which this service is registered on) started.
  void StartConnectCalls(grpc::Server* server);

 private:
  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
  // Connect's core-API method (owned by grpc::Service); null on the callback API.
  grpc::internal::RpcServiceMethod* connect_core_method_ = nullptr;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_CHAT_SERVICE_H_
