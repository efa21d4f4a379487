#include "pg_account_ops.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "pg_room_ops.h"

namespace chat::core {
namespace {

using Results = std::vector<absl::StatusOr<PgResult>>;

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }
std::string Num(int64_t v) { return absl::StrCat(v); }

AccountKind KindOf(int64_t v) {
  return v == static_cast<int64_t>(AccountKind::kBot) ? AccountKind::kBot : AccountKind::kUser;
}

#define CHAT_USER_COLUMNS "id, username, password_hash, disabled, kind, owner, display_name, deleted, created_at_ms"
UserRecord UserRow(const PgResult& r, int i) {
  UserRecord u;
  u.id = r.Int(i, 0);
  u.username = std::string(r.Text(i, 1));
  u.password_hash = std::string(r.Text(i, 2));
  u.disabled = r.Bool(i, 3);
  u.kind = KindOf(r.Int(i, 4));
  u.owner = std::string(r.Text(i, 5));
  u.display_name = std::string(r.Text(i, 6));
  u.deleted = r.Bool(i, 7);
  u.created_at_ms = r.Int(i, 8);
  return u;
}

// A session's rooms are stored joined with newlines (room names hold none).
#define CHAT_SESSION_COLUMNS                                                                                      \
  "encode(s.token_hash, 'hex'), s.user_id, u.username, s.expires_at_ms, s.kind, s.created_at_ms, s.last_used_ms, " \
  "s.max_expires_at_ms, s.peer, s.client, s.name, s.rooms, s.actions, s.created_by, u.kind FROM sessions s "      \
  "JOIN users u ON u.id = s.user_id"
SessionRecord SessionRow(const PgResult& r, int i) {
  SessionRecord s;
  s.token_hash = absl::HexStringToBytes(r.Text(i, 0));
  s.user_id = r.Int(i, 1);
  s.username = std::string(r.Text(i, 2));
  s.expires_at_ms = r.Int(i, 3);
  s.kind = r.Int(i, 4) == static_cast<int64_t>(CredentialKind::kApiToken) ? CredentialKind::kApiToken
                                                                          : CredentialKind::kLogin;
  s.created_at_ms = r.Int(i, 5);
  s.last_used_ms = r.Int(i, 6);
  s.max_expires_at_ms = r.Int(i, 7);
  s.peer = std::string(r.Text(i, 8));
  s.client = std::string(r.Text(i, 9));
  s.name = std::string(r.Text(i, 10));
  if (!r.Text(i, 11).empty()) s.rooms = absl::StrSplit(r.Text(i, 11), '\n');
  s.actions = static_cast<int>(r.Int(i, 12));
  s.created_by = std::string(r.Text(i, 13));
  s.account_kind = KindOf(r.Int(i, 14));
  return s;
}

#define CHAT_HOOK_COLUMNS "id, encode(secret_hash, 'hex'), room_id, bot, created_by, name, created_at_ms FROM webhooks"
WebhookRecord HookRow(const PgResult& r, int i) {
  WebhookRecord h;
  h.id = std::string(r.Text(i, 0));
  h.secret_hash = absl::HexStringToBytes(r.Text(i, 1));
  h.room_id = r.Int(i, 2);
  h.bot = std::string(r.Text(i, 3));
  h.created_by = std::string(r.Text(i, 4));
  h.name = std::string(r.Text(i, 5));
  h.created_at_ms = r.Int(i, 6);
  return h;
}

template <typename T, typename RowFn>
absl::StatusOr<std::vector<T>> AllRows(absl::StatusOr<PgResult> r, RowFn row) {
  if (!r.ok()) return r.status();
  std::vector<T> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) out.push_back(row(*r, i));
  return out;
}

// The hashes (hex in column 0) of a statement that revoked sessions.
std::vector<std::string> Hashes(const PgResult& r) {
  std::vector<std::string> gone;
  for (int i = 0; i < r.rows(); ++i) gone.push_back(absl::HexStringToBytes(r.Text(i, 0)));
  return gone;
}

// Deletes the sessions `where` selects (with $1.. as `params`) and tells
// every node of each, as RevokeSession does (chat_sessions); returns their
// hashes in hex.
PgQuery RevokeWhere(const std::string& where, std::vector<std::optional<std::string>> params) {
  return {absl::StrCat("WITH d AS (DELETE FROM sessions WHERE ", where,
                       " RETURNING token_hash) SELECT encode(token_hash, 'hex'), "
                       "pg_notify('chat_sessions', encode(token_hash, 'hex')) FROM d"),
          std::move(params)};
}

}  // namespace

