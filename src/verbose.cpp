// SIMDRNN_VERBOSE=1: one line per call, model creation included, in a
// process-wide 64 KiB buffer written to stderr (or to SIMDRNN_VERBOSE_FILE)
// when it fills and at exit. An unbuffered stderr write cost ~7 us per line,
// more than a small stream step; a buffered line costs about a microsecond
// (formatting), so verbose can stay on in a profile run.
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {
namespace {

FILE* open_log() {
  const char* path = std::getenv("SIMDRNN_VERBOSE_FILE");
  FILE* f = nullptr;
  if (path && *path) {
    f = std::fopen(path, "a");
    if (!f) std::fprintf(stderr, "simdrnn: cannot open SIMDRNN_VERBOSE_FILE=%s; logging to stderr\n", path);
  }
  if (!f) {
    const int fd = dup(STDERR_FILENO);
    f = fd >= 0 ? fdopen(fd, "w") : nullptr;
  }
  if (!f) return nullptr;
  static char buffer[1 << 16];
  std::setvbuf(f, buffer, _IOFBF, sizeof buffer);
  std::atexit([] { std::fflush(log_file()); });
  return f;
}

}  // namespace

FILE* log_file() {
  static FILE* const f = open_log();
  return f;
}

bool verbose_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("SIMDRNN_VERBOSE");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  return on;
}

void verbose_line(const char* format, ...) {
  FILE* f = log_file();
  if (!f) return;
  va_list args;
  va_start(args, format);
  flockfile(f);
  std::fputs("simdrnn_verbose,", f);
  std::vfprintf(f, format, args);
  std::fputc('\n', f);
  funlockfile(f);
  va_end(args);
}

}  // namespace lib
}  // namespace simdrnn
