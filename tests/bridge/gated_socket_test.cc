// GatedSocket (ws-bridge/src/gated_socket.h): frames written directly from
// another thread reach a real Beast client whole, in order, and only between
// Beast's own frames; the rest of a partial direct write goes out before
// anything Beast writes next; the close frame shuts the gate. The same for
// frames sent in a SendBatch (io_uring), which also hold back Beast's next
// write and the socket's close until the batch has sent them.
#include "gated_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chat::bridge {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Direct = GatedSocket::Direct;

// A Beast server stream over a GatedSocket (its I/O on a thread of its own, as
// on the bridge's strand) and a Beast client on the test's thread, with small
// socket buffers so that a big frame cannot be written at once.
class Connection {
 public:
  // Runs `fn` on the server's thread and waits for it.
  template <class Fn>
  auto OnServer(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    net::post(io_, [&task] { task(); });
    return result.get();
  }

  Connection() {
    tcp::acceptor acceptor(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    client_.next_layer().open(tcp::v4());
    client_.next_layer().set_option(net::socket_base::receive_buffer_size(4096));
    client_.next_layer().connect(acceptor.local_endpoint());
    tcp::socket accepted = acceptor.accept();
    accepted.set_option(net::socket_base::send_buffer_size(4096));
    accepted.set_option(tcp::no_delay(true));
    client_.next_layer().set_option(tcp::no_delay(true));
    server_.emplace(std::move(accepted));
    server_->auto_fragment(false);
    std::promise<beast::error_code> accepted_promise;
    server_->async_accept([&](const beast::error_code& ec) { accepted_promise.set_value(ec); });
    thread_ = std::thread([this] { io_.run(); });
    client_.handshake("127.0.0.1", "/");
    EXPECT_FALSE(accepted_promise.get_future().get());
    client_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) ++pings_;
    });
    server_->next_layer().Open();
    // The handshake's write counts until its handler has returned on the
    // server's thread; a task queued behind it runs after that.
    OnServer([] { return 0; });
    // A corrupt stream could leave the client waiting for bytes that never
    // come: fail instead of hanging.
    watchdog_ = std::thread([this] {
      absl::MutexLock lock(&done_mu_);
      auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(done_mu_) { return done_; };
      if (!done_mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30))) {
        ADD_FAILURE() << "the client read for 30 s; shutting its socket";
        ::shutdown(client_.next_layer().native_handle(), SHUT_RDWR);
      }
    });
  }

  ~Connection() {
    {
      absl::MutexLock lock(&done_mu_);
      done_ = true;  // wakes the watchdog: absl::Mutex re-checks its condition
    }
    watchdog_.join();
    guard_.reset();
    net::post(io_, [this] {
      beast::error_code ec;
      if (server_) server_->next_layer().close(ec);
    });
    io_.stop();
    thread_.join();
  }

  // A direct write from this (non-server) thread, finishing a partial one the
  // way WsSession does: FlushPrefix on the server's thread.
  Direct Write(const std::string& payload) {
    Direct d = server_->next_layer().TryWriteText(payload);
    if (d == Direct::kPartly) net::post(io_, [this] { server_->next_layer().FlushPrefix(); });
    return d;
  }

  // Write, retrying while the gate is shut for a moment: a write's handler may
  // still be returning after the client has read all of it.
  Direct WriteSoon(const std::string& payload) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    Direct d;
    while ((d = Write(payload)) == Direct::kNot && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return d;
  }

  // Starts Beast's ping and then its write of `text` on the server's thread;
  // their results. `text` must outlive the write.
  std::pair<std::future<beast::error_code>, std::future<beast::error_code>> PingAndWrite(const std::string& text) {
    auto pinged = std::make_shared<std::promise<beast::error_code>>();
    auto wrote = std::make_shared<std::promise<beast::error_code>>();
    std::pair result(pinged->get_future(), wrote->get_future());
    OnServer([&] {
      server_->async_ping({}, [pinged](const beast::error_code& ec) { pinged->set_value(ec); });
      server_->text(true);
      server_->async_write(net::buffer(text), [wrote](const beast::error_code& ec, size_t) { wrote->set_value(ec); });
      return 0;
    });
    return result;
  }

  // The next message; "<error: ...>" if the stream broke.
  std::string Read() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    client_.read(buffer, ec);
    if (ec) return "<error: " + ec.message() + ">";
    EXPECT_TRUE(client_.got_text());
    return beast::buffers_to_string(buffer.data());
  }

  websocket::stream<GatedSocket>& server() { return *server_; }
  // Server's thread only.
  void DestroyServer() { server_.reset(); }
  websocket::stream<tcp::socket>& client() { return client_; }
  int pings() const { return pings_; }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_{io_.get_executor()};
  net::io_context client_io_;
  websocket::stream<tcp::socket> client_{client_io_};
  std::optional<websocket::stream<GatedSocket>> server_;
  std::thread thread_;
  std::atomic<int> pings_{0};
  absl::Mutex done_mu_;
  bool done_ ABSL_GUARDED_BY(done_mu_) = false;
  std::thread watchdog_;
};

