#include "webhook_api.h"

#include <boost/asio/ip/address.hpp>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bridge_context.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace chat::bridge {

std::optional<WebhookTarget> ParseWebhookPath(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, kWebhookPrefix)) return std::nullopt;
  absl::ConsumeSuffix(&path, "/");
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.empty() || parts.size() > 2 || parts[0].empty()) return std::nullopt;
  if (parts.size() == 2 && parts[1].empty()) return std::nullopt;  // "/api/hooks/id//"
  WebhookTarget target;
  target.id = std::string(parts[0]);
  if (parts.size() == 2) target.secret = std::string(parts[1]);
  return target;
}

absl::StatusOr<std::string> WebhookText(absl::string_view body) {
  constexpr absl::string_view kShape = "the body must be a JSON object with a string \"text\", e.g. {\"text\": \"build passed\"}";
  google::protobuf::Struct payload;
  // A Struct takes any JSON object (nested blocks and attachments included)
  // and refuses arrays, scalars and broken JSON.
  auto parsed = google::protobuf::util::JsonStringToMessage(std::string(body), &payload);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(kShape, " (it is not valid JSON)"));
  auto it = payload.fields().find("text");
  if (it == payload.fields().end()) return absl::InvalidArgumentError(absl::StrCat(kShape, " (it has no \"text\")"));
  if (it->second.kind_case() != google::protobuf::Value::kStringValue) {
    return absl::InvalidArgumentError(absl::StrCat(kShape, " (its \"text\" is not a string)"));
  }
  if (it->second.string_value().empty()) return absl::InvalidArgumentError("the \"text\" is empty");
  return it->second.string_value();
}

std::string WebhookAddressKey(absl::string_view address) {
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(std::string(address), ec);
  if (ec) return std::string(address);
  return ConnectionSlot::AddressKey(ip);
}

}  // namespace chat::bridge
