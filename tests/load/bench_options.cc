#include "bench_options.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace chat::bench {

std::vector<int> ParseIntList(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view p : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int v;
    if (absl::SimpleAtoi(p, &v)) out.push_back(v);
  }
  return out;
}

std::vector<double> ParseRates(const std::string& list) {
  std::vector<double> out;
  for (absl::string_view r : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    double v;
    if (absl::SimpleAtod(r, &v) && v > 0) out.push_back(v);
  }
  return out;
}

}  // namespace chat::bench