std::string Payload(size_t size, char seed) {
  std::string s(size, ' ');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (seed + i) % 26);
  return s;
}

TEST(GatedSocketTest, FramesOfEveryLengthFormArriveWhole) {
  Connection c;
  // Lengths on both sides of each of RFC 6455's three length encodings; the
  // big ones cannot fit the small buffers and are finished by FlushPrefix.
  for (size_t size : {0, 1, 125, 126, 127, 1000, 65535, 65536, 300000}) {
    std::string payload = Payload(size, static_cast<char>(size % 26));
    Direct d = c.WriteSoon(payload);
    ASSERT_NE(d, Direct::kNot) << size;
    if (size >= 65535) {
      EXPECT_EQ(d, Direct::kPartly) << size;
    }
    std::string got = c.Read();
    ASSERT_EQ(got.size(), size);
    EXPECT_EQ(got, payload);
  }
}

TEST(GatedSocketTest, BeastWaitsForTheRestOfAPartialDirectWrite) {
  Connection c;
  const std::string big = Payload(300000, 3);
  // The client is not reading: most of the frame stays behind as the prefix.
  ASSERT_EQ(c.server().next_layer().TryWriteText(big), Direct::kPartly);
  const std::string after = "after the big one";
  auto [pinged, wrote] = c.PingAndWrite(after);
  // While the prefix is owed, nothing else may be written directly.
  EXPECT_EQ(c.server().next_layer().TryWriteText("too early"), Direct::kNot);
  EXPECT_EQ(c.Read(), big);
  EXPECT_EQ(c.Read(), after);
  EXPECT_FALSE(pinged.get());
  EXPECT_FALSE(wrote.get());
  EXPECT_EQ(c.pings(), 1);
  // Everything has gone: direct writes work again.
  EXPECT_EQ(c.WriteSoon("direct again"), Direct::kWritten);
  EXPECT_EQ(c.Read(), "direct again");
}

TEST(GatedSocketTest, AWriteWaitingBehindThePrefixOutlivesTheStream) {
  // A stalled browser: the prefix of a partial direct write waits for room,
  // and a ping waits behind it. Then the socket is closed and the stream (with
  // its session) destroyed, as a timeout's teardown does. The prefix's write
  // fails, and the ping gets the error instead of a write on a freed socket.
  Connection c;
  ASSERT_EQ(c.server().next_layer().TryWriteText(Payload(300000, 5)), Direct::kPartly);
  std::promise<beast::error_code> pinged;
  c.OnServer([&] {
    c.server().next_layer().FlushPrefix();
    c.server().async_ping({}, [&](const beast::error_code& ec) { pinged.set_value(ec); });
    beast::error_code ec;
    c.server().next_layer().close(ec);
    c.DestroyServer();
    return 0;
  });
  auto result = pinged.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(result.get());
}

