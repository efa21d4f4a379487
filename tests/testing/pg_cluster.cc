#include "pg_cluster.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "process.h"

extern char** environ;

namespace chat::testing {

#ifndef CHAT_SOURCE_DIR
#error "CHAT_SOURCE_DIR must be defined by CMake"
#endif

namespace {

using Clock = std::chrono::steady_clock;

// initdb plus a start is about a second; a loaded CI machine gets much longer.
constexpr auto kScriptTimeout = std::chrono::seconds(150);
// scripts/pg guard returns at once; its teardown is an immediate shutdown.
constexpr auto kGuardTimeout = std::chrono::seconds(30);
constexpr auto kTeardownTimeout = std::chrono::seconds(90);

std::string ScriptPath() { return SourceDir() + "/scripts/pg"; }

std::string ErrnoText(const char* what) { return absl::StrCat(what, ": ", std::strerror(errno)); }

// Reads fd until end of file or the deadline; false on the deadline.
bool ReadToEnd(int fd, Clock::time_point deadline, std::string* out) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

// Waits for a child to exit; its exit code (128 + signal), nullopt on the deadline.
std::optional<int> WaitExit(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Starts `scripts/pg guard dir` with its stdin and output on pipes: the write
// end of stdin in *guard_stdin, the read end of stdout and stderr in *guard_output.
absl::Status StartGuard(const std::string& dir, int* guard_stdin, int* guard_output) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return absl::InternalError(ErrnoText("pipe2"));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return absl::InternalError(ErrnoText("pipe2"));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  // It outlives this process when this process dies: it must hold nothing else.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::string script = ScriptPath();
  std::vector<char*> argv = {script.data(), const_cast<char*>("guard"),
                             const_cast<char*>(dir.c_str()), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  auto fail = [&](std::string why) {
    close(in[1]);
    close(out[0]);
    return absl::InternalError(std::move(why));
  };
  if (rc != 0) return fail(absl::StrCat("cannot run ", script, ": ", std::strerror(rc)));
  auto deadline = Clock::now() + kGuardTimeout;
  std::optional<int> code = WaitExit(pid, deadline);
  if (!code) {
    kill(pid, SIGKILL);
    WaitExit(pid, Clock::now() + std::chrono::seconds(5));
    return fail(absl::StrCat(script, " guard did not return within ", kGuardTimeout.count(), " s"));
  }
  if (*code != 0) {
    std::string output;
    ReadToEnd(out[0], Clock::now() + std::chrono::seconds(5), &output);
    return fail(absl::StrCat(script, " guard ", dir, " failed (exit ", *code, "): ",
                             absl::StripAsciiWhitespace(output)));
  }
  *guard_stdin = in[1];
  *guard_output = out[0];
  return absl::OkStatus();
}

struct PqConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PqResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

std::string SourceDir() {
  if (const char* env = std::getenv("CHAT_SOURCE_DIR")) return env;
  return CHAT_SOURCE_DIR;
}

absl::StatusOr<std::string> PgQuery(const std::string& uri, const std::string& sql) {
  const char* keys[] = {"dbname", "connect_timeout", nullptr};
  const char* values[] = {uri.c_str(), "10", nullptr};
  std::unique_ptr<PGconn, PqConnDeleter> conn(PQconnectdbParams(keys, values, /*expand_dbname=*/1));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", uri, ": ",
                                               absl::StripAsciiWhitespace(PQerrorMessage(conn.get()))));
  }
  std::unique_ptr<PGresult, PqResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return absl::InternalError(absl::StrCat("\"", sql, "\" failed on ", uri, ": ",
                                            absl::StripAsciiWhitespace(PQerrorMessage(conn.get()))));
  }
  if (PQntuples(result.get()) == 0 || PQnfields(result.get()) == 0) return std::string();
  return std::string(PQgetvalue(result.get(), 0, 0));
}

