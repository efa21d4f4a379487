// ThreadSanitizer builds only (CHAT_TSAN): what the interposers of
// tests/sanitizers (absl_sync_tsan.cc, grpc_tsan.cc) share: TSan's
// happens-before annotations, and the lookup of the real function an
// interposer stands in for.
#ifndef CHAT_TESTS_SANITIZERS_TSAN_EDGES_H_
#define CHAT_TESTS_SANITIZERS_TSAN_EDGES_H_

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

extern "C" {
// The TSan runtime's dynamic annotations (compiler-rt tsan_interface_ann.cpp).
void AnnotateHappensBefore(const char* file, int line, const volatile void* addr);
void AnnotateHappensAfter(const char* file, int line, const volatile void* addr);
}

namespace chat::tsan {

// An edge on `addr`: everything before a Release happens before everything
// after an Acquire that follows it.
inline void Acquire(const void* addr) { AnnotateHappensAfter(__FILE__, __LINE__, addr); }
inline void Release(const void* addr) { AnnotateHappensBefore(__FILE__, __LINE__, addr); }

// The next definition of `symbol` after this program's (the library's own);
// stops the program if there is none, naming `library`.
inline void* Next(const char* symbol, const char* library) {
  void* fn = dlsym(RTLD_NEXT, symbol);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan interposer: %s not found in %s\n", symbol, library);
    std::abort();
  }
  return fn;
}

}  // namespace chat::tsan

#endif  // CHAT_TESTS_SANITIZERS_TSAN_EDGES_H_
