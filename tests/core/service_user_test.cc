// The real chat-core and ws-bridge binaries as a service runs them: neither
// runs as root without --allow_root, both run as an unprivileged user without
// it, chat-core makes its database (and the folders above it, and the -wal and
// -shm files) owner-only whatever the umask, and a gateway secret file that
// other users may read is named in a warning. CI runs as root, so the refusal
// is tested there; as root the unprivileged runs use `nobody` (setpriv).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr uid_t kNobody = 65534;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

uid_t OwnerOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_uid;
}

// A copy of a built binary in `dir` (which `nobody` can reach: the build
// directory may sit under a home that it cannot).
std::string CopyBinary(const TempDir& dir, const std::string& bin) {
  std::string copy = dir.File(bin);
  std::filesystem::copy_file(BinaryPath(bin), copy, std::filesystem::copy_options::overwrite_existing);
  chmod(copy.c_str(), 0755);
  return copy;
}

// argv run as an unprivileged user under the umask 000: as `nobody` when the
// test runs as root, else as the test's own user.
std::vector<std::string> Unprivileged(std::vector<std::string> argv) {
  std::vector<std::string> out;
  if (geteuid() == 0) {
    out = {"/usr/bin/setpriv", "--reuid=" + std::to_string(kNobody), "--regid=" + std::to_string(kNobody),
           "--clear-groups", "--"};
  }
  for (const char* a : {"/bin/sh", "-c", "umask 000 && exec \"$0\" \"$@\""}) out.emplace_back(a);
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

class ServiceUserTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ServiceUserTest, RootIsRefusedWithoutAllowRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
  TempDir dir;
  ChildProcess::Options o;
  o.argv = {BinaryPath(GetParam()), "--listen=127.0.0.1:0"};
  if (std::string(GetParam()) == "chat-core") o.argv.push_back("--db=" + dir.File("chat.db"));
  o.allow_root = false;
  o.capture_stderr = true;
  auto child = ChildProcess::Start(o);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->Wait(20s), 2);
  EXPECT_EQ(child->stderr_text(),
            std::string(GetParam()) +
                ": refusing to run as root: run as an unprivileged user (the Debian package's 'chat'), or pass "
                "--allow_root\n");
  EXPECT_EQ(child->stdout_text(), "");
  EXPECT_FALSE(std::filesystem::exists(dir.File("chat.db"))) << "refused before touching anything";
}

TEST_P(ServiceUserTest, RootStartsWithAllowRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
  TempDir dir;
  ChildProcess::Options o;
  o.argv = {BinaryPath(GetParam()), "--listen=127.0.0.1:0", "--allow_root"};
  if (std::string(GetParam()) == "chat-core") o.argv.push_back("--db=" + dir.File("chat.db"));
  o.allow_root = false;  // given above, by hand
  auto child = ChildProcess::Start(o);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(child->WaitForLine(std::string(GetParam()) + " listening on ", 20s).has_value());
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(20s), 0);
}

TEST_P(ServiceUserTest, AnUnprivilegedUserNeedsNoFlag) {
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  std::string bin = CopyBinary(dir, GetParam());
  std::vector<std::string> argv = {bin, "--listen=127.0.0.1:0"};
  if (std::string(GetParam()) == "chat-core") argv.push_back("--db=:memory:");
  ChildProcess::Options o;
  o.argv = Unprivileged(argv);
  o.capture_stderr = true;
  auto child = ChildProcess::Start(o);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(child->WaitForLine(std::string(GetParam()) + " listening on ", 20s).has_value());
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(20s), 0) << child->stderr_text();
  EXPECT_THAT(child->stderr_text(), Not(HasSubstr("refusing")));
}

INSTANTIATE_TEST_SUITE_P(Binaries, ServiceUserTest, ::testing::Values("chat-core", "ws-bridge"),
                         [](const auto& info) { return std::string(info.param) == "chat-core" ? "Core" : "Bridge"; });

