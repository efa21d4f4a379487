// A grpcurl-like client for tests: lists services through the server reflection
// service and calls unary methods by name with JSON, using only the descriptors
// the server sends (no .proto file in hand), as grpcurl and `buf curl` do.
//
// Threading: each call is independent and blocking. Lifetime: holds nothing.
#ifndef CHAT_TESTS_TESTING_REFLECTION_CLIENT_H_
#define CHAT_TESTS_TESTING_REFLECTION_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace chat::testing {

absl::StatusOr<std::vector<std::string>> ReflectListServices(
    const std::shared_ptr<grpc::Channel>& channel);

// method: "chat.v1.ChatService/ListRooms". Returns the response as JSON, or the
// call's status.
absl::StatusOr<std::string> ReflectCallJson(const std::shared_ptr<grpc::Channel>& channel,
                                            const std::string& method,
                                            const std::string& request_json,
                                            const std::map<std::string, std::string>& metadata = {});

// grpc.health.v1.Health/Check for the whole server: "SERVING", "NOT_SERVING", ...
absl::StatusOr<std::string> HealthCheck(const std::shared_ptr<grpc::Channel>& channel);

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_REFLECTION_CLIENT_H_
