# sockit: plain make targets over CMake + CTest.
#   make            build (installs the build's missing Debian packages)
#   make run        build, then start the chat server on 127.0.0.1:2333
#                   (browsers: http://127.0.0.1:8080/, WEB_PORT=N)
#   make test       build, then run every test (SANITIZE=1: ASan + UBSan);
#                   brings the test tools (nc, ncat, socat) first
#   make fuzz       run the address-parser fuzzer for FUZZ_SECONDS
#   make bench      run every benchmark; bench-quick proves the harness;
#                   brings iperf3, gnuplot, perf and the peers first
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?= 0
FUZZ_SECONDS ?= 20
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DSOCKIT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif

# What each kind of work needs; scripts/install-deps GROUP brings what is
# missing, only when a tool or library below is not found (so the check
# costs nothing on a ready machine, Debian or not). A plain build needs
# the build group only; test, bench and fuzz bring their own tools.
DEP_build_TOOLS := cmake pkg-config cc python3
DEP_build_LIBS := libuv cmocka openssl icu-uc icu-i18n hiredis libedit libwebsockets
# --web runs lws on sockit's libuv loop: lws loads this plugin at run time.
DEP_build_FILES := $(shell pkg-config --variable=libdir libwebsockets 2>/dev/null)/libwebsockets-evlib_uv.so
DEP_test_TOOLS := nc ncat socat /usr/sbin/danted tinyproxy ping ip unshare setpriv openssl redis-server curl chromium chromedriver stunnel4
DEP_test_FILES := /etc/services /usr/lib/python3/dist-packages/pyte /usr/lib/python3/dist-packages/selenium
DEP_bench_TOOLS := nc ncat socat iperf3 gnuplot perf /usr/sbin/haproxy /usr/sbin/rinetd stunnel4 openssl
DEP_bench_FILES := /usr/lib/python3/dist-packages/websockets
DEP_fuzz_TOOLS := clang

DEP_GROUPS := build test bench fuzz
INSTALL_DEPS ?= ./scripts/install-deps

.PHONY: all build deps $(DEP_GROUPS:%=deps-%) run test fuzz bench \
	bench-quick install clean

all: build

deps: deps-build

# Static pattern: implicit rules are never searched for .PHONY targets.
$(DEP_GROUPS:%=deps-%): deps-%:
	@missing=0; \
	for t in $(DEP_$*_TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	for f in $(DEP_$*_FILES); do [ -e $$f ] || missing=1; done; \
	if [ $$missing = 0 ] && [ -n "$(DEP_$*_LIBS)" ]; then \
	  pkg-config --exists $(DEP_$*_LIBS) 2>/dev/null || missing=1; \
	fi; \
	if [ $$missing = 1 ]; then $(INSTALL_DEPS) $*; fi

$(BUILD)/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job: the chat server on the tutorial's address, and the same
# room in a browser on WEB_PORT (8080 unless given: make run WEB_PORT=8081).
WEB_PORT ?= 8080
run: build
	@echo "sockit chat server on 127.0.0.1:2333; join from another terminal:"
	@echo "  $(BUILD)/sockit --chat 127.0.0.1 2333    or    nc 127.0.0.1 2333"
	@echo "or from a browser:  http://127.0.0.1:$(WEB_PORT)/"
	@echo "type here to speak as <server>; Ctrl-C stops it."
	./$(BUILD)/sockit --chat -l 127.0.0.1 2333 --web $(WEB_PORT)

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j 2

fuzz: deps-build deps-fuzz
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSOCKIT_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS) --target fuzz_addr
	mkdir -p build-fuzz/corpus
	./build-fuzz/tests/fuzz/fuzz_addr -max_total_time=$(FUZZ_SECONDS) \
	  -print_final_stats=1 build-fuzz/corpus tests/fuzz/corpus/addr

bench: deps-bench build
	./bench/run.sh

bench-quick: deps-bench build
	./bench/run.sh --quick

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
