/**
 * @file
 * @brief HTTP message utilities with no I/O: Tornado's httputil module.
 *
 * Everything it declares is described under @ref httputil.
 */
/**
 * @defgroup httputil HTTP utilities (httputil.h)
 * @brief The pieces of an HTTP message that need no connection: the
 * types the server and the client share.
 */
#ifndef EDDY_HTTPUTIL_H
#define EDDY_HTTPUTIL_H

#include "eddy/ioloop.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @addtogroup httputil
 *  @{ */

/** A byte string that is not NUL-terminated. */
typedef struct eddy_str {
    const char *p; /**< the first byte */
    size_t len;    /**< the number of bytes */
} eddy_str;

/** A header field.  For responses, EDDY_HEADER("Name", "value") builds one
 *  from two string literals. */
typedef struct eddy_http_header {
    const char *name;  /**< the field name, not NUL-terminated */
    size_t name_len;   /**< its length in bytes */
    const char *value; /**< the field value, not NUL-terminated */
    size_t value_len;  /**< its length in bytes */
} eddy_http_header;

/** An initializer for an eddy_http_header from two string literals, e.g.
 *  `eddy_http_header h[] = { EDDY_HEADER("Content-Type", "text/plain") };` */
#define EDDY_HEADER(name, value)                                              \
    { (name), sizeof(name) - 1, (value), sizeof(value) - 1 }

/** @} */

#ifdef __cplusplus
}
#endif

#endif
