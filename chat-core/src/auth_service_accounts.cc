// AuthService: passwords, login sessions, profiles, account deletion and
// registration invites (docs/protocol.md, "Accounts, bots and tokens").
#include <memory>

#include "absl/strings/str_cat.h"
#include "auth_service_impl.h"
#include "google/protobuf/util/time_util.h"
#include "room_access.h"
#include "tokens.h"

namespace chat::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kHourMs = 3600 * 1000;

}  // namespace

void AuthServiceImpl::RevokeEach(std::vector<std::string> token_hashes, const std::string& reason,
                                 RevokedCallback done) {
  if (token_hashes.empty()) return done(std::vector<std::string>{});
  struct FanIn {
    absl::Mutex mu;
    size_t pending = 0;
    std::vector<std::string> revoked;
    absl::Status first_error;
  };
  auto state = std::make_shared<FanIn>();
  state->pending = token_hashes.size();
  auto shared_done = std::make_shared<RevokedCallback>(std::move(done));
  for (const std::string& hash : token_hashes) {
    accounts_->Revoke(hash, [this, hash, reason, state, shared_done](absl::Status st) {
      if (st.ok()) hub_->live().KillSessionsWithToken(hash, reason);
      bool last;
      {
        absl::MutexLock lock(&state->mu);
        if (st.ok()) {
          state->revoked.push_back(hash);
        } else if (state->first_error.ok()) {
          state->first_error = st;
        }
        last = --state->pending == 0;
      }
      if (!last) return;
      if (!state->first_error.ok()) return (*shared_done)(state->first_error);
      (*shared_done)(std::move(state->revoked));
    });
  }
}

