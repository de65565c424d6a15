# shellcheck shell=bash disable=SC2012  # ls of /proc/PID/fd counts fds
# bench/servers.sh - sourced by bench/conns.sh and bench/soak.sh: start,
# watch and stop the server under test (examples/hello or nginx) on
# 127.0.0.1.  Reads SERVER_CPU, TMP and NOFILE; sets SRV_PID.  Every
# process it stops is one the sourcing script started, by PID.

# stop PID: SIGTERM, then SIGKILL after 10 s.
stop() {
    local pid=$1 _
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2> /dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
}

port_busy() { [ -n "$(ss -Hant "sport = :$1" 2> /dev/null | head -n1)" ]; }
# free_port FROM: the first of FROM .. FROM+200 that no socket uses
free_port() {
    local p=$1
    while port_busy "$p" && [ "$p" -lt $(($1 + 200)) ]; do p=$((p + 1)); done
    echo "$p"
}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2> /dev/null; }
nfds() { ls "/proc/$1/fd" 2> /dev/null | wc -l; }

# start_eddy PORT [ARG...]: hello pinned to SERVER_CPU, output in
# $TMP/eddy.log (taskset execs the server, so $! is the server itself).
start_eddy() {
    local port=$1
    shift
    taskset -c "$SERVER_CPU" build/examples/hello --port "$port" "$@" \
        < /dev/null > "$TMP/eddy.log" 2>&1 &
    SRV_PID=$!
}

# start_nginx PORT WORKER_CONNECTIONS [DIRECTIVE...]: nginx as in
# ../shared/bench/http/run.sh (one process, master_process off, access_log
# off, `return 200 "Hello, World"`), plus worker_rlimit_nofile $NOFILE,
# keepalive_requests 1000000 (so that it does not close a connection after
# its 1000th request) and each DIRECTIVE in http {}; output in
# $TMP/nginx.log.
start_nginx() {
    local d="$TMP/nginx" port=$1 wc=$2 extra=""
    shift 2
    for x in "$@"; do extra="$extra    $x;
"; done
    mkdir -p "$d/conf" "$d/logs"
    cat > "$d/conf/nginx.conf" << CONF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections $wc; }
http {
    access_log off;
    default_type text/plain;
$extra    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location / { return 200 "Hello, World"; }
    }
}
CONF
    taskset -c "$SERVER_CPU" nginx -p "$d/" -e logs/error.log -c conf/nginx.conf \
        < /dev/null > "$TMP/nginx.log" 2>&1 &
    SRV_PID=$!
}

# wait_listening PORT: until something listens on 127.0.0.1:PORT (10 s);
# fails at once if the server exited.
wait_listening() {
    local _
    for _ in $(seq 100); do
        kill -0 "$SRV_PID" 2> /dev/null || return 1
        [ -n "$(ss -Hltn "sport = :$1" 2> /dev/null | head -n1)" ] && return 0
        sleep 0.1
    done
    return 1
}
