// A minimal HTTP/2 client for one gRPC bidirectional stream per connection, for
// the load generator: many thousands of such clients run on a few epoll threads,
// which the gRPC C++ client library cannot do cheaply (it needs most of a core
// to receive 25,000 messages a second over 1,000 channels).
//
// It speaks exactly what a gRPC client must: the connection preface, SETTINGS
// (and their ACKs), PING ACKs, flow control in both directions (it never sends
// beyond the peer's windows and returns window as it consumes), one HEADERS
// block with literal HPACK fields (no dynamic table, no Huffman), and
// length-prefixed gRPC messages in DATA frames. Response headers and trailers
// are not decoded (HPACK state is only needed to read them); a HEADERS frame
// with END_STREAM ends the stream.
//
// Threading: none; one H2Stream belongs to one connection and is used by the one
// thread that owns that connection. Lifetime: plain value.
#ifndef CHAT_TESTS_LOAD_H2_CLIENT_H_
#define CHAT_TESTS_LOAD_H2_CLIENT_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chat::bench {

class H2Stream {
 public:
  struct Options {
    std::string authority;  // host:port
    std::string path;       // /package.Service/Method
    std::vector<std::pair<std::string, std::string>> metadata;
    // The receive window this client grants, per stream and for the connection.
    uint32_t window = 4u << 20;
  };

  // Receives what Feed finds.
  class Sink {
   public:
    virtual ~Sink() = default;
    // One complete gRPC message (the bytes of the protobuf).
    virtual void OnMessage(std::string_view message) = 0;
  };

  enum class Result { kOk, kEnded, kError };

  // The bytes that open the connection and stream 1: preface, SETTINGS,
  // connection WINDOW_UPDATE, HEADERS.
  std::string Open(const Options& options);

  // Frames one gRPC message onto `out`, or queues it until the peer's windows
  // allow it (Feed sends it when a WINDOW_UPDATE or SETTINGS arrives).
  void SendMessage(std::string_view message, std::string* out);
  size_t queued_messages() const { return pending_.size(); }

  // Consumes whole frames from data[0, n); *used is how many bytes that was
  // (the rest is an incomplete frame to feed again with more). Replies (ACKs,
  // WINDOW_UPDATEs, queued DATA) are appended to `out`. kEnded: the server ended
  // the stream or the connection (trailers, RST_STREAM, GOAWAY); kError: the
  // bytes are not valid HTTP/2. Either way reason() says what happened.
  Result Feed(const char* data, size_t n, size_t* used, std::string* out, Sink* sink);
  const std::string& reason() const { return reason_; }

 private:
  Result OnData(uint8_t flags, const char* p, size_t len, std::string* out, Sink* sink);
  Result OnSettings(uint8_t flags, const char* p, size_t len, std::string* out);
  void Flush(std::string* out);
  void AppendData(std::string_view message, std::string* out);

  int64_t conn_send_window_ = 65535;
  int64_t stream_send_window_ = 65535;
  uint32_t peer_initial_window_ = 65535;
  uint32_t peer_max_frame_ = 16384;
  uint32_t window_ = 65535;
  std::deque<std::string> pending_;
  std::string partial_;  // a gRPC message split across DATA frames
  uint64_t unacked_ = 0;
  std::string reason_;
};

// What a ServerEvent (chat.v1) is, read from its wire bytes without parsing it:
// the field number of its `event` oneof (2 joined, 4 message, 8 error, 12 room,
// ...; 0 if none), and for a message event its text.
int ServerEventKind(std::string_view event, std::string_view* message_text);

// The events a ServerEvent carries: the events of a batch (field 13), in order,
// or else the event itself. False (and nothing in *events) if a batch is malformed.
bool ServerEvents(std::string_view event, std::vector<std::string_view>* events);

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_H2_CLIENT_H_