PgWriteOp PgCreateAccountOp(const NewAccount& a, StoreCallback<UserRecord> done) {
  const bool bot = a.kind == AccountKind::kBot;
  UserRecord made;
  made.username = a.username;
  made.password_hash = a.password_hash;
  made.kind = bot ? AccountKind::kBot : AccountKind::kUser;
  made.display_name = a.display_name;
  made.created_at_ms = a.now_ms;
  // The owner and the invite are locked (FOR SHARE, FOR UPDATE): a DeleteUser
  // or a registration with the same code on another node waits, and this one
  // sees what it committed. The invite is used only if the account is made.
  // One row: the new id (NULL: none made), the owner, whether the owner is
  // good, whether the name was taken, whether the invite is good.
  PgQuery q{"WITH o AS (SELECT username FROM users WHERE $5::integer = 2 AND username_key = $6::text AND kind = 1 "
            "AND NOT deleted FOR SHARE), "
            "inv AS (SELECT code_hash FROM registration_invites WHERE $8::text <> '' AND "
            "code_hash = decode($8::text, 'hex') AND used_by = '' AND expires_at_ms > $4::bigint FOR UPDATE), "
            "ins AS (INSERT INTO users (username, username_key, password_hash, created_at_ms, kind, owner, owner_key, "
            "display_name) SELECT $1::text, $2::text, $3::text, $4::bigint, $5::integer, "
            "coalesce((SELECT username FROM o), ''), CASE WHEN $5::integer = 2 THEN $6::text ELSE '' END, $7::text "
            "WHERE ($5::integer <> 2 OR EXISTS (SELECT 1 FROM o)) AND ($8::text = '' OR EXISTS (SELECT 1 FROM inv)) "
            "ON CONFLICT (username_key) DO NOTHING RETURNING id, owner), "
            "used AS (UPDATE registration_invites SET used_by = $2::text, used_at_ms = $4::bigint "
            "WHERE code_hash IN (SELECT code_hash FROM inv) AND EXISTS (SELECT 1 FROM ins) RETURNING 1) "
            "SELECT (SELECT id FROM ins), (SELECT owner FROM ins), $5::integer <> 2 OR EXISTS (SELECT 1 FROM o), "
            "EXISTS (SELECT 1 FROM users WHERE username_key = $2::text), "
            "$8::text = '' OR EXISTS (SELECT 1 FROM inv), (SELECT count(*) FROM used)",
            {a.username, a.username_key, a.password_hash, Num(a.now_ms), Num(static_cast<int>(made.kind)),
             a.owner_key, a.display_name, Hex(a.invite_code_hash)}};
  const std::string owner_key = a.owner_key;
  return PgWriteOp{{std::move(q)}, [made, owner_key, done = std::move(done)](Results& results,
                                                                            const absl::Status& commit) mutable {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results[0];
                     if (r.rows() != 1) return done(absl::InternalError("create account: no answer"));
                     if (!r.IsNull(0, 0)) {
                       made.id = r.Int(0, 0);
                       made.owner = std::string(r.Text(0, 1));
                       return done(made);
                     }
                     if (!r.Bool(0, 2)) {
                       return done(absl::NotFoundError(absl::StrCat("no user '", owner_key, "' to own the bot")));
                     }
                     if (!r.Bool(0, 3) && !r.Bool(0, 4)) {
                       return done(absl::FailedPreconditionError("invite code unknown, used or expired"));
                     }
                     done(absl::AlreadyExistsError(absl::StrCat("username '", made.username, "' is taken")));
                   }};
}

PgWriteOp PgSetDisplayNameOp(const std::string& username_key, const std::string& display_name,
                             StoreCallback<UserRecord> done) {
  PgQuery q{"UPDATE users SET display_name = $2::text WHERE username_key = $1::text AND NOT deleted RETURNING " CHAT_USER_COLUMNS,
            {username_key, display_name}};
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     if (results[0]->rows() == 0) return done(absl::NotFoundError("no such user"));
                     done(UserRow(*results[0], 0));
                   }};
}