// chat-core makes a missing database owner-only, with the folders above it,
// under the umask 000, as the user that runs it.
TEST(ServiceFilesTest, TheDatabaseAndItsFoldersAreOwnerOnly) {
  TempDir dir;
  chmod(dir.path().c_str(), 0755);
  std::string bin = CopyBinary(dir, "chat-core");
  std::string state = dir.File("state");
  std::filesystem::create_directory(state);
  chmod(state.c_str(), 0777);
  std::string db = state + "/a/b/chat.db";
  ChildProcess::Options o;
  o.argv = Unprivileged({bin, "--listen=127.0.0.1:0", "--db=" + db, "--pwhash_memlimit_kib=64",
                         "--pwhash_opslimit=1"});
  o.capture_stderr = true;
  auto child = ChildProcess::Start(o);
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("chat-core listening on ", 20s).has_value()) << child->stderr_text();
  // The schema migration wrote through the WAL: all three files exist now.
  for (const std::string& path : {state + "/a", state + "/a/b"}) {
    EXPECT_EQ(ModeOf(path), 0700u) << path;
  }
  for (const std::string& path : {db, db + "-wal", db + "-shm"}) {
    EXPECT_EQ(ModeOf(path), 0600u) << path;
  }
  uid_t expected_owner = geteuid() == 0 ? kNobody : geteuid();
  EXPECT_EQ(OwnerOf(db), expected_owner);
  child->Signal(SIGTERM);
  EXPECT_EQ(child->Wait(20s), 0) << child->stderr_text();
}

// An existing database keeps its mode: chat-core does not change files it
// did not make.
TEST(ServiceFilesTest, AnExistingDatabaseKeepsItsMode) {
  TempDir dir;
  std::string db = dir.File("chat.db");
  std::ofstream(db).close();
  chmod(db.c_str(), 0640);
  auto core = CoreProcess::Start(db);
  ASSERT_NE(core, nullptr);
  EXPECT_EQ(ModeOf(db), 0640u);
  EXPECT_EQ(core->Stop(), 0);
}

// A gateway secret every user may read is refused (whoever holds it speaks for
// every browser); one its group may read works, with a warning naming it.
TEST(ServiceFilesTest, AGatewaySecretEveryoneMayReadIsRefused) {
  TempDir dir;
  std::string secret = dir.File("gateway-secret");
  std::ofstream(secret) << "0123456789abcdef0123456789abcdef\n";
  for (const char* binary : {"ws-bridge", "chat-core"}) {
    chmod(secret.c_str(), 0644);
    std::string where = std::string(binary) == "chat-core" ? "--db=" + dir.File("chat.db") : "--core=127.0.0.1:1";
    RunResult r = RunCommand({BinaryPath(binary), "--listen=127.0.0.1:0", where, "--gateway_secret_file=" + secret},
                             {}, std::nullopt, 20s);
    EXPECT_NE(r.exit_code, 0) << binary;
    EXPECT_THAT(r.err, HasSubstr("gateway secret file " + secret +
                                 " may be read by every user (mode 0644); chmod 600 it"))
        << binary;
  }
  for (mode_t mode : {0640u, 0600u}) {
    chmod(secret.c_str(), mode);
    ChildProcess::Options o;
    o.argv = {BinaryPath("ws-bridge"), "--listen=127.0.0.1:0", "--core=127.0.0.1:1",
              "--gateway_secret_file=" + secret};
    o.capture_stderr = true;
    auto child = ChildProcess::Start(o);
    ASSERT_NE(child, nullptr);
    ASSERT_TRUE(child->WaitForLine("ws-bridge listening on ", 20s).has_value()) << child->stderr_text();
    child->Signal(SIGTERM);
    EXPECT_EQ(child->Wait(20s), 0);
    std::string warning = "gateway secret file " + secret + " may be read by its group (mode 0640); chmod 600 it";
    if (mode == 0640u) {
      EXPECT_THAT(child->stderr_text(), HasSubstr(warning));
    } else {
      EXPECT_THAT(child->stderr_text(), Not(HasSubstr("may be read by")));
    }
  }
}

}  // namespace
}  // namespace chat::testing
