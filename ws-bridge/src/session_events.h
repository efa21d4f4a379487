// The events ws-bridge makes itself for a browser (its own errors), and the one
// way a ServerEvent becomes a frame for a socket's queue. Stateless,
// thread-safe.
#ifndef CHAT_WS_BRIDGE_SRC_SESSION_EVENTS_H_
#define CHAT_WS_BRIDGE_SRC_SESSION_EVENTS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "chat/json_codec.h"
#include "chat/status.h"
#include "chat/v1/chat.pb.h"

namespace chat::bridge {

inline std::shared_ptr<const std::string> EncodeFrame(const chat::v1::ServerEvent& event) {
  return std::make_shared<const std::string>(EncodeServerEvent(event));
}

// An `error` event answering the browser's event of kind `event_kind` ("" if
// it could not be read) with `ref`; `client_msg_id` and `room` as the event had.
inline chat::v1::ServerEvent ErrorEvent(absl::StatusCode code, const std::string& message,
                                        absl::string_view event_kind, const std::string& ref,
                                        const std::string& room = "", const std::string& client_msg_id = "") {
  chat::v1::ServerEvent ev;
  ev.set_ref(ref);
  auto* error = ev.mutable_error();
  error->set_code(ToErrorCode(code));
  error->set_message(message);
  error->set_event(std::string(event_kind));
  error->set_room(room);
  error->set_client_msg_id(client_msg_id);
  return ev;
}

}  // namespace chat::bridge

#endif  // CHAT_WS_BRIDGE_SRC_SESSION_EVENTS_H_
