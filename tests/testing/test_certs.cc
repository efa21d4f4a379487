#include "test_certs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace chat::testing {

TestCerts MakeTestCerts() {
  char dir[] = "/tmp/chat-certs-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return {};
  }
  const std::string command = std::string(CHAT_SOURCE_DIR) + "/tests/testing/make-test-certs " + dir;
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "make-test-certs failed: " << command;
    return {};
  }
  return TestCerts{dir};
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace chat::testing
