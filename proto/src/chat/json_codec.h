// The event JSON codec: chat.v1 messages in the proto3 canonical JSON mapping, as
// the WebSocket protocol carries them. Output never contains a raw newline, so
// several events can share one frame separated by '\n'. Stateless, thread-safe.
#ifndef CHAT_PROTO_SRC_CHAT_JSON_CODEC_H_
#define CHAT_PROTO_SRC_CHAT_JSON_CODEC_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chat/v1/chat.pb.h"
#include "google/protobuf/message.h"

namespace chat {

// Canonical JSON (lowerCamelCase names, defaults omitted, int64 as strings).
std::string ToJson(const google::protobuf::Message& message);
// Accepts both lowerCamelCase and original field names; unknown fields are an
// INVALID_ARGUMENT error.
absl::Status FromJson(absl::string_view json, google::protobuf::Message* message);

// The WebSocket hot path. Both handle the frequent events (send, join, leave,
// typing, ping in; message, member, typing, ack, joined, left, pong, error out)
// with a hand-written codec
// that gives exactly the library's results, and everything else with the
// library (which also words the errors).
absl::StatusOr<chat::v1::ClientEvent> DecodeClientEvent(absl::string_view json);
std::string EncodeServerEvent(const chat::v1::ServerEvent& event);

// The hand-written paths alone (for tests): false where they defer to the library.
bool DecodeClientEventFastPath(absl::string_view json, chat::v1::ClientEvent* event);
bool EncodeServerEventFastPath(const chat::v1::ServerEvent& event, std::string* out);

// The name of the set oneof of a ClientEvent ("join", "send", ...), "" if none.
absl::string_view ClientEventKind(const chat::v1::ClientEvent& event);

// `s` as a JSON string literal, quotes included, escaped as protobuf does. A
// byte that is not valid UTF-8 is written as \u00XX.
std::string JsonQuote(absl::string_view s);

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_JSON_CODEC_H_
