#!/bin/sh
# scripts/check_layers.sh - fails when a library file includes a header it
# must not (docs/architecture.md, "Layers"); `make check` runs it.
#
#   scripts/check_layers.sh        prints each violation; exit 1 if any
#
# The layers, lowest first; siblings share a rank and see nothing of each
# other:
#   backends < ioloop < iostream (+ TLS) < tcp < httputil
#            < httpserver, httpclient < websocket
# A file of layer L may include:
#   - the headers of its own folder, and common/internal.h;
#   - the public header (include/eddy/) of L or of a layer below L;
#   - from the layer directly below L only, its *_internal.h (for ioloop,
#     backends/backend.h): what that layer offers the one above.
# So nothing above the loop reaches into backends/, nothing above iostream
# into the loop's internals, and no layer includes one above it.  Public
# headers include only public headers of their own layer or lower.
# It also checks that the hidden attribute is defined in one place,
# common/internal.h, and the monotonic clock read in one, ioloop/loop.c's
# eddy__clock_ns() (declared in common/internal.h).
#
# EXCEPTIONS lists what is allowed for now, each with the reason and what
# removes it (none today).
set -u
cd "$(dirname "$0")/.." || exit 1

EXCEPTIONS=""

LAYERS="backends ioloop iostream tcp httputil httpserver httpclient websocket"

rank() {
    case $1 in
    common) echo 0 ;; backends) echo 1 ;; ioloop) echo 2 ;; iostream) echo 3 ;;
    tcp) echo 4 ;; httputil) echo 5 ;; httpserver | httpclient) echo 6 ;;
    websocket) echo 7 ;; *) echo 99 ;;
    esac
}

below() {
    case $1 in
    ioloop) echo backends ;; iostream) echo ioloop ;; tcp) echo iostream ;;
    httputil) echo tcp ;; httpserver | httpclient) echo httputil ;;
    websocket) echo "httpserver httpclient" ;;
    esac
}

# The layer of a public header; "all" for eddy.h, "unknown" for one this
# table does not know yet (add it).
public_layer() {
    case $1 in
    version.h | ioloop.h) echo ioloop ;;
    iostream.h | tls.h) echo iostream ;; tcp.h) echo tcp ;;
    httputil.h) echo httputil ;; httpserver.h) echo httpserver ;;
    httpclient.h) echo httpclient ;; websocket.h) echo websocket ;;
    eddy.h) echo all ;; *) echo unknown ;;
    esac
}

bad=0
files=0
excused=""

fail() {
    if printf '%s\n' "$EXCEPTIONS" | grep -qx "$1 $2"; then
        excused="$excused $1->$2"
        return
    fi
    echo "check_layers: $1 includes $2: $3"
    bad=$((bad + 1))
}

# Normalises a path: drops "./" and folds "dir/../".
normal() {
    echo "$1" | awk -F/ '{
        n = 0
        for (i = 1; i <= NF; i++) {
            if ($i == "." || $i == "") continue
            if ($i == ".." && n > 0 && p[n] != "..") { n--; continue }
            p[++n] = $i
        }
        s = p[1]; for (i = 2; i <= n; i++) s = s "/" p[i]; print s
    }'
}

# The quoted and <eddy/...> includes of a file, one a line.
includes() {
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p;
            s/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(eddy\/[^>]*\)>.*/\1/p' "$1"
}

check_public() { # file layer target-header
    tl=$(public_layer "$(basename "$3")")
    case $tl in
    unknown) fail "$1" "$3" "a public header scripts/check_layers.sh does not know: add it to public_layer()" ;;
    all) fail "$1" "$3" "eddy.h is for programs, not for the library" ;;
    *)
        if [ "$(rank "$tl")" -gt "$(rank "$2")" ]; then
            fail "$1" "$3" "$tl is a layer above $2"
        elif [ "$(rank "$tl")" -eq "$(rank "$2")" ] && [ "$tl" != "$2" ]; then
            fail "$1" "$3" "$tl and $2 are siblings"
        fi ;;
    esac
}

for layer in common $LAYERS; do
    [ -d "$layer" ] || continue
    for f in "$layer"/*.c "$layer"/*.h; do
        [ -f "$f" ] || continue
        files=$((files + 1))
        for inc in $(includes "$f"); do
            dir=$(dirname "$f")
            if [ -f "$dir/$inc" ]; then
                target=$(normal "$dir/$inc")
            elif [ -f "include/$inc" ]; then
                check_public "$f" "$layer" "include/$inc"
                continue
            else
                fail "$f" "$inc" "no such header"
                continue
            fi
            tdir=${target%%/*}
            case $target in
            include/eddy/*) check_public "$f" "$layer" "$target"; continue ;;
            esac
            [ "$tdir" = "$layer" ] && continue
            [ "$target" = common/internal.h ] && continue
            if [ "$layer" = common ]; then
                fail "$f" "$target" "common/ includes no layer"
                continue
            fi
            ok=0
            for b in $(below "$layer"); do
                if [ "$tdir" = "$b" ]; then
                    case $target in
                    *_internal.h) ok=1 ;;
                    backends/backend.h) [ "$layer" = ioloop ] && ok=1 ;;
                    esac
                fi
            done
            [ $ok = 1 ] && continue
            if [ "$(rank "$tdir")" -gt "$(rank "$layer")" ]; then
                fail "$f" "$target" "$tdir is a layer above $layer"
            elif [ "$(rank "$tdir")" -eq "$(rank "$layer")" ]; then
                fail "$f" "$target" "$tdir and $layer are siblings"
            else
                fail "$f" "$target" "reaches past the layer directly below $layer ($(below "$layer")), or into what it keeps to itself"
            fi
        done
    done
done

for f in include/eddy/*.h; do
    files=$((files + 1))
    self=$(public_layer "$(basename "$f")")
    [ "$self" = all ] && self=websocket
    for inc in $(includes "$f"); do
        case $inc in
        eddy/*) check_public "$f" "$self" "include/$inc" ;;
        *) fail "$f" "$inc" "a public header includes only public headers" ;;
        esac
    done
done

# One hidden attribute (common/internal.h), one monotonic clock
# (ioloop/loop.c).
sources=$(ls -d $LAYERS 2>/dev/null | sed 's|$|/*.[ch]|')
for f in $(grep -l -F 'visibility("hidden")' $sources 2>/dev/null); do
    fail "$f" 'visibility("hidden")' "defined again: use EDDY_HIDDEN (common/internal.h)"
done
for f in $(grep -l -F CLOCK_MONOTONIC $sources 2>/dev/null); do
    [ "$f" = ioloop/loop.c ] && continue
    fail "$f" CLOCK_MONOTONIC "a second clock: use eddy__clock_ns() (common/internal.h)"
done

if [ $bad -gt 0 ]; then
    echo "check_layers: $bad violation(s); docs/architecture.md says why"
    exit 1
fi
echo "== layers: $files files include down only${excused:+ (allowed for now:$excused)}"
