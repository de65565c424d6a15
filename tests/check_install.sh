#!/bin/sh
# tests/check_install.sh - the installed library as a consumer sees it, run
# by `make check-install` (part of `make check`) from the top directory:
#
#  1. README.md's commands, exactly as written: the block after
#     "<!-- check-install: install -->" in this directory, the block after
#     "<!-- check-install: build -->" in a scratch directory holding the
#     README's program (app.c), both with HOME in a scratch directory; the
#     program must run and read its input, and given a regular file on
#     epoll (-EPERM) it must say so and stop.  The README's hello world
#     fetch example, HTTPS hello and WebSocket echo server build with the
#     same command (the fetch example must report a name that does not
#     resolve), and all five build warning-free with -Werror; with TLS in
#     the library, the
#     HTTPS one serves "Hello, World" to curl with the certificate the
#     README's openssl command makes (block "https-run").
#  2. The program finds libeddy.so through its rpath, not LD_LIBRARY_PATH
#     (which the caller may need for something else, libkqueue say: it is
#     passed on untouched), and the library is the backend under test.
#  3. Every public function has a man page: MANPATH=$HOME/.local/share/man
#     man -w NAME finds it (or, without man, its page is there).
#  4. With OTHER_B, a build directory of another backend: `make install`
#     there, naming no backend, installs that backend's build.
#
# Environment: INSTALL_TEST (scratch directory, removed first),
# EXPECT_BACKEND, MAKE (make), CC (cc), OTHER_B (optional).  Exit status 0
# when all of it holds; what failed is printed.
set -eu
: "${INSTALL_TEST:?}" "${EXPECT_BACKEND:?}"
MAKE=${MAKE:-make}
CC=${CC:-cc}
top=$(pwd)
home=$INSTALL_TEST/home
app=$INSTALL_TEST/app
log=$INSTALL_TEST/log

fail() {
    echo "check-install: $*" >&2
    [ -s "$log" ] && sed 's/^/    /' "$log" >&2
    exit 1
}

