// The JSON form of chat.v1 events (chat/json_codec.h): the library path, and
// the two fast paths (json_encode.cc, json_decode.cc) in front of it.
#include "chat/json_codec.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace chat {

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = false;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) {
    // Only possible for invalid UTF-8 in a string field, which chat-core never emits.
    return absl::StrCat("{\"error\":{\"code\":\"INTERNAL\",\"message\":\"cannot encode event\"}}");
  }
  return out;
}

absl::Status FromJson(absl::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON event: ", status.message().as_string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<chat::v1::ClientEvent> DecodeClientEvent(absl::string_view json) {
  chat::v1::ClientEvent event;
  if (DecodeClientEventFastPath(json, &event)) return event;
  event.Clear();
  absl::Status status = FromJson(json, &event);
  if (!status.ok()) return status;
  return event;
}


std::string EncodeServerEvent(const chat::v1::ServerEvent& event) {
  std::string out;
  if (EncodeServerEventFastPath(event, &out)) return out;
  return ToJson(event);
}


absl::string_view ClientEventKind(const chat::v1::ClientEvent& event) {
  if (event.event_case() == chat::v1::ClientEvent::EVENT_NOT_SET) return "";
  // The event's field name in JSON ("createRoom", "setRole", ...).
  const google::protobuf::FieldDescriptor* field =
      chat::v1::ClientEvent::descriptor()->FindFieldByNumber(static_cast<int>(event.event_case()));
  return field == nullptr ? absl::string_view() : absl::string_view(field->json_name());
}


}  // namespace chat
