// fuzz_gateway_up: chat-core's gateway service (chat-core/src/gateway_service.cc)
// under a bridge that holds the gateway secret but misbehaves. Each input is one
// Gateway stream to a real chat-core (fuzz_stack.h; in-process, real gRPC on a
// loopback port):
//
//   byte 0      flags: bit 0 cancel the stream at the end instead of
//               half-closing it; bit 1 ask for big replies in pieces
//               (x-chat-gateway-chunks), as ws-bridge does
//   then        up to 64 items: a 2-byte little-endian length, then that many
//               bytes of a serialized GatewayUp (one that does not parse is
//               skipped; a short tail is dropped)
//
// A SessionOpen token "$A" or "$B" is replaced by a real session token of
// alice or bob, so sessions can open and reach the session logic (join, send,
// history, rooms, moderation...), with duplicate ids, events before the open,
// events after the close, request ids, and so on.
//
// Checked for every input, beside "no crash, no sanitizer report":
//  - the stream ends within 30 s of the client half-closing or cancelling it;
//  - chat-core never names a session this stream did not name (no item for
//    another stream's session), and sends room events (session 0) only to a
//    stream on which some session was opened.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "chat/v1/chat.grpc.pb.h"
#include "fuzz_stack.h"

namespace {

using chat::v1::GatewayDown;
using chat::v1::GatewayUp;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_gateway_up: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return -1;
  chat::fuzz::FuzzStack& stack = chat::fuzz::FuzzStack::Get();
  static std::shared_ptr<grpc::Channel> channel = stack.env().core().NewChannel();
  static std::unique_ptr<chat::v1::GatewayService::Stub> stub = chat::v1::GatewayService::NewStub(channel);

  const uint8_t flags = data[0];
  std::vector<GatewayUp> items;
  for (size_t at = 1; at + 2 <= size && items.size() < 64;) {
    const size_t len = data[at] | (size_t{data[at + 1]} << 8);
    at += 2;
    if (len > size - at) break;
    GatewayUp up;
    if (up.ParseFromArray(data + at, static_cast<int>(len))) {
      if (up.has_open()) up.mutable_open()->set_token(stack.Substitute(up.open().token()));
      items.push_back(std::move(up));
    }
    at += len;
  }

  grpc::ClientContext ctx;
  ctx.AddMetadata("x-chat-gateway-secret", chat::fuzz::kGatewaySecret);
  if (flags & 2) ctx.AddMetadata("x-chat-gateway-chunks", "1");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Gateway(&ctx);
  std::set<uint64_t> named;
  bool opened_any = false;
  for (const GatewayUp& up : items) {
    named.insert(up.session());
    if (!stream->Write(up)) break;  // chat-core ended the stream (a bad item)
  }
  if (flags & 1) {
    ctx.TryCancel();
  } else {
    stream->WritesDone();
  }
  GatewayDown down;
  std::string seen;
  while (stream->Read(&down)) {
    if (down.has_opened()) opened_any = true;
    if (down.session() != 0 && named.count(down.session()) == 0) {
      Fail("an item for a session this stream never named", down.ShortDebugString());
    }
    if (down.session() == 0 && !opened_any) {
      Fail("a room event on a stream without an open session", down.ShortDebugString());
    }
  }
  grpc::Status status = stream->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    Fail("the gateway stream did not end within 30 s of the end of its input", status.error_message());
  }
  return 0;
}
