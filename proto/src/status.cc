#include "chat/status.h"

namespace chat {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

chat::v1::Error::Code ToErrorCode(absl::StatusCode code) {
  int n = static_cast<int>(code);
  if (!chat::v1::Error::Code_IsValid(n)) return chat::v1::Error::UNKNOWN;
  return static_cast<chat::v1::Error::Code>(n);
}

absl::StatusCode FromErrorCode(chat::v1::Error::Code code) {
  return static_cast<absl::StatusCode>(static_cast<int>(code));
}

const char* StatusCodeName(absl::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",           "CANCELLED",          "UNKNOWN",       "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS", "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",   "DATA_LOSS",
      "UNAUTHENTICATED"};
  int n = static_cast<int>(code);
  if (n < 0 || n > 16) return "UNKNOWN";
  return kNames[n];
}

}  // namespace chat
