// Proves, in TSan builds, that TSan sees absl::Mutex through
// absl_sync_tsan.cc: `tsan_probe guarded` touches a counter only under a
// Mutex (with an Await and a CondVar wait on the way) and must end with no
// report; `tsan_probe racy` also touches one counter without the lock and
// must be reported (TSan then exits 66). Without the interposer the guarded
// run is reported too (2 false races), which is what the interposer is for.
#include <cstring>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace {

absl::Mutex mu;
int guarded ABSL_GUARDED_BY(mu) = 0;
bool ready ABSL_GUARDED_BY(mu) = false;
bool signalled ABSL_GUARDED_BY(mu) = false;
absl::CondVar cv;
int racy = 0;

}  // namespace

int main(int argc, char** argv) {
  const bool race = argc > 1 && std::strcmp(argv[1], "racy") == 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([race] {
      for (int j = 0; j < 1000; ++j) {
        absl::MutexLock lock(&mu);
        ++guarded;
      }
      if (race) ++racy;
    });
  }
  threads.emplace_back([] {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&ready));
    ++guarded;
  });
  threads.emplace_back([] {
    absl::MutexLock lock(&mu);
    while (!signalled) cv.Wait(&mu);
    ++guarded;
  });
  {
    absl::MutexLock lock(&mu);
    ready = true;
    signalled = true;
  }
  cv.SignalAll();
  for (auto& t : threads) t.join();
  absl::MutexLock lock(&mu);
  return guarded == 4002 ? 0 : 1;
}
