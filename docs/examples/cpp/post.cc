// chat-post: a small C++ integration (docs/integrations.md). Posts a message
// into a room over gRPC with an API token, and prints the message's seq.
//
//   CHAT_TOKEN=chat_... chat-post --server 127.0.0.1:50051 --room builds --text "build 1234 passed"
//   echo "deploy done" | CHAT_TOKEN=chat_... chat-post --room builds      (one message per line)
//
// Each message carries a client_msg_id (--id, or a random one), so a retry
// after a lost answer posts it once. Exit codes: 0 posted, 1 refused (the
// message says why), 2 usage.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "chat/v1/chat.grpc.pb.h"

namespace {

std::string RandomId() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> hex(0, 15);
  std::string id = "post-";
  for (int i = 0; i < 16; ++i) id += "0123456789abcdef"[hex(rd)];
  return id;
}

// Sends one message; retries UNAVAILABLE a few times with the same id.
bool Post(chat::v1::ChatService::Stub& stub, const std::string& token, const std::string& room,
          const std::string& text, const std::string& id) {
  chat::v1::SendMessageRequest req;
  req.set_room(room);
  req.set_text(text);
  req.set_client_msg_id(id);
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    chat::v1::SendMessageResponse resp;
    grpc::Status st = stub.SendMessage(&ctx, req, &resp);
    if (st.ok()) {
      std::cout << room << " #" << resp.message().seq() << (resp.duplicate() ? " (already posted)" : "") << "\n";
      return true;
    }
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE && attempt < 4) continue;
    std::cerr << "chat-post: " << st.error_message() << " (" << st.error_code() << ")\n";
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:50051", room, text, id;
  bool have_text = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "chat-post: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--server") server = value();
    else if (a == "--room") room = value();
    else if (a == "--text") text = value(), have_text = true;
    else if (a == "--id") id = value();
    else {
      std::cerr << "usage: CHAT_TOKEN=... chat-post [--server HOST:PORT] --room ROOM [--text TEXT] [--id ID]\n";
      return 2;
    }
  }
  const char* token = std::getenv("CHAT_TOKEN");
  if (room.empty() || token == nullptr || *token == '\0') {
    std::cerr << "chat-post: needs --room and CHAT_TOKEN (an API token: chat token create)\n";
    return 2;
  }
  auto stub = chat::v1::ChatService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));
  if (have_text) return Post(*stub, token, room, text, id.empty() ? RandomId() : id) ? 0 : 1;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    if (!Post(*stub, token, room, line, RandomId())) return 1;
  }
  return 0;
}
