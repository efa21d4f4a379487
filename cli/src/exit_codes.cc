#include "exit_codes.h"

#include "absl/strings/cord.h"

namespace chat::cli {

namespace {
constexpr char kTlsPayload[] = "chat.cli/tls";
}  // namespace

absl::Status TlsError(absl::string_view message) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kTlsPayload, absl::Cord("1"));
  return status;
}

bool IsTlsError(const absl::Status& status) { return status.GetPayload(kTlsPayload).has_value(); }

ExitCode ExitCodeFor(const absl::Status& status) {
  return IsTlsError(status) ? kExitTls : ExitCodeFor(status.code());
}

ExitCode ExitCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitUnauthenticated;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return kExitUnavailable;
    case absl::StatusCode::kAlreadyExists:
      return kExitAlreadyExists;
    default:
      return kExitError;
  }
}

}  // namespace chat::cli
