#!/usr/bin/env python3
"""bench/tornado_client.py - Tornado's SimpleAsyncHTTPClient as a load
generator, the slow peer of bench/client.sh.

    python3 tornado_client.py -c CONNECTIONS -n COUNT URL

COUNT GETs of URL with max_clients=CONNECTIONS and that many in flight at
once, bodies dropped.  (SimpleAsyncHTTPClient sends Connection: close: a
new connection per request, which is how Tornado's own client works.)
Prints one line:
    tornado_client requests=.. failed=.. seconds=.. req_s=.. cpu_us_per_req=..
Exit status: 0, 1 if a fetch failed, 2 usage.
"""
import argparse
import asyncio
import resource
import sys
import time

from tornado import ioloop
from tornado.simple_httpclient import SimpleAsyncHTTPClient


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run(url, conns, count):
    client = SimpleAsyncHTTPClient(max_clients=conns)
    state = {"started": 0, "failed": 0}

    async def worker():
        while state["started"] < count:
            state["started"] += 1
            try:
                await client.fetch(url, raise_error=False,
                                   streaming_callback=lambda chunk: None)
            except Exception:
                state["failed"] += 1

    await asyncio.gather(*(worker() for _ in range(conns)))
    client.close()
    return state["failed"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-c", type=int, default=50)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("url")
    try:
        a = p.parse_args()
    except SystemExit:
        sys.exit(2)
    t0, c0 = time.monotonic(), cpu()
    failed = ioloop.IOLoop.current().run_sync(lambda: run(a.url, a.c, a.n))
    s, c = time.monotonic() - t0, cpu() - c0
    print("tornado_client requests=%d failed=%d seconds=%.3f req_s=%.0f "
          "cpu_us_per_req=%.2f" % (a.n, failed, s, a.n / s, c * 1e6 / a.n))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
