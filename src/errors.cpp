// The thread-local message behind simdrnn_last_error() and fail().
#include <cstdarg>
#include <cstdio>

#include "src/internal.hpp"

namespace simdrnn {
inline namespace lib {

namespace {
thread_local char g_error[1024] = "";
}

simdrnn_status fail(simdrnn_status status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(g_error, sizeof g_error, format, args);
  va_end(args);
  return status;
}
void clear_error() { g_error[0] = '\0'; }
const char* last_error() { return g_error; }

}  // namespace lib
}  // namespace simdrnn
