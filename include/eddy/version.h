/*
 * eddy/version.h - the library's version.  The shared library's soname
 * follows the major version: libeddy.so.EDDY_VERSION_MAJOR.
 */
#ifndef EDDY_VERSION_H
#define EDDY_VERSION_H

#include "eddy/ioloop.h"

#define EDDY_VERSION_MAJOR 0
#define EDDY_VERSION_MINOR 1
#define EDDY_VERSION_PATCH 0
#define EDDY_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** The version the library was built as, e.g. "0.1.0" (may differ from
 *  EDDY_VERSION_STRING when a program runs against a newer libeddy.so). */
EDDY_API const char *eddy_version(void);

#ifdef __cplusplus
}
#endif

#endif
