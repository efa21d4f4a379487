// Real PostgreSQL 15 for tests: a throwaway cluster in a fresh temp directory,
// made and driven by scripts/pg (docs/testing.md), never a system-wide service.
#ifndef CHAT_TESTS_TESTING_PG_CLUSTER_H_
#define CHAT_TESTS_TESTING_PG_CLUSTER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chat::testing {

// The project's source tree (scripts/ is under it); env CHAT_SOURCE_DIR wins.
std::string SourceDir();

// Threading: uri(), dir(), port() and NewDatabase() from any thread; Stop(),
// Start(), Restart() and Kill() from one thread at a time.
// Lifetime: owned by the test. The destructor stops the server and deletes the
// directory; if the test process dies first, a guard process (scripts/pg guard)
// does the same, so no server outlives its test.
//
// One cluster on 127.0.0.1 and a free port, superuser `postgres` (trust auth),
// fsync and synchronous_commit on, max_connections 200.
class PgCluster {
 public:
  // Makes the cluster, starts it and returns once it answers a query.
  // Error: why PostgreSQL could not be started (scripts/pg's message).
  static absl::StatusOr<std::unique_ptr<PgCluster>> Create();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // postgresql://postgres@127.0.0.1:PORT/postgres: the superuser, on the
  // maintenance database. The same across Stop/Start/Restart/Kill.
  const std::string& uri() const { return uri_; }
  // Holds data/ (the cluster), postgresql.log and the unix socket.
  const std::string& dir() const { return dir_; }
  int port() const { return port_; }

  // CREATE DATABASE with a name no other call returns; the new database's URI.
  absl::StatusOr<std::string> NewDatabase();

  // Fast shutdown: open sessions are ended, committed data is kept. Stopping a
  // stopped cluster is fine.
  absl::Status Stop();
  // Starts it again (same directory, same port); returns once it answers a query.
  absl::Status Start();
  absl::Status Restart();
  // SIGKILL to the postmaster and all its processes at once: a crash. Start()
  // then runs crash recovery.
  absl::Status Kill();

 private:
  PgCluster(std::string dir, int guard_stdin, int guard_output);
  // Runs `scripts/pg <command> <dir>`; its stdout.
  absl::StatusOr<std::string> Script(const std::string& command);

  const std::string dir_;
  std::string uri_;
  int port_ = 0;
  // The write end of the guard's stdin: closing it tears the cluster down.
  const int guard_stdin_;
  // The guard's stdout and stderr: end of file once the teardown is over.
  const int guard_output_;
  std::atomic<int> databases_made_{0};
};

// The cluster shared by the tests of this binary: started on first use (so a
// binary's tests that never call this start nothing), torn down at exit. The
// same error on every call if it could not be started. Tests that stop, kill
// or restart a cluster make their own with PgCluster::Create().
absl::StatusOr<PgCluster*> SharedPgCluster();

// A fresh empty database for a test, and its URI. With CHAT_TEST_PG_DIR set
// (ctest does: one cluster for the whole run, started by the pg.ClusterUp
// fixture), on the cluster running in that directory; otherwise on this
// binary's SharedPgCluster().
absl::StatusOr<std::string> NewTestDatabase();

// Runs one SQL statement on a new connection (10 s connect timeout): the first
// column of the first row, "" if there is none. For tests' own checks.
absl::StatusOr<std::string> PgQuery(const std::string& uri, const std::string& sql);

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_PG_CLUSTER_H_
