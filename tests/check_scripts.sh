#!/bin/sh
# tests/check_scripts.sh - the build's own scripts do what they say, run by
# `make check-scripts` (part of `make check`) from the top directory:
#
#  - scripts/need.sh prints the exact command before it runs it, with the
#    package manager's output, and with NO_INSTALL=1 only says what is
#    missing (a fake apt-get and id, first in PATH, record what it ran);
#  - make: `make check` builds each backend once (the one build/ has in
#    build/, the others in build/NAME), a backend named once sticks to its
#    build directory, clean and docs honour B, and nothing sets
#    LD_LIBRARY_PATH for the programs it runs (the caller's is needed for
#    libkqueue, docs/porting.md);
#  - scripts/check_layers.sh passes the tree with no exception left, and
#    fails a copy where the HTTP server includes the poller's header or
#    reads the clock itself;
#
# all with `make -n` or in a scratch directory: nothing is built or
# installed.  Exit status 0 when all holds; what failed is printed.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
MAKE=${MAKE:-make}
# Run from `make check BACKEND=select` (or B=, SAN=...), the caller's
# command-line variables would reach every make below, through MAKEFLAGS
# and the environment, and override what each check sets: these makes
# start afresh (CC stays: it is the compiler under test).
unset MAKEFLAGS MFLAGS MAKELEVEL BACKEND B SAN TLS ZLIB CHECK_VALGRIND
checks=0

fail() {
    echo "check-scripts: $*" >&2
    [ -s "$tmp/out" ] && sed 's/^/    /' "$tmp/out" >&2
    exit 1
}
ok() { checks=$((checks + 1)); }

# --- scripts/need.sh --------------------------------------------------------

mkdir -p "$tmp/bin"
# A fake apt-get that cannot find the package, as the real one says
# "Unable to locate package" (status 100).
cat > "$tmp/bin/apt-get" << EOF
#!/bin/sh
echo "fake apt-get \$*"
echo "\$*" >> "$tmp/apt.log"
[ "\$1" = update ] || exit 100
EOF
printf '#!/bin/sh\necho 0\n' > "$tmp/bin/id"
chmod +x "$tmp/bin/apt-get" "$tmp/bin/id"
ln -s "$(command -v uname)" "$tmp/bin/uname"
need() { env PATH="$tmp/bin" "$@" > "$tmp/out" 2>&1; }

# Present: nothing to say.
need scripts/need.sh uname || fail "need.sh uname: not 0 for a tool that is there"
[ ! -s "$tmp/out" ] || fail "need.sh uname printed something"
ok
# NO_INSTALL=1: says what is missing and the command, installs nothing.
if need NO_INSTALL=1 scripts/need.sh eddy-no-such-tool; then
    fail "need.sh: 0 for a missing tool"
fi
grep -q 'missing: eddy-no-such-tool' "$tmp/out" || fail "NO_INSTALL=1: not said what is missing"
grep -q 'apt-get install -y eddy-no-such-tool' "$tmp/out" || fail "NO_INSTALL=1: no command"
[ ! -e "$tmp/apt.log" ] || fail "NO_INSTALL=1 ran apt-get"
ok
# As root: the command is printed, then run, its output shown; the
# package lists are updated once when it does not help.
need scripts/need.sh eddy-no-such-tool && fail "need.sh: 0 for a tool still missing"
printf 'install -y eddy-no-such-tool\nupdate\ninstall -y eddy-no-such-tool\n' > "$tmp/want"
cmp -s "$tmp/apt.log" "$tmp/want" || fail "need.sh ran: $(cat "$tmp/apt.log")"
grep -n 'running: apt-get install -y eddy-no-such-tool\|^fake apt-get install' "$tmp/out" |
    head -n 2 | cut -d: -f2- > "$tmp/order"
printf 'need.sh: running: apt-get install -y eddy-no-such-tool\nfake apt-get install -y eddy-no-such-tool\n' |
    cmp -s - "$tmp/order" || fail "need.sh does not print the command before running it"
ok

# --- make ----------------------------------------------------------------------

b=$tmp/build
# Each backend once: build/ for the one it has, build/NAME for the others.
$MAKE -n check B="$b" > "$tmp/out" 2>&1 || fail "make -n check failed"
default=$(cat "$b/backend")
grep -q -- "-o $b/obj/backends/$default\\.o" "$tmp/out" || fail "check does not build $default in B"
! grep -q -- "-o $b/$default/" "$tmp/out" || fail "check builds $default twice (B and B/$default)"
ok
# A backend named once sticks, for install too.
$MAKE -n lib B="$tmp/sticky" BACKEND=select > /dev/null 2>&1
[ "$(cat "$tmp/sticky/backend")" = select ] || fail "BACKEND=select not recorded"
$MAKE -n install B="$tmp/sticky" PREFIX="$tmp/prefix" > "$tmp/out" 2>&1
grep -q 'backends/select\.c' "$tmp/out" || fail "make install after BACKEND=select builds another"
! grep -q 'backends/epoll\.c\|backends/poll\.c' "$tmp/out" || fail "make install switched backends"
ok
# clean and docs honour B.
$MAKE -n clean B="$tmp/other" > "$tmp/out" 2>&1
grep -qx "rm -rf $tmp/other" "$tmp/out" || fail "make clean ignores B"
$MAKE -n docs B="$tmp/other" > "$tmp/out" 2>&1
grep -q "EDDY_DOCS=$tmp/other/docs" "$tmp/out" || fail "make docs ignores B"
ok
# The programs make runs get the caller's LD_LIBRARY_PATH, not one of its own.
! grep -n 'LD_LIBRARY_PATH=' Makefile tests/check_install.sh > "$tmp/out" ||
    fail "LD_LIBRARY_PATH is set (replacing the caller's)"
ok

# --- scripts/check_layers.sh ---------------------------------------------------

# On a copy of the sources: the tree passes with no exception left, and
# what the HTTP server was once excused for (the poller's header, a clock
# of its own) fails it again.
tree=$tmp/tree
mkdir -p "$tree"
cp -R scripts include common backends ioloop iostream tcp httputil httpserver "$tree"/
for d in httpclient websocket; do [ ! -d "$d" ] || cp -R "$d" "$tree"/; done
"$tree/scripts/check_layers.sh" > "$tmp/out" 2>&1 || fail "check_layers fails on the tree"
! grep -q 'allowed for now' "$tmp/out" || fail "check_layers still excuses: $(cat "$tmp/out")"
ok
printf '#include "../backends/backend.h"\n' >> "$tree/httpserver/server.c"
"$tree/scripts/check_layers.sh" > "$tmp/out" 2>&1 && fail "check_layers takes httpserver including backend.h"
grep -q 'httpserver/server.c includes backends/backend.h' "$tmp/out" || fail "check_layers does not name the include"
ok
cp httpserver/server.c "$tree/httpserver/server.c"
printf 'static int c = CLOCK_MONOTONIC;\n' >> "$tree/httpserver/http1.c"
"$tree/scripts/check_layers.sh" > "$tmp/out" 2>&1 && fail "check_layers takes a second clock in httpserver"
grep -q 'httpserver/http1.c includes CLOCK_MONOTONIC' "$tmp/out" || fail "check_layers does not name the clock"
ok

echo "== scripts: need.sh, make and check_layers, $checks checks"
