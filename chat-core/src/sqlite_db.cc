#include "sqlite_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chat/log.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "store";

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  absl::StatusCode code = absl::StatusCode::kInternal;
  int primary = rc & 0xff;
  if (primary == SQLITE_FULL || primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
      primary == SQLITE_IOERR) {
    code = absl::StatusCode::kUnavailable;
  } else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    code = absl::StatusCode::kDataLoss;
  }
  return absl::Status(code, absl::StrCat(what, ": ", msg));
}

absl::Status CreateOwnerOnlyDatabaseFile(const std::string& path) {
  std::filesystem::path file(path);
  // The missing folders, outermost first.
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (auto dir = file.parent_path(); !dir.empty() && !std::filesystem::exists(dir, ec);
       dir = dir.parent_path()) {
    missing.push_back(dir);
    if (dir == dir.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create the directory ", it->string(),
                                                        " of database ", path, ": ", std::strerror(errno)));
    }
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    close(fd);
  } else if (errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create database ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

namespace {

// The locks this process holds, by file: several stores of one process on one
// file (tests do that) share a lock, so only another process is refused.
struct HeldLock {
  int fd = -1;
  int users = 0;
};
absl::Mutex held_mu;
std::map<std::pair<dev_t, ino_t>, HeldLock>& Held() ABSL_EXCLUSIVE_LOCKS_REQUIRED(held_mu) {
  static auto* held = new std::map<std::pair<dev_t, ino_t>, HeldLock>();
  return *held;
}

}  // namespace

DatabaseFileLock::~DatabaseFileLock() {
  if (!locked_) return;
  absl::MutexLock lock(&held_mu);
  auto it = Held().find(file_);
  if (it == Held().end() || --it->second.users > 0) return;
  close(it->second.fd);
  Held().erase(it);
}

absl::Status DatabaseFileLock::Lock(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot open database ", path, ": ", std::strerror(errno)));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("cannot stat database ", path, ": ", std::strerror(err)));
  }
  absl::MutexLock lock(&held_mu);
  file_ = {st.st_dev, st.st_ino};
  if (auto it = Held().find(file_); it != Held().end()) {
    close(fd);
    ++it->second.users;
    locked_ = true;
    return absl::OkStatus();
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", path, " is in use by another chat-core: one process per SQLite file "
          "(several nodes share a PostgreSQL database instead)"));
    }
    return absl::FailedPreconditionError(absl::StrCat("cannot lock database ", path, ": ", std::strerror(err)));
  }
  Held()[file_] = HeldLock{fd, 1};
  locked_ = true;
  return absl::OkStatus();
}

absl::Status SqliteStmt::Prepare(sqlite3* db, const char* sql) {
  db_ = db;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "prepare");
  return absl::OkStatus();
}

SqliteConnection::~SqliteConnection() {
  // Statements must be finalized before the connection closes.
  stmts_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

absl::Status SqliteConnection::Open(const std::string& path, const SqliteConnectionOptions& options) {
  path_ = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open database ", path, ": ", sqlite3_errmsg(db_)));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options.busy_timeout_ms);
  // The first statement that reads the file tells a non-database apart.
  absl::Status st = Exec("PRAGMA foreign_keys=ON");
  if (st.ok() && path != ":memory:") {
    st = Exec("PRAGMA journal_mode=WAL");
  }
  if (st.ok()) {
    st = Exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  }
  // 64 MiB of page cache per connection by default: the writer touches one
  // B-tree leaf per active room per batch, and re-reading them from the OS
  // costs more than RAM. The cache fills as the database grows, so chat-core's
  // RSS grows with it up to this bound per connection (--sqlite_cache_mib).
  const std::string cache = absl::StrCat("PRAGMA cache_size=-", std::max(options.cache_kib, 64));
  if (st.ok()) st = Exec(cache.c_str());
  if (st.ok()) st = Exec("SELECT count(*) FROM sqlite_schema");
  if (!st.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use database ", path, ": ", st.message()));
  }
  return absl::OkStatus();
}

absl::Status SqliteConnection::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return SqliteError(nullptr, rc, msg);
  }
  return absl::OkStatus();
}

SqliteStmt& SqliteConnection::Get(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return *it->second;
  auto stmt = std::make_unique<SqliteStmt>();
  absl::Status st = stmt->Prepare(db_, sql);
  if (!st.ok()) {
    CHAT_LOG_ERROR(kLog, "cannot prepare \"%s\": %s", sql, st.message());
    std::abort();
  }
  SqliteStmt& ref = *stmt;
  stmts_.emplace(sql, std::move(stmt));
  return ref;
}

}  // namespace chat::core
