// PgConn: one libpq connection to PostgreSQL, with the few things chat-core
// needs: parameterised queries, a pipeline of queries sent in one round trip
// (group commit), LISTEN notifications, and a deadline on every wait, so a
// server that vanishes (a partition, a crash) is noticed instead of hanging a
// thread. Errors come back as absl::Status with PostgreSQL's message and
// SQLSTATE; a broken connection is UNAVAILABLE.
//
// Threading: not thread-safe; a connection is confined to the thread that uses
// it. Lifetime: owned by its thread; the destructor closes the connection.
#ifndef CHAT_CORE_SRC_PG_CONN_H_
#define CHAT_CORE_SRC_PG_CONN_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chat::core {

// One query result. Move-only; frees the PGresult.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result) {}
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }
  int columns() const { return result_ == nullptr ? 0 : PQnfields(result_); }
  bool IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }
  absl::string_view Text(int row, int col) const;
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const { return Text(row, col) == "t"; }
  // PostgreSQL's SQLSTATE ("23505", ...), empty if none.
  std::string sqlstate() const;
  // Rows affected by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  friend class PgConn;
  PGresult* result_ = nullptr;
};

// A query and its parameters (text format; nullopt is SQL NULL).
struct PgQuery {
  std::string sql;
  std::vector<std::optional<std::string>> params;
};

struct PgNotification {
  std::string channel;
  std::string payload;
};

// Where a component's connections go and how long they wait.
struct PgConnectOptions {
  // A libpq connection URI (postgresql://user@host:port/dbname?...).
  std::string uri;
  absl::Duration connect_timeout = absl::Seconds(5);
  // The longest a query may take before its connection is given up as dead.
  absl::Duration query_timeout = absl::Seconds(30);
  // Reconnect backoff: doubles from min to max while the server is away.
  absl::Duration reconnect_min = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(2);
};

class PgConn {
 public:
  // Connects within `timeout`. UNAVAILABLE with libpq's reason if the server
  // cannot be reached; INVALID_ARGUMENT for a malformed URI.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& uri, absl::Duration timeout);
  // The same with `options`, and its queries' deadline set.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const PgConnectOptions& options);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // The connection is still usable (no error broke it).
  bool healthy() const;
  // Waits for a query's results at most this long (then the connection is
  // given up: it may be a dead server).
  void set_deadline(absl::Duration deadline) { deadline_ = deadline; }

  // One statement, or several separated by ';' without parameters.
  absl::StatusOr<PgResult> Exec(const std::string& sql);
  absl::StatusOr<PgResult> Query(const PgQuery& query);
  // Sends every query in one round trip (libpq's pipeline mode) and returns
  // one status-or-result per query, in order. A query after a failed one is
  // not run (ABORTED); a broken connection fails all that did not answer with
  // UNAVAILABLE.
  std::vector<absl::StatusOr<PgResult>> Pipeline(const std::vector<PgQuery>& queries);

  // LISTEN support: the socket to poll, reading what arrived, and the
  // notifications read so far.
  int socket() const { return PQsocket(conn_); }
  absl::Status ConsumeInput();
  std::optional<PgNotification> NextNotification();
  // Waits until the socket is readable or `timeout` passes; false on timeout.
  bool WaitReadable(absl::Duration timeout);

  // The server's process id (for tests that terminate a backend).
  int backend_pid() const { return PQbackendPID(conn_); }

 private:
  explicit PgConn(PGconn* conn) : conn_(conn) {}
  // Reads results until `want` non-sync results and a sync have come (pipeline)
  // or one result set is complete.
  absl::Status Flush(absl::Time deadline);
  absl::StatusOr<PGresult*> NextResult(absl::Time deadline);
  absl::Status Broken(absl::string_view what);

  PGconn* conn_;
  absl::Duration deadline_ = absl::Seconds(30);
  bool broken_ = false;
};

// INVALID_ARGUMENT with libpq's reason if `uri` is not a connection URI it
// can read.
absl::Status CheckPgUri(const std::string& uri);

// A text-format PostgreSQL array literal of `items` ("{"a","b"}"), quoting
// every element.
std::string PgTextArray(const std::vector<std::string>& items);
std::string PgIntArray(const std::vector<int64_t>& items);

// An error result as a Status: unique violations are ALREADY_EXISTS,
// connection and server-shutdown errors UNAVAILABLE, the rest INTERNAL, with
// `what` and PostgreSQL's message.
absl::Status PgError(const PGresult* result, absl::string_view what);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_CONN_H_
