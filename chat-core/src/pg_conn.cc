#include "pg_conn.h"

#include <poll.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chat/log.h"

namespace chat::core {
namespace {

// libpq's messages end with a newline.
std::string Trimmed(const char* message) {
  std::string s = message == nullptr ? "" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The server's notices: a NOTICE ("relation ... already exists, skipping" from
// a migration another node ran first) is for debugging; a WARNING is for the
// operator ("NOTIFY queue is 60% full": a listener somewhere stopped reading,
// and sends fail when it is full; docs/scaling.md).
void LogNotice(void*, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  std::string text = Trimmed(PQresultErrorMessage(notice));
  if (severity != nullptr && absl::string_view(severity) == "WARNING") {
    CHAT_LOG_WARN("pg", "%s", text);
  } else {
    CHAT_LOG_DEBUG("pg", "%s", text);
  }
}

bool Succeeded(const PGresult* r) {
  ExecStatusType st = PQresultStatus(r);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE;
}

// Waits for `events` on `fd` until `deadline`; the events that came (0: none).
int Poll(int fd, short events, absl::Time deadline) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return 0;
    pollfd p = {fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    if (n > 0) return p.revents;
    if (n < 0 && errno != EINTR) return POLLERR;
  }
}

}  // namespace

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

absl::string_view PgResult::Text(int row, int col) const {
  return absl::string_view(PQgetvalue(result_, row, col), static_cast<size_t>(PQgetlength(result_, row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(Text(row, col), &v);
  return v;
}

std::string PgResult::sqlstate() const {
  const char* s = result_ == nullptr ? nullptr : PQresultErrorField(result_, PG_DIAG_SQLSTATE);
  return s == nullptr ? "" : s;
}

int64_t PgResult::affected() const {
  int64_t n = 0;
  if (result_ != nullptr) (void)absl::SimpleAtoi(PQcmdTuples(result_), &n);
  return n;
}

absl::Status PgError(const PGresult* result, absl::string_view what) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  std::string sqlstate = state == nullptr ? "" : state;
  std::string message = result == nullptr ? "no result" : Trimmed(PQresultErrorMessage(result));
  if (message.empty()) message = PQresStatus(PQresultStatus(result));
  std::string text = absl::StrCat(what, ": ", message);
  absl::StatusCode code = absl::StatusCode::kInternal;
  if (sqlstate == "23505") {
    code = absl::StatusCode::kAlreadyExists;
  } else if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57P") ||
             absl::StartsWith(sqlstate, "53") || sqlstate == "55P03" || sqlstate == "57014") {
    // Connection, shutdown, out of resources, a lock not granted in time, a
    // statement cancelled (timeout): all may pass.
    code = absl::StatusCode::kUnavailable;
  } else if (sqlstate == "40001" || sqlstate == "40P01") {
    code = absl::StatusCode::kAborted;  // serialization failure, deadlock: retry
  } else if (absl::StartsWith(sqlstate, "22")) {
    code = absl::StatusCode::kInvalidArgument;  // data exception
  }
  return absl::Status(code, text);
}

absl::Status CheckPgUri(const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &error);
  if (parsed == nullptr) {
    std::string why = error == nullptr ? "out of memory" : Trimmed(error);
    PQfreemem(error);
    return absl::InvalidArgumentError(absl::StrCat("bad PostgreSQL connection URI: ", why));
  }
  PQconninfoFree(parsed);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& uri, absl::Duration timeout) {
  if (absl::Status st = CheckPgUri(uri); !st.ok()) return st;
  std::string seconds = absl::StrCat(std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(timeout, absl::Seconds(1)))));
  // Defaults first: what the URI says wins. Keepalives notice a vanished
  // server within about 30 s even on an idle connection.
  const char* keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "application_name", "dbname", nullptr};
  const char* values[] = {seconds.c_str(), "15", "5", "3", "chat-core", uri.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", why));
  }
  PQsetNoticeReceiver(conn, LogNotice, nullptr);
  if (PQsetnonblocking(conn, 1) != 0) {
    std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return absl::InternalError(absl::StrCat("cannot make the PostgreSQL connection non-blocking: ", why));
  }
  return std::unique_ptr<PgConn>(new PgConn(conn));
}

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const PgConnectOptions& options) {
  auto conn = Connect(options.uri, options.connect_timeout);
  if (conn.ok()) (*conn)->set_deadline(options.query_timeout);
  return conn;
}

PgConn::~PgConn() { PQfinish(conn_); }

bool PgConn::healthy() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

absl::Status PgConn::Broken(absl::string_view what) {
  broken_ = true;
  std::string why = Trimmed(PQerrorMessage(conn_));
  return absl::UnavailableError(
      absl::StrCat("the connection to PostgreSQL broke (", what, why.empty() ? "" : ": ", why, ")"));
}

