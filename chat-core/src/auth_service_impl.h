// The AuthService implementation, shared by the files that define its calls:
// auth_service.cc (register, login, logout, who-am-I, server info, disable),
// auth_service_accounts.cc (passwords, sessions, profile, deletion, invites),
// auth_service_bots.cc (bots and API tokens) and auth_service_webhooks.cc.
// Internal to chat-core: include only from those files.
//
// Threading: handlers run on gRPC's callback threads and never block; their
// continuations run on store and hashing threads.
// Lifetime: owned by CoreServer; outlives the grpc::Server.
#ifndef CHAT_CORE_SRC_AUTH_SERVICE_IMPL_H_
#define CHAT_CORE_SRC_AUTH_SERVICE_IMPL_H_

#include <string>
#include <utility>
#include <vector>

#include "accounts.h"
#include "authenticator.h"
#include "chat/v1/chat.grpc.pb.h"
#include "hub.h"
#include "keyed_rate_limiter.h"
#include "service_options.h"
#include "unary_call.h"

namespace chat::core {

// Profiles and tokens as the API shows them.
chat::v1::UserProfile ToProfile(const UserRecord& user);
chat::v1::ApiToken ToApiToken(const SessionRecord& token);

class AuthServiceImpl final : public chat::v1::AuthService::CallbackService {
 public:
  AuthServiceImpl(Hub* hub, Accounts* accounts, const Authenticator* auth, const ServiceOptions* options)
      : hub_(hub),
        accounts_(accounts),
        auth_(auth),
        options_(options),
        webhook_limiter_(options->webhook_posts_per_second, options->webhook_burst) {}

  using Ctx = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  Reactor* Register(Ctx* ctx, const chat::v1::RegisterRequest* req, chat::v1::RegisterResponse* resp) override;
  Reactor* Login(Ctx* ctx, const chat::v1::LoginRequest* req, chat::v1::LoginResponse* resp) override;
  Reactor* Logout(Ctx* ctx, const chat::v1::LogoutRequest* req, chat::v1::LogoutResponse* resp) override;
  Reactor* WhoAmI(Ctx* ctx, const chat::v1::WhoAmIRequest* req, chat::v1::WhoAmIResponse* resp) override;
  Reactor* DisableAccount(Ctx* ctx, const chat::v1::DisableAccountRequest* req,
                          chat::v1::DisableAccountResponse* resp) override;
  Reactor* ServerInfo(Ctx* ctx, const chat::v1::ServerInfoRequest* req, chat::v1::ServerInfoResponse* resp) override;

  Reactor* ChangePassword(Ctx* ctx, const chat::v1::ChangePasswordRequest* req,
                          chat::v1::ChangePasswordResponse* resp) override;
  Reactor* ListSessions(Ctx* ctx, const chat::v1::ListSessionsRequest* req,
                        chat::v1::ListSessionsResponse* resp) override;
  Reactor* RevokeSession(Ctx* ctx, const chat::v1::RevokeSessionRequest* req,
                         chat::v1::RevokeSessionResponse* resp) override;
  Reactor* UpdateProfile(Ctx* ctx, const chat::v1::UpdateProfileRequest* req, chat::v1::UserProfile* resp) override;
  Reactor* DeleteAccount(Ctx* ctx, const chat::v1::DeleteAccountRequest* req,
                         chat::v1::DeleteAccountResponse* resp) override;
  Reactor* CreateInvite(Ctx* ctx, const chat::v1::CreateInviteRequest* req, chat::v1::InviteCode* resp) override;

  Reactor* CreateBot(Ctx* ctx, const chat::v1::CreateBotRequest* req, chat::v1::UserProfile* resp) override;
  Reactor* ListBots(Ctx* ctx, const chat::v1::ListBotsRequest* req, chat::v1::ListBotsResponse* resp) override;
  Reactor* DeleteBot(Ctx* ctx, const chat::v1::DeleteBotRequest* req, chat::v1::DeleteBotResponse* resp) override;
  Reactor* CreateApiToken(Ctx* ctx, const chat::v1::CreateApiTokenRequest* req,
                          chat::v1::CreateApiTokenResponse* resp) override;
  Reactor* ListApiTokens(Ctx* ctx, const chat::v1::ListApiTokensRequest* req,
                         chat::v1::ListApiTokensResponse* resp) override;
  Reactor* RevokeApiToken(Ctx* ctx, const chat::v1::RevokeApiTokenRequest* req,
                          chat::v1::RevokeApiTokenResponse* resp) override;

  Reactor* CreateWebhook(Ctx* ctx, const chat::v1::CreateWebhookRequest* req,
                         chat::v1::CreateWebhookResponse* resp) override;
  Reactor* ListWebhooks(Ctx* ctx, const chat::v1::ListWebhooksRequest* req,
                        chat::v1::ListWebhooksResponse* resp) override;
  Reactor* RevokeWebhook(Ctx* ctx, const chat::v1::RevokeWebhookRequest* req,
                         chat::v1::RevokeWebhookResponse* resp) override;
  Reactor* PostWebhook(Ctx* ctx, const chat::v1::PostWebhookRequest* req, chat::v1::PostWebhookResponse* resp) override;

 private:
  // An account call: authenticates, then refuses guests and API tokens
  // (PERMISSION_DENIED), then runs body(who, done) as AuthenticatedUnary does.
  template <typename Body>
  Reactor* AccountCall(Ctx* ctx, Body body) {
    return AuthenticatedUnary(ctx, *auth_, [body = std::move(body)](const Identity& who, UnaryDone done) mutable {
      if (absl::Status st = NeedsLoginSession(who); !st.ok()) return done(st);
      body(who, done);
    });
  }
  static absl::Status NeedsLoginSession(const Identity& who);
  bool IsAdmin(const Identity& who) const { return hub_->ActorOf(who).admin; }
  // Ends this node's live streams of each token (revoked already, and
  // forgotten by Accounts); other nodes hear of it from the store (the
  // cluster's revocation notices).
  void EndStreams(const std::vector<std::string>& token_hashes, const std::string& reason);
  // Revokes each credential (Accounts::Revoke); `done` with those revoked,
  // or the first error once every revocation answered (those that went
  // through are in neither case left with live streams: they are ended).
  void RevokeEach(std::vector<std::string> token_hashes, const std::string& reason, RevokedCallback done);
  // Live streams on this node that use `token_hash` (of `user`).
  int LiveStreamsOf(const std::string& user, const std::string& token_hash);
  // `name`'s record if it is a bot that `who` owns (an admin: any bot);
  // NOT_FOUND "no bot 'name' of yours" otherwise. On a store thread.
  void FindOwnBot(const Identity& who, const std::string& name, StoreCallback<UserRecord> done);
  // The API tokens of `accounts` (usernames as registered), oldest first per
  // account, gathered from the store.
  void ListTokensOf(std::vector<std::string> accounts, StoreCallback<std::vector<SessionRecord>> done);
  // The accounts whose tokens `who` manages: themselves and their bots (with
  // every_bot_if_admin, for an admin: and every bot).
  void ManagedAccounts(const Identity& who, bool every_bot_if_admin, StoreCallback<std::vector<std::string>> done);
  chat::v1::Webhook ToWebhook(const WebhookRecord& hook) const;

  Hub* const hub_;
  Accounts* const accounts_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
  KeyedRateLimiter webhook_limiter_;
  // Invite codes per user: 20 an hour.
  KeyedRateLimiter invite_limiter_{20.0 / 3600, 20};
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_AUTH_SERVICE_IMPL_H_
