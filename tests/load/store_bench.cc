// store-bench: how many messages per second a store makes durable.
//
// Producers append 64-byte messages (with client_msg_ids, so the idempotency
// lookup is paid too) to one room or to many, keeping a window of appends in
// flight as the gRPC front end would; the group-commit writer batches whatever
// queued up while the previous commit ran. Prints one JSON line per scenario.
// SQLite with each synchronous mode; with --pg, PostgreSQL (fsync and
// synchronous_commit as the server has them, on by default) with 1 and 3
// stores writing at once, as 1 and 3 chat-core nodes would, each store with
// --producers of its own (a node has its own clients).
//
//   store-bench [--messages=200000] [--rooms=1,100] [--sync=normal,full] [--dir=/tmp]
//               [--pg=postgresql://postgres@127.0.0.1:5432/postgres] [--pg_nodes=1,3]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "pg_conn.h"
#include "pg_store.h"
#include "sqlite_store.h"

ABSL_FLAG(int, messages, 200000, "Messages to append per scenario.");
ABSL_FLAG(std::string, rooms, "1,100", "Comma-separated room counts to run.");
ABSL_FLAG(std::string, sync, "normal,full", "Comma-separated synchronous modes (normal, full).");
ABSL_FLAG(int, producers, 4, "Producer threads per store (per node).");
ABSL_FLAG(int, window, 256, "Appends in flight per producer.");
ABSL_FLAG(std::string, dir, "", "Directory for the database files (default: a temp dir).");
ABSL_FLAG(std::string, pg, "",
          "A PostgreSQL server's admin URI: also run on PostgreSQL, each scenario on a database of its own.");
ABSL_FLAG(std::string, pg_nodes, "1,3", "Comma-separated counts of PostgreSQL stores writing at once.");

namespace {

using chat::core::AppendRequest;
using chat::core::AppendResult;

// Appends `messages` spread over `rooms` rooms with `producers` threads per
// store (as each node has its own clients); the messages made durable per
// second.
double Load(const std::vector<chat::core::Store*>& stores, int rooms, int messages, int producers, int window) {
  std::vector<int64_t> room_ids;
  for (int r = 0; r < rooms; ++r) {
    // The store answers on a thread of its own. (A struct: only members can
    // be ABSL_GUARDED_BY.)
    struct Created {
      absl::Mutex mu;
      std::optional<int64_t> id ABSL_GUARDED_BY(mu);
    } created;
    stores[0]->CreateRoom(absl::StrCat("room", r), "bench", 1, [&](absl::StatusOr<chat::core::RoomRecord> rec) {
      absl::MutexLock lock(&created.mu);
      if (!rec.ok()) {
        std::fprintf(stderr, "store-bench: %s\n", std::string(rec.status().message()).c_str());
        std::exit(1);
      }
      created.id = rec->id;
    });
    absl::MutexLock lock(&created.mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(created.mu) { return created.id.has_value(); };
    created.mu.Await(absl::Condition(&done));
    room_ids.push_back(*created.id);
  }
  const std::string text(64, 'x');
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  producers *= static_cast<int>(stores.size());
  const int per = messages / producers;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      chat::core::Store* store = stores[p % stores.size()];
      struct Window {
        absl::Mutex mu;
        int in_flight ABSL_GUARDED_BY(mu) = 0;
      } w;
      auto has_room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) { return w.in_flight < window; };
      for (int i = 0; i < per; ++i) {
        {
          absl::MutexLock lock(&w.mu);
          w.mu.Await(absl::Condition(&has_room));
          ++w.in_flight;
        }
        AppendRequest req;
        req.room_id = room_ids[(p * per + i) % room_ids.size()];
        req.author = absl::StrCat("user", p);
        req.text = text;
        req.sent_at_ms = 1;
        req.client_msg_id = absl::StrCat(p, "-", i);
        store->Append(std::move(req), [&](absl::StatusOr<AppendResult> r) {
          if (!r.ok()) failures.fetch_add(1);
          absl::MutexLock lock(&w.mu);
          --w.in_flight;
        });
      }
      absl::MutexLock lock(&w.mu);
      auto drained = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) { return w.in_flight == 0; };
      w.mu.Await(absl::Condition(&drained));
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failures.load() > 0) {
    std::fprintf(stderr, "store-bench: %d appends failed\n", failures.load());
    std::exit(1);
  }
  return per * producers / secs;
}

