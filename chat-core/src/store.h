// The store: durable rooms, messages and accounts behind one small interface, so
// the embedded SQLite store and a PostgreSQL store are two implementations of the
// same thing. No SQL appears outside an implementation. The behaviour written
// here is the contract; tests/core/store_conformance.h checks it on every
// implementation.
//
// Threading: every method is thread-safe. LoadRooms and LoadSessions block
// (start-up loads); every other method returns at once and answers through
// `done`, which is called exactly once:
//  - for a call the store accepts, later, on a thread of the store, never inside
//    the call (so never on the calling thread, unless that is a store thread);
//  - for a call refused before any work is done (store closed or overloaded:
//    UNAVAILABLE; a bad argument: INVALID_ARGUMENT), possibly on the calling
//    thread before the method returns. So a caller must not hold, while calling,
//    a lock that its `done` takes.
// Callbacks must be short: they must not block on the store (wait for another
// callback) and must not call Close().
// Lifetime: owned by the server; Close() (or destruction) completes the work
// already accepted, runs its callbacks, and no callback runs after it returns.
//
// Errors, in every method: UNAVAILABLE for what may pass (closed, overloaded, a
// lock held too long elsewhere, disk full, I/O), DATA_LOSS for a damaged
// database, INTERNAL for anything else. A write that fails stored nothing.
#ifndef CHAT_CORE_SRC_STORE_H_
#define CHAT_CORE_SRC_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace chat::core {

// A store's reader threads run this many nice levels below the process
// (chat/thread_priority.h): a flood of big history pages then waits for cores
// that the live messages' commits and fan-out do not need.
inline constexpr int kReaderNice = 10;

// Values as in chat.v1.RoomKind and chat.v1.Role (stored as these integers).
enum class RoomKind : int { kPublic = 1, kPrivate = 2, kDirect = 3 };
enum class Role : int { kNone = 0, kMember = 1, kModerator = 2, kOwner = 3 };

struct RoomRecord {
  int64_t id = 0;
  std::string name;
  int64_t created_at_ms = 0;
  std::string created_by;
  int64_t last_seq = 0;
  RoomKind kind = RoomKind::kPublic;
  std::string topic;
  bool archived = false;
};

// A stored relation of a user to a room. A public room stores only owners,
// moderators, invitations and bans; a private or direct room every member.
enum class MemberState : int { kNone = 0, kInvited = 1, kMember = 2, kBanned = 3 };
struct MemberRecord {
  int64_t room_id = 0;
  // The username as registered (its display case).
  std::string user;
  MemberState state = MemberState::kMember;
  // kMember: member, moderator or owner. Otherwise kNone.
  Role role = Role::kNone;
  // Who invited, banned, ... (empty: chat-core itself).
  std::string by;
  int64_t at_ms = 0;
  std::string reason;
};

// "none", "invited", "member", "banned" (for messages).
inline const char* MemberStateName(MemberState s) {
  switch (s) {
    case MemberState::kNone:
      return "none";
    case MemberState::kInvited:
      return "invited";
    case MemberState::kMember:
      return "member";
    case MemberState::kBanned:
      return "banned";
  }
  return "unknown";
}

// One change of a member row: `record` replaces the row of (room_id, user)
// (state kNone deletes it), but only if the row's state is now `expect`
// (kNone: no row), unless `check` is false.
struct MemberWrite {
  MemberRecord record;
  bool check = true;
  MemberState expect = MemberState::kNone;
};

// What UpdateRoom changes (unset: unchanged).
struct RoomUpdate {
  std::optional<std::string> topic;
  std::optional<bool> archived;
};

// Limits on creating a room, checked by the store inside the write that
// creates it, so they hold across the nodes of a cluster and across restarts.
// Each check counts rows of the rooms table (at most max_rooms of them).
struct RoomQuota {
  // The most rooms there may be (0: no bound).
  int64_t max_rooms = 0;
  // The most rooms one created_by may have created in the window that ends
  // at now_ms (0: no bound). An empty created_by (chat-core itself) is exempt.
  int64_t per_creator = 0;
  int64_t window_ms = 3600 * 1000;
};

