// The SQLite store's queries for accounts and credentials (store.h: users,
// bots, sessions and API tokens, webhooks, registration invites), beside
// sqlite_queries.h's and in its shape: one function per operation over a
// connection. Writes run inside the writer's open batch transaction; the
// ones of several statements each in a savepoint of their own (InSavepoint),
// so a write that fails half-way leaves nothing behind while the rest of the
// batch commits. A revoked session's row is deleted (so RevokeSession,
// TrimSessions, SetPassword, DeleteUser and SetUserDisabled agree); a revoked
// webhook and a used invite keep theirs (an id or code is never good twice).
#ifndef CHAT_CORE_SRC_SQLITE_ACCOUNT_QUERIES_H_
#define CHAT_CORE_SRC_SQLITE_ACCOUNT_QUERIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sqlite_db.h"
#include "store.h"

namespace chat::core {

// On the writer connection, inside its open transaction.
absl::StatusOr<std::vector<SessionRecord>> LoadSessionsOn(SqliteConnection& c, int64_t now_ms);
absl::StatusOr<UserRecord> CreateAccountOn(SqliteConnection& c, const NewAccount& account);
absl::StatusOr<UserRecord> SetDisplayNameOn(SqliteConnection& c, const std::string& username_key,
                                            const std::string& display_name);
absl::StatusOr<std::vector<std::string>> SetPasswordOn(SqliteConnection& c, const std::string& username_key,
                                                       const std::string& password_hash,
                                                       const std::string& keep_token_hash);
absl::StatusOr<std::vector<std::string>> DeleteUserOn(SqliteConnection& c, const std::string& username_key);
absl::StatusOr<bool> CreateSessionOn(SqliteConnection& c, const SessionRecord& session, int64_t now_ms);
absl::StatusOr<bool> RevokeSessionOn(SqliteConnection& c, const std::string& token_hash);
absl::StatusOr<std::vector<std::string>> TrimSessionsOn(SqliteConnection& c, const SessionRecord& newest,
                                                        int max_sessions);
absl::StatusOr<int64_t> DeleteExpiredSessionsOn(SqliteConnection& c, int64_t now_ms);
absl::StatusOr<bool> UpdateSessionUseOn(SqliteConnection& c, const std::string& token_hash, int64_t expires_at_ms,
                                        int64_t last_used_ms);
absl::StatusOr<WebhookRecord> CreateWebhookOn(SqliteConnection& c, const WebhookRecord& hook);
absl::StatusOr<bool> RevokeWebhookOn(SqliteConnection& c, const std::string& id);
absl::StatusOr<bool> CreateRegistrationInviteOn(SqliteConnection& c, const RegistrationInviteRecord& invite);

// Reads: on a reader connection (or the writer's, for ":memory:").
absl::StatusOr<UserRecord> FindUserOn(SqliteConnection& c, const std::string& username_key);
absl::StatusOr<std::vector<UserRecord>> FindUsersOn(SqliteConnection& c, const std::vector<std::string>& keys);
absl::StatusOr<std::vector<UserRecord>> ListBotsOn(SqliteConnection& c, const std::string& owner_key);
absl::StatusOr<SessionRecord> FindSessionOn(SqliteConnection& c, const std::string& token_hash, int64_t now_ms);
absl::StatusOr<std::vector<SessionRecord>> ListSessionsOn(SqliteConnection& c, const std::string& username_key,
                                                          int64_t now_ms);
absl::StatusOr<std::vector<WebhookRecord>> ListWebhooksOn(SqliteConnection& c, const std::string& created_by_key);
absl::StatusOr<WebhookRecord> FindWebhookOn(SqliteConnection& c, const std::string& id);

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_SQLITE_ACCOUNT_QUERIES_H_
