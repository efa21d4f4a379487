// AuthService calls for the account tests, as a client or ws-bridge makes
// them: a call may name its client's address with x-forwarded-for (accepted
// from loopback with no gateway secret, as ws-bridge does for its browsers)
// and carry a token. Each has a 30 s deadline.
#ifndef CHAT_TESTS_CORE_AUTH_CALLS_H_
#define CHAT_TESTS_CORE_AUTH_CALLS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "chat/v1/chat.grpc.pb.h"

namespace chat::testing {

// A context from `address` ("" for none) with `token` ("" for none).
inline std::unique_ptr<grpc::ClientContext> From(const std::string& address, const std::string& token = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!address.empty()) ctx->AddMetadata("x-forwarded-for", address);
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

inline grpc::Status Register(chat::v1::AuthService::Stub* auth, const std::string& user, const std::string& address,
                             const std::string& password = "correct horse") {
  auto ctx = From(address);
  chat::v1::RegisterRequest req;
  req.set_username(user);
  req.set_password(password);
  chat::v1::RegisterResponse resp;
  return auth->Register(ctx.get(), req, &resp);
}

inline grpc::Status Login(chat::v1::AuthService::Stub* auth, const std::string& user, const std::string& password,
                          const std::string& address = "", chat::v1::LoginResponse* resp = nullptr) {
  auto ctx = From(address);
  chat::v1::LoginRequest req;
  req.set_username(user);
  req.set_password(password);
  chat::v1::LoginResponse ignored;
  return auth->Login(ctx.get(), req, resp != nullptr ? resp : &ignored);
}

inline grpc::Status WhoAmI(chat::v1::AuthService::Stub* auth, const std::string& token) {
  auto ctx = From("", token);
  chat::v1::WhoAmIResponse me;
  return auth->WhoAmI(ctx.get(), {}, &me);
}

inline grpc::Status Logout(chat::v1::AuthService::Stub* auth, const std::string& token) {
  auto ctx = From("", token);
  chat::v1::LogoutResponse out;
  return auth->Logout(ctx.get(), {}, &out);
}

}  // namespace chat::testing

#endif  // CHAT_TESTS_CORE_AUTH_CALLS_H_
