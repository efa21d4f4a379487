// AuthService: incoming webhooks (docs/integrations.md; docs/security.md,
// "Webhooks"). PostWebhook is ws-bridge's: POST /api/hooks/{id} becomes a
// message of the hook's bot in the hook's room, through the checks a unary
// ChatService.SendMessage makes.
#include <sodium.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "auth_service_impl.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "google/protobuf/util/time_util.h"
#include "room_access.h"
#include "tokens.h"

namespace chat::core {
namespace {

using google::protobuf::util::TimeUtil;

bool IsHookId(absl::string_view id) {
  return id.size() == 16 &&
         std::all_of(id.begin(), id.end(), [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

// The identity a bot posts with (no token: a webhook's secret stood in).
Identity BotIdentity(const std::string& bot) {
  Identity who;
  who.user = bot;
  who.bot = true;
  return who;
}

}  // namespace

chat::v1::Webhook AuthServiceImpl::ToWebhook(const WebhookRecord& hook) const {
  chat::v1::Webhook w;
  w.set_id(hook.id);
  if (auto room = hub_->FindRoomById(hook.room_id)) w.set_room(room->name());
  w.set_bot(hook.bot);
  w.set_name(hook.name);
  w.set_created_by(hook.created_by);
  if (hook.created_at_ms > 0) *w.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(hook.created_at_ms);
  return w;
}

grpc::ServerUnaryReactor* AuthServiceImpl::CreateWebhook(grpc::CallbackServerContext* ctx,
                                                         const chat::v1::CreateWebhookRequest* req,
                                                         chat::v1::CreateWebhookResponse* resp) {
  return AccountCall(ctx, [this, req, resp](const Identity& who, UnaryDone done) {
    if (absl::Status st = ValidateLabel("name", req->name(), kMaxCredentialNameBytes, true); !st.ok()) {
      return done(st);
    }
    auto room = hub_->LookupRoomFor(who, req->room());
    if (!room.ok()) return done(room.status());
    FindOwnBot(who, req->bot(), [this, req, resp, done, room = *room, by = who.user](absl::StatusOr<UserRecord> bot) {
      if (!bot.ok()) return done(bot.status());
      // The bot must be allowed to post there now (it may lose that later:
      // each post is checked again).
      const Identity as = BotIdentity(bot->username);
      if (!hub_->LookupRoomFor(as, room->name()).ok() || !room->access().CheckJoin(hub_->ActorOf(as)).ok()) {
        return done(absl::FailedPreconditionError(absl::StrCat("bot '", bot->username, "' may not post in '",
                                                               room->name(), "': invite it to the room first")));
      }
      if (absl::Status st = room->access().CheckSend(room->name()); !st.ok()) return done(st);
      hub_->store()->ListWebhooks(
          UserKey(by), [this, req, resp, done, room, by, bot = *bot](absl::StatusOr<std::vector<WebhookRecord>> mine) {
            if (!mine.ok()) return done(mine.status());
            if (static_cast<int>(mine->size()) >= options_->max_webhooks_per_user) {
              return done(absl::ResourceExhaustedError(absl::StrCat("'", by, "' has made ", mine->size(),
                                                                    " webhooks already (the most); revoke one first")));
            }
            const std::string secret = RandomBase64Url(32);
            WebhookRecord hook;
            hook.id = RandomHex(8);
            hook.secret_hash = Accounts::HashToken(secret);
            hook.room_id = room->id();
            hook.bot = bot.username;
            hook.created_by = by;
            hook.name = req->name();
            hook.created_at_ms = hub_->NowMs();
            hub_->store()->CreateWebhook(hook, [this, resp, done, secret](absl::StatusOr<WebhookRecord> made) {
              if (!made.ok()) return done(made.status());
              *resp->mutable_webhook() = ToWebhook(*made);
              resp->set_secret(secret);
              CHAT_LOG_INFO("auth", "webhook %s made by '%s' for bot '%s'", made->id, made->created_by, made->bot);
              done.Succeed();
            });
          });
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::ListWebhooks(grpc::CallbackServerContext* ctx,
                                                        const chat::v1::ListWebhooksRequest* req,
                                                        chat::v1::ListWebhooksResponse* resp) {
  return AccountCall(ctx, [this, resp](const Identity& who, UnaryDone done) {
    const std::string by = IsAdmin(who) ? std::string() : UserKey(who.user);
    hub_->store()->ListWebhooks(by, [this, resp, done](absl::StatusOr<std::vector<WebhookRecord>> hooks) {
      if (!hooks.ok()) return done(hooks.status());
      for (const WebhookRecord& hook : *hooks) *resp->add_webhooks() = ToWebhook(hook);
      done.Succeed();
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::RevokeWebhook(grpc::CallbackServerContext* ctx,
                                                         const chat::v1::RevokeWebhookRequest* req,
                                                         chat::v1::RevokeWebhookResponse* resp) {
  return AccountCall(ctx, [this, req](const Identity& who, UnaryDone done) {
    const std::string id = absl::AsciiStrToLower(req->id());
    auto not_found = [id] { return absl::NotFoundError(absl::StrCat("no webhook '", id, "' of yours")); };
    if (!IsHookId(id)) return done(not_found());
    hub_->store()->FindWebhook(id, [this, id, done, not_found, who](absl::StatusOr<WebhookRecord> hook) {
      if (absl::IsNotFound(hook.status())) return done(not_found());
      if (!hook.ok()) return done(hook.status());
      if (UserKey(hook->created_by) != UserKey(who.user) && !IsAdmin(who)) return done(not_found());
      hub_->store()->RevokeWebhook(id, [this, id, done, not_found](absl::StatusOr<bool> revoked) {
        if (!revoked.ok()) return done(revoked.status());
        if (!*revoked) return done(not_found());
        webhook_limiter_.Forget(id);
        done.Succeed();
      });
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::PostWebhook(grpc::CallbackServerContext* ctx,
                                                       const chat::v1::PostWebhookRequest* req,
                                                       chat::v1::PostWebhookResponse* resp) {
  return Unary(ctx, *auth_, [&](UnaryDone done) {
    if (!auth_->IsGateway(*ctx)) {
      return done(absl::PermissionDeniedError(
          "PostWebhook needs gateway credentials: webhooks are posted through ws-bridge (POST /api/hooks/{id})"));
    }
    const std::string id = absl::AsciiStrToLower(req->id());
    if (!IsHookId(id)) return done(absl::NotFoundError("no such webhook"));
    if (req->secret().empty()) return done(absl::UnauthenticatedError("missing webhook secret"));
    if (absl::Status st = ValidateText(req->text(), hub_->options().max_text_bytes); !st.ok()) return done(st);
    hub_->store()->FindWebhook(id, [this, id, req, resp, done](absl::StatusOr<WebhookRecord> hook) {
      if (absl::IsNotFound(hook.status())) return done(absl::NotFoundError("no such webhook"));
      if (!hook.ok()) return done(hook.status());
      const std::string given = Accounts::HashToken(req->secret());
      if (given.size() != hook->secret_hash.size() ||
          sodium_memcmp(given.data(), hook->secret_hash.data(), given.size()) != 0) {
        return done(absl::PermissionDeniedError("wrong webhook secret"));
      }
      // Counted only once the secret is right: nobody else can use up a
      // hook's posts.
      if (int64_t wait = webhook_limiter_.Take(id, hub_->NowMs()); wait > 0) {
        return done(
            absl::ResourceExhaustedError(absl::StrCat("webhook ", id, " is posting too fast; retry in ", wait, " ms")));
      }
      hub_->store()->FindUser(
          UserKey(hook->bot), [this, req, resp, done, hook = *hook](absl::StatusOr<UserRecord> bot) {
            if (!bot.ok() && !absl::IsNotFound(bot.status())) return done(bot.status());
            if (!bot.ok() || bot->deleted) return done(absl::NotFoundError("no such webhook"));
            if (bot->disabled) {
              return done(absl::PermissionDeniedError(absl::StrCat("bot '", bot->username, "' is disabled")));
            }
            auto room = hub_->FindRoomById(hook.room_id);
            if (room == nullptr) return done(absl::NotFoundError("the webhook's room no longer exists"));
            // As a unary SendMessage checks it: the bot must see the room, may
            // join it (not banned), and the room takes messages (not archived).
            const Identity as = BotIdentity(bot->username);
            auto visible = hub_->LookupRoomFor(as, room->name());
            if (!visible.ok()) return done(visible.status());
            absl::Status valid = room->access().CheckJoin(hub_->ActorOf(as));
            if (valid.ok()) valid = room->access().CheckSend(room->name());
            if (!valid.ok()) return done(valid);
            hub_->Send(as, room, req->text(), /*client_msg_id=*/"",
                       [resp, done, name = room->name()](absl::StatusOr<chat::v1::Message> m, bool) {
                         if (m.ok()) {
                           resp->set_room(name);
                           resp->set_seq(m->seq());
                         }
                         done(m.status());
                       });
          });
    });
  });
}

}  // namespace chat::core