// The RESOURCE_EXHAUSTED a store answers when `quota` refuses a room: for the
// global cap (`global`) or for the creator's rate.
inline absl::Status RoomQuotaError(const RoomQuota& quota, bool global) {
  if (global) {
    return absl::ResourceExhaustedError(
        absl::StrCat("room limit reached: this server holds at most ", quota.max_rooms, " rooms"));
  }
  const int64_t minutes = quota.window_ms / 60000;
  return absl::ResourceExhaustedError(absl::StrCat(
      "too many rooms created: at most ", quota.per_creator, " per user every ",
      minutes == 60 ? std::string("hour")
                    : (minutes > 0 ? absl::StrCat(minutes, " minutes") : absl::StrCat(quota.window_ms, " ms")),
      "; try again later"));
}

// Values as in chat.v1.AccountKind (stored as these integers; 0 in rows
// stored before kinds, read as kUser).
enum class AccountKind : int { kUser = 1, kBot = 2 };

struct StoredMessage {
  int64_t room_id = 0;
  int64_t seq = 0;
  std::string author;
  std::string text;
  int64_t sent_at_ms = 0;
  std::string client_msg_id;
  // A tombstone (DeleteMessage): text is empty.
  bool deleted = false;
  // The author's kind when it was sent (stored with the message).
  AccountKind author_kind = AccountKind::kUser;
};

struct AppendRequest {
  int64_t room_id = 0;
  std::string author;
  std::string text;
  int64_t sent_at_ms = 0;
  // Empty: no idempotency check.
  std::string client_msg_id;
  AccountKind author_kind = AccountKind::kUser;
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
  // Empty for a bot and for a deleted account.
  std::string password_hash;
  // DisableUser: logins are refused.
  bool disabled = false;
  AccountKind kind = AccountKind::kUser;
  // A bot's owner (username as registered); empty for users.
  std::string owner;
  std::string display_name;
  // DeleteUser: no login, no sessions; the name stays taken.
  bool deleted = false;
  int64_t created_at_ms = 0;
};

// A new account (CreateAccount).
struct NewAccount {
  std::string username;
  std::string username_key;
  // Empty for a bot.
  std::string password_hash;
  AccountKind kind = AccountKind::kUser;
  // A bot's owner: the owning user's username_key (the record's `owner` is
  // that user's username as registered). NOT_FOUND if no such user (or it is
  // deleted, or a bot).
  std::string owner_key;
  std::string display_name;
  // Non-empty: the hash of a registration invite code, consumed in the same
  // transaction. FAILED_PRECONDITION "invite code unknown, used or expired"
  // (nothing is stored) unless it is stored, unused and unexpired at now_ms.
  std::string invite_code_hash;
  int64_t now_ms = 0;
};

// A stored credential: a login session or an API token (kind). Both live in
// one table, so revocation, expiry, the cache and the cluster's revocation
// notices work alike for both.
enum class CredentialKind : int { kLogin = 0, kApiToken = 1 };

// API token actions, a bit set (chat.v1.TokenAction n is bit 1 << n); 0: all.
inline constexpr int kTokenRead = 1 << 1;
inline constexpr int kTokenPost = 1 << 2;
inline constexpr int kTokenManage = 1 << 3;

// An API token that does not expire has this expires_at_ms (year 9999).
inline constexpr int64_t kNeverExpiresMs = 253402300799000;

struct SessionRecord {
  // A hash of the token; the token itself is never stored.
  std::string token_hash;
  int64_t user_id = 0;
  std::string username;
  int64_t expires_at_ms = 0;
  CredentialKind kind = CredentialKind::kLogin;
  int64_t created_at_ms = 0;
  // Last renewal or use (UpdateSessionUse); 0: never.
  int64_t last_used_ms = 0;
  // A login session is never renewed past this (0: no bound).
  int64_t max_expires_at_ms = 0;
  // Login: the address and client it logged in with.
  std::string peer;
  std::string client;
  // API token: its name (unique per user among unrevoked tokens:
  // CreateSession answers ALREADY_EXISTS), rooms (empty: all), actions (bit
  // set; 0: all) and the user who made it.
  std::string name;
  std::vector<std::string> rooms;
  int actions = 0;
  std::string created_by;
  // The account's kind (read from users with the username).
  AccountKind account_kind = AccountKind::kUser;
};

struct WebhookRecord {
  // Public id (random, 16 hex digits).
  std::string id;
  std::string secret_hash;
  int64_t room_id = 0;
  // The bot it posts as (username as registered) and the user who made it.
  std::string bot;
  std::string created_by;
  std::string name;
  int64_t created_at_ms = 0;
};

