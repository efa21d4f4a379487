#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "servers.h"

namespace chat::cli {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// mkdir -p with mode 0700 for the directories it creates.
absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
    return absl::OkStatus();
  }
  size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status s = MakeDirs(dir.substr(0, slash)); !s.ok()) return s;
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Errno("cannot create", dir);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ConfigDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/chat");
  const char* home = std::getenv("HOME");
  std::string home_dir = home != nullptr ? home : "";
  if (home_dir.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
      home_dir = pw->pw_dir;
    }
  }
  if (home_dir.empty()) {
    return absl::FailedPreconditionError(
        "cannot find the config directory: set XDG_CONFIG_HOME or HOME");
  }
  return absl::StrCat(home_dir, "/.config/chat");
}

CredentialStore::CredentialStore(std::string path) : path_(std::move(path)) {}

absl::StatusOr<CredentialStore> CredentialStore::Open() {
  auto dir = ConfigDir();
  if (!dir.ok()) return dir.status();
  CredentialStore store(absl::StrCat(*dir, "/credentials"));
  if (absl::Status s = store.Load(); !s.ok()) return s;
  return store;
}

// Format, one record a line (fields separated by single spaces; none contains one):
//   default <server>
//   token <server> <username> <expires_at_unix> <token>
absl::Status CredentialStore::Load() {
  default_server_.clear();
  credentials_.clear();
  if (access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return absl::OkStatus();
  std::ifstream in(path_);
  if (!in) return Errno("cannot read", path_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() == 2 && f[0] == "default") {
      default_server_ = f[1];
    } else if (f.size() == 5 && f[0] == "token") {
      Credential c;
      c.server = f[1];
      c.username = f[2];
      if (!absl::SimpleAtoi(f[3], &c.expires_at_unix)) c.expires_at_unix = 0;
      c.token = f[4];
      credentials_.push_back(std::move(c));
    }
    // Anything else is ignored (written by a newer version, or damaged).
  }
  return absl::OkStatus();
}

absl::Status CredentialStore::Save() const {
  size_t slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
  if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  std::string text =
      "# chat CLI session tokens (written by 'chat login'; keep this file private)\n";
  if (!default_server_.empty()) absl::StrAppend(&text, "default ", default_server_, "\n");
  for (const auto& c : credentials_) {
    absl::StrAppend(&text, "token ", c.server, " ", c.username, " ", c.expires_at_unix, " ",
                    c.token, "\n");
  }
  std::string tmp = absl::StrCat(path_, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("cannot write", tmp);
  // O_CREAT's mode is filtered by the umask; make sure it is exactly 0600.
  fchmod(fd, 0600);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("cannot write", tmp);
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    absl::Status s = Errno("cannot write", tmp);
    unlink(tmp.c_str());
    return s;
  }
  if (rename(tmp.c_str(), path_.c_str()) != 0) {
    absl::Status s = Errno("cannot replace", path_);
    unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

namespace {

// The addresses of a stored list (written by Put, so not checked again).
std::vector<std::string> Addresses(const std::string& server_list) {
  return absl::StrSplit(server_list, ',', absl::SkipEmpty());
}

}  // namespace

// The file keeps credentials oldest first: Put appends.
std::optional<Credential> CredentialStore::Find(const std::vector<std::string>& servers) const {
  for (auto it = credentials_.rbegin(); it != credentials_.rend(); ++it) {
    if (ListCovers(Addresses(it->server), servers)) return *it;
  }
  return std::nullopt;
}

void CredentialStore::Put(Credential credential) {
  std::vector<std::string> list = Addresses(credential.server);
  credentials_.erase(std::remove_if(credentials_.begin(), credentials_.end(),
                                    [&](const Credential& c) {
                                      return ListCovers(list, Addresses(c.server));
                                    }),
                     credentials_.end());
  default_server_ = credential.server;
  credentials_.push_back(std::move(credential));
}

bool CredentialStore::Remove(const std::string& server_list) {
  for (auto it = credentials_.begin(); it != credentials_.end(); ++it) {
    if (it->server == server_list) {
      credentials_.erase(it);
      return true;
    }
  }
  return false;
}

bool CredentialStore::SetExpiry(const std::string& token, int64_t expires_at_unix) {
  bool found = false;
  for (auto& c : credentials_) {
    if (c.token == token) {
      c.expires_at_unix = expires_at_unix;
      found = true;
    }
  }
  return found;
}

}  // namespace chat::cli