PgWriteOp PgSetPasswordOp(const std::string& username_key, const std::string& password_hash,
                          const std::string& keep_token_hash, StoreCallback<std::vector<std::string>> done) {
  std::vector<PgQuery> queries;
  queries.push_back({"UPDATE users SET password_hash = $2::text WHERE username_key = $1::text AND NOT deleted "
                     "RETURNING id",
                     {username_key, password_hash}});
  // A statement of its own: it sees the sessions committed while the update
  // waited for the user's row (a login's CreateSession locks it FOR SHARE).
  queries.push_back(RevokeWhere("kind = 0 AND token_hash <> decode($2::text, 'hex') AND user_id IN (SELECT id FROM "
                                "users WHERE username_key = $1::text AND NOT deleted)",
                                {username_key, Hex(keep_token_hash)}));
  return PgWriteOp{std::move(queries), [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     if (results[0]->rows() == 0) return done(absl::NotFoundError("no such user"));
                     done(Hashes(*results[1]));
                   }};
}

PgWriteOp PgDeleteUserOp(const std::string& username_key, StoreCallback<std::vector<std::string>> done) {
  // The account and its live bots (only while the account itself is live).
  std::vector<PgQuery> queries;
  queries.push_back({"UPDATE users SET deleted = true, password_hash = '', display_name = '' WHERE NOT deleted AND "
                     "(username_key = $1::text OR (kind = 2 AND owner_key = $1::text)) AND EXISTS (SELECT 1 FROM "
                     "users WHERE username_key = $1::text AND NOT deleted) RETURNING username_key",
                     {username_key}});
  // Their sessions and webhooks (a deleted account has none left over, so
  // every deleted account of the set will do).
  const std::string accounts =
      "SELECT {} FROM users WHERE deleted AND (username_key = $1::text OR (kind = 2 AND owner_key = $1::text))";
  auto of = [&](const char* column) { return absl::StrReplaceAll(accounts, {{"{}", column}}); };
  queries.push_back(RevokeWhere(absl::StrCat("user_id IN (", of("id"), ")"), {username_key}));
  queries.push_back({absl::StrCat("UPDATE webhooks SET revoked = true WHERE NOT revoked AND (bot_key IN (",
                                  of("username_key"), ") OR created_by_key IN (", of("username_key"), "))"),
                     {username_key}});
  return PgWriteOp{std::move(queries),
                   [username_key, done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     bool found = false;
                     for (int i = 0; i < results[0]->rows(); ++i) found = found || results[0]->Text(i, 0) == username_key;
                     if (!found) return done(absl::NotFoundError("no such user"));
                     done(Hashes(*results[1]));
                   }};
}

PgWriteOp PgCreateSessionOp(const SessionRecord& s, int64_t now_ms, StoreCallback<bool> done) {
  const bool token = s.kind == CredentialKind::kApiToken;
  std::vector<PgQuery> queries;
  // An expired token no longer holds its name.
  queries.push_back({"DELETE FROM sessions WHERE $1::boolean AND user_id = $2::bigint AND kind = 1 AND "
                     "name = $3::text AND expires_at_ms <= $4::bigint",
                     {token ? "t" : "f", Num(s.user_id), s.name, Num(now_ms)}});
  // The user's row is locked FOR SHARE: a DeleteUser or SetPassword waits for
  // this commit and then revokes the new session too. The unique index on
  // (user_id, name) of tokens settles a race of two names on two nodes.
  queries.push_back(
      {"WITH u AS (SELECT id FROM users WHERE id = $2::bigint AND NOT deleted FOR SHARE), "
       "taken AS (SELECT 1 FROM sessions WHERE $5::integer = 1 AND kind = 1 AND user_id = $2::bigint AND "
       "name = $10::text), "
       "ins AS (INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms, kind, last_used_ms, "
       "max_expires_at_ms, peer, client, name, rooms, actions, created_by) SELECT decode($1::text, 'hex'), u.id, "
       "$3::bigint, $4::bigint, $5::integer, $6::bigint, $7::bigint, $8::text, $9::text, $10::text, $11::text, "
       "$12::integer, $13::text FROM u WHERE NOT EXISTS (SELECT 1 FROM taken) RETURNING 1) "
       "SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM taken), EXISTS (SELECT 1 FROM ins)",
       {Hex(s.token_hash), Num(s.user_id), Num(s.created_at_ms > 0 ? s.created_at_ms : now_ms), Num(s.expires_at_ms),
        Num(token ? 1 : 0), Num(s.last_used_ms), Num(s.max_expires_at_ms), s.peer, s.client, s.name,
        absl::StrJoin(s.rooms, "\n"), Num(s.actions), s.created_by}});
  const std::string name = s.name;
  const int64_t user_id = s.user_id;
  return PgWriteOp{std::move(queries),
                   [name, user_id, done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results[1];
                     if (r.rows() != 1) return done(absl::InternalError("create session: no answer"));
                     if (!r.Bool(0, 0)) return done(absl::NotFoundError(absl::StrCat("no user ", user_id)));
                     if (r.Bool(0, 1)) {
                       return done(absl::AlreadyExistsError(absl::StrCat("an API token named '", name, "' exists")));
                     }
                     done(true);
                   }};
}