struct RegistrationInviteRecord {
  std::string code_hash;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// The longest note a membership or moderation write may carry (store.h's
// Store; PostgreSQL's NOTIFY takes payloads under 8000 bytes).
inline constexpr size_t kMaxRoomNoteBytes = 7999;

template <typename T>
using StoreCallback = std::function<void(absl::StatusOr<T>)>;

// Told of each successful group commit: how long its transaction took (from
// BEGIN to COMMIT's answer, before any write is answered) and how many writes
// it held. Called on the store's writer thread; must not block.
using CommitObserver = std::function<void(int64_t nanos, size_t writes)>;

// Threading: thread-safe; callbacks on the store's threads (see the top of this
// file). Lifetime: owned by the server; no callback runs after Close() returns.
class Store {
 public:
  virtual ~Store() = default;

  // Every room, in creation order, each with last_seq = its highest stored seq
  // (0 when it has none), kind, topic and archived. Blocks.
  virtual absl::StatusOr<std::vector<RoomRecord>> LoadRooms() = 0;
  // Deletes the sessions that expired (expires_at_ms <= now_ms) or were revoked,
  // for good, and returns the others (every field, as FindSession; not those
  // of disabled or deleted users). Blocks.
  virtual absl::StatusOr<std::vector<SessionRecord>> LoadSessions(int64_t now_ms) = 0;

  // A new room: a fresh id (> 0), the given name, created_at_ms = now_ms,
  // created_by, last_seq 0; stored before done runs. ALREADY_EXISTS if a room
  // has this name (names compare byte for byte).
  // With a quota: ALREADY_EXISTS as above, else RESOURCE_EXHAUSTED when there
  // are max_rooms rooms already, or created_by made per_creator rooms in the
  // window (the message says which); exact even when several stores on one
  // database create rooms at once.
  // `spec` gives the kind and topic (its id, created_at_ms and last_seq are
  // ignored); `members` are stored in the same transaction (their room_id is
  // filled in). The RoomRecord carries kind and topic as given.
  virtual void CreateRoomAs(const RoomRecord& spec, std::vector<MemberRecord> members, int64_t now_ms,
                            const RoomQuota& quota, StoreCallback<RoomRecord> done) = 0;
  // A public room without members.
  void CreateRoomWithin(const std::string& name, const std::string& created_by, int64_t now_ms,
                        const RoomQuota& quota, StoreCallback<RoomRecord> done) {
    RoomRecord spec;
    spec.name = name;
    spec.created_by = created_by;
    CreateRoomAs(spec, {}, now_ms, quota, std::move(done));
  }
  void CreateRoom(const std::string& name, const std::string& created_by, int64_t now_ms,
                  StoreCallback<RoomRecord> done) {
    CreateRoomWithin(name, created_by, now_ms, RoomQuota{}, std::move(done));
  }

  // Membership and moderation. Each write takes `note`: a PostgreSQL store
  // sends it with pg_notify on channel chat_room_changes inside the same
  // transaction (so the other nodes hear of exactly what was committed; an
  // empty note sends nothing); the SQLite store ignores it. A note longer than
  // kMaxRoomNoteBytes is INVALID_ARGUMENT on every store.
  //
  // Every member row, of every room (start-up; blocks).
  virtual absl::StatusOr<std::vector<MemberRecord>> LoadMembers() = 0;
  // The member rows of one room (0: of every room), sorted by room_id then user.
  virtual void ReadMembers(int64_t room_id, StoreCallback<std::vector<MemberRecord>> done) = 0;
  // Applies every write in one transaction, or none: ABORTED (message names
  // the user) if a checked row's state is not as expected; NOT_FOUND if the
  // room does not exist.
  virtual void WriteMembers(std::vector<MemberWrite> writes, const std::string& note,
                            StoreCallback<bool> done) = 0;
  // The room after the update; NOT_FOUND if it does not exist.
  virtual void UpdateRoom(int64_t room_id, const RoomUpdate& update, const std::string& note,
                          StoreCallback<RoomRecord> done) = 0;
  // Deletes the room, its messages and member rows for good (its name may be
  // used again, its id never is); NOT_FOUND if it does not exist.
  virtual void DeleteRoom(int64_t room_id, const std::string& note, StoreCallback<bool> done) = 0;
  // Makes a message a tombstone (text emptied, deleted = true; seq, author,
  // sent_at_ms and client_msg_id stay), and returns it. Only if its author is
  // `only_author` when that is not empty: else PERMISSION_DENIED and nothing
  // changes. NOT_FOUND if there is no such message. Deleting a tombstone again
  // succeeds and changes nothing (the note is still sent).
  virtual void DeleteMessage(int64_t room_id, int64_t seq, const std::string& only_author,
                             const std::string& note, StoreCallback<StoredMessage> done) = 0;
  // Usernames (as registered) whose username_key starts with `prefix_key`,
  // sorted by key, at most `limit`.
  virtual void SearchUsers(const std::string& prefix_key, int limit,
                           StoreCallback<std::vector<std::string>> done) = 0;
  // Marks the user disabled (or enabled again). Disabling also revokes every
  // session of the user for good, as RevokeSession does (on PostgreSQL every
  // node hears of each), and done gets their token hashes. NOT_FOUND if there
  // is no such user.
  virtual void SetUserDisabled(const std::string& username_key, bool disabled,
                               StoreCallback<std::vector<std::string>> done) = 0;

