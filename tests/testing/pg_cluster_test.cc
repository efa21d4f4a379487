// The PostgreSQL harness (pg_cluster.h, scripts/pg) against real PostgreSQL 15.
#include "pg_cluster.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "process.h"

namespace chat::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<PgCluster> OwnCluster() {
  absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Create();
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? std::move(*cluster) : nullptr;
}

std::string Query(const std::string& uri, const std::string& sql) {
  absl::StatusOr<std::string> value = PgQuery(uri, sql);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.value_or("<error>");
}

std::string NewDatabase(PgCluster& pg) {
  absl::StatusOr<std::string> uri = pg.NewDatabase();
  EXPECT_TRUE(uri.ok()) << uri.status();
  return uri.value_or("");
}

// A connection kept open across a stop or a crash.
using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
Connection Connect(const std::string& uri) {
  Connection conn(PQconnectdb(uri.c_str()), &PQfinish);
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  return conn;
}
// Runs sql on conn: "" if it succeeded, else libpq's error.
std::string Exec(PGconn* conn, const std::string& sql) {
  PGresult* result = PQexec(conn, sql.c_str());
  ExecStatusType status = PQresultStatus(result);
  PQclear(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return "";
  std::string error = PQerrorMessage(conn);
  return error.empty() ? "(no message)" : error;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A directory for scripts/pg made here (mkdtemp: a 0700 directory that
// scripts/pg hands to the postgres user when run as root); destroyed at the end.
class ScriptDir {
 public:
  ScriptDir() : path_((std::filesystem::temp_directory_path() / "chat-pg-XXXXXX").string()) {
    if (mkdtemp(path_.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
  }
  ~ScriptDir() {
    RunResult r = RunCommand({SourceDir() + "/scripts/pg", "destroy", path_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PgClusterTest, StartsWithTestSettingsAndAnswersQueries) {
  absl::StatusOr<PgCluster*> shared = SharedPgCluster();
  ASSERT_TRUE(shared.ok()) << shared.status();
  PgCluster& pg = **shared;
  EXPECT_EQ(pg.uri(), absl::StrCat("postgresql://postgres@127.0.0.1:", pg.port(), "/postgres"));
  EXPECT_EQ(Query(pg.uri(), "SELECT 40 + 2"), "42");
  EXPECT_EQ(Query(pg.uri(), "SELECT current_setting('server_version_num')::int / 10000"), "15");
  EXPECT_EQ(Query(pg.uri(), "SHOW fsync"), "on");
  EXPECT_EQ(Query(pg.uri(), "SHOW synchronous_commit"), "on");
  EXPECT_EQ(Query(pg.uri(), "SHOW full_page_writes"), "on");
  EXPECT_EQ(Query(pg.uri(), "SHOW max_connections"), "200");
  EXPECT_EQ(Query(pg.uri(), "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(Query(pg.uri(), "SHOW server_encoding"), "UTF8");
  EXPECT_EQ(Query(pg.uri(), "SHOW data_directory"), pg.dir() + "/data");
  EXPECT_EQ(Query(pg.uri(), "SHOW unix_socket_directories"), pg.dir());
  // The unix socket in dir() works too.
  EXPECT_EQ(Query(absl::StrCat("postgresql://postgres@/postgres?host=", pg.dir(), "&port=", pg.port()),
                  "SELECT inet_server_addr() IS NULL"),
            "t");
  EXPECT_TRUE(std::filesystem::exists(pg.dir() + "/postgresql.log"));
}

TEST(PgClusterTest, NewDatabasesAreEmptyAndIndependent) {
  absl::StatusOr<PgCluster*> shared = SharedPgCluster();
  ASSERT_TRUE(shared.ok()) << shared.status();
  std::string a = NewDatabase(**shared);
  std::string b = NewDatabase(**shared);
  ASSERT_NE(a, b);
  EXPECT_NE(Query(a, "SELECT current_database()"), Query(b, "SELECT current_database()"));
  // Empty: no tables of the user's.
  EXPECT_EQ(Query(b, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");

  Query(a, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('from a')");
  EXPECT_EQ(Query(b, "SELECT to_regclass('notes') IS NULL"), "t");
  Query(b, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('from b')");
  EXPECT_EQ(Query(a, "SELECT string_agg(body, ',') FROM notes"), "from a");
  EXPECT_EQ(Query(b, "SELECT string_agg(body, ',') FROM notes"), "from b");
}

// Tests that stop, restart or crash a cluster: each has its own, with a
// database holding an empty table t (n int).
class PgOwnClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = OwnCluster();
    ASSERT_NE(pg_, nullptr);
    db_ = NewDatabase(*pg_);
    Query(db_, "CREATE TABLE t (n int)");
  }

  // Destroys the cluster, then checks that neither its directory nor its
  // server is left.
  void DestroyAndExpectNothingLeft() {
    std::string dir = pg_->dir();
    std::string uri = pg_->uri();
    pg_.reset();
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
    EXPECT_EQ(PgQuery(uri, "SELECT 1").status().code(), absl::StatusCode::kUnavailable);
  }

  std::unique_ptr<PgCluster> pg_;
  std::string db_;
};

TEST_F(PgOwnClusterTest, RestartKeepsCommittedData) {
  Query(db_, "INSERT INTO t SELECT generate_series(1, 3)");
  Connection before = Connect(db_);
  std::string uri = pg_->uri();

  absl::Status restarted = pg_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ(pg_->uri(), uri);
  EXPECT_EQ(Query(db_, "SELECT sum(n) FROM t"), "6");
  // The restart ended the sessions of the old server.
  EXPECT_NE(Exec(before.get(), "SELECT 1"), "");
}

TEST_F(PgOwnClusterTest, KillThenStartRecoversCommittedData) {
  Query(db_, "INSERT INTO t SELECT generate_series(1, 100)");
  Connection open_txn = Connect(db_);
  ASSERT_EQ(Exec(open_txn.get(), "BEGIN; INSERT INTO t SELECT generate_series(101, 1000)"), "");

  absl::Status killed = pg_->Kill();
  ASSERT_TRUE(killed.ok()) << killed;
  EXPECT_NE(Exec(open_txn.get(), "COMMIT"), "");
  absl::StatusOr<std::string> refused = PgQuery(db_, "SELECT 1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();

  absl::Status started = pg_->Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(Query(db_, "SELECT count(*) FROM t"), "100");
  EXPECT_EQ(Query(db_, "SELECT max(n) FROM t"), "100");
  // It was a crash, not a clean stop: the server recovered from the WAL.
  EXPECT_THAT(ReadFile(pg_->dir() + "/postgresql.log"),
              HasSubstr("database system was not properly shut down; automatic recovery in progress"));
}

TEST_F(PgOwnClusterTest, StoppedClusterRefusesWithAClearErrorUntilStarted) {
  Query(db_, "INSERT INTO t VALUES (7)");
  Connection open = Connect(db_);

  absl::Status stopped = pg_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped;
  stopped = pg_->Stop();
  EXPECT_TRUE(stopped.ok()) << "a second Stop: " << stopped;
  absl::StatusOr<std::string> refused = PgQuery(db_, "SELECT n FROM t");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("port ", pg_->port(), " failed: Connection refused")));
  EXPECT_THAT(Exec(open.get(), "SELECT 1"), HasSubstr("terminat"));

  absl::Status started = pg_->Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(Query(db_, "SELECT n FROM t"), "7");
}

TEST_F(PgOwnClusterTest, TeardownLeavesNoServerAndNoFiles) { DestroyAndExpectNothingLeft(); }

TEST_F(PgOwnClusterTest, TeardownWorksWithoutTheGuard) {
  // Find the guard (`scripts/pg guard-wait DIR`) and kill it.
  std::string wanted = absl::StrCat("guard-wait", std::string(1, '\0'), pg_->dir(), std::string(1, '\0'));
  std::vector<pid_t> guards;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (ReadFile(entry.path().string() + "/cmdline").find(wanted) != std::string::npos) {
      guards.push_back(std::stoi(name));
    }
  }
  ASSERT_EQ(guards.size(), 1u);
  ASSERT_EQ(kill(guards[0], SIGKILL), 0);
  DestroyAndExpectNothingLeft();
}

TEST(PgClusterTest, GuardTearsDownWhenTheTestProcessDies) {
  int info[2];
  ASSERT_EQ(pipe(info), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A test process that makes a cluster and dies without a word.
    close(info[0]);
    absl::StatusOr<std::unique_ptr<PgCluster>> pg = PgCluster::Create();
    std::string said = pg.ok() ? absl::StrCat((*pg)->dir(), "\n", (*pg)->uri())
                               : absl::StrCat("error\n", pg.status().ToString());
    (void)!write(info[1], said.data(), said.size());
    kill(getpid(), SIGKILL);
    _exit(1);
  }
  close(info[1]);
  std::string said;
  char buf[4096];
  ssize_t n;
  while ((n = read(info[0], buf, sizeof buf)) > 0) said.append(buf, static_cast<size_t>(n));
  close(info[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  std::vector<std::string> lines = absl::StrSplit(said, '\n');
  ASSERT_EQ(lines.size(), 2u) << said;
  ASSERT_NE(lines[0], "error") << lines[1];
  const std::string& dir = lines[0];
  const std::string& uri = lines[1];

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::filesystem::exists(dir) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the guard left " << dir;
  EXPECT_EQ(PgQuery(uri, "SELECT 1").status().code(), absl::StatusCode::kUnavailable);
}

// A listening socket on 127.0.0.1:port (0: a free one); closed by the destructor.
class Listener {
 public:
  explicit Listener(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    socklen_t len = sizeof addr;
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on port " << port << ": " << std::strerror(errno);
    }
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  std::string port() const { return std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST(PgScriptTest, RefusesAPortInUse) {
  std::string script = SourceDir() + "/scripts/pg";
  {
    // A new cluster: refused before initdb.
    Listener taken(0);
    ScriptDir dir;
    RunResult r = RunCommand({script, "start", dir.path(), taken.port()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, HasSubstr("port " + taken.port() + " is in use: give another"));
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data"));
  }
  // An old cluster whose port someone took while it was stopped: the server
  // fails to bind, and says so.
  ScriptDir dir;
  RunResult first = RunCommand({script, "start", dir.path()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(RunCommand({script, "stop", dir.path()}).exit_code, 0);
  std::string port = first.out.substr(first.out.rfind(':') + 1);
  port = port.substr(0, port.find('/'));
  Listener taken(std::stoi(port));
  RunResult again = RunCommand({script, "start", dir.path()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.out, "");
  EXPECT_THAT(again.err, HasSubstr("port " + port + " is in use: stop what uses it"));
}

TEST(PgScriptTest, SaysToRunSetupWhenPostgresIsMissing) {
  RunResult r = RunCommand({SourceDir() + "/scripts/pg", "start", "/tmp/chat-pg-never-made"},
                           {{"PG_BIN", "/nonexistent/bin"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/bin/initdb not found: run scripts/setup"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/chat-pg-never-made"));
}

TEST(PgScriptTest, LeavesDirectoriesItDidNotMakeAlone) {
  TempDir dir;
  std::ofstream(dir.File("keep.txt")) << "mine";
  std::string script = SourceDir() + "/scripts/pg";

  RunResult start = RunCommand({script, "start", dir.path()});
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_THAT(start.err, HasSubstr("is not empty and holds no cluster"));
  RunResult destroy = RunCommand({script, "destroy", dir.path()});
  EXPECT_EQ(destroy.exit_code, 1);
  EXPECT_THAT(destroy.err, HasSubstr("was not made by scripts/pg: not deleting it"));
  RunResult stop = RunCommand({script, "stop", dir.path()});
  EXPECT_EQ(stop.exit_code, 1);
  EXPECT_THAT(stop.err, HasSubstr("holds no cluster made by scripts/pg"));
  EXPECT_EQ(ReadFile(dir.File("keep.txt")), "mine");
}

TEST(PgScriptTest, RefusesBadUsageWithExitCode2) {
  std::string script = SourceDir() + "/scripts/pg";
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{script}, {script, "start", "/tmp/chat-pg-never-made", "70000"},
        {script, "frob", "/tmp/chat-pg-never-made"}, {script, "uri", "/tmp/chat-pg-never-made", "5432"}}) {
    RunResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << argv.back() << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("scripts/pg start DIR [PORT]")) << "usage is shown";
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/chat-pg-never-made"));
}

}  // namespace
}  // namespace chat::testing
