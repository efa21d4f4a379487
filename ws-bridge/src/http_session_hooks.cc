// HttpSession's incoming webhooks: POST /api/hooks/{id} with the secret in the
// X-Chat-Webhook-Secret header, or POST /api/hooks/{id}/{secret}, and a JSON
// body {"text": "..."} (Slack's incoming-webhook payload). The sender is a
// server (a CI job, a monitor), not a browser: no Origin check and no cookie.
// The bridge limits posts per client address (--webhook_posts_per_10s_per_ip)
// before chat-core's per-hook limit, and answers with plain HTTP statuses
// (docs/protocol.md, "HTTP API for accounts and webhooks").
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chat/json_codec.h"
#include "chat/validate.h"
#include "http_session.h"
#include "http_util.h"
#include "webhook_api.h"

namespace chat::bridge {

void HttpSession::HandleWebhook(const Request& req) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto fail = [&](http::status st, absl::string_view code, absl::string_view msg) {
    Send(JsonError(st, version, code, msg), keep_alive);
  };
  auto target = ParseWebhookPath(TargetPath(Sv(req.target())));
  if (!target) {
    return fail(http::status::not_found, "NOT_FOUND",
                "a webhook's URL is /api/hooks/{id} (secret in the X-Chat-Webhook-Secret header) or "
                "/api/hooks/{id}/{secret}");
  }
  if (req.method() != http::verb::post) return fail(http::status::method_not_allowed, "INVALID_ARGUMENT", "use POST");
  // Every post counts, refused or not: a flood of bad secrets is a flood too.
  if (auto wait = ctx_->webhook_posts.Take(WebhookAddressKey(PeerAddress()), absl::Now())) {
    const int64_t seconds = std::max<int64_t>(1, std::ceil(absl::ToDoubleSeconds(*wait)));
    return fail(http::status::too_many_requests, "RESOURCE_EXHAUSTED",
                absl::StrCat("too many webhook posts from this address; retry in ", seconds, " s"));
  }
  if (!IsJsonContentType(Sv(req[http::field::content_type]))) {
    return fail(http::status::unsupported_media_type, "INVALID_ARGUMENT",
                "a webhook post needs Content-Type: application/json");
  }
  // The header wins over the path: a sender that has both means the header.
  if (auto header = req.find(kWebhookSecretHeader); header != req.end() && !header->value().empty()) {
    target->secret = std::string(Sv(header->value()));
  }
  // Both go to chat-core in proto3 strings, which must be UTF-8: a request
  // with bytes that are not would fail there as an internal error (a 500).
  // Found by tests/fuzz (fuzz_bridge_http).
  if (!IsValidUtf8(target->id) || (!target->secret.empty() && !IsValidUtf8(target->secret))) {
    return fail(http::status::bad_request, "INVALID_ARGUMENT", "a webhook's id and secret are UTF-8 text");
  }
  if (target->secret.empty()) {
    return fail(http::status::unauthorized, "UNAUTHENTICATED",
                absl::StrCat("this webhook needs its secret: send the ", kWebhookSecretHeader,
                             " header, or post to /api/hooks/{id}/{secret}"));
  }
  auto text = WebhookText(req.body());
  if (!text.ok()) return fail(http::status::bad_request, "INVALID_ARGUMENT", text.status().message());

  chat::v1::PostWebhookRequest post;
  post.set_id(std::move(target->id));
  post.set_secret(std::move(target->secret));
  post.set_text(*std::move(text));
  auto self = shared_from_this();
  // No token: chat-core takes PostWebhook from a gateway only, which the
  // bridge is (its gateway secret or client certificate goes with every call).
  ctx_->auth->PostWebhook(
      AuthClient::Caller{PeerAddress(), ""}, std::move(post),
      [self, version, keep_alive](const grpc::Status& st, const chat::v1::PostWebhookResponse& resp) {
        if (!st.ok()) return self->SendStatusLater(st, version, keep_alive);
        self->SendLater(JsonResponse(http::status::ok, version,
                                     absl::StrCat("{\"ok\":true,\"room\":", JsonQuote(resp.room()),
                                                  ",\"seq\":", resp.seq(), "}")),
                        keep_alive);
      });
}

}  // namespace chat::bridge