  // Stores a message with its room's next seq. The seqs of a room are 1, 2, 3...
  // with no gap and no repeat, across restarts; rooms count independently, and a
  // failed or duplicate append uses no seq.
  //  - Durable before done: done runs with OK only once the message is committed;
  //    a store opened on the same database after that (even while this one runs)
  //    finds it.
  //  - Order: for one room, done calls run in seq order, one at a time; and of
  //    two appends to one room where the second is called after the first
  //    returned, the first gets the lower seq.
  //  - Idempotency: with a non-empty client_msg_id, when (room, author,
  //    client_msg_id) is already stored, nothing is stored and done gets the
  //    original message (its seq, text and sent_at_ms) with duplicate = true,
  //    across restarts too, and also when the copies are in flight together
  //    (exactly one is stored). An empty client_msg_id never deduplicates.
  //  - The message in the result carries room_id, seq, author, text, sent_at_ms
  //    and client_msg_id.
  //  - NOT_FOUND if the room does not exist. UNAVAILABLE when the store's bound
  //    on waiting appends is reached (SqliteStoreOptions::max_queued_writes).
  virtual void Append(AppendRequest request, StoreCallback<AppendResult> done) = 0;

  // One page of a room's history (tombstones included, with deleted = true
  // and empty text), in ascending seq, among the messages with
  // seq <= max_seq (all when max_seq is 0):
  //  - kLatest: the newest `limit`; kBefore: the newest `limit` with seq < cursor;
  //    kAfter: the oldest `limit` with seq > cursor;
  //  - has_more: more messages exist beyond the page in the direction of travel
  //    (older for kLatest and kBefore, newer for kAfter), within max_seq.
  // Sees every append whose done has run. An empty or unknown room gives an
  // empty page (rooms are checked by the caller). INVALID_ARGUMENT if limit < 1.
  virtual void ReadHistory(const HistoryQuery& query, StoreCallback<HistoryPage> done) = 0;

  // Accounts. `username_key` is the case-folded username (uniqueness key).
  // A new user with a fresh id (> 0); ALREADY_EXISTS if username_key is taken.
  // (CreateAccount of a user without an invite code.)
  void CreateUser(const std::string& username, const std::string& username_key,
                  const std::string& password_hash, int64_t now_ms, StoreCallback<UserRecord> done) {
    NewAccount a;
    a.username = username;
    a.username_key = username_key;
    a.password_hash = password_hash;
    a.now_ms = now_ms;
    CreateAccount(a, std::move(done));
  }
  // The user as created (id, username as given, password_hash, disabled,
  // kind, owner, display_name, deleted, created_at_ms); a deleted account is
  // found too (deleted = true). NOT_FOUND if there is no such user.
  virtual void FindUser(const std::string& username_key, StoreCallback<UserRecord> done) = 0;
  // Stores a session or API token with every field of the record
  // (created_at_ms 0: now_ms; account_kind is not stored, it is read from the
  // user); done gets true. Fails if user_id names no user (NOT_FOUND, also
  // for a deleted one); ALREADY_EXISTS if the token_hash is already stored,
  // or for an API token whose name the user's unrevoked, unexpired tokens
  // already hold.
  virtual void CreateSession(const SessionRecord& session, int64_t now_ms,
                             StoreCallback<bool> done) = 0;
  // The session with this token hash if it is stored, unrevoked and unexpired
  // at now_ms, and its user neither disabled nor deleted (with every field,
  // its user's username and account_kind); NOT_FOUND otherwise. For a node
  // that did not see the login (another node of a cluster made it).
  virtual void FindSession(const std::string& token_hash, int64_t now_ms, StoreCallback<SessionRecord> done) = 0;
  // Revokes a session for good: true if one was revoked, false if there was none
  // (unknown, or revoked before). LoadSessions never returns it again.
  virtual void RevokeSession(const std::string& token_hash, StoreCallback<bool> done) = 0;
  // Keeps `newest` (a stored session) and the max_sessions - 1 most recently
  // created other login sessions of its user (API tokens neither count nor
  // go), and revokes the rest for good, as
  // RevokeSession does (on PostgreSQL every node hears of each); done gets
  // the token hashes it revoked (empty if none). INVALID_ARGUMENT if
  // max_sessions < 1.
  virtual void TrimSessions(const SessionRecord& newest, int max_sessions,
                            StoreCallback<std::vector<std::string>> done) = 0;
  // Deletes every session that expired (expires_at_ms <= now_ms); done gets
  // how many.
  virtual void DeleteExpiredSessions(int64_t now_ms, StoreCallback<int64_t> done) = 0;

