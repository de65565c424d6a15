/**
 * @file
 * @brief Everything: the loop, streams, TLS, TCP, HTTP utilities, the
 * HTTP server, the HTTP client and WebSocket.
 *
 * It includes version.h, ioloop.h, iostream.h, tls.h, tcp.h, httputil.h,
 * httpserver.h, httpclient.h and websocket.h: one line, `#include
 * <eddy/eddy.h>`, gives a program the whole library.
 */
#ifndef EDDY_EDDY_H
#define EDDY_EDDY_H

#include "eddy/version.h"
#include "eddy/ioloop.h"
#include "eddy/iostream.h"
#include "eddy/tls.h"
#include "eddy/tcp.h"
#include "eddy/httputil.h"
#include "eddy/httpserver.h"
#include "eddy/httpclient.h"
#include "eddy/websocket.h"

#endif
