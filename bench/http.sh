#!/usr/bin/env bash
# bench/http.sh - examples/hello beside nginx, h2o, libevent's evhttp,
# libuv, a raw epoll server and Tornado, under wrk and ab, with the shared
# harness (../shared/bench/http/run.sh: it installs its peers, pins the
# server to CPU 0 and the load to CPU 1, and reports requests per second,
# the server's CPU time per request and peak RSS, with ratios to nginx).
#
#   bench/http.sh [run.sh options: --rounds N, --quick, --tests wrk,ab,abk]
#   bench/http.sh --processes 2     (hello with two workers)
set -u
cd "$(dirname "$0")/.."
# ../shared beside the repository (a worktree one level deeper looks one
# level up too); HTTP_HARNESS names another.
harness=${HTTP_HARNESS:-../shared/bench/http/run.sh}
[ -x "$harness" ] || [ -n "${HTTP_HARNESS:-}" ] || harness=../../shared/bench/http/run.sh
[ -x "$harness" ] || { echo "http.sh: ../shared/bench/http/run.sh is missing (HTTP_HARNESS=path/to/run.sh)" >&2; exit 2; }
extra=""
if [ "${1:-}" = --processes ]; then
    extra=" --processes ${2:?}"
    shift 2
fi
make -s examples || exit 1
exec "$harness" --peers all --candidate eddy "build/examples/hello --port {port}$extra" "$@"