  // --- Account lifecycle, bots, API tokens, webhooks (#29).
  //
  // A user or bot as NewAccount says (CreateUser is CreateAccount of a user
  // with no invite). ALREADY_EXISTS if username_key is taken (also by a
  // deleted account).
  virtual void CreateAccount(const NewAccount& account, StoreCallback<UserRecord> done) = 0;
  // The users of these keys that exist (deleted ones too), in key order.
  virtual void FindUsers(const std::vector<std::string>& username_keys,
                         StoreCallback<std::vector<UserRecord>> done) = 0;
  // Bots (not deleted) owned by owner_key's user (empty: every bot), by key.
  virtual void ListBots(const std::string& owner_key, StoreCallback<std::vector<UserRecord>> done) = 0;
  // The user after the change; NOT_FOUND if none (or deleted).
  virtual void SetDisplayName(const std::string& username_key, const std::string& display_name,
                              StoreCallback<UserRecord> done) = 0;
  // Stores the new hash and revokes every login session of the user except
  // `keep_token_hash` (API tokens stay), as RevokeSession does; done gets the
  // revoked hashes. NOT_FOUND if no such user (or deleted).
  virtual void SetPassword(const std::string& username_key, const std::string& password_hash,
                           const std::string& keep_token_hash, StoreCallback<std::vector<std::string>> done) = 0;
  // Marks the user deleted: password hash and display name erased, every
  // session and API token revoked, every webhook that posts as it or that it
  // made revoked; a user's bots are deleted the same way. One transaction;
  // done gets every revoked token hash (its bots' too). NOT_FOUND if no such
  // user (or deleted already).
  virtual void DeleteUser(const std::string& username_key, StoreCallback<std::vector<std::string>> done) = 0;
  // The unrevoked, unexpired (at now_ms) credentials of a user, both kinds,
  // oldest first.
  virtual void ListSessions(const std::string& username_key, int64_t now_ms,
                            StoreCallback<std::vector<SessionRecord>> done) = 0;
  // Sets expires_at_ms and last_used_ms of an unrevoked session; false if
  // there is none.
  virtual void UpdateSessionUse(const std::string& token_hash, int64_t expires_at_ms, int64_t last_used_ms,
                                StoreCallback<bool> done) = 0;

  // Webhooks. ALREADY_EXISTS on a taken id; NOT_FOUND if the room or bot does
  // not exist.
  virtual void CreateWebhook(const WebhookRecord& hook, StoreCallback<WebhookRecord> done) = 0;
  // Unrevoked webhooks made by created_by_key's user (empty: all), by id.
  virtual void ListWebhooks(const std::string& created_by_key, StoreCallback<std::vector<WebhookRecord>> done) = 0;
  // An unrevoked webhook; NOT_FOUND otherwise.
  virtual void FindWebhook(const std::string& id, StoreCallback<WebhookRecord> done) = 0;
  // true if one was revoked.
  virtual void RevokeWebhook(const std::string& id, StoreCallback<bool> done) = 0;

  // A registration invite code (by hash; ALREADY_EXISTS if stored).
  virtual void CreateRegistrationInvite(const RegistrationInviteRecord& invite, StoreCallback<bool> done) = 0;

  // Refuses every later call with UNAVAILABLE (the loads return it), completes
  // the work accepted before (appends are committed as usual, not failed), runs
  // its callbacks, and stops the store's threads; no callback runs after it
  // returns. A call racing with Close is either accepted and completed before
  // Close returns, or refused. Idempotent; a second caller waits for the first.
  virtual void Close() = 0;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_STORE_H_
