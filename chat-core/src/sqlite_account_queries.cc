#include "sqlite_account_queries.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sqlite_queries.h"

namespace chat::core {
namespace {

constexpr int64_t kLoginKind = static_cast<int64_t>(CredentialKind::kLogin);
constexpr int64_t kTokenKind = static_cast<int64_t>(CredentialKind::kApiToken);

#define CHAT_USER_COLUMNS \
  "id, username, password_hash, disabled, kind, owner, display_name, deleted, created_at_ms FROM users"
const char kFindUser[] = "SELECT " CHAT_USER_COLUMNS " WHERE username_key=?1";
const char kListBots[] =
    "SELECT " CHAT_USER_COLUMNS " WHERE kind=2 AND deleted=0 AND (?1='' OR owner_key=?1) ORDER BY username_key";
const char kFindOwner[] = "SELECT username FROM users WHERE username_key=?1 AND kind=1 AND deleted=0";
const char kInsertAccount[] =
    "INSERT INTO users (username, username_key, password_hash, created_at_ms, kind, owner, owner_key, display_name) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (username_key) DO NOTHING";
const char kUseInvite[] =
    "UPDATE registration_invites SET used_by=?2, used_at_ms=?3 WHERE code_hash=?1 AND used_by='' AND "
    "expires_at_ms>?3";
const char kUserTaken[] = "SELECT 1 FROM users WHERE username_key=?1";
const char kSetDisplayName[] = "UPDATE users SET display_name=?2 WHERE username_key=?1 AND deleted=0";
const char kSetPassword[] = "UPDATE users SET password_hash=?2 WHERE username_key=?1 AND deleted=0";
// A user's login sessions but ?2 (kind 0: login).
const char kRevokeOtherLogins[] =
    "DELETE FROM sessions WHERE user_id=(SELECT id FROM users WHERE username_key=?1) AND kind=0 AND "
    "token_hash!=?2 RETURNING token_hash";
// The live account ?1 and its live bots (the accounts DeleteUser deletes).
const char kDoomedAccounts[] =
    "SELECT id, username_key FROM users WHERE deleted=0 AND (username_key=?1 OR (kind=2 AND owner_key=?1))";
const char kMarkDeleted[] = "UPDATE users SET deleted=1, password_hash='', display_name='' WHERE id=?1";
const char kRevokeAllOf[] = "DELETE FROM sessions WHERE user_id=?1 RETURNING token_hash";
const char kRevokeHooksOf[] = "UPDATE webhooks SET revoked=1 WHERE revoked=0 AND (bot_key=?1 OR created_by_key=?1)";
const char kInsertSession[] =
    "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms, kind, last_used_ms, max_expires_at_ms, "
    "peer, client, name, rooms, actions, created_by) SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13 "
    "FROM users WHERE id=?2 AND deleted=0";
const char kSessionStored[] = "SELECT 1 FROM sessions WHERE token_hash=?1";
// An expired token no longer holds its name.
const char kDropExpiredName[] =
    "DELETE FROM sessions WHERE user_id=?1 AND kind=1 AND name=?2 AND expires_at_ms<=?3";
const char kNameTaken[] = "SELECT 1 FROM sessions WHERE user_id=?1 AND kind=1 AND name=?2";
const char kRevokeSession[] = "DELETE FROM sessions WHERE token_hash=?1";
// A user's login sessions past the newest ?3 others of ?2 (by creation, then hash).
const char kTrimSessions[] =
    "DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions WHERE user_id=?1 AND kind=0 AND "
    "token_hash!=?2 ORDER BY created_at_ms DESC, token_hash DESC LIMIT -1 OFFSET ?3) RETURNING token_hash";
const char kDeleteExpiredSessions[] = "DELETE FROM sessions WHERE expires_at_ms<=?1 OR revoked!=0";
const char kUpdateSessionUse[] = "UPDATE sessions SET expires_at_ms=?2, last_used_ms=?3 WHERE token_hash=?1";
#define CHAT_SESSION_COLUMNS                                                                                   \
  "s.token_hash, s.user_id, u.username, s.expires_at_ms, s.kind, s.created_at_ms, s.last_used_ms, "           \
  "s.max_expires_at_ms, s.peer, s.client, s.name, s.rooms, s.actions, s.created_by, u.kind FROM sessions s " \
  "JOIN users u ON u.id=s.user_id"
const char kFindSession[] = "SELECT " CHAT_SESSION_COLUMNS
                            " WHERE s.token_hash=?1 AND s.revoked=0 AND s.expires_at_ms>?2 AND u.disabled=0 AND "
                            "u.deleted=0";
const char kLoadSessions[] = "SELECT " CHAT_SESSION_COLUMNS " WHERE u.disabled=0 AND u.deleted=0";
const char kListSessions[] = "SELECT " CHAT_SESSION_COLUMNS
                             " WHERE u.username_key=?1 AND s.revoked=0 AND s.expires_at_ms>?2 "
                             "ORDER BY s.created_at_ms, s.token_hash";
#undef CHAT_SESSION_COLUMNS
const char kRoomExists[] = "SELECT 1 FROM rooms WHERE id=?1";
const char kFindBot[] = "SELECT username FROM users WHERE username_key=?1 AND kind=2 AND deleted=0";
const char kHookStored[] = "SELECT 1 FROM webhooks WHERE id=?1";
const char kInsertHook[] =
    "INSERT INTO webhooks (id, secret_hash, room_id, bot, bot_key, created_by, created_by_key, name, created_at_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
#define CHAT_HOOK_COLUMNS "id, secret_hash, room_id, bot, created_by, name, created_at_ms FROM webhooks"
const char kListHooks[] =
    "SELECT " CHAT_HOOK_COLUMNS " WHERE revoked=0 AND (?1='' OR created_by_key=?1) ORDER BY id";
const char kFindHook[] = "SELECT " CHAT_HOOK_COLUMNS " WHERE revoked=0 AND id=?1";
#undef CHAT_HOOK_COLUMNS
const char kRevokeHook[] = "UPDATE webhooks SET revoked=1 WHERE id=?1 AND revoked=0";
const char kInsertInvite[] =
    "INSERT INTO registration_invites (code_hash, created_by, created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (code_hash) DO NOTHING";

// The first column of every row (for RETURNING token_hash).
absl::StatusOr<std::vector<std::string>> Column0(SqliteStmt& s, absl::string_view what) {
  std::vector<std::string> out;
  absl::Status st = s.EachRow([&] { out.push_back(s.Text(0)); }, what);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

UserRecord UserRow(SqliteStmt& s) {
  UserRecord u;
  u.id = s.Int(0);
  u.username = s.Text(1);
  u.password_hash = s.Text(2);
  u.disabled = s.Int(3) != 0;
  u.kind = StoredAuthorKind(s.Int(4));
  u.owner = s.Text(5);
  u.display_name = s.Text(6);
  u.deleted = s.Int(7) != 0;
  u.created_at_ms = s.Int(8);
  return u;
}

SessionRecord SessionRow(SqliteStmt& s) {
  SessionRecord r;
  r.token_hash = s.Text(0);
  r.user_id = s.Int(1);
  r.username = s.Text(2);
  r.expires_at_ms = s.Int(3);
  r.kind = s.Int(4) == kTokenKind ? CredentialKind::kApiToken : CredentialKind::kLogin;
  r.created_at_ms = s.Int(5);
  r.last_used_ms = s.Int(6);
  r.max_expires_at_ms = s.Int(7);
  r.peer = s.Text(8);
  r.client = s.Text(9);
  r.name = s.Text(10);
  const std::string rooms = s.Text(11);
  if (!rooms.empty()) r.rooms = absl::StrSplit(rooms, '\n');
  r.actions = static_cast<int>(s.Int(12));
  r.created_by = s.Text(13);
  r.account_kind = StoredAuthorKind(s.Int(14));
  return r;
}

WebhookRecord HookRow(SqliteStmt& s) {
  WebhookRecord h;
  h.id = s.Text(0);
  h.secret_hash = s.Text(1);
  h.room_id = s.Int(2);
  h.bot = s.Text(3);
  h.created_by = s.Text(4);
  h.name = s.Text(5);
  h.created_at_ms = s.Int(6);
  return h;
}

// Reads the rows of a prepared and bound statement with `row`.
template <typename T, typename RowFn>
absl::StatusOr<std::vector<T>> Rows(SqliteStmt& s, RowFn row, absl::string_view what) {
  std::vector<T> out;
  absl::Status st = s.EachRow([&] { out.push_back(row(s)); }, what);
  s.Reset();
  if (!st.ok()) return st;
  return out;
}

// The one row of a prepared and bound statement with `row`, or NOT_FOUND
// with `missing`.
template <typename T, typename RowFn>
absl::StatusOr<T> OneRow(SqliteStmt& s, RowFn row, absl::string_view missing, absl::string_view what) {
  int rc = s.Step();
  if (rc == SQLITE_ROW) {
    T out = row(s);
    s.Reset();
    return out;
  }
  s.Reset();
  if (rc == SQLITE_DONE) return absl::NotFoundError(missing);
  return s.Error(rc, what);
}

}  // namespace

absl::StatusOr<std::vector<SessionRecord>> LoadSessionsOn(SqliteConnection& c, int64_t now_ms) {
  if (absl::Status st = StepDone(c.Get(kDeleteExpiredSessions).Reset().Bind(1, now_ms), "expire sessions");
      !st.ok()) {
    return st;
  }
  return Rows<SessionRecord>(c.Get(kLoadSessions).Reset(), SessionRow, "load sessions");
}

absl::StatusOr<UserRecord> CreateAccountOn(SqliteConnection& c, const NewAccount& a) {
  return InSavepoint<UserRecord>(c, [&]() -> absl::StatusOr<UserRecord> {
    UserRecord u;
    u.username = a.username;
    u.password_hash = a.password_hash;
    u.kind = a.kind == AccountKind::kBot ? AccountKind::kBot : AccountKind::kUser;
    u.display_name = a.display_name;
    u.created_at_ms = a.now_ms;
    std::string owner_key;
    if (u.kind == AccountKind::kBot) {
      owner_key = a.owner_key;
      SqliteStmt& o = c.Get(kFindOwner);
      o.Reset().Bind(1, owner_key);
      auto owner = OneRow<std::string>(o, [](SqliteStmt& s) { return s.Text(0); },
                                       absl::StrCat("no user '", owner_key, "' to own the bot"), "find owner");
      if (!owner.ok()) return owner.status();
      u.owner = *owner;
    }
    // Taken first: a taken name must not use up the invite.
    auto taken = StepAny(c.Get(kUserTaken).Reset().Bind(1, a.username_key), "create account");
    if (!taken.ok()) return taken.status();
    if (*taken) return absl::AlreadyExistsError(absl::StrCat("username '", a.username, "' is taken"));
    if (!a.invite_code_hash.empty()) {
      SqliteStmt& inv = c.Get(kUseInvite);
      inv.Reset().BindBlob(1, a.invite_code_hash).Bind(2, a.username_key).Bind(3, a.now_ms);
      if (absl::Status st = StepDone(inv, "use invite"); !st.ok()) return st;
      if (sqlite3_changes(c.db()) == 0) {
        return absl::FailedPreconditionError("invite code unknown, used or expired");
      }
    }
    SqliteStmt& s = c.Get(kInsertAccount);
    s.Reset().Bind(1, a.username).Bind(2, a.username_key).Bind(3, a.password_hash).Bind(4, a.now_ms);
    s.Bind(5, static_cast<int64_t>(u.kind)).Bind(6, u.owner).Bind(7, owner_key).Bind(8, a.display_name);
    if (absl::Status st = StepDone(s, "create account"); !st.ok()) return st;
    if (sqlite3_changes(c.db()) == 0) {
      return absl::AlreadyExistsError(absl::StrCat("username '", a.username, "' is taken"));
    }
    u.id = sqlite3_last_insert_rowid(c.db());
    return u;
  });
}

absl::StatusOr<UserRecord> SetDisplayNameOn(SqliteConnection& c, const std::string& username_key,
                                            const std::string& display_name) {
  SqliteStmt& s = c.Get(kSetDisplayName);
  if (absl::Status st = StepDone(s.Reset().Bind(1, username_key).Bind(2, display_name), "set display name");
      !st.ok()) {
    return st;
  }
  if (sqlite3_changes(c.db()) == 0) return absl::NotFoundError("no such user");
  return FindUserOn(c, username_key);
}

absl::StatusOr<std::vector<std::string>> SetPasswordOn(SqliteConnection& c, const std::string& username_key,
                                                       const std::string& password_hash,
                                                       const std::string& keep_token_hash) {
  return InSavepoint<std::vector<std::string>>(c, [&]() -> absl::StatusOr<std::vector<std::string>> {
    SqliteStmt& s = c.Get(kSetPassword);
    if (absl::Status st = StepDone(s.Reset().Bind(1, username_key).Bind(2, password_hash), "set password");
        !st.ok()) {
      return st;
    }
    if (sqlite3_changes(c.db()) == 0) return absl::NotFoundError("no such user");
    return Column0(c.Get(kRevokeOtherLogins).Reset().Bind(1, username_key).BindBlob(2, keep_token_hash),
                   "revoke sessions");
  });
}

absl::StatusOr<std::vector<std::string>> DeleteUserOn(SqliteConnection& c, const std::string& username_key) {
  return InSavepoint<std::vector<std::string>>(c, [&]() -> absl::StatusOr<std::vector<std::string>> {
    auto doomed = Rows<std::pair<int64_t, std::string>>(
        c.Get(kDoomedAccounts).Reset().Bind(1, username_key),
        [](SqliteStmt& s) { return std::make_pair(s.Int(0), s.Text(1)); }, "delete user");
    if (!doomed.ok()) return doomed.status();
    bool found = false;
    for (const auto& [id, key] : *doomed) found = found || key == username_key;
    if (!found) return absl::NotFoundError("no such user");
    std::vector<std::string> gone;
    for (const auto& [id, key] : *doomed) {
      if (absl::Status st = StepDone(c.Get(kMarkDeleted).Reset().Bind(1, id), "delete user"); !st.ok()) return st;
      auto revoked = Column0(c.Get(kRevokeAllOf).Reset().Bind(1, id), "revoke sessions");
      if (!revoked.ok()) return revoked.status();
      gone.insert(gone.end(), revoked->begin(), revoked->end());
      if (absl::Status st = StepDone(c.Get(kRevokeHooksOf).Reset().Bind(1, key), "revoke webhooks"); !st.ok()) {
        return st;
      }
    }
    return gone;
  });
}

absl::StatusOr<bool> CreateSessionOn(SqliteConnection& c, const SessionRecord& r, int64_t now_ms) {
  return InSavepoint<bool>(c, [&]() -> absl::StatusOr<bool> {
    auto stored = StepAny(c.Get(kSessionStored).Reset().BindBlob(1, r.token_hash), "create session");
    if (!stored.ok()) return stored.status();
    if (*stored) return absl::AlreadyExistsError("this session is stored already");
    const bool token = r.kind == CredentialKind::kApiToken;
    if (token) {
      if (absl::Status st = StepDone(c.Get(kDropExpiredName).Reset().Bind(1, r.user_id).Bind(2, r.name).Bind(3, now_ms),
                                     "create session");
          !st.ok()) {
        return st;
      }
      auto taken = StepAny(c.Get(kNameTaken).Reset().Bind(1, r.user_id).Bind(2, r.name), "create session");
      if (!taken.ok()) return taken.status();
      if (*taken) return absl::AlreadyExistsError(absl::StrCat("an API token named '", r.name, "' exists"));
    }
    SqliteStmt& s = c.Get(kInsertSession);
    s.Reset().BindBlob(1, r.token_hash).Bind(2, r.user_id).Bind(3, r.created_at_ms > 0 ? r.created_at_ms : now_ms);
    s.Bind(4, r.expires_at_ms).Bind(5, token ? kTokenKind : kLoginKind).Bind(6, r.last_used_ms);
    s.Bind(7, r.max_expires_at_ms).Bind(8, r.peer).Bind(9, r.client).Bind(10, r.name);
    s.Bind(11, absl::StrJoin(r.rooms, "\n")).Bind(12, static_cast<int64_t>(r.actions)).Bind(13, r.created_by);
    if (absl::Status st = StepDone(s, "create session"); !st.ok()) return st;
    if (sqlite3_changes(c.db()) == 0) return absl::NotFoundError(absl::StrCat("no user ", r.user_id));
    return true;
  });
}

absl::StatusOr<bool> RevokeSessionOn(SqliteConnection& c, const std::string& token_hash) {
  if (absl::Status st = StepDone(c.Get(kRevokeSession).Reset().BindBlob(1, token_hash), "revoke session"); !st.ok()) {
    return st;
  }
  return sqlite3_changes(c.db()) > 0;
}

absl::StatusOr<std::vector<std::string>> TrimSessionsOn(SqliteConnection& c, const SessionRecord& newest,
                                                        int max_sessions) {
  if (max_sessions < 1) return absl::InvalidArgumentError("max_sessions must be at least 1");
  SqliteStmt& s = c.Get(kTrimSessions);
  s.Reset().Bind(1, newest.user_id).BindBlob(2, newest.token_hash).Bind(3, static_cast<int64_t>(max_sessions - 1));
  return Column0(s, "trim sessions");
}

absl::StatusOr<int64_t> DeleteExpiredSessionsOn(SqliteConnection& c, int64_t now_ms) {
  SqliteStmt& s = c.Get(kDeleteExpiredSessions);
  if (absl::Status st = StepDone(s.Reset().Bind(1, now_ms), "delete expired sessions"); !st.ok()) return st;
  return static_cast<int64_t>(sqlite3_changes(c.db()));
}

absl::StatusOr<bool> UpdateSessionUseOn(SqliteConnection& c, const std::string& token_hash, int64_t expires_at_ms,
                                        int64_t last_used_ms) {
  SqliteStmt& s = c.Get(kUpdateSessionUse);
  s.Reset().BindBlob(1, token_hash).Bind(2, expires_at_ms).Bind(3, last_used_ms);
  if (absl::Status st = StepDone(s, "update session"); !st.ok()) return st;
  return sqlite3_changes(c.db()) > 0;
}

absl::StatusOr<WebhookRecord> CreateWebhookOn(SqliteConnection& c, const WebhookRecord& hook) {
  auto stored = StepAny(c.Get(kHookStored).Reset().Bind(1, hook.id), "create webhook");
  if (!stored.ok()) return stored.status();
  if (*stored) return absl::AlreadyExistsError(absl::StrCat("webhook ", hook.id, " exists"));
  auto room = StepAny(c.Get(kRoomExists).Reset().Bind(1, hook.room_id), "create webhook");
  if (!room.ok()) return room.status();
  if (!*room) return absl::NotFoundError(absl::StrCat("room ", hook.room_id, " does not exist"));
  const std::string bot_key = absl::AsciiStrToLower(hook.bot);
  SqliteStmt& b = c.Get(kFindBot);
  b.Reset().Bind(1, bot_key);
  auto bot = OneRow<std::string>(b, [](SqliteStmt& s) { return s.Text(0); },
                                 absl::StrCat("no bot '", hook.bot, "'"), "find bot");
  if (!bot.ok()) return bot.status();
  WebhookRecord made = hook;
  made.bot = *bot;
  SqliteStmt& s = c.Get(kInsertHook);
  s.Reset().Bind(1, made.id).BindBlob(2, made.secret_hash).Bind(3, made.room_id).Bind(4, made.bot).Bind(5, bot_key);
  s.Bind(6, made.created_by).Bind(7, absl::AsciiStrToLower(made.created_by)).Bind(8, made.name);
  s.Bind(9, made.created_at_ms);
  if (absl::Status st = StepDone(s, "create webhook"); !st.ok()) return st;
  return made;
}

absl::StatusOr<bool> RevokeWebhookOn(SqliteConnection& c, const std::string& id) {
  if (absl::Status st = StepDone(c.Get(kRevokeHook).Reset().Bind(1, id), "revoke webhook"); !st.ok()) return st;
  return sqlite3_changes(c.db()) > 0;
}

absl::StatusOr<bool> CreateRegistrationInviteOn(SqliteConnection& c, const RegistrationInviteRecord& invite) {
  SqliteStmt& s = c.Get(kInsertInvite);
  s.Reset().BindBlob(1, invite.code_hash).Bind(2, invite.created_by).Bind(3, invite.created_at_ms);
  s.Bind(4, invite.expires_at_ms);
  if (absl::Status st = StepDone(s, "create invite"); !st.ok()) return st;
  if (sqlite3_changes(c.db()) == 0) return absl::AlreadyExistsError("this invite code is stored already");
  return true;
}

absl::StatusOr<UserRecord> FindUserOn(SqliteConnection& c, const std::string& username_key) {
  return OneRow<UserRecord>(c.Get(kFindUser).Reset().Bind(1, username_key), UserRow, "no such user", "find user");
}

absl::StatusOr<std::vector<UserRecord>> FindUsersOn(SqliteConnection& c, const std::vector<std::string>& keys) {
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<UserRecord> out;
  for (const std::string& key : sorted) {
    auto u = FindUserOn(c, key);
    if (u.ok()) {
      out.push_back(std::move(*u));
    } else if (!absl::IsNotFound(u.status())) {
      return u.status();
    }
  }
  return out;
}

absl::StatusOr<std::vector<UserRecord>> ListBotsOn(SqliteConnection& c, const std::string& owner_key) {
  return Rows<UserRecord>(c.Get(kListBots).Reset().Bind(1, owner_key), UserRow, "list bots");
}

absl::StatusOr<SessionRecord> FindSessionOn(SqliteConnection& c, const std::string& token_hash, int64_t now_ms) {
  return OneRow<SessionRecord>(c.Get(kFindSession).Reset().BindBlob(1, token_hash).Bind(2, now_ms), SessionRow,
                               "no such session", "find session");
}

absl::StatusOr<std::vector<SessionRecord>> ListSessionsOn(SqliteConnection& c, const std::string& username_key,
                                                          int64_t now_ms) {
  return Rows<SessionRecord>(c.Get(kListSessions).Reset().Bind(1, username_key).Bind(2, now_ms), SessionRow,
                             "list sessions");
}

absl::StatusOr<std::vector<WebhookRecord>> ListWebhooksOn(SqliteConnection& c, const std::string& created_by_key) {
  return Rows<WebhookRecord>(c.Get(kListHooks).Reset().Bind(1, created_by_key), HookRow, "list webhooks");
}

absl::StatusOr<WebhookRecord> FindWebhookOn(SqliteConnection& c, const std::string& id) {
  return OneRow<WebhookRecord>(c.Get(kFindHook).Reset().Bind(1, id), HookRow, "no such webhook", "find webhook");
}

}  // namespace chat::core
