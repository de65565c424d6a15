/*
 * eddy/eddy.h - everything: the loop, streams and the HTTP server.
 */
#ifndef EDDY_EDDY_H
#define EDDY_EDDY_H

#include "eddy/version.h"
#include "eddy/ioloop.h"
#include "eddy/iostream.h"
#include "eddy/httpserver.h"

#endif
