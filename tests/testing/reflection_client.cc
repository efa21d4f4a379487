#include "reflection_client.h"

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"
#include "chat/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"

namespace chat::testing {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

void Next(grpc::CompletionQueue& cq) {
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
}

// One request and one response on a bidi-streaming method, raw.
absl::StatusOr<std::string> BidiOnce(const std::shared_ptr<grpc::Channel>& channel,
                                     const std::string& method, const std::string& request) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, method, &cq);
  call->StartCall(nullptr);
  Next(cq);
  call->Write(ToBuffer(request), nullptr);
  Next(cq);
  grpc::ByteBuffer reply;
  call->Read(&reply, nullptr);
  Next(cq);
  call->WritesDone(nullptr);
  Next(cq);
  grpc::Status status;
  call->Finish(&status, nullptr);
  Next(cq);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return FromGrpcStatus(status);
  return ToString(reply);
}

absl::StatusOr<std::string> Unary(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& method, const std::string& request,
                                  const std::map<std::string, std::string>& metadata) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareUnaryCall(&ctx, method, ToBuffer(request), &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, nullptr);
  Next(cq);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return FromGrpcStatus(status);
  return ToString(reply);
}

// ServerReflectionRequest / ServerReflectionResponse, encoded by field number.
std::string StringField(int number, const std::string& value) {
  UnknownFieldSet fs;
  fs.AddLengthDelimited(number, value);
  std::string out;
  fs.SerializeToString(&out);
  return out;
}

absl::StatusOr<std::string> ReflectionAsk(const std::shared_ptr<grpc::Channel>& channel,
                                              int field, const std::string& value) {
  auto reply = BidiOnce(channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                        StringField(field, value));
  if (!reply.ok()) return reply.status();
  UnknownFieldSet fs;
  if (!fs.ParseFromString(*reply)) return absl::DataLossError("bad reflection response");
  for (int i = 0; i < fs.field_count(); ++i) {
    if (fs.field(i).number() == 7) return absl::NotFoundError("reflection error_response");
  }
  return *reply;
}

std::vector<std::string> Repeated(const UnknownFieldSet& fs, int number) {
  std::vector<std::string> out;
  for (int i = 0; i < fs.field_count(); ++i) {
    if (fs.field(i).number() == number && fs.field(i).type() == UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(fs.field(i).length_delimited());
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReflectListServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  auto reply = ReflectionAsk(channel, 7, "*");  // list_services
  if (!reply.ok()) return reply.status();
  UnknownFieldSet fs;
  fs.ParseFromString(*reply);
  std::vector<std::string> names;
  for (const auto& list : Repeated(fs, 6)) {  // list_services_response
    UnknownFieldSet l;
    l.ParseFromString(list);
    for (const auto& svc : Repeated(l, 1)) {
      UnknownFieldSet s;
      s.ParseFromString(svc);
      for (const auto& name : Repeated(s, 1)) names.push_back(name);
    }
  }
  return names;
}

absl::StatusOr<std::string> ReflectCallJson(const std::shared_ptr<grpc::Channel>& channel,
                                            const std::string& method,
                                            const std::string& request_json,
                                            const std::map<std::string, std::string>& metadata) {
  size_t slash = method.find('/');
  std::string service = method.substr(0, slash);
  auto raw = ReflectionAsk(channel, 4, service);  // file_containing_symbol
  if (!raw.ok()) return raw.status();
  UnknownFieldSet fs;
  fs.ParseFromString(*raw);
  google::protobuf::SimpleDescriptorDatabase db;
  for (const auto& resp : Repeated(fs, 4)) {  // file_descriptor_response
    UnknownFieldSet r;
    r.ParseFromString(resp);
    for (const auto& bytes : Repeated(r, 1)) {
      google::protobuf::FileDescriptorProto fdp;
      fdp.ParseFromString(bytes);
      db.Add(fdp);
    }
  }
  google::protobuf::DescriptorPool pool(&db);
  const auto* m = pool.FindMethodByName(service + "." + method.substr(slash + 1));
  if (m == nullptr) return absl::NotFoundError(absl::StrCat("no method ", method, " in reflection"));
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> req(factory.GetPrototype(m->input_type())->New());
  if (!google::protobuf::util::JsonStringToMessage(request_json, req.get()).ok()) {
    return absl::InvalidArgumentError("bad request JSON");
  }
  auto reply = Unary(channel, "/" + method, req->SerializeAsString(), metadata);
  if (!reply.ok()) return reply.status();
  std::unique_ptr<google::protobuf::Message> resp(factory.GetPrototype(m->output_type())->New());
  resp->ParseFromString(*reply);
  std::string json;
  google::protobuf::util::MessageToJsonString(*resp, &json);
  return json;
}

absl::StatusOr<std::string> HealthCheck(const std::shared_ptr<grpc::Channel>& channel) {
  auto reply = Unary(channel, "/grpc.health.v1.Health/Check", "", {});
  if (!reply.ok()) return reply.status();
  UnknownFieldSet fs;
  fs.ParseFromString(*reply);
  for (int i = 0; i < fs.field_count(); ++i) {
    if (fs.field(i).number() == 1) {
      switch (fs.field(i).varint()) {
        case 1: return std::string("SERVING");
        case 2: return std::string("NOT_SERVING");
        default: return std::string("UNKNOWN");
      }
    }
  }
  return std::string("UNKNOWN");
}

}  // namespace chat::testing