PgCluster::PgCluster(std::string dir, int guard_stdin, int guard_output)
    : dir_(std::move(dir)), guard_stdin_(guard_stdin), guard_output_(guard_output) {}

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Create() {
  std::string templ = (std::filesystem::temp_directory_path() / "chat-pg-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) return absl::InternalError(ErrnoText("mkdtemp"));
  int guard_stdin = -1, guard_output = -1;
  if (absl::Status s = StartGuard(templ, &guard_stdin, &guard_output); !s.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(templ, ec);
    return s;
  }
  // From here on the destructor (through the guard) removes the directory.
  std::unique_ptr<PgCluster> cluster(new PgCluster(templ, guard_stdin, guard_output));
  if (absl::Status s = cluster->Start(); !s.ok()) return s;
  return cluster;
}

PgCluster::~PgCluster() {
  // The guard sees end of file, shuts the server down and deletes dir_; its
  // output ends when it is done.
  close(guard_stdin_);
  std::string output;
  bool done = ReadToEnd(guard_output_, Clock::now() + kTeardownTimeout, &output);
  close(guard_output_);
  output = std::string(absl::StripAsciiWhitespace(output));
  if (!done) {
    std::fprintf(stderr, "PgCluster: the teardown of %s did not end within %lld s\n", dir_.c_str(),
                 static_cast<long long>(kTeardownTimeout.count()));
  }
  if (!output.empty()) std::fprintf(stderr, "PgCluster: teardown of %s: %s\n", dir_.c_str(), output.c_str());
  if (done && std::filesystem::exists(dir_)) {
    // The guard is gone (someone killed it): tear down from here.
    RunResult r = RunCommand({ScriptPath(), "destroy", dir_}, {}, std::nullopt, kScriptTimeout);
    std::fprintf(stderr, "PgCluster: the guard left %s; scripts/pg destroy: exit %d %s\n", dir_.c_str(),
                 r.exit_code, r.err.c_str());
  }
}

absl::StatusOr<std::string> PgCluster::Script(const std::string& command) {
  RunResult r = RunCommand({ScriptPath(), command, dir_}, {}, std::nullopt, kScriptTimeout);
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("scripts/pg ", command, " ", dir_, " failed (exit ", r.exit_code,
                                            "): ", absl::StripAsciiWhitespace(r.err)));
  }
  return std::string(absl::StripAsciiWhitespace(r.out));
}

absl::Status PgCluster::Start() {
  absl::StatusOr<std::string> uri = Script("start");
  if (!uri.ok()) return uri.status();
  if (uri_.empty()) {
    constexpr std::string_view kPrefix = "postgresql://postgres@127.0.0.1:";
    int port = 0;
    if (uri->rfind(kPrefix, 0) == 0) port = std::atoi(uri->c_str() + kPrefix.size());
    if (port <= 0) return absl::InternalError(absl::StrCat("scripts/pg start printed no URI: ", *uri));
    uri_ = *uri;
    port_ = port;
  } else if (*uri != uri_) {
    return absl::InternalError(absl::StrCat("the cluster came back as ", *uri, ", not ", uri_));
  }
  absl::StatusOr<std::string> one = PgQuery(uri_, "SELECT 1");
  if (!one.ok()) return one.status();
  if (*one != "1") return absl::InternalError(absl::StrCat("SELECT 1 returned \"", *one, "\""));
  return absl::OkStatus();
}

absl::StatusOr<std::string> PgCluster::NewDatabase() {
  std::string name = absl::StrCat("test_", getpid(), "_", ++databases_made_);
  absl::StatusOr<std::string> made = PgQuery(uri_, absl::StrCat("CREATE DATABASE ", name));
  if (!made.ok()) return made.status();
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", name);
}

absl::Status PgCluster::Stop() { return Script("stop").status(); }

absl::Status PgCluster::Restart() {
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Start();
}

absl::Status PgCluster::Kill() { return Script("kill").status(); }

absl::StatusOr<std::string> NewTestDatabase() {
  const char* dir = std::getenv("CHAT_TEST_PG_DIR");
  if (dir == nullptr || *dir == '\0') {
    auto cluster = SharedPgCluster();
    if (!cluster.ok()) return cluster.status();
    return (*cluster)->NewDatabase();
  }
  // The run's cluster: its URI from scripts/pg, a database of our own on it.
  auto uri = RunCommand({SourceDir() + "/scripts/pg", "uri", dir});
  if (uri.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat("no PostgreSQL running in ", dir, " (CHAT_TEST_PG_DIR): ", uri.err));
  }
  std::string admin(absl::StripAsciiWhitespace(uri.out));
  static std::atomic<int> made{0};
  std::string name = absl::StrCat("test_", getpid(), "_", ++made);
  absl::StatusOr<std::string> created = PgQuery(admin, absl::StrCat("CREATE DATABASE ", name));
  if (!created.ok()) return created.status();
  return absl::StrCat(admin.substr(0, admin.rfind('/') + 1), name);
}

absl::StatusOr<PgCluster*> SharedPgCluster() {
  // Destroyed at exit, which tears the cluster down.
  static absl::StatusOr<std::unique_ptr<PgCluster>> cluster = PgCluster::Create();
  if (!cluster.ok()) return cluster.status();
  return cluster->get();
}

}  // namespace chat::testing