TEST(GatedSocketTest, DirectWritesLandBetweenBeastsFramesOnly) {
  Connection c;
  constexpr int kMessages = 3000;
  constexpr int kPings = 300;
  auto size_of = [](int i) { return std::to_string(i).size() + 1 + (i % 7 == 0 ? 20000 : 100); };
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < kMessages && !stop;) {
      // Sizes past one TCP segment, so writes go out in pieces now and then.
      std::string payload = std::to_string(i) + " " + Payload(size_of(i) - std::to_string(i).size() - 1, static_cast<char>(i));
      if (c.Write(payload) == Direct::kNot) {
        std::this_thread::yield();  // Beast is writing, or the socket is full
        continue;
      }
      ++i;
    }
  });
  std::atomic<int> pings_sent{0};
  std::thread pinger([&] {
    for (int i = 0; i < kPings && !stop; ++i) {
      std::promise<beast::error_code> done;
      c.OnServer([&] {
        c.server().async_ping({}, [&](const beast::error_code& ec) { done.set_value(ec); });
        return 0;
      });
      if (!done.get_future().get()) ++pings_sent;
    }
  });
  for (int i = 0; i < kMessages; ++i) {
    std::string got = c.Read();
    bool ok = got.substr(0, got.find(' ')) == std::to_string(i) && got.size() == size_of(i);
    EXPECT_TRUE(ok) << "message " << i << ": " << got.substr(0, 40);
    if (!ok) break;
  }
  stop = true;
  // A pinger or writer stuck on a broken stream is released by closing it.
  if (::testing::Test::HasFailure()) ::shutdown(c.client().next_layer().native_handle(), SHUT_RDWR);
  writer.join();
  pinger.join();
  if (::testing::Test::HasFailure()) return;
  EXPECT_EQ(pings_sent.load(), kPings);
  // Pings that went out after the last message are read by the next read; ask
  // for a last message to see them all.
  ASSERT_NE(c.WriteSoon("last"), Direct::kNot);
  EXPECT_EQ(c.Read(), "last");
  EXPECT_EQ(c.pings(), kPings);
}

TEST(GatedSocketTest, TheCloseFrameShutsTheGate) {
  Connection c;
  ASSERT_EQ(c.Write("before"), Direct::kWritten);
  std::promise<beast::error_code> closed;
  c.OnServer([&] {
    c.server().async_close(websocket::close_code::normal, [&](const beast::error_code& ec) { closed.set_value(ec); });
    return 0;
  });
  // The close frame is written and its write has completed (the client has
  // room for it), but Beast waits for the client's answer: the socket is open
  // and Beast writes nothing, and still no data frame may follow the close.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(c.OnServer([&] { return c.server().next_layer().TryWriteText("after the close"); }), Direct::kNot);
  EXPECT_EQ(c.Read(), "before");
  beast::flat_buffer buffer;
  beast::error_code ec;
  c.client().read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_FALSE(closed.get_future().get());
}

// The io_uring batch, or a skip where this machine refuses io_uring.
#define BATCH_OR_SKIP(batch)                                                  \
  SendBatch* batch = SendBatch::ForThisThread();                              \
  if (batch == nullptr) GTEST_SKIP() << "io_uring is not available here"