PgWriteOp PgRevokeSessionOp(const std::string& token_hash, StoreCallback<bool> done) {
  PgQuery q = RevokeWhere("token_hash = decode($1::text, 'hex')", {Hex(token_hash)});
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     done(results[0]->rows() > 0);
                   }};
}

PgWriteOp PgTrimSessionsOp(const SessionRecord& newest, int max_sessions,
                           StoreCallback<std::vector<std::string>> done) {
  // Login sessions only (kind 0): API tokens neither count nor go.
  PgQuery q = RevokeWhere(
      "token_hash IN (SELECT token_hash FROM sessions WHERE user_id = $1::bigint AND kind = 0 AND "
      "token_hash <> decode($2::text, 'hex') ORDER BY created_at_ms DESC, token_hash DESC OFFSET $3::bigint)",
      {Num(newest.user_id), Hex(newest.token_hash), Num(max_sessions - 1)});
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     done(Hashes(*results[0]));
                   }};
}

PgWriteOp PgDeleteExpiredSessionsOp(int64_t now_ms, StoreCallback<int64_t> done) {
  PgQuery q{"WITH d AS (DELETE FROM sessions WHERE expires_at_ms <= $1::bigint RETURNING 1) SELECT count(*) FROM d",
            {Num(now_ms)}};
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     done(results[0]->rows() > 0 ? results[0]->Int(0, 0) : 0);
                   }};
}

PgWriteOp PgUpdateSessionUseOp(const std::string& token_hash, int64_t expires_at_ms, int64_t last_used_ms,
                               StoreCallback<bool> done) {
  PgQuery q{"UPDATE sessions SET expires_at_ms = $2::bigint, last_used_ms = $3::bigint WHERE "
            "token_hash = decode($1::text, 'hex') RETURNING 1",
            {Hex(token_hash), Num(expires_at_ms), Num(last_used_ms)}};
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     done(results[0]->rows() > 0);
                   }};
}

PgWriteOp PgCreateWebhookOp(const WebhookRecord& hook, StoreCallback<WebhookRecord> done) {
  // The bot's row is locked FOR SHARE, so a DeleteUser that revokes its hooks
  // sees this one. One row: the bot's name as registered (NULL: not made),
  // whether the room and the bot exist.
  PgQuery q{"WITH b AS (SELECT username FROM users WHERE username_key = $4::text AND kind = 2 AND NOT deleted "
            "FOR SHARE), r AS (SELECT id FROM rooms WHERE id = $3::bigint), "
            "ins AS (INSERT INTO webhooks (id, secret_hash, room_id, bot, bot_key, created_by, created_by_key, name, "
            "created_at_ms) SELECT $1::text, decode($2::text, 'hex'), $3::bigint, b.username, $4::text, $5::text, "
            "$6::text, $7::text, $8::bigint FROM b, r ON CONFLICT (id) DO NOTHING RETURNING bot) "
            "SELECT (SELECT bot FROM ins), EXISTS (SELECT 1 FROM r), EXISTS (SELECT 1 FROM b)",
            {hook.id, Hex(hook.secret_hash), Num(hook.room_id), absl::AsciiStrToLower(hook.bot), hook.created_by,
             absl::AsciiStrToLower(hook.created_by), hook.name, Num(hook.created_at_ms)}};
  return PgWriteOp{{std::move(q)}, [hook, done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     PgResult& r = *results[0];
                     if (r.rows() != 1) return done(absl::InternalError("create webhook: no answer"));
                     if (!r.Bool(0, 1)) {
                       return done(absl::NotFoundError(absl::StrCat("room ", hook.room_id, " does not exist")));
                     }
                     if (!r.Bool(0, 2)) return done(absl::NotFoundError(absl::StrCat("no bot '", hook.bot, "'")));
                     if (r.IsNull(0, 0)) return done(absl::AlreadyExistsError(absl::StrCat("webhook ", hook.id, " exists")));
                     WebhookRecord made = hook;
                     made.bot = std::string(r.Text(0, 0));
                     done(std::move(made));
                   }};
}

PgWriteOp PgRevokeWebhookOp(const std::string& id, StoreCallback<bool> done) {
  PgQuery q{"UPDATE webhooks SET revoked = true WHERE id = $1::text AND NOT revoked RETURNING 1", {id}};
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     done(results[0]->rows() > 0);
                   }};
}

