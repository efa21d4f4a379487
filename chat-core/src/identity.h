// Who a session or call is: the authenticated user (or a guest in guest mode).
// A plain value; copy freely.
#ifndef CHAT_CORE_SRC_IDENTITY_H_
#define CHAT_CORE_SRC_IDENTITY_H_

#include <cstdint>
#include <string>
#include <vector>

namespace chat::core {

struct Identity {
  std::string user;
  // A hash of the bearer token (empty for guests); keys logout.
  std::string token_hash;
  bool guest = false;
  // 0: does not expire.
  int64_t expires_at_ms = 0;
  // A bot account (its messages carry author_kind BOT).
  bool bot = false;
  // The credential is an API token (not a login session): its name, rooms
  // (empty: all) and actions (store.h kToken* bits; 0: all). token_scope.h
  // checks requests against them.
  bool api_token = false;
  std::string token_name;
  std::vector<std::string> token_rooms;
  int token_actions = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_IDENTITY_H_
