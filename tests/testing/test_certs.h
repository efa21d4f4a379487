// TLS material for tests, made at test time by tests/testing/make-test-certs
// (the openssl CLI) in a fresh temporary directory. See that script for what
// each file is.
//
// Threading: the test thread. Lifetime: the files stay until the process ends.
#ifndef CHAT_TESTS_TESTING_TEST_CERTS_H_
#define CHAT_TESTS_TESTING_TEST_CERTS_H_

#include <string>

namespace chat::testing {

struct TestCerts {
  std::string dir;
  std::string File(const std::string& name) const { return dir + "/" + name; }
  std::string ca() const { return File("ca.pem"); }
  std::string server_cert() const { return File("server.pem"); }
  std::string server_key() const { return File("server.key"); }
  std::string client_cert() const { return File("client.pem"); }
  std::string client_key() const { return File("client.key"); }
  std::string expired_cert() const { return File("expired.pem"); }
  std::string expired_key() const { return File("expired.key"); }
  std::string other_ca() const { return File("other-ca.pem"); }
  std::string other_cert() const { return File("other.pem"); }
  std::string other_key() const { return File("other.key"); }
};

// Makes a fresh set (a test failure and an empty dir if openssl fails).
TestCerts MakeTestCerts();

// The whole file.
std::string ReadTextFile(const std::string& path);

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_TEST_CERTS_H_
