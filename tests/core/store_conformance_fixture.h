// The conformance suite's half that an implementation writes against: what a
// test may ask of a store, the factory interface, and the fixture both suites
// share. store_conformance.h says how to run the suite.
#ifndef CHAT_TESTS_CORE_STORE_CONFORMANCE_FIXTURE_H_
#define CHAT_TESTS_CORE_STORE_CONFORMANCE_FIXTURE_H_

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store.h"
#include "store_conformance_util.h"

namespace chat::core::conformance {

// What a test may ask of the store it opens. Zero fields mean the
// implementation's defaults.
struct ConformanceOpenOptions {
  // Appends waiting beyond this many are refused with UNAVAILABLE.
  int max_queued_writes = 0;
  // How long a write waits for a lock that another connection holds before it
  // fails with UNAVAILABLE.
  absl::Duration lock_timeout = absl::ZeroDuration();
};

// A room of a database at an older schema, as a release of that schema wrote it.
struct LegacyRoom {
  std::string name;
  std::string created_by;
  int64_t created_at_ms = 0;
  // seq 1, 2, ... in this order (room_id is ignored).
  std::vector<StoredMessage> messages;
};

// A room "old-lobby" made by `creator` at 42 ms, with 3 messages: by the
// creator, by "dave", by the creator (ids "c-1", "c-2", none).
inline LegacyRoom OldLobby(const std::string& creator) {
  LegacyRoom lobby;
  lobby.name = "old-lobby";
  lobby.created_by = creator;
  lobby.created_at_ms = 42;
  for (int i = 1; i <= 3; ++i) {
    StoredMessage m;
    m.author = i == 2 ? "dave" : creator;
    m.text = absl::StrCat("old ", i);
    m.sent_at_ms = 1000 + i;
    m.client_msg_id = i == 3 ? "" : absl::StrCat("c-", i);
    lobby.messages.push_back(m);
  }
  return lobby;
}

// `page` holds `legacy`'s messages as they were written: author, text, time
// and client_msg_id, none deleted.
inline void ExpectKeptMessages(const HistoryPage& page, const std::vector<StoredMessage>& legacy) {
  ASSERT_EQ(page.messages.size(), legacy.size());
  for (size_t i = 0; i < legacy.size(); ++i) {
    EXPECT_EQ(page.messages[i].author, legacy[i].author);
    EXPECT_EQ(page.messages[i].text, legacy[i].text);
    EXPECT_EQ(page.messages[i].sent_at_ms, legacy[i].sent_at_ms);
    EXPECT_EQ(page.messages[i].client_msg_id, legacy[i].client_msg_id);
    EXPECT_FALSE(page.messages[i].deleted);
  }
}

// Holds the database's write lock from a connection of its own until destroyed.
// Threading: made and destroyed on the test thread. Lifetime: owned by the test;
// destroying it releases the lock.
class HeldWriteLock {
 public:
  virtual ~HeldWriteLock() = default;
};

// What an implementation provides so the suite can run on it.
// Threading: called from the test thread only. Lifetime: one per test; the
// stores it opens are closed before it is destroyed.
class StoreConformanceFactory {
 public:
  virtual ~StoreConformanceFactory() = default;

  // Prepares this test's database: fresh and empty (a temp file; a new
  // PostgreSQL database or schema). UNAVAILABLE skips the test with the
  // message (say, no PostgreSQL server to test on); any other error fails it.
  virtual absl::Status SetUp() = 0;

  // Opens a store on this test's database. Called again after the previous
  // store was closed, it is a reopen: everything committed must be there.
  // Called while another store is open on the database, the new store is used
  // only to read what the first one committed.
  virtual absl::StatusOr<std::unique_ptr<Store>> Open(const ConformanceOpenOptions& options) = 0;

  // Before any Open: writes `rooms` into this test's database at the oldest
  // schema version the implementation migrates from, exactly as a release of
  // that version did (by hand, not with the current code). UNIMPLEMENTED if the
  // implementation has no older schema (the test is skipped).
  virtual absl::Status MakeOldSchemaDatabase(const std::vector<LegacyRoom>& rooms) = 0;

