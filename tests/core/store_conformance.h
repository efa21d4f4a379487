// The Store conformance suite: typed GoogleTest suites over the Store interface
// that every implementation must pass. They check the contract written in
// chat-core/src/store.h, and nothing an implementation chooses for itself
// (file layout, threads, SQL). Four parts, one header each:
// store_conformance_messages.h (rooms, appends, idempotency, history),
// store_conformance_lifecycle.h (accounts, sessions, schema versions, errors,
// overload, Close), store_conformance_members.h (room kinds, member rows and
// their checked writes, the migration to them) and
// store_conformance_moderation.h (room updates and deletion, tombstones, user
// search, disabled accounts), store_conformance_accounts.h (bots, display
// names, invites, webhooks, author kinds, the migration to them) and
// store_conformance_credentials.h (API tokens and login sessions:
// SetPassword, DeleteUser, TrimSessions, ListSessions, UpdateSessionUse).
//
// To run it on an implementation, write a factory: a default-constructible
// subclass of StoreConformanceFactory (store_conformance_fixture.h), and
// instantiate the suite with it from a test file of its own, for example:
//
//   namespace chat::core::conformance {
//   class PostgresStoreFactory : public StoreConformanceFactory {
//     // SetUp(): a fresh database (UNAVAILABLE without a server: tests skip);
//     // Open(): a PostgresStore on it; MakeOldSchemaDatabase(),
//     // MakePreMembershipDatabase(), MarkSchemaNewer(),
//     // HoldWriteLock() (e.g. LOCK TABLE messages IN EXCLUSIVE MODE in a
//     // transaction of its own).
//   };
//   INSTANTIATE_STORE_CONFORMANCE(PostgresStore, PostgresStoreFactory);
//   }  // namespace chat::core::conformance
//
// store_conformance_sqlite_test.cc does this for SQLite. GoogleTest names the
// tests <Prefix>/StoreConformance{Messages,Lifecycle,Members,Moderation}Test/0.<Test>; ctest
// <Prefix>.<Test><Factory>.
//
// Threading: each test runs on the test thread and starts its own threads.
// Lifetime: one factory object per test, made before it and destroyed after it
// (it owns the test's database).
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_H_

#include "store_conformance_accounts.h"     // bots, invites, webhooks, kinds
#include "store_conformance_credentials.h"  // tokens, sessions, delete, password
#include "store_conformance_fixture.h"    // the factory interface
#include "store_conformance_lifecycle.h"   // accounts, sessions, schema, Close
#include "store_conformance_members.h"     // room kinds, member rows, migration
#include "store_conformance_messages.h"    // rooms, appends, idempotency, history
#include "store_conformance_moderation.h"  // updates, deletes, search, disabling

// Runs every part of the suite with `Factory`, naming the tests `Prefix/...`.
// Use inside namespace chat::core::conformance.
#define INSTANTIATE_STORE_CONFORMANCE(Prefix, Factory)                                        \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StoreConformanceMessagesTest,                        \
                                 ::testing::Types<Factory>);                                   \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StoreConformanceLifecycleTest, ::testing::Types<Factory>); \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StoreConformanceMembersTest, ::testing::Types<Factory>);   \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StoreConformanceModerationTest, ::testing::Types<Factory>); \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StoreConformanceAccountsTest, ::testing::Types<Factory>);   \
  INSTANTIATE_TYPED_TEST_SUITE_P(Prefix, StoreConformanceCredentialsTest, ::testing::Types<Factory>)

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_H_
