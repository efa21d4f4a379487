// AuthService calls of the account lifecycle (#29) for the account tests:
// bots, API tokens, sessions, webhooks, each as one line. Every call carries
// the given token (a login session or an API token) and a 10 s deadline; a
// call that needs a result returns it through an out-parameter and the status.
#ifndef CHAT_TESTS_CORE_ACCOUNT_CALLS_H_
#define CHAT_TESTS_CORE_ACCOUNT_CALLS_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "chat/v1/chat.grpc.pb.h"
#include "core_fixture.h"
#include "gtest/gtest.h"

namespace chat::testing {

// A bot owned by the caller.
inline grpc::Status CreateBot(chat::v1::AuthService::Stub* auth, const std::string& token, const std::string& name,
                              chat::v1::UserProfile* out = nullptr) {
  auto ctx = AuthedContext(token);
  chat::v1::CreateBotRequest req;
  req.set_name(name);
  chat::v1::UserProfile ignored;
  return auth->CreateBot(ctx.get(), req, out != nullptr ? out : &ignored);
}

// An API token for `account` ("" = the caller) named `name`; its secret in
// *secret and its description in *made.
inline grpc::Status CreateToken(chat::v1::AuthService::Stub* auth, const std::string& token,
                                const std::string& account, const std::string& name, std::string* secret,
                                chat::v1::ApiToken* made = nullptr, const std::vector<std::string>& rooms = {},
                                const std::vector<chat::v1::TokenAction>& actions = {}) {
  auto ctx = AuthedContext(token);
  chat::v1::CreateApiTokenRequest req;
  req.set_account(account);
  req.set_name(name);
  for (const auto& r : rooms) req.add_rooms(r);
  for (auto a : actions) req.add_actions(a);
  chat::v1::CreateApiTokenResponse resp;
  grpc::Status st = auth->CreateApiToken(ctx.get(), req, &resp);
  if (secret != nullptr) *secret = resp.secret();
  if (made != nullptr) *made = resp.token();
  return st;
}

inline grpc::Status ListTokens(chat::v1::AuthService::Stub* auth, const std::string& token,
                               chat::v1::ListApiTokensResponse* out, const std::string& account = "") {
  auto ctx = AuthedContext(token);
  chat::v1::ListApiTokensRequest req;
  req.set_account(account);
  return auth->ListApiTokens(ctx.get(), req, out);
}

inline grpc::Status RevokeToken(chat::v1::AuthService::Stub* auth, const std::string& token, const std::string& id,
                                chat::v1::RevokeApiTokenResponse* out = nullptr) {
  auto ctx = AuthedContext(token);
  chat::v1::RevokeApiTokenRequest req;
  req.set_id(id);
  chat::v1::RevokeApiTokenResponse ignored;
  return auth->RevokeApiToken(ctx.get(), req, out != nullptr ? out : &ignored);
}

inline grpc::Status WhoAmI(chat::v1::AuthService::Stub* auth, const std::string& token,
                           chat::v1::WhoAmIResponse* out) {
  auto ctx = AuthedContext(token);
  return auth->WhoAmI(ctx.get(), {}, out);
}

inline grpc::Status ListSessions(chat::v1::AuthService::Stub* auth, const std::string& token,
                                 chat::v1::ListSessionsResponse* out) {
  auto ctx = AuthedContext(token);
  return auth->ListSessions(ctx.get(), {}, out);
}

inline grpc::Status UpdateDisplayName(chat::v1::AuthService::Stub* auth, const std::string& token,
                                      const std::string& name) {
  auto ctx = AuthedContext(token);
  chat::v1::UpdateProfileRequest req;
  req.set_display_name(name);
  chat::v1::UserProfile out;
  return auth->UpdateProfile(ctx.get(), req, &out);
}

inline grpc::Status SendUnary(chat::v1::ChatService::Stub* chat, const std::string& token, const std::string& room,
                              const std::string& text, chat::v1::SendMessageResponse* out = nullptr) {
  auto ctx = AuthedContext(token);
  chat::v1::SendMessageRequest req;
  req.set_room(room);
  req.set_text(text);
  chat::v1::SendMessageResponse ignored;
  return chat->SendMessage(ctx.get(), req, out != nullptr ? out : &ignored);
}

inline grpc::Status CreateRoom(chat::v1::ChatService::Stub* chat, const std::string& token, const std::string& name,
                               chat::v1::RoomKind kind = chat::v1::ROOM_KIND_PUBLIC) {
  auto ctx = AuthedContext(token);
  chat::v1::CreateRoomRequest req;
  req.set_name(name);
  req.set_kind(kind);
  chat::v1::Room room;
  return chat->CreateRoom(ctx.get(), req, &room);
}

// The newest page of `room`, oldest first.
inline std::vector<chat::v1::Message> History(chat::v1::ChatService::Stub* chat, const std::string& token,
                                              const std::string& room) {
  auto ctx = AuthedContext(token);
  chat::v1::GetHistoryRequest req;
  req.set_room(room);
  req.set_order(chat::v1::HISTORY_ORDER_OLDEST_FIRST);
  chat::v1::GetHistoryResponse resp;
  grpc::Status st = chat->GetHistory(ctx.get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return {resp.messages().begin(), resp.messages().end()};
}

}  // namespace chat::testing

#endif  // CHAT_TESTS_CORE_ACCOUNT_CALLS_H_
