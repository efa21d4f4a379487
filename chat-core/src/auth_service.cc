#include "auth_service.h"

#include "absl/strings/str_cat.h"
#include "auth_service_impl.h"
#include "chat/log.h"
#include "google/protobuf/util/time_util.h"
#include "room_access.h"
#include "session.h"
#include "tokens.h"

namespace chat::core {

using google::protobuf::util::TimeUtil;

chat::v1::UserProfile ToProfile(const UserRecord& user) {
  chat::v1::UserProfile p;
  p.set_username(user.username);
  p.set_display_name(user.display_name);
  p.set_kind(user.kind == AccountKind::kBot ? chat::v1::ACCOUNT_KIND_BOT : chat::v1::ACCOUNT_KIND_USER);
  p.set_owner(user.owner);
  p.set_deleted(user.deleted);
  if (user.created_at_ms > 0) *p.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(user.created_at_ms);
  return p;
}

chat::v1::ApiToken ToApiToken(const SessionRecord& token) {
  chat::v1::ApiToken t;
  t.set_id(PublicId(token.token_hash));
  t.set_account(token.username);
  t.set_name(token.name);
  for (const std::string& room : token.rooms) t.add_rooms(room);
  for (int action = chat::v1::TOKEN_ACTION_READ; action <= chat::v1::TOKEN_ACTION_MANAGE; ++action) {
    if ((token.actions & (1 << action)) != 0) t.add_actions(static_cast<chat::v1::TokenAction>(action));
  }
  if (token.created_at_ms > 0) *t.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(token.created_at_ms);
  if (token.expires_at_ms > 0 && token.expires_at_ms < kNeverExpiresMs) {
    *t.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(token.expires_at_ms);
  }
  if (token.last_used_ms > 0) *t.mutable_last_used_at() = TimeUtil::MillisecondsToTimestamp(token.last_used_ms);
  t.set_created_by(token.created_by);
  return t;
}

absl::Status AuthServiceImpl::NeedsLoginSession(const Identity& who) {
  if (who.guest) return absl::PermissionDeniedError("guests have no account to manage; register and log in");
  if (who.api_token) {
    return absl::PermissionDeniedError("this call needs a login session (API tokens cannot manage accounts)");
  }
  return absl::OkStatus();
}

void AuthServiceImpl::EndStreams(const std::vector<std::string>& token_hashes, const std::string& reason) {
  for (const std::string& hash : token_hashes) {
    accounts_->Forget(hash);
    hub_->live().KillSessionsWithToken(hash, reason);
  }
}

int AuthServiceImpl::LiveStreamsOf(const std::string& user, const std::string& token_hash) {
  int n = 0;
  for (const auto& session : hub_->live().SessionsOf(user)) {
    if (session->identity().token_hash == token_hash) ++n;
  }
  return n;
}

grpc::ServerUnaryReactor* AuthServiceImpl::Register(grpc::CallbackServerContext* ctx,
                                                    const chat::v1::RegisterRequest* req,
                                                    chat::v1::RegisterResponse* resp) {
  return Unary(ctx, *auth_, [&](UnaryDone done) {
    accounts_->Register(req->username(), req->password(), req->invite_code(), auth_->Peer(*ctx),
                        [resp, done](absl::StatusOr<std::string> name) {
                          if (name.ok()) resp->set_username(*name);
                          done(name.status());
                        });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::Login(grpc::CallbackServerContext* ctx, const chat::v1::LoginRequest* req,
                                                 chat::v1::LoginResponse* resp) {
  return Unary(ctx, *auth_, [&](UnaryDone done) {
    accounts_->Login(req->username(), req->password(), req->client(), auth_->Peer(*ctx),
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
                         *resp->mutable_max_expires_at() = TimeUtil::MillisecondsToTimestamp(r->max_expires_at_ms);
                       }
                       done(r.status());
                     });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::Logout(grpc::CallbackServerContext* ctx, const chat::v1::LogoutRequest* req,
                                                  chat::v1::LogoutResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this](const Identity& who, UnaryDone done) {
    accounts_->Logout(who, [hub = hub_, token_hash = who.token_hash, api_token = who.api_token, done](absl::Status st) {
      if (st.ok()) hub->live().KillSessionsWithToken(token_hash, api_token ? "API token revoked" : "logged out");
      done(st);
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx, const chat::v1::WhoAmIRequest* req,
                                                  chat::v1::WhoAmIResponse* resp) {
  return AuthenticatedUnary(ctx, *auth_, [this, resp](const Identity& who, UnaryDone done) {
    const AccountsOptions& o = accounts_->options();
    const bool admin = IsAdmin(who);
    resp->set_username(who.user);
    resp->set_guest(who.guest);
    resp->set_admin(admin);
    if (who.expires_at_ms != 0) *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(who.expires_at_ms);
    resp->set_registration(static_cast<chat::v1::RegistrationMode>(static_cast<int>(o.registration)));
    resp->set_may_invite(NeedsLoginSession(who).ok() && !who.bot && (admin || o.users_may_invite));
    if (who.guest) return done.Succeed();
    resp->set_kind(who.bot ? chat::v1::ACCOUNT_KIND_BOT : chat::v1::ACCOUNT_KIND_USER);
    if (who.api_token) {
      if (auto token = accounts_->CachedSession(who.token_hash)) *resp->mutable_api_token() = ToApiToken(*token);
    }
    hub_->store()->FindUser(UserKey(who.user), [resp, done, user = who.user](absl::StatusOr<UserRecord> found) {
      // The display name is a nicety: without the store, the rest still answers.
      if (found.ok()) {
        resp->set_display_name(found->display_name);
      } else {
        CHAT_LOG_DEBUG("auth", "no display name for '%s': %s", user, found.status().message());
      }
      done.Succeed();
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::ServerInfo(grpc::CallbackServerContext* ctx,
                                                      const chat::v1::ServerInfoRequest* req,
                                                      chat::v1::ServerInfoResponse* resp) {
  return Unary(ctx, *auth_, [&](UnaryDone done) {
    resp->set_registration(
        static_cast<chat::v1::RegistrationMode>(static_cast<int>(accounts_->options().registration)));
    done.Succeed();
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::DisableAccount(grpc::CallbackServerContext* ctx,
                                                          const chat::v1::DisableAccountRequest* req,
                                                          chat::v1::DisableAccountResponse* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (!IsAdmin(who)) {
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
          EndStreams(*revoked, "account disabled by a server admin");
          resp->set_username(req->username());
          resp->set_sessions_ended(static_cast<int>(revoked->size()));
          CHAT_LOG_INFO("auth", "account '%s' %s", req->username(), disabled ? "disabled" : "enabled");
          done(absl::OkStatus());
        });
  });
}

std::unique_ptr<chat::v1::AuthService::CallbackService> NewAuthService(Hub* hub, Accounts* accounts,
                                                                       const Authenticator* auth,
                                                                       const ServiceOptions* options) {
  return std::make_unique<AuthServiceImpl>(hub, accounts, auth, options);
}

}  // namespace chat::core
