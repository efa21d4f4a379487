// Readings of the server processes under load and of the generator itself:
// CPU time from /proc/<pid>/stat, RSS from /proc/<pid>/status and PSS from
// /proc/<pid>/smaps_rollup, summed over the given processes; the generator's
// own CPU from getrusage.
#ifndef CHAT_TESTS_LOAD_PROC_SAMPLE_H_
#define CHAT_TESTS_LOAD_PROC_SAMPLE_H_

#include <vector>

namespace chat::bench {

// Threading: a plain value. Lifetime: a copy per reading.
// One reading of a set of processes and their descendants (a database
// server's backends), summed; a process that is gone adds nothing.
struct ProcSample {
  double cpu_s = 0;   // user + system, since each process started
  double rss_kb = 0;  // resident now
  double pss_kb = 0;  // proportional set size now
};
ProcSample SampleProcs(const std::vector<int>& pids);

// CPU seconds (user + system) this process has used so far.
double SelfCpu();

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_PROC_SAMPLE_H_