absl::Status PgConn::Flush(absl::Time deadline) {
  for (;;) {
    int rc = PQflush(conn_);
    if (rc == 0) return absl::OkStatus();
    if (rc < 0) return Broken("sending");
    // Read while waiting to write, so the server is never blocked on us.
    int ev = Poll(socket(), POLLIN | POLLOUT, deadline);
    if (ev == 0) return Broken("no answer in time");
    if ((ev & POLLIN) != 0 && PQconsumeInput(conn_) == 0) return Broken("reading");
  }
}

absl::StatusOr<PGresult*> PgConn::NextResult(absl::Time deadline) {
  while (PQisBusy(conn_) != 0) {
    int ev = Poll(socket(), POLLIN, deadline);
    if (ev == 0) return Broken("no answer in time");
    if (PQconsumeInput(conn_) == 0) return Broken("reading");
  }
  return PQgetResult(conn_);
}

absl::StatusOr<PgResult> PgConn::Exec(const std::string& sql) {
  if (broken_) return Broken("used after an error");
  absl::Time deadline = absl::Now() + deadline_;
  if (PQsendQuery(conn_, sql.c_str()) == 0) return Broken("sending");
  if (absl::Status st = Flush(deadline); !st.ok()) return st;
  PgResult last;
  absl::Status failed;
  for (;;) {
    auto r = NextResult(deadline);
    if (!r.ok()) return r.status();
    if (*r == nullptr) break;
    PgResult result(*r);
    if (!Succeeded(result.result_) && failed.ok()) failed = PgError(result.result_, "query");
    last = std::move(result);
  }
  if (!failed.ok()) return failed;
  if (PQstatus(conn_) != CONNECTION_OK) return Broken("after the query");
  return last;
}

absl::StatusOr<PgResult> PgConn::Query(const PgQuery& query) {
  auto results = Pipeline({query});
  return std::move(results[0]);
}

std::vector<absl::StatusOr<PgResult>> PgConn::Pipeline(const std::vector<PgQuery>& queries) {
  std::vector<absl::StatusOr<PgResult>> out;
  out.reserve(queries.size());
  auto fail_rest = [&](const absl::Status& st) {
    while (out.size() < queries.size()) out.push_back(st);
    return std::move(out);
  };
  if (broken_) return fail_rest(Broken("used after an error"));
  absl::Time deadline = absl::Now() + deadline_;
  if (PQenterPipelineMode(conn_) == 0) return fail_rest(Broken("entering pipeline mode"));
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const PgQuery& q : queries) {
    values.clear();
    lengths.clear();
    for (const auto& p : q.params) {
      values.push_back(p ? p->c_str() : nullptr);
      lengths.push_back(p ? static_cast<int>(p->size()) : 0);
    }
    if (PQsendQueryParams(conn_, q.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                          lengths.data(), nullptr, 0) == 0) {
      return fail_rest(Broken("queueing a query"));
    }
  }
  if (PQpipelineSync(conn_) == 0) return fail_rest(Broken("sending"));
  if (absl::Status st = Flush(deadline); !st.ok()) return fail_rest(st);
  for (size_t i = 0; i < queries.size(); ++i) {
    auto r = NextResult(deadline);
    if (!r.ok()) return fail_rest(r.status());
    if (*r == nullptr) return fail_rest(Broken("a query without a result"));
    PgResult result(*r);
    ExecStatusType st = PQresultStatus(result.result_);
    if (st == PGRES_PIPELINE_ABORTED) {
      out.push_back(absl::AbortedError("not run: an earlier query of its transaction failed"));
    } else if (!Succeeded(result.result_)) {
      out.push_back(PgError(result.result_, "query"));
    } else {
      out.push_back(std::move(result));
    }
    // The end of this query's results.
    auto end = NextResult(deadline);
    if (!end.ok()) return fail_rest(end.status());
    if (*end != nullptr) {
      PQclear(*end);
      return fail_rest(Broken("more results than queries"));
    }
  }
  auto sync = NextResult(deadline);
  if (!sync.ok()) return fail_rest(sync.status());
  bool synced = *sync != nullptr && PQresultStatus(*sync) == PGRES_PIPELINE_SYNC;
  if (*sync != nullptr) PQclear(*sync);
  if (!synced || PQexitPipelineMode(conn_) == 0) broken_ = true;
  if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
  return out;
}

absl::Status PgConn::ConsumeInput() {
  if (PQconsumeInput(conn_) == 0) return Broken("reading");
  return absl::OkStatus();
}

std::optional<PgNotification> PgConn::NextNotification() {
  PGnotify* n = PQnotifies(conn_);
  if (n == nullptr) return std::nullopt;
  PgNotification out{n->relname, n->extra};
  PQfreemem(n);
  return out;
}

bool PgConn::WaitReadable(absl::Duration timeout) {
  return Poll(socket(), POLLIN, absl::Now() + timeout) != 0;
}

namespace {
void AppendQuoted(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}
}  // namespace

std::string PgTextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendQuoted(out, items[i]);
  }
  out.push_back('}');
  return out;
}

std::string PgIntArray(const std::vector<int64_t>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    absl::StrAppend(&out, items[i]);
  }
  out.push_back('}');
  return out;
}

}  // namespace chat::core
