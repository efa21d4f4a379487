// Conversions between absl::Status (used inside the libraries) and grpc::Status
// (at the gRPC edge) and chat.v1.Error.Code (inside error events). The codes share
// their numbers. Stateless, thread-safe.
#ifndef CHAT_PROTO_SRC_CHAT_STATUS_H_
#define CHAT_PROTO_SRC_CHAT_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "chat/v1/chat.pb.h"

namespace chat {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);
chat::v1::Error::Code ToErrorCode(absl::StatusCode code);
absl::StatusCode FromErrorCode(chat::v1::Error::Code code);
// "NOT_FOUND", ... as in the gRPC spec.
const char* StatusCodeName(absl::StatusCode code);

}  // namespace chat

#endif  // CHAT_PROTO_SRC_CHAT_STATUS_H_
