#include "proc_sample.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chat::bench {

namespace {

// `pid` and every process below it, from /proc/<pid>/task/<tid>/children.
void AddTree(int pid, std::vector<int>* out) {
  out->push_back(pid);
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
    std::ifstream children(task.path() / "children");
    int child;
    while (children >> child) AddTree(child, out);
  }
}

}  // namespace

ProcSample SampleProcs(const std::vector<int>& roots) {
  ProcSample s;
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<int> pids;
  for (int root : roots) AddTree(root, &pids);
  for (int pid : pids) {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    std::getline(stat, line);
    size_t close = line.rfind(')');
    if (close != std::string::npos) {
      std::vector<std::string> f = absl::StrSplit(line.substr(close + 2), ' ');
      // fields after ")": state(0) ... utime(11) stime(12)
      if (f.size() > 13) s.cpu_s += (std::stod(f[11]) + std::stod(f[12])) / tick;
    }
    std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) s.rss_kb += std::stod(line.substr(6));
    }
    std::ifstream smaps(absl::StrCat("/proc/", pid, "/smaps_rollup"));
    while (std::getline(smaps, line)) {
      if (line.rfind("Pss:", 0) == 0) s.pss_kb += std::stod(line.substr(4));
    }
  }
  return s;
}

double SelfCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

}  // namespace chat::bench
