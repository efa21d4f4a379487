#include "auth_service.h"

#include "absl/strings/str_cat.h"
#include "chat/log.h"
#include "room_access.h"
#include "google/protobuf/util/time_util.h"
#include "unary_call.h"

namespace chat::core {
namespace {

using google::protobuf::util::TimeUtil;

class AuthServiceImpl final : public chat::v1::AuthService::CallbackService {
 public:
  AuthServiceImpl(Hub* hub, Accounts* accounts, const Authenticator* auth)
      : hub_(hub), accounts_(accounts), auth_(auth) {}

  grpc::ServerUnaryReactor* Register(grpc::CallbackServerContext* ctx, const chat::v1::RegisterRequest* req,
                                     chat::v1::RegisterResponse* resp) override {
    return Unary(ctx, *auth_, [&](UnaryDone done) {
      accounts_->Register(req->username(), req->password(), auth_->Peer(*ctx),
                          [resp, done](absl::StatusOr<std::string> name) {
                            if (name.ok()) resp->set_username(*name);
                            done(name.status());
                          });
    });
  }

  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* ctx, const chat::v1::LoginRequest* req,
                                  chat::v1::LoginResponse* resp) override {
    return Unary(ctx, *auth_, [&](UnaryDone done) {
      accounts_->Login(req->username(), req->password(), auth_->Peer(*ctx),
                       [this, resp, done](absl::StatusOr<LoginResult> r) {
                         if (r.ok()) {
                           // The oldest sessions this login pushed past the cap.
                           for (const std::string& hash : r->evicted_token_hashes) {
                             hub_->live().KillSessionsWithToken(
                                 hash, absl::StrCat("signed out: ", r->username, " logged in more than ",
                                                    accounts_->options().max_sessions_per_user,
                                                    " times (the oldest session ends first); log in again"));
                           }
                           resp->set_token(r->token);
                           resp->set_username(r->username);
                           *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(r->expires_at_ms);
                         }
                         done(r.status());
                       });
    });
  }

  grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* ctx, const chat::v1::LogoutRequest* req,
                                   chat::v1::LogoutResponse* resp) override {
    return AuthenticatedUnary(ctx, *auth_, [this](const Identity& who, UnaryDone done) {
      accounts_->Logout(who, [hub = hub_, token_hash = who.token_hash, done](absl::Status st) {
        if (st.ok()) hub->live().KillSessionsWithToken(token_hash, "logged out");
        done(st);
      });
    });
  }

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx, const chat::v1::WhoAmIRequest* req,
                                   chat::v1::WhoAmIResponse* resp) override {
    return AuthenticatedUnary(ctx, *auth_, [this, resp](const Identity& who, UnaryDone done) {
      resp->set_username(who.user);
      resp->set_guest(who.guest);
      resp->set_admin(hub_->ActorOf(who).admin);
      if (who.expires_at_ms != 0) {
        *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(who.expires_at_ms);
      }
      done.Succeed();
    });
  }

  grpc::ServerUnaryReactor* DisableAccount(grpc::CallbackServerContext* ctx, const chat::v1::DisableAccountRequest* req,
                                           chat::v1::DisableAccountResponse* resp) override {
    return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
      if (!hub_->ActorOf(who).admin) {
        return done(absl::PermissionDeniedError("only a server admin (chat-core --admins) may disable accounts"));
      }
      if (req->username().empty()) return done(absl::InvalidArgumentError("username must not be empty"));
      const bool disabled = req->disabled();
      hub_->store()->SetUserDisabled(
          UserKey(req->username()), disabled,
          [this, req, resp, done, disabled](absl::StatusOr<std::vector<std::string>> revoked) {
            if (absl::IsNotFound(revoked.status())) {
              return done(absl::NotFoundError(absl::StrCat("no user '", req->username(), "'")));
            }
            if (!revoked.ok()) return done(revoked.status());
            for (const std::string& hash : *revoked) {
              accounts_->Forget(hash);
              hub_->live().KillSessionsWithToken(hash, "account disabled by a server admin");
            }
            resp->set_username(req->username());
            resp->set_sessions_ended(static_cast<int>(revoked->size()));
            CHAT_LOG_INFO("auth", "account '%s' %s", req->username(), disabled ? "disabled" : "enabled");
            done(absl::OkStatus());
          });
    });
  }

 private:
  Hub* const hub_;
  Accounts* const accounts_;
  const Authenticator* const auth_;
};

}  // namespace

std::unique_ptr<chat::v1::AuthService::CallbackService> NewAuthService(Hub* hub, Accounts* accounts,
                                                                       const Authenticator* auth) {
  return std::make_unique<AuthServiceImpl>(hub, accounts, auth);
}

}  // namespace chat::core
