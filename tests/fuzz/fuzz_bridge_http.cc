// fuzz_bridge_http: ws-bridge's HTTP handling, end to end. Each input is the
// raw bytes a client sends on one TCP connection to a real bridge (in front of
// a real chat-core, fuzz_stack.h): request parsing, pipelined requests, the
// router, the /api/* bodies (handed to chat-core), webhooks, static files from
// a real web root, and the WebSocket upgrade (a valid one becomes a WsSession
// that reads what follows as frames). "$A"/"$B" in the input stand for real
// session tokens, so cookies and Bearer headers can be valid.
//
// Checked for every input, beside "no crash, no sanitizer report":
//  - the bridge closes the connection once the client has half-closed it
//    (nothing holds a finished connection open);
//  - what it sends back starts with a well-formed HTTP/1.x response that, unless
//    it is the 101 of an upgrade, carries the security headers
//    (X-Content-Type-Options); no response before an upgrade is a 500;
//  - the bridge's gateway stream to chat-core (every browser's sessions) is
//    still the one it was: no input may make chat-core end it;
//  - the pure helpers the handlers use hold their promises on the same bytes:
//    SafeRelativePath never yields a path that leaves the web root,
//    ClientFromUserAgent yields short valid UTF-8 without control characters,
//    ParseWebhookPath yields a non-empty id without '/'.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "account_api.h"
#include "chat/validate.h"
#include "fuzz_stack.h"
#include "http_util.h"
#include "webhook_api.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

[[noreturn]] void Fail(const char* what, absl::string_view input, absl::string_view detail) {
  std::fprintf(stderr, "fuzz_bridge_http: %s\n input: %.*s\n detail: %.*s\n", what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// The responses one after another: each starts where the previous one's body
// ends (a HEAD's header has a Content-Length and no body, which a parser cannot
// know without the request: then the next starts right after the header). The
// first must be well-formed; a search of the raw bytes would also find a
// status line that a body merely quotes (an error message echoing the input).
void CheckResponses(absl::string_view input, const std::string& bytes) {
  if (bytes.empty()) return;  // closed without an answer (a request Beast cannot parse)
  const absl::string_view all(bytes);
  for (size_t pos = 0; pos < all.size();) {
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    parser.header_limit(64 * 1024);
    beast::error_code ec;
    const size_t header = parser.put(boost::asio::buffer(all.data() + pos, all.size() - pos), ec);
    if ((ec && ec != http::error::need_more) || !parser.is_header_done()) {
      if (pos == 0) Fail("malformed HTTP response", input, bytes);
      return;  // not a response after all: the end of a body the walk misjudged
    }
    const auto& res = parser.get();
    if (res.result() == http::status::switching_protocols) return;  // WebSocket frames follow
    if (res["X-Content-Type-Options"] != "nosniff") Fail("response without security headers", input, bytes);
    if (res.result() == http::status::internal_server_error) Fail("HTTP 500", input, bytes);
    uint64_t length = 0;
    if (!absl::SimpleAtoi(chat::bridge::Sv(res[http::field::content_length]), &length)) return;
    const size_t after_header = pos + header;
    const size_t after_body = length <= all.size() - after_header ? after_header + length : all.size();
    if (absl::StartsWith(all.substr(after_body), "HTTP/")) {
      pos = after_body;
    } else if (absl::StartsWith(all.substr(after_header), "HTTP/")) {
      pos = after_header;
    } else {
      return;
    }
  }
}

void CheckHelpers(absl::string_view input) {
  using namespace chat::bridge;
  if (auto rel = SafeRelativePath(input)) {
    for (absl::string_view seg : absl::StrSplit(*rel, '/')) {
      if (seg == ".." || absl::StrContains(seg, '\0') || absl::StrContains(seg, '\\') ||
          (!seg.empty() && seg[0] == '.')) {
        Fail("SafeRelativePath let through an unsafe segment", input, *rel);
      }
    }
    if (!rel->empty() && (rel->front() == '/' || rel->back() == '/')) Fail("SafeRelativePath not relative", input, *rel);
  }
  const std::string client = ClientFromUserAgent(input);
  if (client.size() > kMaxClientBytes) Fail("client description too long", input, client);
  for (size_t i = 0; i < client.size();) {
    uint32_t cp;
    int len = chat::DecodeUtf8(client, i, &cp);
    if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) Fail("client description not clean UTF-8", input, client);
    i += static_cast<size_t>(len);
  }
  if (auto hook = ParseWebhookPath(input)) {
    if (hook->id.empty() || absl::StrContains(hook->id, '/') || absl::StrContains(hook->secret, '/')) {
      Fail("ParseWebhookPath gave a bad target", input, hook->id);
    }
  }
  (void)WebhookText(input);
  (void)CookieValue(input, "chat_session");
  (void)QueryParam(input, "user");
  (void)RetryAfterSeconds(input);
  (void)OriginAllowed(input, "127.0.0.1:8080", {}, {});
  (void)HostAllowed(input, {"chat.example.com", "127.0.0.1:8080"});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  CheckHelpers(input);
  chat::fuzz::FuzzStack& stack = chat::fuzz::FuzzStack::Get();
  const std::string request = stack.Substitute(input);
  const uint64_t connects = stack.gateway_connects();
  // Generous: the bridge's own handshake and idle timeouts are 3 s here, and a
  // loaded 2-core machine can be slow; a connection still open after this is
  // one the bridge forgot.
  chat::fuzz::Exchange ex = chat::fuzz::RawExchange(stack.bridge_port(), request, std::chrono::seconds(30));
  if (!ex.closed) Fail("the bridge did not close a half-closed connection within 30 s", input, ex.response);
  CheckResponses(input, ex.response);
  if (stack.gateway_connects() != connects) {
    Fail("the input broke the bridge's gateway stream", input, stack.env().bridge().stats().gateway.last_end);
  }
  return 0;
}
