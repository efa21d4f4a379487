// The store: durable rooms, messages and accounts behind one small interface, so
// the embedded SQLite store and a later PostgreSQL or Redis store are two
// implementations of the same thing. No SQL appears outside an implementation.
//
// Threading: every method is thread-safe and non-blocking except Open-time loads
// (LoadRooms, LoadSessions), which run once at start-up. Callbacks run on a store
// thread; they must be short and must not call back into the store synchronously
// and wait. Lifetime: owned by the server; Close() drains queued work, runs the
// remaining callbacks, and no callback runs after it returns.
#ifndef CHAT_CORE_SRC_STORE_H_
#define CHAT_CORE_SRC_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace chat::core {

struct RoomRecord {
  int64_t id = 0;
  std::string name;
  int64_t created_at_ms = 0;
  std::string created_by;
  int64_t last_seq = 0;
};

struct StoredMessage {
  int64_t room_id = 0;
  int64_t seq = 0;
  std::string author;
  std::string text;
  int64_t sent_at_ms = 0;
  std::string client_msg_id;
};

struct AppendRequest {
  int64_t room_id = 0;
  std::string author;
  std::string text;
  int64_t sent_at_ms = 0;
  // Empty: no idempotency check.
  std::string client_msg_id;
};

struct AppendResult {
  StoredMessage message;
  // True when (room, author, client_msg_id) was already stored: `message` is the
  // original and nothing new was written.
  bool duplicate = false;
};

struct HistoryQuery {
  enum class Direction { kLatest, kBefore, kAfter };
  int64_t room_id = 0;
  Direction direction = Direction::kLatest;
  // kBefore: seq < cursor. kAfter: seq > cursor. Unused for kLatest.
  int64_t cursor = 0;
  // Only messages with seq <= max_seq (0: no bound).
  int64_t max_seq = 0;
  int limit = 50;
};

struct HistoryPage {
  // Ascending seq order.
  std::vector<StoredMessage> messages;
  // More messages exist beyond the page in the direction of travel.
  bool has_more = false;
};

struct UserRecord {
  int64_t id = 0;
  std::string username;
  std::string password_hash;
};

struct SessionRecord {
  // A hash of the token; the token itself is never stored.
  std::string token_hash;
  int64_t user_id = 0;
  std::string username;
  int64_t expires_at_ms = 0;
};

template <typename T>
using StoreCallback = std::function<void(absl::StatusOr<T>)>;

class Store {
 public:
  virtual ~Store() = default;

  // Start-up loads, synchronous.
  virtual absl::StatusOr<std::vector<RoomRecord>> LoadRooms() = 0;
  // Unexpired, unrevoked sessions (expired ones are deleted).
  virtual absl::StatusOr<std::vector<SessionRecord>> LoadSessions(int64_t now_ms) = 0;

  // ALREADY_EXISTS if the name is taken.
  virtual void CreateRoom(const std::string& name, const std::string& created_by, int64_t now_ms,
                          StoreCallback<RoomRecord> done) = 0;

  // Assigns the room's next seq, commits (group commit), then calls done. For one
  // room, done is called in seq order on one thread, and only after the message
  // is durable (or with an error, in which case nothing was stored).
  virtual void Append(AppendRequest request, StoreCallback<AppendResult> done) = 0;

  // Range reads on a reader connection.
  virtual void ReadHistory(const HistoryQuery& query, StoreCallback<HistoryPage> done) = 0;

  // Accounts. `username_key` is the case-folded username (uniqueness key).
  virtual void CreateUser(const std::string& username, const std::string& username_key,
                          const std::string& password_hash, int64_t now_ms,
                          StoreCallback<UserRecord> done) = 0;
  // NOT_FOUND if there is no such user.
  virtual void FindUser(const std::string& username_key, StoreCallback<UserRecord> done) = 0;
  virtual void CreateSession(const SessionRecord& session, int64_t now_ms,
                             StoreCallback<bool> done) = 0;
  virtual void RevokeSession(const std::string& token_hash, StoreCallback<bool> done) = 0;

  // Drains queued work and stops the store's threads.
  virtual void Close() = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_STORE_H_
