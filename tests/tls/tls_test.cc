// TLS on every hop, with certificates made at test time by the openssl CLI
// (tests/testing/make-test-certs): gRPC clients to chat-core, mTLS from the
// bridge to chat-core (the Gateway stream without the secret), HTTPS and WSS
// from a Beast TLS client to the bridge, certificate reload, and the refusals
// (a wrong CA, an expired certificate, plaintext to a TLS port, no client
// certificate where one is required).
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <openssl/crypto.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bridge_fixture.h"
#include "chat/json_codec.h"
#include "core_fixture.h"
#include "test_certs.h"

namespace chat::testing {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

// No OpenSSL cleanup at exit: docs/testing.md, "LeakSanitizer and OpenSSL at exit".
const bool kOpenSslKeepsItsStateAtExit = OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;

const TestCerts& Certs() {
  static const TestCerts* certs = new TestCerts(MakeTestCerts());
  return *certs;
}

core::CoreOptions TlsCoreOptions(const std::string& client_ca = "", bool optional = false) {
  core::CoreOptions o = TestCoreOptions();
  o.tls.cert_file = Certs().server_cert();
  o.tls.key_file = Certs().server_key();
  o.tls.client_ca_file = client_ca;
  o.tls.client_cert_optional = optional;
  return o;
}

std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& ca, const std::string& cert = "",
                                          const std::string& key = "") {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadTextFile(ca);
  if (!cert.empty()) {
    o.pem_cert_chain = ReadTextFile(cert);
    o.pem_private_key = ReadTextFile(key);
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel("localhost:" + std::to_string(port), grpc::SslCredentials(o), args);
}

// WhoAmI without a token: UNAUTHENTICATED means the TLS connection worked.
grpc::Status Probe(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = chat::v1::AuthService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  chat::v1::WhoAmIRequest req;
  chat::v1::WhoAmIResponse resp;
  return stub->WhoAmI(&ctx, req, &resp);
}

ssl::context ClientContext(const std::string& ca) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

// One HTTPS request; status 0 if the TLS handshake or the request failed.
HttpResult HttpsRequest(int port, const std::string& ca, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::map<std::string, std::string>& headers = {}) {
  HttpResult out;
  net::io_context io;
  ssl::context ctx = ClientContext(ca);
  ssl::stream<tcp::socket> stream(io, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
  stream.set_verify_callback(ssl::host_name_verification("localhost"));
  beast::error_code ec;
  stream.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (!ec) stream.handshake(ssl::stream_base::client, ec);
  if (ec) return out;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "localhost:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buffer, res, ec);
  if (ec) return out;
  return ToHttpResult(res);
}

// A WSS client: connects with the session cookie, then reads frames on demand.
class WssClient {
 public:
  WssClient(int port, const std::string& ca, const std::string& cookie, int receive_buffer = 0)
      : ctx_(ClientContext(ca)), ws_(io_, ctx_) {
    auto& tls = ws_.next_layer();
    SSL_set_tlsext_host_name(tls.native_handle(), "localhost");
    tls.set_verify_callback(ssl::host_name_verification("localhost"));
    if (receive_buffer > 0) {
      tls.next_layer().open(tcp::v4());
      tls.next_layer().set_option(net::socket_base::receive_buffer_size(receive_buffer));
    }
    tls.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    tls.handshake(ssl::stream_base::client);
    const std::string origin = "https://localhost:" + std::to_string(port);
    ws_.set_option(websocket::stream_base::decorator([cookie, origin](websocket::request_type& req) {
      req.set(http::field::cookie, "__Host-chat_session=" + cookie);
      req.set(http::field::origin, origin);
    }));
    ws_.handshake("localhost:" + std::to_string(port), "/ws");
    ws_.text(true);
  }
  void Send(const chat::v1::ClientEvent& e) { ws_.write(net::buffer(ToJson(e))); }
  // Reads events until one matches (a frame may carry several, one a line).
  std::optional<chat::v1::ServerEvent> ReadUntil(const std::function<bool(const chat::v1::ServerEvent&)>& pred) {
    for (int frames = 0; frames < 10000; ++frames) {
      beast::flat_buffer buf;
      beast::error_code ec;
      ws_.read(buf, ec);
      if (ec) return std::nullopt;
      std::string text = beast::buffers_to_string(buf.data());
      for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
        chat::v1::ServerEvent e;
        if (FromJson(line, &e).ok() && pred(e)) return e;
      }
    }
    return std::nullopt;
  }

 private:
  net::io_context io_;
  ssl::context ctx_;
  websocket::stream<ssl::stream<tcp::socket>> ws_;
};

std::string LoginBody(const std::string& user) {
  return R"({"username":")" + user + R"(","password":"correct horse"})";
}

TEST(CoreTlsTest, ServesClientsThatTrustItsCa) {
  TestCore core(TlsCoreOptions());
  auto channel = TlsChannel(core.server()->port(), Certs().ca());
  auto auth = chat::v1::AuthService::NewStub(channel);
  EXPECT_FALSE(RegisterAndLogin(auth.get(), "alice").empty());
}

TEST(CoreTlsTest, RefusesClientsOfAnotherCaAndPlaintext) {
  TestCore core(TlsCoreOptions());
  grpc::Status wrong_ca = Probe(TlsChannel(core.server()->port(), Certs().other_ca()));
  EXPECT_EQ(wrong_ca.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(wrong_ca.error_message()), "certificate verify failed"))
      << wrong_ca.error_message();
  grpc::Status plain = Probe(core.NewChannel());  // an insecure channel
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
}