double RunSqlite(const std::string& path, bool full, int rooms, int messages, int producers, int window) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  chat::core::SqliteStoreOptions o;
  o.path = path;
  o.synchronous_full = full;
  auto store = chat::core::OpenSqliteStore(o);
  if (!store.ok()) {
    std::fprintf(stderr, "store-bench: %s\n", std::string(store.status().message()).c_str());
    std::exit(1);
  }
  double rate = Load({store->get()}, rooms, messages, producers, window);
  (*store)->Close();
  return rate;
}

// A fresh database on the server `admin` names, and its URI.
std::string FreshPgDatabase(const std::string& admin) {
  static int made = 0;
  std::string name = absl::StrCat("store_bench_", getpid(), "_", ++made);
  auto conn = chat::core::PgConn::Connect(admin, absl::Seconds(10));
  absl::Status st = conn.ok() ? (*conn)->Exec(absl::StrCat("CREATE DATABASE ", name)).status() : conn.status();
  if (!st.ok()) {
    std::fprintf(stderr, "store-bench: %s\n", std::string(st.message()).c_str());
    std::exit(1);
  }
  return absl::StrCat(admin.substr(0, admin.rfind('/') + 1), name);
}

double RunPg(const std::string& admin, int nodes, int rooms, int messages, int producers, int window) {
  std::string uri = FreshPgDatabase(admin);
  std::vector<std::unique_ptr<chat::core::PgStore>> stores;
  std::vector<chat::core::Store*> raw;
  for (int n = 0; n < nodes; ++n) {
    chat::core::PgStoreOptions o;
    o.pg.uri = uri;
    auto store = chat::core::OpenPgStore(o);
    if (!store.ok()) {
      std::fprintf(stderr, "store-bench: %s\n", std::string(store.status().message()).c_str());
      std::exit(1);
    }
    raw.push_back(store->get());
    stores.push_back(std::move(*store));
  }
  double rate = Load(raw, rooms, messages, producers, window);
  for (auto& s : stores) s->Close();
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_dir);
  std::string temp;
  if (dir.empty()) {
    char templ[] = "/tmp/store-bench-XXXXXX";
    temp = mkdtemp(templ);
    dir = temp;
  }
  std::vector<int> room_counts;
  for (absl::string_view rooms_s : absl::StrSplit(absl::GetFlag(FLAGS_rooms), ',')) {
    int rooms = 1;
    if (!absl::SimpleAtoi(rooms_s, &rooms) || rooms < 1) {
      std::fprintf(stderr, "store-bench: bad --rooms\n");
      return 2;
    }
    room_counts.push_back(rooms);
  }
  const int producers = absl::GetFlag(FLAGS_producers);
  const int window = absl::GetFlag(FLAGS_window);
  auto print = [&](const std::string& store, const std::string& sync, int nodes, int rooms, int messages,
                   double rate) {
    std::printf(
        "{\"bench\":\"store\",\"store\":\"%s\",\"synchronous\":\"%s\",\"nodes\":%d,\"rooms\":%d,"
        "\"messages\":%d,\"producers\":%d,\"window\":%d,\"messages_per_s\":%.0f}\n",
        store.c_str(), sync.c_str(), nodes, rooms, messages, producers, window, rate);
    std::fflush(stdout);
  };
  for (absl::string_view sync : absl::StrSplit(absl::GetFlag(FLAGS_sync), ',', absl::SkipEmpty())) {
    for (int rooms : room_counts) {
      bool full = sync == "full";
      int messages = absl::GetFlag(FLAGS_messages);
      if (full) messages = std::max(messages / 4, 1000);  // fsync per commit is slow
      print("sqlite", std::string(sync), 1, rooms, messages,
            RunSqlite(dir + "/bench.db", full, rooms, messages, producers, window));
    }
  }
  if (!absl::GetFlag(FLAGS_pg).empty()) {
    for (absl::string_view nodes_s : absl::StrSplit(absl::GetFlag(FLAGS_pg_nodes), ',', absl::SkipEmpty())) {
      int nodes = 1;
      if (!absl::SimpleAtoi(nodes_s, &nodes) || nodes < 1) {
        std::fprintf(stderr, "store-bench: bad --pg_nodes\n");
        return 2;
      }
      for (int rooms : room_counts) {
        int messages = absl::GetFlag(FLAGS_messages);
        print("postgresql", "on", nodes, rooms, messages,
              RunPg(absl::GetFlag(FLAGS_pg), nodes, rooms, messages, producers, window));
      }
    }
  }
  if (!temp.empty()) std::filesystem::remove_all(temp);
  return 0;
}
