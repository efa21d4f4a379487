// store-bench: how many messages per second the SQLite store makes durable.
//
// Producers append 64-byte messages (with client_msg_ids, so the idempotency
// lookup is paid too) to one room or to many, keeping a window of appends in
// flight as the gRPC front end would; the group-commit writer batches whatever
// queued up while the previous commit ran. Prints one JSON line per scenario.
//
//   store-bench [--messages=200000] [--rooms=1,100] [--sync=normal,full] [--dir=/tmp]
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sqlite_store.h"

ABSL_FLAG(int, messages, 200000, "Messages to append per scenario.");
ABSL_FLAG(std::string, rooms, "1,100", "Comma-separated room counts to run.");
ABSL_FLAG(std::string, sync, "normal,full", "Comma-separated synchronous modes (normal, full).");
ABSL_FLAG(int, producers, 4, "Producer threads.");
ABSL_FLAG(int, window, 256, "Appends in flight per producer.");
ABSL_FLAG(std::string, dir, "", "Directory for the database files (default: a temp dir).");

namespace {

using chat::core::AppendRequest;
using chat::core::AppendResult;

double RunOne(const std::string& path, bool full, int rooms, int messages, int producers, int window,
              uint64_t* batches_hint) {
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
  std::vector<int64_t> room_ids;
  for (int r = 0; r < rooms; ++r) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    (*store)->CreateRoom(absl::StrCat("room", r), "bench", 1, [&](absl::StatusOr<chat::core::RoomRecord> rec) {
      std::lock_guard<std::mutex> lock(m);
      room_ids.push_back(rec->id);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done; });
  }
  const std::string text(64, 'x');
  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  const int per = messages / producers;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::mutex m;
      std::condition_variable cv;
      int in_flight = 0;
      for (int i = 0; i < per; ++i) {
        {
          std::unique_lock<std::mutex> lock(m);
          cv.wait(lock, [&] { return in_flight < window; });
          ++in_flight;
        }
        AppendRequest req;
        req.room_id = room_ids[(p * per + i) % room_ids.size()];
        req.author = absl::StrCat("user", p);
        req.text = text;
        req.sent_at_ms = 1;
        req.client_msg_id = absl::StrCat(p, "-", i);
        (*store)->Append(std::move(req), [&](absl::StatusOr<AppendResult> r) {
          if (!r.ok()) failures.fetch_add(1);
          std::lock_guard<std::mutex> lock(m);
          --in_flight;
          cv.notify_one();
        });
      }
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  (*store)->Close();
  if (failures.load() > 0) {
    std::fprintf(stderr, "store-bench: %d appends failed\n", failures.load());
    std::exit(1);
  }
  (void)batches_hint;
  return per * producers / secs;
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
  for (absl::string_view sync : absl::StrSplit(absl::GetFlag(FLAGS_sync), ',')) {
    for (absl::string_view rooms_s : absl::StrSplit(absl::GetFlag(FLAGS_rooms), ',')) {
      int rooms = 1;
      if (!absl::SimpleAtoi(rooms_s, &rooms) || rooms < 1) {
        std::fprintf(stderr, "store-bench: bad --rooms\n");
        return 2;
      }
      bool full = sync == "full";
      int messages = absl::GetFlag(FLAGS_messages);
      if (full) messages = std::max(messages / 4, 1000);  // fsync per commit is slow
      uint64_t batches = 0;
      double rate = RunOne(dir + "/bench.db", full, rooms, messages, absl::GetFlag(FLAGS_producers),
                           absl::GetFlag(FLAGS_window), &batches);
      std::printf(
          "{\"bench\":\"store\",\"synchronous\":\"%s\",\"rooms\":%d,\"messages\":%d,"
          "\"producers\":%d,\"window\":%d,\"messages_per_s\":%.0f}\n",
          std::string(sync).c_str(), rooms, messages, absl::GetFlag(FLAGS_producers),
          absl::GetFlag(FLAGS_window), rate);
      std::fflush(stdout);
    }
  }
  if (!temp.empty()) std::filesystem::remove_all(temp);
  return 0;
}