TEST(CoreTlsTest, StartRefusesUnusableCertificatesWithOneLine) {
  struct Case {
    std::string cert, key, want;
  } cases[] = {
      {Certs().expired_cert(), Certs().expired_key(), "is valid only from 2020-01-01"},
      {Certs().server_cert(), Certs().other_key(), "does not belong to the certificate"},
      {Certs().File("missing.pem"), Certs().server_key(), "cannot read"},
      {Certs().server_key(), Certs().server_key(), "holds no PEM certificate"},
      {Certs().server_cert(), "", "give both"},
  };
  for (const auto& c : cases) {
    core::CoreOptions o = TestCoreOptions();
    o.tls.cert_file = c.cert;
    o.tls.key_file = c.key;
    auto server = core::CoreServer::Start(o);
    ASSERT_FALSE(server.ok()) << c.want;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(server.status().message(), c.want)) << server.status();
    EXPECT_TRUE(absl::StrContains(server.status().message(), "--tls_cert")) << server.status();
  }
}

// A renewed certificate is picked up without a restart: gRPC re-reads the
// files every --tls_reload_interval.
TEST(CoreTlsTest, ReadsChangedCertificateFilesWithoutARestart) {
  namespace fs = std::filesystem;
  const std::string dir = Certs().dir + "/core-reload";
  fs::create_directories(dir);
  fs::copy_file(Certs().server_cert(), dir + "/cert.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(Certs().server_key(), dir + "/key.pem", fs::copy_options::overwrite_existing);
  core::CoreOptions o = TestCoreOptions();
  o.tls.cert_file = dir + "/cert.pem";
  o.tls.key_file = dir + "/key.pem";
  o.tls.reload_interval = absl::Seconds(1);
  TestCore core(o);
  const int port = core.server()->port();
  EXPECT_EQ(Probe(TlsChannel(port, Certs().ca())).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Key first, then certificate, each replaced whole (as certbot's symlink swap does).
  fs::copy_file(Certs().other_key(), dir + "/key.pem.new", fs::copy_options::overwrite_existing);
  fs::copy_file(Certs().other_cert(), dir + "/cert.pem.new", fs::copy_options::overwrite_existing);
  fs::rename(dir + "/key.pem.new", dir + "/key.pem");
  fs::rename(dir + "/cert.pem.new", dir + "/cert.pem");
  grpc::StatusCode with_new_ca = grpc::StatusCode::UNAVAILABLE;
  for (int i = 0; i < 50 && with_new_ca != grpc::StatusCode::UNAUTHENTICATED; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    with_new_ca = Probe(TlsChannel(port, Certs().other_ca())).error_code();
  }
  EXPECT_EQ(with_new_ca, grpc::StatusCode::UNAUTHENTICATED) << "the new certificate was not served within 5 s";
  EXPECT_EQ(Probe(TlsChannel(port, Certs().ca())).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(CoreMtlsTest, RequiresAClientCertificateFromItsCa) {
  TestCore core(TlsCoreOptions(Certs().ca()));
  const int port = core.server()->port();
  EXPECT_EQ(Probe(TlsChannel(port, Certs().ca(), Certs().client_cert(), Certs().client_key())).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);  // connected; WhoAmI just wants a token
  EXPECT_EQ(Probe(TlsChannel(port, Certs().ca())).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Probe(TlsChannel(port, Certs().ca(), Certs().other_cert(), Certs().other_key())).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(CoreMtlsTest, OptionalClientCertificateLetsTokenClientsInButNotAsGateway) {
  core::CoreOptions o = TlsCoreOptions(Certs().ca(), /*optional=*/true);
  o.services.gateway_secret = "0123456789abcdef0123";
  TestCore core(o);
  auto channel = TlsChannel(core.server()->port(), Certs().ca());
  auto auth = chat::v1::AuthService::NewStub(channel);
  EXPECT_FALSE(RegisterAndLogin(auth.get(), "bob").empty());
  // No certificate and no secret: the Gateway stream is refused, even from loopback.
  auto gateway = chat::v1::GatewayService::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = gateway->Gateway(&ctx);
  chat::v1::GatewayDown down;
  EXPECT_FALSE(stream->Read(&down));
  grpc::Status st = stream->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
}

// The whole path encrypted: browser -(HTTPS/WSS)-> bridge -(mTLS)-> chat-core,
// the bridge with no gateway secret at all, and a native TLS client in the room.
TEST(BridgeTlsTest, BrowserOverWssReachesCoreOverMtls) {
  core::CoreOptions core_options = TlsCoreOptions(Certs().ca(), /*optional=*/true);
  core_options.services.gateway_secret = "0123456789abcdef0123";  // the bridge does not know it
  BridgeEnv env(
      [](bridge::BridgeOptions& o) {
        o.tls_cert = Certs().server_cert();
        o.tls_key = Certs().server_key();
        o.hsts_max_age = absl::Hours(24 * 365);
        o.core_tls = true;
        o.core_ca = Certs().ca();
        o.core_cert = Certs().client_cert();
        o.core_key = Certs().client_key();
        o.gateway_secret.clear();
        for (auto& node : o.core) node = "localhost:" + node.substr(node.rfind(':') + 1);
      },
      core_options);
  for (int i = 0; i < 100 && !env.bridge().stats().gateway.connected; ++i) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(env.bridge().stats().gateway.connected) << "the gateway did not connect over mTLS";

  HttpResult health = HttpsRequest(env.port(), Certs().ca(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.headers["strict-transport-security"], "max-age=31536000");

  HttpResult reg = HttpsRequest(env.port(), Certs().ca(), "POST", "/api/register", LoginBody("carol"));
  ASSERT_EQ(reg.status, 200) << reg.body;
  std::string cookie = SessionCookie(reg);
  ASSERT_FALSE(cookie.empty());
  ASSERT_EQ(reg.set_cookies.size(), 1u);
  EXPECT_TRUE(absl::StrContains(reg.set_cookies[0], "; Secure")) << reg.set_cookies[0];
  // Over TLS the cookie is __Host- prefixed (Secure, Path=/, no Domain), and a
  // plain chat_session cookie, which a sibling subdomain or a plain-HTTP page
  // of this host could plant, is not read at all.
  EXPECT_EQ(reg.set_cookies[0].rfind("__Host-chat_session=", 0), 0u) << reg.set_cookies[0];
  EXPECT_TRUE(absl::StrContains(reg.set_cookies[0], "; Path=/;")) << reg.set_cookies[0];
  EXPECT_FALSE(absl::StrContains(reg.set_cookies[0], "Domain")) << reg.set_cookies[0];
  EXPECT_EQ(HttpsRequest(env.port(), Certs().ca(), "GET", "/api/me", "", {{"Cookie", "chat_session=" + cookie}}).status,
            401);
  EXPECT_EQ(
      HttpsRequest(env.port(), Certs().ca(), "GET", "/api/me", "", {{"Cookie", "__Host-chat_session=" + cookie}}).status,
      200);

  auto native_channel = TlsChannel(env.core().server()->port(), Certs().ca());
  auto native_auth = chat::v1::AuthService::NewStub(native_channel);
  auto native_chat = chat::v1::ChatService::NewStub(native_channel);
  EventClient native(native_chat.get(), RegisterAndLogin(native_auth.get(), "dave"));
  ASSERT_TRUE(native.Join("lobby"));

  {
    WssClient browser(env.port(), Certs().ca(), cookie);
    chat::v1::ClientEvent join;
    join.mutable_join()->set_room("lobby");
    browser.Send(join);
    ASSERT_TRUE(browser.ReadUntil([](const chat::v1::ServerEvent& e) { return e.has_joined(); }));
    chat::v1::ClientEvent send;
    send.mutable_send()->set_room("lobby");
    send.mutable_send()->set_text("over TLS all the way");
    send.mutable_send()->set_client_msg_id("m1");
    browser.Send(send);
    EXPECT_TRUE(browser.ReadUntil([](const chat::v1::ServerEvent& e) {
      return e.has_message() && e.message().text() == "over TLS all the way";
    }));
  }  // the browser closes its socket: the pipe and its slot go
  EXPECT_TRUE(native.WaitFor([](const chat::v1::ServerEvent& e) {
    return e.has_message() && e.message().text() == "over TLS all the way" && e.message().author() == "carol";
  }));
  for (int i = 0; i < 100 && env.bridge().stats().connections != 0; ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(env.bridge().stats().connections, 0);
  EXPECT_EQ(env.bridge().stats().ws_live, 0);
}

// The bridge's client certificate for chat-core is re-read when its files
// change: a bridge that starts with one chat-core refuses gets in once the
// files hold one it accepts, with no restart.
TEST(BridgeTlsTest, ReadsARenewedClientCertificateWithoutARestart) {
  namespace fs = std::filesystem;
  const std::string dir = Certs().dir + "/bridge-client";
  fs::create_directories(dir);
  fs::copy_file(Certs().other_cert(), dir + "/cert.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(Certs().other_key(), dir + "/key.pem", fs::copy_options::overwrite_existing);
  TestCore core(TlsCoreOptions(Certs().ca()));
  bridge::BridgeOptions o = TestBridgeOptions("localhost:" + std::to_string(core.server()->port()));
  o.core_tls = true;
  o.core_ca = Certs().ca();
  o.core_cert = dir + "/cert.pem";
  o.core_key = dir + "/key.pem";
  o.tls_reload_interval = absl::Seconds(1);
  o.gateway_secret.clear();
  auto started = bridge::Bridge::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  bridge::Bridge& bridge = **started;
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(bridge.stats().gateway.connected) << "chat-core must refuse a certificate of another CA";
  fs::copy_file(Certs().client_key(), dir + "/key.pem.new", fs::copy_options::overwrite_existing);
  fs::copy_file(Certs().client_cert(), dir + "/cert.pem.new", fs::copy_options::overwrite_existing);
  fs::rename(dir + "/key.pem.new", dir + "/key.pem");
  fs::rename(dir + "/cert.pem.new", dir + "/cert.pem");
  for (int i = 0; i < 200 && !bridge.stats().gateway.connected; ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(bridge.stats().gateway.connected) << "the renewed certificate was not used within 10 s";
}

TEST(BridgeTlsTest, RefusesPlaintextAndClientsOfAnotherCa) {
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.tls_cert = Certs().server_cert();
    o.tls_key = Certs().server_key();
  });
  EXPECT_EQ(HttpRequest(env.port(), "GET", "/healthz").status, 0);  // plain HTTP to the TLS port
  EXPECT_EQ(HttpsRequest(env.port(), Certs().other_ca(), "GET", "/healthz").status, 0);
  EXPECT_EQ(HttpsRequest(env.port(), Certs().ca(), "GET", "/healthz").status, 200);
  // A plain-HTTP bridge never sets HSTS and only marks cookies Secure on request.
  BridgeEnv plain([](bridge::BridgeOptions& o) { o.hsts_max_age = absl::Hours(1); });
  HttpResult r = HttpRequest(plain.port(), "POST", "/api/register", LoginBody("erin"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.count("strict-transport-security"), 0u);
  EXPECT_FALSE(absl::StrContains(r.set_cookies.at(0), "Secure"));
  EXPECT_EQ(r.set_cookies.at(0).rfind("chat_session=", 0), 0u) << r.set_cookies.at(0);
}

// A connection that never finishes its handshake (slowloris) or sends garbage
// is closed within the handshake timeout, and gives its connection slot back.
TEST(BridgeTlsTest, SilentAndGarbageConnectionsAreClosed) {
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.tls_cert = Certs().server_cert();
    o.tls_key = Certs().server_key();
    o.handshake_timeout = absl::Milliseconds(300);
  });
  net::io_context io;
  tcp::socket silent(io), garbage(io);
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), env.port());
  silent.connect(ep);
  garbage.connect(ep);
  net::write(garbage, net::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  const absl::Time start = absl::Now();
  for (tcp::socket* s : {&silent, &garbage}) {
    char buf[256];
    beast::error_code ec;
    size_t n = 0;
    while (!ec) n += s->read_some(net::buffer(buf), ec);  // until the bridge closes it
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
    EXPECT_LT(n, sizeof buf) << "no HTTP answer on a TLS port";
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  for (int i = 0; i < 100 && env.bridge().stats().connections != 0; ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(env.bridge().stats().connections, 0);
}

// A browser that stops reading: its session is closed at the queue limit, and
// the TLS connection under it goes too, though it can never write the rest
// (the pipe's stall timeout); a reading bystander gets every message.
TEST(BridgeTlsTest, ABrowserThatStopsReadingIsClosedAndTheOthersGoOn) {
  BridgeEnv env([](bridge::BridgeOptions& o) {
    o.tls_cert = Certs().server_cert();
    o.tls_key = Certs().server_key();
    // Short enough to keep the test short, long enough that a reader on a
    // loaded machine is neither pinged out nor over its queue.
    o.idle_timeout = absl::Seconds(1);
    o.max_queued_bytes = 1 << 20;
    o.socket_send_buffer = 8 * 1024;
  });
  HttpResult a = HttpsRequest(env.port(), Certs().ca(), "POST", "/api/register", LoginBody("stuck"));
  HttpResult b = HttpsRequest(env.port(), Certs().ca(), "POST", "/api/register", LoginBody("reader"));
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  chat::v1::ClientEvent join;
  join.mutable_join()->set_room("lobby");
  auto joined = [](const chat::v1::ServerEvent& e) { return e.has_joined(); };
  WssClient stuck(env.port(), Certs().ca(), SessionCookie(a), /*receive_buffer=*/4096);
  stuck.Send(join);
  ASSERT_TRUE(stuck.ReadUntil(joined));
  WssClient reader(env.port(), Certs().ca(), SessionCookie(b));
  reader.Send(join);
  ASSERT_TRUE(reader.ReadUntil(joined));

  auto chat = env.core().Chat();
  const std::string token = env.core().Token("sender");
  const std::string text(4000, 'x');
  std::thread sender([&] {
    for (int i = 0; i < 300; ++i) {
      chat::v1::SendMessageRequest req;
      req.set_room("lobby");
      req.set_text(i == 299 ? "last" : text);
      chat::v1::SendMessageResponse resp;
      auto ctx = AuthedContext(token);
      EXPECT_TRUE(chat->SendMessage(ctx.get(), req, &resp).ok());
    }
  });
  EXPECT_TRUE(reader.ReadUntil([](const chat::v1::ServerEvent& e) {
    return e.has_message() && e.message().text() == "last";
  }));
  sender.join();
  // The reader goes on reading (and answering the bridge's pings).
  std::thread keep_reading([&] { reader.ReadUntil([](const chat::v1::ServerEvent&) { return false; }); });
  // The stuck session and then its TLS connection are gone; only the reader's is left.
  for (int i = 0; i < 500 && env.bridge().stats().connections > 1; ++i) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(env.bridge().stats().connections, 1);
  EXPECT_EQ(env.bridge().stats().ws_live, 1);
  env.StopBridge();  // ends the reader's read
  keep_reading.join();
}

TEST(BridgeTlsTest, StartRefusesAnExpiredCertificate) {
  bridge::BridgeOptions o = TestBridgeOptions("127.0.0.1:1");
  o.tls_cert = Certs().expired_cert();
  o.tls_key = Certs().expired_key();
  auto b = bridge::Bridge::Start(o);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::StrContains(b.status().message(), "valid only from")) << b.status();
  o = TestBridgeOptions("127.0.0.1:1");
  o.core_tls = true;
  o.core_cert = Certs().expired_cert();
  o.core_key = Certs().expired_key();
  b = bridge::Bridge::Start(o);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::StrContains(b.status().message(), "--core_cert")) << b.status();
}

TEST(BridgeTlsTest, ReloadServesTheNewCertificateAndKeepsTheOldOnError) {
  const std::string dir = Certs().dir + "/reload";
  std::filesystem::create_directories(dir);
  namespace fs = std::filesystem;
  fs::copy_file(Certs().server_cert(), dir + "/cert.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(Certs().server_key(), dir + "/key.pem", fs::copy_options::overwrite_existing);
  BridgeEnv env([&](bridge::BridgeOptions& o) {
    o.tls_cert = dir + "/cert.pem";
    o.tls_key = dir + "/key.pem";
  });
  EXPECT_EQ(HttpsRequest(env.port(), Certs().ca(), "GET", "/healthz").status, 200);
  // A half-written renewal (a certificate without its key): refused, old one stays.
  fs::copy_file(Certs().other_cert(), dir + "/cert.pem", fs::copy_options::overwrite_existing);
  EXPECT_FALSE(env.bridge().ReloadTls().ok());
  EXPECT_EQ(HttpsRequest(env.port(), Certs().ca(), "GET", "/healthz").status, 200);
  fs::copy_file(Certs().other_key(), dir + "/key.pem", fs::copy_options::overwrite_existing);
  ASSERT_TRUE(env.bridge().ReloadTls().ok());
  EXPECT_EQ(HttpsRequest(env.port(), Certs().other_ca(), "GET", "/healthz").status, 200);
  EXPECT_EQ(HttpsRequest(env.port(), Certs().ca(), "GET", "/healthz").status, 0);
}

}  // namespace
}  // namespace chat::testing
