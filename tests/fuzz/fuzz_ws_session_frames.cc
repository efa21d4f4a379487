// fuzz_ws_session_frames: a browser session's text frames into the session
// logic. Each input is up to 32 text frames separated by NUL bytes; they go,
// on a fresh WebSocket logged in as alice, to a real bridge in front of a real
// chat-core (fuzz_stack.h), so each frame takes the real path: the event rate
// limit, the JSON decoder, the history/room-list turn-taking, Forward to the
// gateway stream, chat-core's session, and the replies written back. A frame
// that is not UTF-8 is sent too: the bridge must close with 1007.
//
// After the frames, a ping event with a fresh nonce is sent; chat-core answers
// in order, so its pong marks "every frame of this input handled".
// Checked for every input, beside "no crash, no sanitizer report":
//  - the session answers (the pong) or closes the socket, within 30 s: a
//    session that neither answers nor closes is stuck;
//  - the bridge's gateway stream to chat-core is still the one it was;
//  - every frame from the bridge is one or more ServerEvents in canonical
//    JSON, separated by '\n', each of which protobuf's own parser accepts.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chat/json_codec.h"
#include "fuzz_stack.h"

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

[[noreturn]] void Fail(const char* what, absl::string_view input, absl::string_view detail) {
  std::fprintf(stderr, "fuzz_ws_session_frames: %s\n input: %.*s\n detail: %.*s\n", what,
               static_cast<int>(input.size()), input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void CheckFrame(absl::string_view input, const std::string& frame) {
  for (absl::string_view line : absl::StrSplit(frame, '\n')) {
    chat::v1::ServerEvent ev;
    if (!chat::FromJson(line, &ev).ok()) Fail("the bridge sent a frame that is not ServerEvents", input, frame);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  static uint64_t nonce = 0;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  chat::fuzz::FuzzStack& stack = chat::fuzz::FuzzStack::Get();

  const uint64_t connects = stack.gateway_connects();
  net::io_context io;
  websocket::stream<tcp::socket> ws(io);
  beast::error_code ec;
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                        static_cast<unsigned short>(stack.bridge_port())),
                          ec);
  // libFuzzer's -timeout sends SIGALRM every timeout/2 s; a blocking call it
  // interrupts says nothing about the bridge, so the input is skipped.
  if (ec == net::error::interrupted) return -1;
  if (ec) Fail("cannot connect to the bridge", input, ec.message());
  // Reads and writes give up after 30 s: a stuck session fails the input
  // instead of hanging the fuzzer.
  timeval tv{30, 0};
  setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    req.set(beast::http::field::authorization, "Bearer " + stack.alice());
  }));
  ws.handshake("127.0.0.1", "/ws", ec);
  if (ec == net::error::interrupted) return -1;
  if (ec) Fail("WebSocket handshake refused", input, ec.message());
  ws.text(true);

  bool closed = false;
  for (const std::string& frame : chat::fuzz::SplitNul(input, 32)) {
    ws.write(net::buffer(frame), ec);
    if (ec) {  // the bridge closed (1007 for bad UTF-8, 1008 for a limit)
      closed = true;
      break;
    }
  }
  const uint64_t mine = ++nonce + 1000000000;
  if (!closed) {
    ws.write(net::buffer(absl::StrCat("{\"ref\":\"fuzz-sync\",\"ping\":{\"nonce\":\"", mine, "\"}}")), ec);
    closed = static_cast<bool>(ec);
  }
  const std::string want = absl::StrCat("\"nonce\":\"", mine, "\"");
  beast::flat_buffer buffer;
  for (;;) {
    buffer.clear();
    ws.read(buffer, ec);
    if (ec == websocket::error::closed || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == beast::error::timeout) {
      break;  // closed by the bridge: fine
    }
    if (ec == net::error::would_block || ec == net::error::try_again) {
      Fail("the session neither answered nor closed within 30 s", input, ec.message());
    }
    if (ec) break;  // any other end of the connection
    const std::string frame = beast::buffers_to_string(buffer.data());
    CheckFrame(input, frame);
    if (!closed && frame.find(want) != std::string::npos && frame.find("\"pong\"") != std::string::npos) {
      ws.close(websocket::close_code::normal, ec);
      break;
    }
  }
  beast::error_code ignored;
  ws.next_layer().close(ignored);
  if (stack.gateway_connects() != connects) {
    Fail("the input broke the bridge's gateway stream", input, stack.env().bridge().stats().gateway.last_end);
  }
  return 0;
}