PgWriteOp PgCreateInviteOp(const RegistrationInviteRecord& invite, StoreCallback<bool> done) {
  PgQuery q{"INSERT INTO registration_invites (code_hash, created_by, created_at_ms, expires_at_ms) VALUES "
            "(decode($1::text, 'hex'), $2::text, $3::bigint, $4::bigint) ON CONFLICT (code_hash) DO NOTHING RETURNING 1",
            {Hex(invite.code_hash), invite.created_by, Num(invite.created_at_ms), Num(invite.expires_at_ms)}};
  return PgWriteOp{{std::move(q)}, [done = std::move(done)](Results& results, const absl::Status& commit) {
                     if (absl::Status st = PgOpStatus(results, commit); !st.ok()) return done(st);
                     if (results[0]->rows() == 0) return done(absl::AlreadyExistsError("this invite code is stored already"));
                     done(true);
                   }};
}

absl::StatusOr<std::vector<SessionRecord>> LoadPgSessions(PgConn& conn, int64_t now_ms) {
  auto del = conn.Query({"DELETE FROM sessions WHERE expires_at_ms <= $1::bigint", {Num(now_ms)}});
  if (!del.ok()) return del.status();
  return AllRows<SessionRecord>(conn.Exec("SELECT " CHAT_SESSION_COLUMNS " WHERE NOT u.disabled AND NOT u.deleted"),
                                SessionRow);
}

absl::StatusOr<UserRecord> FindPgUser(PgConn& conn, const std::string& username_key) {
  auto r = conn.Query({"SELECT " CHAT_USER_COLUMNS " FROM users WHERE username_key = $1::text", {username_key}});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return absl::NotFoundError("no such user");
  return UserRow(*r, 0);
}

absl::StatusOr<std::vector<UserRecord>> FindPgUsers(PgConn& conn, const std::vector<std::string>& keys) {
  return AllRows<UserRecord>(conn.Query({"SELECT " CHAT_USER_COLUMNS " FROM users WHERE username_key = "
                                         "ANY($1::text[]) ORDER BY username_key COLLATE \"C\"",
                                         {PgTextArray(keys)}}),
                             UserRow);
}

absl::StatusOr<std::vector<UserRecord>> ListPgBots(PgConn& conn, const std::string& owner_key) {
  return AllRows<UserRecord>(conn.Query({"SELECT " CHAT_USER_COLUMNS " FROM users WHERE kind = 2 AND NOT deleted AND "
                                         "($1::text = '' OR owner_key = $1::text) ORDER BY username_key COLLATE \"C\"",
                                         {owner_key}}),
                             UserRow);
}

absl::StatusOr<SessionRecord> FindPgSession(PgConn& conn, const std::string& token_hash, int64_t now_ms) {
  auto r = conn.Query({"SELECT " CHAT_SESSION_COLUMNS " WHERE s.token_hash = decode($1::text, 'hex') AND "
                       "s.expires_at_ms > $2::bigint AND NOT u.disabled AND NOT u.deleted",
                       {Hex(token_hash), Num(now_ms)}});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return absl::NotFoundError("no such session");
  return SessionRow(*r, 0);
}

absl::StatusOr<std::vector<SessionRecord>> ListPgSessions(PgConn& conn, const std::string& username_key,
                                                          int64_t now_ms) {
  return AllRows<SessionRecord>(conn.Query({"SELECT " CHAT_SESSION_COLUMNS " WHERE u.username_key = $1::text AND "
                                            "s.expires_at_ms > $2::bigint ORDER BY s.created_at_ms, s.token_hash",
                                            {username_key, Num(now_ms)}}),
                                SessionRow);
}

absl::StatusOr<std::vector<WebhookRecord>> ListPgWebhooks(PgConn& conn, const std::string& created_by_key) {
  return AllRows<WebhookRecord>(conn.Query({"SELECT " CHAT_HOOK_COLUMNS " WHERE NOT revoked AND ($1::text = '' OR "
                                            "created_by_key = $1::text) ORDER BY id COLLATE \"C\"",
                                            {created_by_key}}),
                                HookRow);
}

absl::StatusOr<WebhookRecord> FindPgWebhook(PgConn& conn, const std::string& id) {
  auto r = conn.Query({"SELECT " CHAT_HOOK_COLUMNS " WHERE NOT revoked AND id = $1::text", {id}});
  if (!r.ok()) return r.status();
  if (r->rows() == 0) return absl::NotFoundError("no such webhook");
  return HookRow(*r, 0);
}

}  // namespace chat::core
