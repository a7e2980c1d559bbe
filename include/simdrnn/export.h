/* Symbol visibility for the simdrnn C API: the library is built with hidden
 * visibility, and only functions marked SIMDRNN_API are exported. */
#ifndef SIMDRNN_EXPORT_H_
#define SIMDRNN_EXPORT_H_

#if defined(_WIN32)
#define SIMDRNN_API
#elif defined(__GNUC__)
#define SIMDRNN_API __attribute__((visibility("default")))
#else
#define SIMDRNN_API
#endif

#endif /* SIMDRNN_EXPORT_H_ */