grpc::ServerUnaryReactor* AuthServiceImpl::ChangePassword(grpc::CallbackServerContext* ctx,
                                                          const chat::v1::ChangePasswordRequest* req,
                                                          chat::v1::ChangePasswordResponse* resp) {
  return AccountCall(ctx, [this, req, resp, peer = auth_->Peer(*ctx)](const Identity& who, UnaryDone done) {
    accounts_->ChangePassword(who, req->old_password(), req->new_password(), peer,
                              [this, resp, done](absl::StatusOr<std::vector<std::string>> revoked) {
                                if (!revoked.ok()) return done(revoked.status());
                                EndStreams(*revoked, "signed out: the account's password was changed; log in again");
                                resp->set_sessions_ended(static_cast<int>(revoked->size()));
                                done.Succeed();
                              });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::ListSessions(grpc::CallbackServerContext* ctx,
                                                        const chat::v1::ListSessionsRequest* req,
                                                        chat::v1::ListSessionsResponse* resp) {
  return AccountCall(ctx, [this, resp](const Identity& who, UnaryDone done) {
    hub_->store()->ListSessions(
        UserKey(who.user), hub_->NowMs(),
        [this, resp, done, current = who.token_hash](absl::StatusOr<std::vector<SessionRecord>> sessions) {
          if (!sessions.ok()) return done(sessions.status());
          for (const SessionRecord& stored : *sessions) {
            if (stored.kind != CredentialKind::kLogin) continue;
            // This node may have renewed it since the store was written.
            SessionRecord s = accounts_->CachedSession(stored.token_hash).value_or(stored);
            chat::v1::LoginSession* out = resp->add_sessions();
            out->set_id(PublicId(s.token_hash));
            if (s.created_at_ms > 0) *out->mutable_created_at() = TimeUtil::MillisecondsToTimestamp(s.created_at_ms);
            if (s.last_used_ms > 0) *out->mutable_last_used_at() = TimeUtil::MillisecondsToTimestamp(s.last_used_ms);
            *out->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(s.expires_at_ms);
            if (s.max_expires_at_ms > 0) {
              *out->mutable_max_expires_at() = TimeUtil::MillisecondsToTimestamp(s.max_expires_at_ms);
            }
            out->set_peer(s.peer);
            out->set_client(s.client);
            out->set_current(s.token_hash == current);
          }
          done.Succeed();
        });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::RevokeSession(grpc::CallbackServerContext* ctx,
                                                         const chat::v1::RevokeSessionRequest* req,
                                                         chat::v1::RevokeSessionResponse* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (req->id().empty() == !req->all_others()) {
      return done(absl::InvalidArgumentError("give either a session id or all_others"));
    }
    hub_->store()->ListSessions(
        UserKey(who.user), hub_->NowMs(),
        [this, req, resp, done, current = who.token_hash](absl::StatusOr<std::vector<SessionRecord>> sessions) {
          if (!sessions.ok()) return done(sessions.status());
          std::vector<std::string> doomed;
          for (const SessionRecord& s : *sessions) {
            if (s.kind != CredentialKind::kLogin) continue;
            if (req->all_others() ? s.token_hash != current : PublicId(s.token_hash) == req->id()) {
              doomed.push_back(s.token_hash);
            }
          }
          if (!req->all_others() && doomed.empty()) {
            return done(absl::NotFoundError(absl::StrCat("no session '", req->id(), "' of yours")));
          }
          RevokeEach(std::move(doomed), "signed out: this session was revoked; log in again",
                     [resp, done](absl::StatusOr<std::vector<std::string>> revoked) {
                       if (!revoked.ok()) return done(revoked.status());
                       resp->set_sessions_ended(static_cast<int>(revoked->size()));
                       done.Succeed();
                     });
        });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::UpdateProfile(grpc::CallbackServerContext* ctx,
                                                         const chat::v1::UpdateProfileRequest* req,
                                                         chat::v1::UserProfile* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = ValidateLabel("display_name", req->display_name(), kMaxDisplayNameBytes, true); !st.ok()) {
      return done(st);
    }
    auto set = [this, req, resp, done](const std::string& key) {
      hub_->store()->SetDisplayName(key, req->display_name(), [resp, done](absl::StatusOr<UserRecord> user) {
        if (!user.ok()) return done(user.status());
        *resp = ToProfile(*user);
        done.Succeed();
      });
    };
    if (req->username().empty() || UserKey(req->username()) == UserKey(who.user)) return set(UserKey(who.user));
    // Someone else's: only a bot of the caller's.
    FindOwnBot(who, req->username(), [set, done](absl::StatusOr<UserRecord> bot) {
      if (!bot.ok()) return done(bot.status());
      set(UserKey(bot->username));
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::DeleteAccount(grpc::CallbackServerContext* ctx,
                                                         const chat::v1::DeleteAccountRequest* req,
                                                         chat::v1::DeleteAccountResponse* resp) {
  return AccountCall(ctx, [this, req, peer = auth_->Peer(*ctx)](const Identity& who, UnaryDone done) {
    accounts_->DeleteAccount(who, req->password(), peer,
                             [this, done](absl::StatusOr<std::vector<std::string>> revoked) {
                               if (!revoked.ok()) return done(revoked.status());
                               EndStreams(*revoked, "signed out: the account was deleted");
                               done.Succeed();
                             });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::CreateInvite(grpc::CallbackServerContext* ctx,
                                                        const chat::v1::CreateInviteRequest* req,
                                                        chat::v1::InviteCode* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (who.bot || !(IsAdmin(who) || accounts_->options().users_may_invite)) {
      return done(absl::PermissionDeniedError(
          "only server admins may create invite codes (chat-core --users_may_invite lets users)"));
    }
    int64_t valid_ms = 7 * 24 * kHourMs;
    if (req->has_valid_for()) {
      valid_ms = TimeUtil::DurationToMilliseconds(req->valid_for());
      if (valid_ms < kHourMs || valid_ms > 30 * 24 * kHourMs) {
        return done(absl::InvalidArgumentError("valid_for must be between 1 hour and 30 days"));
      }
    }
    const int64_t now = hub_->NowMs();
    if (int64_t wait = invite_limiter_.Take(UserKey(who.user), now); wait > 0) {
      return done(absl::ResourceExhaustedError(
          absl::StrCat("too many invite codes created; retry in ", (wait + 999) / 1000, " s")));
    }
    const std::string code = RandomBase64Url(16);
    RegistrationInviteRecord invite;
    invite.code_hash = Accounts::HashToken(code);
    invite.created_by = who.user;
    invite.created_at_ms = now;
    invite.expires_at_ms = now + valid_ms;
    hub_->store()->CreateRegistrationInvite(invite, [resp, done, code, invite](absl::StatusOr<bool> ok) {
      if (!ok.ok()) return done(ok.status());
      resp->set_code(code);
      *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(invite.expires_at_ms);
      done.Succeed();
    });
  });
}

}  // namespace chat::core