std::shared_ptr<const std::string> Shared(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

TEST(SendBatchTest, FramesOfEveryLengthFormArriveWholeOnEverySocket) {
  BATCH_OR_SKIP(batch);
  std::vector<std::unique_ptr<Connection>> cs;
  for (int i = 0; i < 3; ++i) cs.push_back(std::make_unique<Connection>());
  // The big ones cannot fit the small buffers: the strand sends their rest.
  for (size_t size : {0, 1, 125, 126, 127, 1000, 65535, 65536, 300000}) {
    std::vector<std::string> payloads;
    for (size_t i = 0; i < cs.size(); ++i) {
      payloads.push_back(Payload(size, static_cast<char>(size % 26 + i)));
      // A strand write or prefix from the last round may still be finishing.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      bool added;
      while (!(added = cs[i]->server().next_layer().AddText(*batch, Shared(payloads[i]))) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_TRUE(added) << size;
    }
    EXPECT_EQ(batch->size(), cs.size());
    batch->Flush();
    EXPECT_EQ(batch->size(), 0u);
    for (size_t i = 0; i < cs.size(); ++i) {
      std::string got = cs[i]->Read();
      ASSERT_EQ(got.size(), size);
      EXPECT_EQ(got, payloads[i]);
    }
  }
}

TEST(SendBatchTest, ASocketTakesOneFrameABatchAndDirectWritesWaitForIt) {
  BATCH_OR_SKIP(batch);
  Connection c;
  ASSERT_TRUE(c.server().next_layer().AddText(*batch, Shared("first")));
  EXPECT_FALSE(c.server().next_layer().AddText(*batch, Shared("second")));
  EXPECT_EQ(c.server().next_layer().TryWriteText("second"), Direct::kNot);
  batch->Flush();
  EXPECT_EQ(c.WriteSoon("second"), Direct::kWritten);
  EXPECT_EQ(c.Read(), "first");
  EXPECT_EQ(c.Read(), "second");
}

TEST(SendBatchTest, BeastWaitsForABatchedFrameAndItsRest) {
  BATCH_OR_SKIP(batch);
  Connection c;
  const std::string big = Payload(300000, 7);
  ASSERT_TRUE(c.server().next_layer().AddText(*batch, Shared(big)));
  // Beast's write and ping start before the batch is sent: they must wait for
  // it, and then for the part of it the socket could not take.
  const std::string after = "after the batched one";
  auto [pinged, wrote] = c.PingAndWrite(after);
  batch->Flush();
  EXPECT_EQ(c.Read(), big);
  EXPECT_EQ(c.Read(), after);
  EXPECT_FALSE(pinged.get());
  EXPECT_FALSE(wrote.get());
  EXPECT_EQ(c.pings(), 1);
  EXPECT_EQ(c.WriteSoon("direct again"), Direct::kWritten);
  EXPECT_EQ(c.Read(), "direct again");
}

TEST(SendBatchTest, AFullSocketGetsTheBatchedFrameFromTheStrand) {
  BATCH_OR_SKIP(batch);
  Connection c;
  // Fill the socket with frames too small to be taken in part, until it
  // refuses one whole (EAGAIN): nothing owed, so the gate stays open.
  int filled = 0;
  Direct d;
  while ((d = c.server().next_layer().TryWriteText("f")) == Direct::kWritten && filled < 1000000) ++filled;
  ASSERT_EQ(d, Direct::kNot);
  ASSERT_GT(filled, 0);
  // The batch's send fails at once; the frame must not be lost.
  ASSERT_TRUE(c.server().next_layer().AddText(*batch, Shared("after the fill")));
  batch->Flush();
  for (int i = 0; i < filled; ++i) ASSERT_EQ(c.Read(), "f") << i;
  EXPECT_EQ(c.Read(), "after the fill");
}

TEST(SendBatchTest, ClosingWaitsForTheBatch) {
  BATCH_OR_SKIP(batch);
  Connection c;
  ASSERT_TRUE(c.server().next_layer().AddText(*batch, Shared("the last words")));
  std::atomic<bool> closed{false};
  auto closing = std::async(std::launch::async, [&] {
    c.OnServer([&] {
      beast::error_code ec;
      c.server().next_layer().close(ec);
      closed = true;
      return 0;
    });
  });
  // The descriptor must not be closed (and perhaps reused) under the batch.
  EXPECT_EQ(closing.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  EXPECT_FALSE(closed);
  batch->Flush();
  closing.get();
  EXPECT_TRUE(closed);
  EXPECT_EQ(c.Read(), "the last words");
}

}  // namespace
}  // namespace chat::bridge
