#!/usr/bin/env python3
"""tests/interop/ws_peer.py - Python's websockets as eddy's peer, for
tests/test_ws_interop.c (and by hand).

  ws_peer.py server [CERT KEY]
      Serves on 127.0.0.1 (and over TLS with CERT and KEY) and prints
      "ports WS WSS" (WSS 0 without TLS).  Paths: /echo echoes every
      message; /close closes at once with 4002 "server bye"; /ping pings
      with "eddy?" and, once the pong came, sends "pong-ok"; /frag sends
      "fragmented" in three frames and b"\\x00\\x01\\x02" in two; /info
      sends "deflate" or "plain" (what was negotiated).  After those, it
      echoes.  Runs until killed.

  ws_peer.py client BASE
      Runs the scenarios below against eddy's server at BASE
      (ws://127.0.0.1:PORT), printing "ok NAME" or "fail NAME: why" for
      each; exits 0 when all passed.

Written for websockets 10 (Debian 12's) and later.
"""
import asyncio
import ssl
import sys

import websockets

MAX = 16 << 20


async def handle(ws, path=None):
    path = getattr(ws, "path", path)
    try:
        if path == "/close":
            await ws.close(4002, "server bye")
            return
        if path == "/ping":
            pong = await ws.ping(b"eddy?")
            await asyncio.wait_for(pong, 5)
            await ws.send("pong-ok")
        elif path == "/frag":
            # Apart in time, so that the fragments come in separate reads.
            await ws.send(spaced(["frag", "ment", "ed"]))
            await ws.send([b"\x00\x01", b"\x02"])
        elif path == "/info":
            await ws.send("deflate" if ws.extensions else "plain")
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def spaced(fragments):
    for f in fragments:
        yield f
        await asyncio.sleep(0.02)


async def serve(cert, key):
    plain = await websockets.serve(handle, "127.0.0.1", 0, max_size=MAX)
    ports = [plain.sockets[0].getsockname()[1], 0]
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        tls = await websockets.serve(handle, "127.0.0.1", 0, ssl=ctx,
                                     max_size=MAX)
        ports[1] = tls.sockets[0].getsockname()[1]
    print("ports %d %d" % tuple(ports), flush=True)
    await asyncio.Future()


def closed_code(e):
    rcvd = getattr(e, "rcvd", None)
    return (rcvd.code, rcvd.reason) if rcvd else (e.code, e.reason)


async def text(base):
    async with websockets.connect(base + "/echo") as ws:
        await ws.send("h\u00e9llo w\u00f6rld \u2603")
        assert await ws.recv() == "h\u00e9llo w\u00f6rld \u2603"


async def binary(base):
    async with websockets.connect(base + "/echo") as ws:
        data = bytes(range(256)) * 3
        await ws.send(data)
        assert await ws.recv() == data


async def fragmented(base):
    async with websockets.connect(base + "/echo") as ws:
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
        await ws.send([b"\x00", b"\x01\x02"])
        assert await ws.recv() == b"\x00\x01\x02"


async def ping(base):
    async with websockets.connect(base + "/echo") as ws:
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)


async def deflate(base):
    async with websockets.connect(base + "/echo", max_size=MAX) as ws:
        assert ws.extensions, "permessage-deflate was not agreed"
        data = ("eddy " * 200000)[:1 << 20]
        await ws.send(data)
        assert await ws.recv() == data
        await ws.send(b"\xff" * 70000)
        assert await ws.recv() == b"\xff" * 70000


async def plain(base):
    async with websockets.connect(base + "/echo", compression=None) as ws:
        assert not ws.extensions
        await ws.send("plain")
        assert await ws.recv() == "plain"


async def big(base):
    async with websockets.connect(base + "/echo", compression=None,
                                  max_size=MAX) as ws:
        data = bytes((i * 7919) & 0xFF for i in range(3 << 20))
        await ws.send(data)
        assert await ws.recv() == data


async def close_code(base):
    ws = await websockets.connect(base + "/echo")
    await ws.close(4001, "eddy, bye")
    assert ws.close_code == 4001, ws.close_code


async def server_close(base):
    ws = await websockets.connect(base + "/close")
    try:
        await ws.recv()
    except websockets.ConnectionClosed as e:
        assert closed_code(e) == (4002, "server bye"), closed_code(e)
        return
    raise AssertionError("no close")


async def server_ping(base):
    async with websockets.connect(base + "/ping") as ws:
        assert await ws.recv() == "pong-ok"


async def server_frag(base):
    async with websockets.connect(base + "/frag") as ws:
        assert await ws.recv() == "fragmented"


async def too_big(base):
    ws = await websockets.connect(base + "/small", compression=None)
    await ws.send("x" * 2000)
    try:
        await ws.recv()
    except websockets.ConnectionClosed as e:
        assert closed_code(e)[0] == 1009, closed_code(e)
        return
    raise AssertionError("no close")


async def bad_utf8(base):
    ws = await websockets.connect(base + "/echo", compression=None)
    # A text frame whose payload is not UTF-8, written past the library.
    frame = bytes([0x81, 0x82, 1, 2, 3, 4, 0xC0 ^ 1, 0xAF ^ 2])
    ws.transport.write(frame)
    try:
        await ws.recv()
    except websockets.ConnectionClosed as e:
        assert closed_code(e)[0] == 1007, closed_code(e)
        return
    raise AssertionError("no close")


SCENARIOS = [text, binary, fragmented, ping, deflate, plain, big, close_code,
             server_close, server_ping, server_frag, too_big, bad_utf8]


async def run(base):
    failed = 0
    for s in SCENARIOS:
        try:
            await asyncio.wait_for(s(base), 20)
            print("ok", s.__name__, flush=True)
        except Exception as e:  # report every scenario, go on
            failed += 1
            print("fail %s: %r" % (s.__name__, e), flush=True)
    return failed


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "server":
        cert, key = (sys.argv[2], sys.argv[3]) if len(sys.argv) == 4 else \
            (None, None)
        asyncio.run(serve(cert, key))
    elif len(sys.argv) == 3 and sys.argv[1] == "client":
        sys.exit(1 if asyncio.run(run(sys.argv[2])) else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
