// The credentials file: session tokens, each saved for the server list it was
// logged in with ("a:1,b:2", see servers.h), and the default server list (the
// one logged in to last). Lives in $XDG_CONFIG_HOME/chat/credentials or
// ~/.config/chat/credentials, mode 0600 in a 0700 directory, replaced
// atomically (write a temporary file, then rename).
//
// Which token a command uses: the newest one whose list contains every address
// the command was given (so `--server b` finds the token of `login` with
// `--server a,b,c`, and a token is never sent to an address it was not saved
// for). A login replaces the tokens whose lists it covers.
//
// Threading: not thread-safe; one command uses it from its main thread.
// Lifetime: a plain value; Load() reads the file, Save() writes it back.
#ifndef CHAT_CLI_SRC_CONFIG_H_
#define CHAT_CLI_SRC_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chat::cli {

struct Credential {
  std::string server;  // the server list as logged in with, "a:1,b:2"
  std::string username;
  std::string token;
  int64_t expires_at_unix = 0;  // seconds; 0 if unknown
  // Not saved: an API token given with --token or CHAT_TOKEN (then `server` is
  // the list given, and `username` is what chat-core's WhoAmI said).
  bool api_token = false;
};

// The directory for the CLI's files: $XDG_CONFIG_HOME/chat if XDG_CONFIG_HOME is
// an absolute path, else $HOME/.config/chat. Errors if neither can be found.
absl::StatusOr<std::string> ConfigDir();

class CredentialStore {
 public:
  explicit CredentialStore(std::string path);
  // The store at ConfigDir()/credentials.
  static absl::StatusOr<CredentialStore> Open();

  const std::string& path() const { return path_; }

  // Reads the file; a missing file is an empty store.
  absl::Status Load();
  // Writes the file (creating the directory with mode 0700).
  absl::Status Save() const;

  // The newest credential whose list contains every address of `servers`.
  std::optional<Credential> Find(const std::vector<std::string>& servers) const;
  // Adds the credential, drops the ones whose lists its list covers, and makes
  // its list the default.
  void Put(Credential credential);
  // Removes the credential saved for exactly this list; returns whether there was one.
  bool Remove(const std::string& server_list);
  // Sets the expiry of every credential with this token (a session renewed
  // while in use); returns whether there was one.
  bool SetExpiry(const std::string& token, int64_t expires_at_unix);
  const std::string& default_server() const { return default_server_; }

 private:
  std::string path_;
  std::string default_server_;
  std::vector<Credential> credentials_;
};

}  // namespace chat::cli

#endif  // CHAT_CLI_SRC_CONFIG_H_
