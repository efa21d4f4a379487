// An SQLite store in memory, for tests of what sits on a Store (Hub, Session).
// The test owns it and closes it after whatever uses it has stopped.
#pragma once

#include <memory>

#include "gtest/gtest.h"
#include "sqlite_store.h"

namespace chat::testing {

inline std::unique_ptr<core::Store> OpenMemoryStore() {
  auto store = core::OpenSqliteStore(core::SqliteStoreOptions{":memory:"});
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

}  // namespace chat::testing
