// The pure parts of the bridge's account endpoints (docs/protocol.md, "HTTP
// API for accounts and webhooks"): which AuthService methods
// POST /api/account/{Method} may call, reading their request from JSON, and
// the login's client description from a User-Agent. HttpSession
// (http_session_api.cc) does the HTTP around them.
//
// Threading: stateless, thread-safe. Lifetime: descriptors live as long as the
// program (the generated pool's).
#ifndef CHAT_WS_BRIDGE_SRC_ACCOUNT_API_H_
#define CHAT_WS_BRIDGE_SRC_ACCOUNT_API_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace chat::bridge {

// The methods a browser may call through /api/account/ (the settings screen's
// calls). Not among them: Register, Login, Logout, WhoAmI's siblings with
// endpoints of their own, DisableAccount (an admin's tool: grpcurl or the CLI),
// and PostWebhook (the bridge's own, for /api/hooks/).
inline constexpr absl::string_view kAccountMethods[] = {
    "WhoAmI",        "ChangePassword", "ListSessions",   "RevokeSession",  "UpdateProfile", "DeleteAccount",
    "CreateInvite",  "CreateBot",      "ListBots",       "DeleteBot",      "CreateApiToken", "ListApiTokens",
    "RevokeApiToken", "CreateWebhook", "ListWebhooks",   "RevokeWebhook",
};

// chat.v1.AuthService's method `name` if it is one of kAccountMethods (exact
// case), else null.
const google::protobuf::MethodDescriptor* AccountMethod(absl::string_view name);

// A request of `method`'s input type from a proto3 JSON body; an empty (or
// all-whitespace) body is the empty request. INVALID_ARGUMENT naming the
// method when the JSON does not fit.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> AccountRequest(
    const google::protobuf::MethodDescriptor* method, absl::string_view body);

// LoginRequest.client from a User-Agent header: valid UTF-8 only (other bytes
// dropped), no control characters, at most kMaxClientBytes bytes (cut at a
// character boundary).
inline constexpr size_t kMaxClientBytes = 256;
std::string ClientFromUserAgent(absl::string_view user_agent);

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_ACCOUNT_API_H_
