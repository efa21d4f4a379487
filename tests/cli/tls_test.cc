// The `chat` binary over TLS against the real chat-core binary, with
// certificates made at test time (tests/testing/make-test-certs): the whole
// flow with --ca (the tls:// address is remembered with the login), and every
// certificate problem as one line and exit code 7 (docs/cli.md).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cli_test_util.h"
#include "gmock/gmock.h"
#include "test_certs.h"

namespace chat::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const chat::testing::TestCerts& Certs() {
  static const auto* certs = new chat::testing::TestCerts(chat::testing::MakeTestCerts());
  return *certs;
}

std::unique_ptr<CoreProcess> StartTlsCore(const TempDir& data, std::vector<std::string> extra = {}) {
  extra.push_back("--tls_cert=" + Certs().server_cert());
  extra.push_back("--tls_key=" + Certs().server_key());
  return CoreProcess::Start(data.File("chat.db"), extra);
}

RunResult ChatAs(const User& user, std::vector<std::string> args, std::map<std::string, std::string> extra_env = {}) {
  auto env = CliEnv(user);
  for (auto& [k, v] : extra_env) env[k] = v;
  env["CHAT_PASSWORD"] = kPassword;
  return RunChat(args, env);
}

TEST(CliTlsTest, WholeFlowOverTlsAndTheAddressIsRemembered) {
  TempDir data;
  auto core = StartTlsCore(data);
  ASSERT_NE(core, nullptr);
  User alice("alice");
  const std::vector<std::string> tls = {"--server", core->address(), "--ca", Certs().ca()};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> all = tls;
    all.insert(all.end(), args.begin(), args.end());
    return ChatAs(alice, all);
  };
  RunResult reg = with({"register", "alice"});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_THAT(reg.out, HasSubstr("tls://" + core->address()));
  EXPECT_EQ(reg.err, "") << "no plaintext warning over TLS";
  ASSERT_EQ(with({"login", "alice"}).exit_code, 0);
  ASSERT_EQ(with({"create", "ops"}).exit_code, 0);
  RunResult sent = with({"send", "ops", "encrypted hello"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  // Later commands use the remembered tls:// address; CHAT_CA gives the CA.
  RunResult history = ChatAs(alice, {"history", "ops"}, {{"CHAT_CA", Certs().ca()}});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_THAT(history.out, HasSubstr("encrypted hello"));
  // The token saved from the TLS login is never sent to the plaintext address.
  RunResult plain = ChatAs(alice, {"--server", core->address(), "whoami"});
  EXPECT_EQ(plain.exit_code, 3) << plain.err;
  EXPECT_THAT(plain.err, HasSubstr("not logged in"));
  core->Stop();
}

TEST(CliTlsTest, CertificateProblemsAreOneLineAndExitSeven) {
  TempDir data;
  auto core = StartTlsCore(data);
  ASSERT_NE(core, nullptr);
  User bob("bob");
  // A CA that did not sign the server's certificate.
  RunResult wrong_ca = ChatAs(bob, {"--server", core->address(), "--ca", Certs().other_ca(), "register", "bob"});
  EXPECT_EQ(wrong_ca.exit_code, 7);
  ExpectOneLineError(wrong_ca);
  EXPECT_THAT(wrong_ca.err, HasSubstr("certificate is not trusted"));
  // The system's trust store does not know the test CA either.
  RunResult system = ChatAs(bob, {"--server", core->address(), "--tls", "register", "bob"});
  EXPECT_EQ(system.exit_code, 7);
  ExpectOneLineError(system);
  // Plaintext to the TLS port: unreachable, with a hint.
  RunResult plain = ChatAs(bob, {"--server", core->address(), "register", "bob"});
  EXPECT_EQ(plain.exit_code, 5);
  ExpectOneLineError(plain);
  EXPECT_THAT(plain.err, HasSubstr("try --tls"));
  // A file that is not a CA bundle: a usage error before anything is sent.
  RunResult bad_file = ChatAs(bob, {"--server", core->address(), "--ca", Certs().server_key(), "register", "bob"});
  EXPECT_EQ(bad_file.exit_code, 2);
  ExpectOneLineError(bad_file);
  EXPECT_THAT(bad_file.err, HasSubstr("--ca"));
  core->Stop();

  // TLS to a plaintext port.
  TempDir plain_data;
  auto plain_core = CoreProcess::Start(plain_data.File("chat.db"));
  ASSERT_NE(plain_core, nullptr);
  RunResult to_plain = ChatAs(bob, {"--server", plain_core->address(), "--ca", Certs().ca(), "register", "bob"});
  EXPECT_EQ(to_plain.exit_code, 7);
  ExpectOneLineError(to_plain);
  EXPECT_THAT(to_plain.err, HasSubstr("does not speak TLS"));
  plain_core->Stop();
}

TEST(CliTlsTest, AnExpiredServerCertificateIsRefused) {
  // chat-core refuses to start with an expired certificate, so an independent
  // TLS server (openssl s_server) presents one.
  const int port = chat::testing::PortForLater();
  ChildProcess::Options o;
  o.argv = {"/usr/bin/openssl", "s_server", "-www", "-accept", absl::StrCat("127.0.0.1:", port),
            "-cert",   Certs().expired_cert(), "-key", Certs().expired_key()};
  o.capture_stderr = true;
  auto server = ChildProcess::Start(o);
  ASSERT_NE(server, nullptr);
  usleep(300 * 1000);
  User carol("carol");
  RunResult r = ChatAs(carol, {"--server", absl::StrCat("localhost:", port), "--ca", Certs().ca(), "register", "carol"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  ExpectOneLineError(r);
  EXPECT_THAT(r.err, HasSubstr("certificate is not trusted"));
}

TEST(CliTlsTest, MutualTlsNeedsTheClientCertificate) {
  TempDir data;
  auto core = StartTlsCore(data, {"--tls_client_ca=" + Certs().ca()});
  ASSERT_NE(core, nullptr);
  User dave("dave");
  RunResult without = ChatAs(dave, {"--server", core->address(), "--ca", Certs().ca(), "register", "dave"});
  EXPECT_EQ(without.exit_code, 7);
  ExpectOneLineError(without);
  EXPECT_THAT(without.err, HasSubstr("client certificate"));
  RunResult with = ChatAs(dave, {"--server", core->address(), "--ca", Certs().ca(), "--cert", Certs().client_cert(),
                              "--key", Certs().client_key(), "register", "dave"});
  EXPECT_EQ(with.exit_code, 0) << with.err;
  core->Stop();
}

TEST(CliTlsTest, WarnsBeforeAPasswordTravelsInPlaintextToAnotherHost) {
  TempDir data;
  auto core = CoreProcess::Start(data.File("chat.db"), {"--listen=0.0.0.0:0"});
  ASSERT_NE(core, nullptr);
  const std::string port = core->address().substr(core->address().rfind(':') + 1);
  User erin("erin");
  // 0.0.0.0 reaches this machine, but it is not a loopback name: the CLI
  // cannot know the packets stay here.
  RunResult remote = ChatAs(erin, {"--server", "0.0.0.0:" + port, "register", "erin"});
  EXPECT_EQ(remote.exit_code, 0) << remote.err;
  EXPECT_THAT(remote.err, HasSubstr("the password travels unencrypted"));
  RunResult local = ChatAs(erin, {"--server", "127.0.0.1:" + port, "login", "erin"});
  EXPECT_EQ(local.exit_code, 0) << local.err;
  EXPECT_THAT(local.err, Not(HasSubstr("unencrypted")));
  core->Stop();
}

}  // namespace
}  // namespace chat::cli::testing
