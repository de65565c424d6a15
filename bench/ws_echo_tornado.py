#!/usr/bin/env python3
"""bench/ws_echo_tornado.py - Tornado's WebSocketHandler as an echo server,
for bench/ws.sh.

  python3 bench/ws_echo_tornado.py PORT [--deflate]

Echoes every message on ws://127.0.0.1:PORT/ws as it came (binary or
text); permessage-deflate only with --deflate (Tornado's default is off).
Prints "listening PORT" once it is.  Runs until killed.
"""
import sys

import tornado.ioloop
import tornado.web
import tornado.websocket

DEFLATE = "--deflate" in sys.argv


class Echo(tornado.websocket.WebSocketHandler):
    def get_compression_options(self):
        return {} if DEFLATE else None

    def on_message(self, message):
        self.write_message(message, binary=isinstance(message, bytes))


def main():
    port = int(sys.argv[1])
    app = tornado.web.Application([(r"/ws", Echo)],
                                  websocket_max_message_size=64 << 20)
    app.listen(port, address="127.0.0.1")
    print("listening %d" % port, flush=True)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
