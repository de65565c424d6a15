#!/bin/sh
# scripts/need.sh - makes sure the tools the build needs are present.
#
#   scripts/need.sh NAME...      NAME: cmocka valgrind clang npm wrk ab curl
#                                      doxygen groff gnuplot musl-gcc libfuzzer
#                                      zlib libcurl libssl openssl gnutls-cli
#                                      python3 testssl
#                                      chromium python3-websockets
#                                      python3-tornado
#
# For each missing one it installs the package when it can (apt-get as root
# on Debian and Ubuntu, pkg on FreeBSD, brew on macOS), printing the exact
# command before it runs it, with the package manager's output shown; and
# otherwise stops with the exact command to run.  With NO_INSTALL=1 it
# installs nothing: it only says what is missing and the command.  It
# never touches what is already there.  Exit status: 0 when everything is
# present afterwards, 1 otherwise.
set -u
CC=${CC:-cc}

has_py_module() {
    for py in /usr/bin/python3 python3; do
        "$py" -c "import $1" >/dev/null 2>&1 && return 0
    done
    return 1
}

have() {
    case $1 in
    cmocka)
        printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <cmocka.h>\nint main(void) { return 0; }\n' |
            $CC -x c - $(pkg-config --cflags --libs cmocka 2>/dev/null || echo -lcmocka) \
                -o /dev/null 2>/dev/null ;;
    ab) command -v ab >/dev/null 2>&1 ;;
    # Debian's python3 first, as the tests and benchmarks pick it: another
    # one earlier on PATH (pyenv) does not see Debian's packages.
    python3-websockets) has_py_module websockets ;;
    python3-tornado) has_py_module tornado ;;
    zlib) pkg-config --exists zlib 2>/dev/null ;;
    libcurl) pkg-config --exists libcurl 2>/dev/null ;;
    libssl)
        # OpenSSL 3's headers and pkg-config file, for TLS=openssl.
        pkg-config --exists 'openssl >= 3' 2>/dev/null &&
            printf '#include <openssl/ssl.h>\nint main(void) { return 0; }\n' |
            $CC -x c - $(pkg-config --cflags --libs openssl) -o /dev/null 2>/dev/null ;;
    libfuzzer)
        # clang's runtimes (libFuzzer, ASan, UBSan): on Debian 12 clang-14
        # only recommends them (libclang-rt-14-dev), so an install without
        # recommends has a clang that cannot link -fsanitize=fuzzer.
        printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d == 0 && n; }\n' |
            clang -x c - -fsanitize=fuzzer,address,undefined -o /dev/null 2>/dev/null ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

# The package that provides NAME for package manager $2.
package() {
    case $2:$1 in
    apt:cmocka) echo libcmocka-dev ;;
    apt:ab) echo apache2-utils ;;
    apt:gnuplot) echo gnuplot-nox ;;
    apt:groff) echo groff-base ;;
    apt:gnutls-cli) echo gnutls-bin ;;
    apt:testssl | pkg:testssl) echo testssl.sh ;;
    apt:libssl) echo libssl-dev ;;
    apt:libfuzzer) echo libclang-rt-dev ;;
    apt:musl-gcc) echo musl-tools ;;
    apt:zlib) echo zlib1g-dev ;;
    apt:libcurl) echo libcurl4-openssl-dev ;;
    pkg:libcurl | brew:libcurl) echo curl ;;
    apt:npm) echo npm ;;
    pkg:ab) echo apache24 ;;
    pkg:python3-websockets) echo py311-websockets ;;
    pkg:python3-tornado) echo py311-tornado ;;
    brew:python3-websockets | brew:python3-tornado) echo "" ;;
    pkg:clang | pkg:libfuzzer) echo llvm ;;
    pkg:npm) echo npm ;;
    pkg:libssl | pkg:openssl) echo openssl ;;
    pkg:gnutls-cli | brew:gnutls-cli) echo gnutls ;;
    pkg:python3 | brew:python3) echo python3 ;;
    brew:libssl | brew:openssl) echo openssl@3 ;;
    pkg:musl-gcc | brew:musl-gcc | brew:valgrind) echo "" ;;
    brew:ab) echo httpd ;;
    brew:clang | brew:libfuzzer) echo llvm ;;
    brew:npm) echo node ;;
    *) echo "$1" ;;
    esac
}

manager() {
    if command -v apt-get >/dev/null 2>&1; then echo apt
    elif [ "$(uname -s)" = FreeBSD ] && command -v pkg >/dev/null 2>&1; then echo pkg
    elif command -v brew >/dev/null 2>&1; then echo brew
    else echo none
    fi
}

missing=""
for name in "$@"; do
    have "$name" || missing="$missing $name"
done
[ -z "$missing" ] && exit 0

mgr=$(manager)
pkgs=""
for name in $missing; do
    p=$(package "$name" "$mgr")
    if [ -z "$p" ] || [ "$mgr" = none ]; then
        echo "need.sh: '$name' is missing and there is no package for it here; install it by hand." >&2
        exit 1
    fi
    pkgs="$pkgs $p"
done

case $mgr in
apt) cmd="apt-get install -y$pkgs" ;;
pkg) cmd="pkg install -y$pkgs" ;;
brew) cmd="brew install$pkgs" ;;
esac
root=0
[ "$(id -u)" = 0 ] && root=1
# run COMMAND...: says it, then runs it.
run() {
    echo "need.sh: running: $*" >&2
    "$@" >&2
}
if [ "${NO_INSTALL:-0}" != 0 ]; then
    echo "need.sh: missing:$missing (NO_INSTALL is set: nothing installed)" >&2
elif [ "$mgr" = brew ] || [ $root = 1 ]; then
    echo "need.sh: missing:$missing" >&2
    if [ "$mgr" = apt ]; then
        export DEBIAN_FRONTEND=noninteractive
        # A fresh machine's package lists may be empty or stale: update
        # them once if the install fails, and try again.
        run $cmd || { run apt-get update && run $cmd; }
    else
        run $cmd
    fi
fi
for name in $missing; do
    if ! have "$name"; then
        echo "need.sh: '$name' is missing. Run this, then try again:" >&2
        if [ $root = 1 ] || [ "$mgr" = brew ]; then echo "    $cmd" >&2
        else echo "    sudo $cmd" >&2
        fi
        exit 1
    fi
done
exit 0
