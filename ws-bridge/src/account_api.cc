#include "account_api.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "chat/json_codec.h"
#include "chat/v1/chat.grpc.pb.h"
#include "chat/validate.h"

namespace chat::bridge {

const google::protobuf::MethodDescriptor* AccountMethod(absl::string_view name) {
  if (std::find(std::begin(kAccountMethods), std::end(kAccountMethods), name) == std::end(kAccountMethods)) {
    return nullptr;
  }
  // The generated pool has it once chat.pb.cc is linked (the messages used here are).
  static const google::protobuf::ServiceDescriptor* const service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          chat::v1::AuthService::service_full_name());
  return service == nullptr ? nullptr : service->FindMethodByName(std::string(name));
}

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> AccountRequest(
    const google::protobuf::MethodDescriptor* method, absl::string_view body) {
  std::unique_ptr<google::protobuf::Message> request(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method->input_type())->New());
  if (absl::StripAsciiWhitespace(body).empty()) return request;
  if (absl::Status st = FromJson(body, request.get()); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the body of ", method->name(), " must be a JSON ",
                                                   method->input_type()->name(), ": ", st.message()));
  }
  return request;
}

std::string ClientFromUserAgent(absl::string_view user_agent) {
  std::string out;
  for (size_t i = 0; i < user_agent.size();) {
    uint32_t cp = 0;
    const int len = DecodeUtf8(user_agent, i, &cp);
    if (len == 0) {  // not UTF-8 (a Latin-1 byte, say): dropped
      ++i;
      continue;
    }
    const bool control = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029;
    if (!control) {
      if (out.size() + len > kMaxClientBytes) break;
      out.append(user_agent.data() + i, len);
    }
    i += len;
  }
  return out;
}

}  // namespace chat::bridge