  // Before any Open: writes `rooms` and `users` (each registered under this
  // name, its key the name in lower case) into this test's database at the
  // last schema version before private rooms and membership (the one the
  // release before them wrote), exactly as that release did. UNIMPLEMENTED
  // skips the test.
  virtual absl::Status MakePreMembershipDatabase(const std::vector<LegacyRoom>& rooms,
                                                 const std::vector<std::string>& users) = 0;

  // Before any Open: writes `rooms`, `users` (as MakePreMembershipDatabase
  // names them, created at 1 ms) and `sessions` (each of the user its
  // `username` names, made at created_at_ms, expiring at expires_at_ms; the
  // other fields are not in that schema) into this test's database at the
  // last schema version before bots, API tokens and webhooks (SQLite 3,
  // PostgreSQL 4), as that release did. UNIMPLEMENTED skips the test.
  virtual absl::Status MakePreAccountsDatabase(const std::vector<LegacyRoom>& rooms,
                                               const std::vector<std::string>& users,
                                               const std::vector<SessionRecord>& sessions) = 0;

  // After a store was opened and closed: marks this test's database as written
  // by a newer release with a schema this build does not know. UNIMPLEMENTED
  // skips the test.
  virtual absl::Status MarkSchemaNewer() = 0;

  // Takes the database's write lock from a connection of its own, so the
  // store's writes wait for it (and fail after lock_timeout), until the result
  // is destroyed.
  virtual absl::StatusOr<std::unique_ptr<HeldWriteLock>> HoldWriteLock() = 0;
};

// The suites' fixture: a factory per test, and Open() on it.
// Threading: the test thread. Lifetime: GoogleTest's, one per test; the stores a
// test opens are its locals, closed before the factory goes.
template <typename Factory>
class StoreConformanceTest : public ::testing::Test {
  static_assert(std::is_base_of_v<StoreConformanceFactory, Factory>,
                "the suite's type parameter is a StoreConformanceFactory");

 protected:
  void SetUp() override {
    absl::Status st = factory_.SetUp();
    if (absl::IsUnavailable(st)) GTEST_SKIP() << st;
    ASSERT_TRUE(st.ok()) << st;
  }

  // A store on the test's database, or nullptr (and a failure).
  std::unique_ptr<Store> Open(const ConformanceOpenOptions& options = {}) {
    auto s = factory_.Open(options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  Factory factory_;
};


// The suite's parts (store_conformance.h).
// Threading and lifetime: as StoreConformanceTest's.
template <typename Factory>
class StoreConformanceMessagesTest : public StoreConformanceTest<Factory> {};
TYPED_TEST_SUITE_P(StoreConformanceMessagesTest);
template <typename Factory>
class StoreConformanceLifecycleTest : public StoreConformanceTest<Factory> {};
TYPED_TEST_SUITE_P(StoreConformanceLifecycleTest);
template <typename Factory>
class StoreConformanceMembersTest : public StoreConformanceTest<Factory> {};
TYPED_TEST_SUITE_P(StoreConformanceMembersTest);
template <typename Factory>
class StoreConformanceModerationTest : public StoreConformanceTest<Factory> {};
TYPED_TEST_SUITE_P(StoreConformanceModerationTest);

template <typename Factory>
class StoreConformanceAccountsTest : public StoreConformanceTest<Factory> {};
TYPED_TEST_SUITE_P(StoreConformanceAccountsTest);
template <typename Factory>
class StoreConformanceCredentialsTest : public StoreConformanceTest<Factory> {};
TYPED_TEST_SUITE_P(StoreConformanceCredentialsTest);

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using D = HistoryQuery::Direction;

}  // namespace chat::core::conformance

#endif  // CHAT_TESTS_CORE_STORE_CONFORMANCE_FIXTURE_H_
