// Who a session or call is: the authenticated user (or a guest in guest mode).
// A plain value; copy freely.
#ifndef CHAT_CORE_SRC_IDENTITY_H_
#define CHAT_CORE_SRC_IDENTITY_H_

#include <cstdint>
#include <string>

namespace chat::core {

struct Identity {
  std::string user;
  // A hash of the bearer token (empty for guests); keys logout.
  std::string token_hash;
  bool guest = false;
  // 0: does not expire.
  int64_t expires_at_ms = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_IDENTITY_H_
