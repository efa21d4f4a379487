// The scenarios of chat-bench, each printing JSON lines on stdout that
// scripts/bench reads (chat_bench_main.cc's header lists them and their rows).
#ifndef CHAT_TESTS_LOAD_SCENARIOS_H_
#define CHAT_TESTS_LOAD_SCENARIOS_H_

#include "bench_options.h"

namespace chat::bench {

// Checks the options, pins the generator, connects the clients and runs
// options.scenario. Returns the process's exit code: 0 done, 1 the run failed
// (a latency step not ok, clients that could not join: its row says why), 2 the
// options are wrong (a line on stderr says why). The setup and memory scenarios
// and a failed join end the process themselves (std::_Exit), without waiting for
// clients that may still be connecting.
int RunBench(const BenchOptions& options);

}  // namespace chat::bench

#endif  // CHAT_TESTS_LOAD_SCENARIOS_H_
