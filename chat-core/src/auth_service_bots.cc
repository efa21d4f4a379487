// AuthService: bot accounts and API tokens (docs/protocol.md, "Accounts, bots
// and tokens"; docs/security.md, "API tokens").
#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "auth_service_impl.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "google/protobuf/util/time_util.h"
#include "room_access.h"
#include "tokens.h"

namespace chat::core {
namespace {

using google::protobuf::util::TimeUtil;

// Rooms one API token may be limited to.
constexpr int kMaxTokenRooms = 100;

bool IsPublicId(absl::string_view id) {
  return id.size() == 16 &&
         std::all_of(id.begin(), id.end(), [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

}  // namespace

void AuthServiceImpl::FindOwnBot(const Identity& who, const std::string& name, StoreCallback<UserRecord> done) {
  auto not_yours = [name] { return absl::NotFoundError(absl::StrCat("no bot '", name, "' of yours")); };
  if (!ValidateUsername(name).ok()) return done(not_yours());
  hub_->store()->FindUser(UserKey(name), [this, who, not_yours, done](absl::StatusOr<UserRecord> user) {
    if (absl::IsNotFound(user.status())) return done(not_yours());
    if (!user.ok()) return done(user.status());
    if (user->kind != AccountKind::kBot || user->deleted) return done(not_yours());
    if (UserKey(user->owner) != UserKey(who.user) && !IsAdmin(who)) return done(not_yours());
    done(std::move(user));
  });
}

void AuthServiceImpl::ManagedAccounts(const Identity& who, bool every_bot_if_admin,
                                      StoreCallback<std::vector<std::string>> done) {
  const std::string owner = every_bot_if_admin && IsAdmin(who) ? std::string() : UserKey(who.user);
  hub_->store()->ListBots(owner, [user = who.user, done](absl::StatusOr<std::vector<UserRecord>> bots) {
    if (!bots.ok()) return done(bots.status());
    std::vector<std::string> accounts = {user};
    for (const UserRecord& bot : *bots) accounts.push_back(bot.username);
    done(std::move(accounts));
  });
}

void AuthServiceImpl::ListTokensOf(std::vector<std::string> accounts, StoreCallback<std::vector<SessionRecord>> done) {
  struct FanIn {
    absl::Mutex mu;
    size_t pending = 0;
    std::vector<std::vector<SessionRecord>> by_account;
    absl::Status first_error;
  };
  if (accounts.empty()) return done(std::vector<SessionRecord>{});
  auto state = std::make_shared<FanIn>();
  state->pending = accounts.size();
  state->by_account.resize(accounts.size());
  auto shared_done = std::make_shared<StoreCallback<std::vector<SessionRecord>>>(std::move(done));
  for (size_t i = 0; i < accounts.size(); ++i) {
    hub_->store()->ListSessions(
        UserKey(accounts[i]), hub_->NowMs(),
        [this, i, state, shared_done](absl::StatusOr<std::vector<SessionRecord>> sessions) {
          bool last;
          {
            absl::MutexLock lock(&state->mu);
            if (sessions.ok()) {
              for (const SessionRecord& s : *sessions) {
                if (s.kind != CredentialKind::kApiToken) continue;
                // This node may know of a newer use than the store.
                state->by_account[i].push_back(accounts_->CachedSession(s.token_hash).value_or(s));
              }
            } else if (state->first_error.ok()) {
              state->first_error = sessions.status();
            }
            last = --state->pending == 0;
          }
          if (!last) return;
          if (!state->first_error.ok()) return (*shared_done)(state->first_error);
          std::vector<SessionRecord> all;
          for (auto& some : state->by_account) {
            for (auto& s : some) all.push_back(std::move(s));
          }
          (*shared_done)(std::move(all));
        });
  }
}

grpc::ServerUnaryReactor* AuthServiceImpl::CreateBot(grpc::CallbackServerContext* ctx,
                                                     const chat::v1::CreateBotRequest* req,
                                                     chat::v1::UserProfile* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = ValidateUsername(req->name()); !st.ok()) return done(st);
    if (absl::Status st = ValidateLabel("display_name", req->display_name(), kMaxDisplayNameBytes, true); !st.ok()) {
      return done(st);
    }
    const std::string owner = req->owner().empty() ? who.user : req->owner();
    if (UserKey(owner) != UserKey(who.user) && !IsAdmin(who)) {
      return done(absl::PermissionDeniedError("only a server admin may create bots for another user"));
    }
    hub_->store()->ListBots(
        UserKey(owner), [this, req, resp, done, owner](absl::StatusOr<std::vector<UserRecord>> bots) {
          if (!bots.ok()) return done(bots.status());
          if (static_cast<int>(bots->size()) >= options_->max_bots_per_user) {
            return done(absl::ResourceExhaustedError(absl::StrCat(
                "'", owner, "' owns ", bots->size(), " bots already (the most a user may own); delete one first")));
          }
          NewAccount bot;
          bot.username = req->name();
          bot.username_key = UserKey(req->name());
          bot.kind = AccountKind::kBot;
          bot.owner_key = UserKey(owner);
          bot.display_name = req->display_name();
          bot.now_ms = hub_->NowMs();
          hub_->store()->CreateAccount(bot, [resp, done, owner](absl::StatusOr<UserRecord> made) {
            if (absl::IsNotFound(made.status()))
              return done(absl::NotFoundError(absl::StrCat("no user '", owner, "'")));
            if (!made.ok()) return done(made.status());
            *resp = ToProfile(*made);
            done.Succeed();
          });
        });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::ListBots(grpc::CallbackServerContext* ctx,
                                                    const chat::v1::ListBotsRequest* req,
                                                    chat::v1::ListBotsResponse* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    const std::string owner = req->owner().empty() ? who.user : req->owner();
    if (UserKey(owner) != UserKey(who.user) && !IsAdmin(who)) {
      return done(absl::PermissionDeniedError("only a server admin may list another user's bots"));
    }
    hub_->store()->ListBots(UserKey(owner), [resp, done](absl::StatusOr<std::vector<UserRecord>> bots) {
      if (!bots.ok()) return done(bots.status());
      for (const UserRecord& bot : *bots) *resp->add_bots() = ToProfile(bot);
      done.Succeed();
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::DeleteBot(grpc::CallbackServerContext* ctx,
                                                     const chat::v1::DeleteBotRequest* req,
                                                     chat::v1::DeleteBotResponse* resp) {
  return AccountCall(ctx, [this, req](const Identity& who, UnaryDone done) {
    FindOwnBot(who, req->name(), [this, done, by = who.user](absl::StatusOr<UserRecord> bot) {
      if (!bot.ok()) return done(bot.status());
      hub_->store()->DeleteUser(UserKey(bot->username), [this, done, name = bot->username,
                                                         by](absl::StatusOr<std::vector<std::string>> revoked) {
        if (!revoked.ok()) return done(revoked.status());
        EndStreams(*revoked, absl::StrCat("bot '", name, "' was deleted"));
        CHAT_LOG_INFO("auth", "bot '%s' deleted by '%s'", name, by);
        done.Succeed();
      });
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::CreateApiToken(grpc::CallbackServerContext* ctx,
                                                          const chat::v1::CreateApiTokenRequest* req,
                                                          chat::v1::CreateApiTokenResponse* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = ValidateLabel("name", req->name(), kMaxCredentialNameBytes, false); !st.ok()) {
      return done(st);
    }
    if (req->rooms_size() > kMaxTokenRooms) {
      return done(absl::InvalidArgumentError(absl::StrCat("a token may name at most ", kMaxTokenRooms, " rooms")));
    }
    std::vector<std::string> rooms;
    absl::flat_hash_set<std::string> seen;
    for (const std::string& room : req->rooms()) {
      if (absl::Status st = ValidateRoomName(room); !st.ok()) return done(st);
      if (seen.insert(room).second) rooms.push_back(room);
    }
    int actions = 0;
    for (int action : req->actions()) {
      if (action < chat::v1::TOKEN_ACTION_READ || action > chat::v1::TOKEN_ACTION_MANAGE) {
        return done(absl::InvalidArgumentError("actions must be READ, POST or MANAGE"));
      }
      actions |= 1 << action;
    }
    int64_t expires_at_ms = 0;
    if (req->has_expires_at()) {
      expires_at_ms = std::min(TimeUtil::TimestampToMilliseconds(req->expires_at()), kNeverExpiresMs);
      if (expires_at_ms <= hub_->NowMs()) return done(absl::InvalidArgumentError("expires_at must be in the future"));
    }
    auto make = [this, req, resp, done, rooms, actions, expires_at_ms,
                 by = who.user](absl::StatusOr<UserRecord> account) {
      if (!account.ok()) return done(account.status());
      // Only rooms the account may see: a room it may not is NOT_FOUND, as
      // one that does not exist.
      Identity as;
      as.user = account->username;
      as.bot = account->kind == AccountKind::kBot;
      for (const std::string& room : rooms) {
        if (auto found = hub_->LookupRoomFor(as, room); !found.ok()) return done(found.status());
      }
      hub_->store()->ListSessions(
          UserKey(account->username), hub_->NowMs(),
          [this, req, resp, done, rooms, actions, expires_at_ms, by,
           account = *account](absl::StatusOr<std::vector<SessionRecord>> held) {
            if (!held.ok()) return done(held.status());
            const auto tokens = std::count_if(
                held->begin(), held->end(), [](const SessionRecord& s) { return s.kind == CredentialKind::kApiToken; });
            if (tokens >= options_->max_tokens_per_account) {
              return done(absl::ResourceExhaustedError(absl::StrCat(
                  "'", account.username, "' holds ", tokens, " API tokens already (the most); revoke one first")));
            }
            SessionRecord spec;
            spec.user_id = account.id;
            spec.username = account.username;
            spec.account_kind = account.kind;
            spec.name = req->name();
            spec.rooms = rooms;
            spec.actions = actions;
            spec.expires_at_ms = expires_at_ms;
            spec.created_by = by;
            accounts_->CreateApiToken(spec, [resp, done](absl::StatusOr<NewApiToken> made) {
              if (!made.ok()) return done(made.status());
              *resp->mutable_token() = ToApiToken(made->record);
              resp->set_secret(made->secret);
              done.Succeed();
            });
          });
    };
    if (req->account().empty() || UserKey(req->account()) == UserKey(who.user)) {
      hub_->store()->FindUser(UserKey(who.user), std::move(make));
    } else {
      FindOwnBot(who, req->account(), std::move(make));
    }
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::ListApiTokens(grpc::CallbackServerContext* ctx,
                                                         const chat::v1::ListApiTokensRequest* req,
                                                         chat::v1::ListApiTokensResponse* resp) {
  // The one account call an API token may make, for its own account.
  return AuthenticatedUnary(ctx, *auth_, [this, req, resp](const Identity& who, UnaryDone done) {
    if (who.guest) return done(NeedsLoginSession(who));
    auto answer = [resp, done](absl::StatusOr<std::vector<SessionRecord>> tokens) {
      if (!tokens.ok()) return done(tokens.status());
      for (const SessionRecord& t : *tokens) *resp->add_tokens() = ToApiToken(t);
      done.Succeed();
    };
    const bool own = req->account().empty() || UserKey(req->account()) == UserKey(who.user);
    if (who.api_token) {
      if (!own) return done(absl::PermissionDeniedError("an API token may list only its own account's tokens"));
      return ListTokensOf({who.user}, std::move(answer));
    }
    if (own && !req->account().empty()) return ListTokensOf({who.user}, std::move(answer));
    if (own) {
      return ManagedAccounts(who, /*every_bot_if_admin=*/false,
                             [this, answer](absl::StatusOr<std::vector<std::string>> accounts) {
                               if (!accounts.ok()) return answer(accounts.status());
                               ListTokensOf(std::move(*accounts), answer);
                             });
    }
    FindOwnBot(who, req->account(), [this, answer](absl::StatusOr<UserRecord> bot) {
      if (!bot.ok()) return answer(bot.status());
      ListTokensOf({bot->username}, answer);
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::RevokeApiToken(grpc::CallbackServerContext* ctx,
                                                          const chat::v1::RevokeApiTokenRequest* req,
                                                          chat::v1::RevokeApiTokenResponse* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    const std::string id = absl::AsciiStrToLower(req->id());
    auto not_found = [id] { return absl::NotFoundError(absl::StrCat("no API token '", id, "' of yours")); };
    if (!IsPublicId(id)) return done(not_found());
    ManagedAccounts(who, /*every_bot_if_admin=*/true,
                    [this, id, resp, done, not_found](absl::StatusOr<std::vector<std::string>> accounts) {
                      if (!accounts.ok()) return done(accounts.status());
                      ListTokensOf(std::move(*accounts), [this, id, resp, done, not_found](
                                                             absl::StatusOr<std::vector<SessionRecord>> tokens) {
                        if (!tokens.ok()) return done(tokens.status());
                        auto it = std::find_if(tokens->begin(), tokens->end(),
                                               [&](const SessionRecord& t) { return PublicId(t.token_hash) == id; });
                        if (it == tokens->end()) return done(not_found());
                        const int streams = LiveStreamsOf(it->username, it->token_hash);
                        RevokeEach({it->token_hash}, absl::StrCat("API token '", it->name, "' was revoked"),
                                   [resp, done, streams](absl::StatusOr<std::vector<std::string>> revoked) {
                                     if (!revoked.ok()) return done(revoked.status());
                                     resp->set_streams_ended(streams);
                                     done.Succeed();
                                   });
                      });
                    });
  });
}

}  // namespace chat::core
