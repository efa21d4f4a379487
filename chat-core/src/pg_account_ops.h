// The PostgreSQL store's statements for accounts and credentials (store.h:
// users, bots, sessions and API tokens, webhooks, registration invites): the
// writes as PgWriteOps for the writer's group commit (pg_write_batch.h), the
// reads for a reader connection. Every write that revokes sessions sends
// each revoked token's hash on chat_sessions inside its own statement (as
// RevokeSession always has), so every node of a cluster hears of exactly
// what was committed. Statements that must see rows other nodes committed
// while they waited for a lock are statements of their own (READ COMMITTED
// takes a snapshot per statement); the account rows they depend on are
// locked (FOR SHARE) so a concurrent DeleteUser cannot slip between.
//
// Threading: pure builders; an op's `complete` runs on the writer thread, the
// reads on the caller's (a reader thread). Lifetime: stateless.
#ifndef CHAT_CORE_SRC_PG_ACCOUNT_OPS_H_
#define CHAT_CORE_SRC_PG_ACCOUNT_OPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pg_conn.h"
#include "pg_write_batch.h"
#include "store.h"

namespace chat::core {

PgWriteOp PgCreateAccountOp(const NewAccount& account, StoreCallback<UserRecord> done);
PgWriteOp PgSetDisplayNameOp(const std::string& username_key, const std::string& display_name,
                             StoreCallback<UserRecord> done);
PgWriteOp PgSetPasswordOp(const std::string& username_key, const std::string& password_hash,
                          const std::string& keep_token_hash, StoreCallback<std::vector<std::string>> done);
PgWriteOp PgDeleteUserOp(const std::string& username_key, StoreCallback<std::vector<std::string>> done);
PgWriteOp PgCreateSessionOp(const SessionRecord& session, int64_t now_ms, StoreCallback<bool> done);
PgWriteOp PgRevokeSessionOp(const std::string& token_hash, StoreCallback<bool> done);
PgWriteOp PgTrimSessionsOp(const SessionRecord& newest, int max_sessions,
                           StoreCallback<std::vector<std::string>> done);
PgWriteOp PgDeleteExpiredSessionsOp(int64_t now_ms, StoreCallback<int64_t> done);
PgWriteOp PgUpdateSessionUseOp(const std::string& token_hash, int64_t expires_at_ms, int64_t last_used_ms,
                               StoreCallback<bool> done);
PgWriteOp PgCreateWebhookOp(const WebhookRecord& hook, StoreCallback<WebhookRecord> done);
PgWriteOp PgRevokeWebhookOp(const std::string& id, StoreCallback<bool> done);
PgWriteOp PgCreateInviteOp(const RegistrationInviteRecord& invite, StoreCallback<bool> done);

// Deletes the expired sessions and returns the others (store.h's LoadSessions).
absl::StatusOr<std::vector<SessionRecord>> LoadPgSessions(PgConn& conn, int64_t now_ms);
absl::StatusOr<UserRecord> FindPgUser(PgConn& conn, const std::string& username_key);
absl::StatusOr<std::vector<UserRecord>> FindPgUsers(PgConn& conn, const std::vector<std::string>& keys);
absl::StatusOr<std::vector<UserRecord>> ListPgBots(PgConn& conn, const std::string& owner_key);
absl::StatusOr<SessionRecord> FindPgSession(PgConn& conn, const std::string& token_hash, int64_t now_ms);
absl::StatusOr<std::vector<SessionRecord>> ListPgSessions(PgConn& conn, const std::string& username_key,
                                                          int64_t now_ms);
absl::StatusOr<std::vector<WebhookRecord>> ListPgWebhooks(PgConn& conn, const std::string& created_by_key);
absl::StatusOr<WebhookRecord> FindPgWebhook(PgConn& conn, const std::string& id);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_PG_ACCOUNT_OPS_H_
