/**
 * @file
 * @brief The library's version.
 *
 * Everything it declares is described under @ref version.
 */
/**
 * @defgroup version The version (version.h)
 * @brief The version of the headers, and of the library that runs.
 *
 * The shared library's soname follows the major version:
 * libeddy.so.EDDY_VERSION_MAJOR.
 */
#ifndef EDDY_VERSION_H
#define EDDY_VERSION_H

#include "eddy/ioloop.h"

/** @addtogroup version
 *  @{ */

/** The major version of these headers (the soname's number). */
#define EDDY_VERSION_MAJOR 0
/** The minor version of these headers. */
#define EDDY_VERSION_MINOR 1
/** The patch version of these headers. */
#define EDDY_VERSION_PATCH 0
/** The version of these headers as a string, "MAJOR.MINOR.PATCH". */
#define EDDY_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** The version the library was built as, e.g. "0.1.0" (may differ from
 *  EDDY_VERSION_STRING when a program runs against a newer libeddy.so).
 *  A static string; any thread. */
EDDY_API const char *eddy_version(void);

#ifdef __cplusplus
}
#endif

/** @} */

#endif
