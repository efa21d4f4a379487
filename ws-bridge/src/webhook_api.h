// The pure parts of incoming webhooks on the bridge (POST /api/hooks/{id};
// docs/protocol.md, "HTTP API for accounts and webhooks"): the hook and its
// secret from the path or the X-Chat-Webhook-Secret header, the text of a
// Slack-shaped JSON payload, and the client address a rate limit counts by.
// HttpSession (http_session_hooks.cc) does the HTTP around them.
//
// Threading: stateless, thread-safe.
#ifndef CHAT_WS_BRIDGE_SRC_WEBHOOK_API_H_
#define CHAT_WS_BRIDGE_SRC_WEBHOOK_API_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chat::bridge {

inline constexpr absl::string_view kWebhookPrefix = "/api/hooks/";
inline constexpr char kWebhookSecretHeader[] = "X-Chat-Webhook-Secret";

struct WebhookTarget {
  std::string id;
  std::string secret;  // "" when the path has none
};

// "/api/hooks/{id}" or "/api/hooks/{id}/{secret}" (a trailing '/' allowed);
// nullopt for anything else under the prefix (an empty id, more segments).
std::optional<WebhookTarget> ParseWebhookPath(absl::string_view path);

// The "text" of a webhook body: a JSON object with a non-empty string "text";
// other fields (Slack's blocks, username, icon_emoji...) are ignored.
// INVALID_ARGUMENT saying what is wrong otherwise.
absl::StatusOr<std::string> WebhookText(absl::string_view body);

// The key a per-address limit counts `address` by (an IP address as text):
// IPv4 whole, IPv6 by its /64 (ConnectionSlot::AddressKey); text that is not
// an address counts as itself.
std::string WebhookAddressKey(absl::string_view address);

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_WEBHOOK_API_H_