# The block of README.md after <!-- check-install: NAME -->: a fenced one,
# or lines indented by four spaces (the indentation removed).
readme_block() {
    awk -v mark="<!-- check-install: $1 -->" '
        $0 == mark { on = 1; next }
        !on { next }
        /^```/ { if (fenced) exit; fenced = 1; next }
        fenced { print; next }
        /^    / { sub(/^    /, ""); print; seen = 1; next }
        seen || !/^$/ { exit }
    ' README.md
}

# Runs README block $1 in directory $2 as sh -e, with HOME=$home.
run_block() {
    cmds=$(readme_block "$1")
    [ -n "$cmds" ] || fail "README.md has no block marked check-install: $1"
    (cd "$2" && HOME=$home sh -ec "$cmds") > "$log" 2>&1 ||
        fail "README's $1 commands failed:
$cmds"
}

rm -rf "$INSTALL_TEST"
mkdir -p "$home" "$app"
readme_block app.c > "$app/app.c"
readme_block hello.c > "$app/hello.c"
readme_block fetch.c > "$app/fetch.c"
readme_block https.c > "$app/https.c"
readme_block ws.c > "$app/ws.c"
[ -s "$app/app.c" ] && [ -s "$app/hello.c" ] && [ -s "$app/fetch.c" ] &&
    [ -s "$app/https.c" ] && [ -s "$app/ws.c" ] ||
    fail "README.md lost its programs"

# 1. The README's commands, as written.
run_block install "$top"
run_block build "$app"
grep -qx 'read 6 bytes' "$log" || fail "the README's program did not read its input"
# A regular file on stdin: epoll refuses it (-EPERM), and the program must
# say so and stop, not wait forever; the other pollers read it.
if ! command -v timeout > /dev/null 2>&1; then
    : # (macOS has no timeout(1): a hang would hang the check)
elif (cd "$app" && timeout 10 ./app < app.c) > "$log" 2>&1; then
    [ "$EXPECT_BACKEND" != epoll ] || fail "the README's program took a file on epoll"
    grep -q '^read [0-9]* bytes' "$log" || fail "the README's program did not read a file"
else
    [ "$EXPECT_BACKEND" = epoll ] && grep -q 'stdin:.*(a file: pipe it in with cat)' "$log" ||
        fail "the README's program failed on a file, or did not say why"
fi
cc_line=$(readme_block build | grep '^cc ')
(cd "$app" && HOME=$home sh -ec "$(echo "$cc_line" | sed 's/\<app\>/hello/g')") \
    > "$log" 2>&1 || fail "the README's hello world does not build"
(cd "$app" && HOME=$home sh -ec "$(echo "$cc_line" | sed 's/\<app\>/fetch/g')") \
    > "$log" 2>&1 || fail "the README's fetch example does not build"
# It runs: a name that cannot resolve is one line on stderr and exit 1.
if (cd "$app" && ./fetch http://nonexistent.invalid/) > "$log" 2>&1 ||
    ! grep -qx 'fetch: host name not found' "$log"; then
    fail "the README's fetch example did not report an unresolvable name"
fi
(cd "$app" && HOME=$home sh -ec "$(echo "$cc_line" | sed 's/\<app\>/https/g')") \
    > "$log" 2>&1 || fail "the README's HTTPS hello does not build"
(cd "$app" && HOME=$home sh -ec "$(echo "$cc_line" | sed 's/\<app\>/ws/g')") \
    > "$log" 2>&1 || fail "the README's WebSocket echo server does not build"
for f in app hello fetch https ws; do
    (cd "$app" && HOME=$home sh -ec "$(echo "$cc_line" |
        sed "s/\\<app\\>/$f/g; s/^cc /$CC -std=c11 -Wall -Wextra -Werror /")") \
        > "$log" 2>&1 || fail "the README's $f.c has warnings"
done

# The HTTPS hello, with the README's certificate, answers curl; built
# without TLS it says so (-ENOTSUP) and stops.  A port taken meanwhile
# makes it exit: another is tried.
https_pid=
stop_https() {
    [ -n "$https_pid" ] || return 0
    kill "$https_pid" 2> /dev/null || true
    wait "$https_pid" 2> /dev/null || true
    https_pid=
}
trap stop_https EXIT
cert_cmd=$(readme_block https-run | grep '^openssl ')
[ -n "$cert_cmd" ] || fail "README.md lost its openssl command"
(cd "$app" && sh -ec "$cert_cmd") > "$log" 2>&1 ||
    fail "the README's openssl command failed"
port=$((20000 + $$ % 20000))
served=
for _ in 1 2 3 4 5; do
    (cd "$app" && exec ./https "$port") > "$log" 2>&1 &
    https_pid=$!
    for _ in $(seq 50); do
        kill -0 "$https_pid" 2> /dev/null || break
        if curl -sk --max-time 1 "https://127.0.0.1:$port/" 2> /dev/null | grep -qx 'Hello, World'; then
            served=1
            break
        fi
        sleep 0.1
    done
    stop_https
    { [ -n "$served" ] || grep -q 'not supported' "$log"; } && break
    port=$((port + 1))
done
[ -n "$served" ] || grep -q 'not supported' "$log" ||
    fail "the README's HTTPS hello did not answer over HTTPS"

# 2. The library the program runs with, found by the rpath.
lib=$home/.local/lib
if command -v ldd > /dev/null 2>&1; then
    env -u LD_LIBRARY_PATH ldd "$app/app" > "$log" 2>&1 || true
    grep -q "libeddy\\.so\\.[0-9]* => $lib/" "$log" ||
        fail "the program does not find libeddy through its rpath"
fi
printf '#include <eddy/eddy.h>\n#include <stdio.h>\nint main(void) { puts(eddy_loop_backend()); return 0; }\n' \
    > "$app/backend.c"
backend_of() { # PREFIX: the backend of the library installed there
    (cd "$app" && PKG_CONFIG_PATH=$1/lib/pkgconfig &&
        export PKG_CONFIG_PATH &&
        $CC -o backend backend.c $(pkg-config --cflags --libs eddy) \
            -Wl,-rpath,"$1/lib" && ./backend)
}
got=$(backend_of "$home/.local") || fail "a program against the install failed"
[ "$got" = "$EXPECT_BACKEND" ] ||
    fail "the installed library says $got, not $EXPECT_BACKEND"

# 3. A man page name for every public function.
man=$home/.local/share/man
funcs=0
# (a declaration may put its name on the line after EDDY_API's)
for f in $(awk '/^EDDY_API/ { l = $0; if (l !~ /\(/) { getline n; l = l " " n }
                if (match(l, /eddy_[a-z0-9_]*\(/)) print substr(l, RSTART, RLENGTH - 1) }' \
               include/eddy/*.h); do
    funcs=$((funcs + 1))
    page=$man/man3/$f.3
    [ -f "$page" ] || fail "no man page for $f"
    target=$(sed -n 's/^\.so //p' "$page")
    [ -z "$target" ] || [ -f "$man/$target" ] || fail "$f.3 sources $target, which is not there"
    if command -v man > /dev/null 2>&1; then
        MANPATH=$man man -w "$f" > /dev/null 2>&1 || fail "man -w $f finds nothing"
    fi
done

# 4. The backend sticks to its build directory, for install too.
other=
if [ -n "${OTHER_B:-}" ] && [ -f "$OTHER_B/backend" ]; then
    other=$(cat "$OTHER_B/backend")
    (env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BACKEND \
        $MAKE -s install B="$OTHER_B" PREFIX="$INSTALL_TEST/other") > "$log" 2>&1 ||
        fail "make install B=$OTHER_B failed"
    got=$(backend_of "$INSTALL_TEST/other") || fail "a program against $OTHER_B failed"
    [ "$got" = "$other" ] ||
        fail "make install B=$OTHER_B installed $got, not its $other"
fi

echo "== install: the README's commands as written (\$HOME/.local, rpath), $EXPECT_BACKEND;" \
    "$funcs man page names${other:+; make install in $OTHER_B installs $other}"
