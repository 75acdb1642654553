# sockit: plain make targets over CMake + CTest.
#   make            build (installs missing Debian packages first)
#   make run        build, then start the chat server on 127.0.0.1:2333
#   make test       build, then run every test (SANITIZE=1: ASan + UBSan)
#   make fuzz       run the address-parser fuzzer for FUZZ_SECONDS
#   make bench      run every benchmark; bench-quick proves the harness
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

# What the build and the tests need; install-deps brings what is missing.
DEP_TOOLS := cmake pkg-config cc clang python3 ncat socat nc iperf3 gnuplot
DEP_LIBS := libuv cmocka

.PHONY: all build deps run test fuzz bench bench-quick install clean

all: build

deps:
	@missing=0; \
	for t in $(DEP_TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	if [ $$missing = 0 ]; then \
	  pkg-config --exists $(DEP_LIBS) 2>/dev/null || missing=1; \
	fi; \
	if [ $$missing = 1 ]; then ./scripts/install-deps; fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job: the chat server on the tutorial's address.
run: build
	@echo "sockit chat server on 127.0.0.1:2333; join from another terminal:"
	@echo "  $(BUILD)/sockit --chat 127.0.0.1 2333    or    nc 127.0.0.1 2333"
	@echo "type here to speak as <server>; Ctrl-C stops it."
	./$(BUILD)/sockit --chat -l 127.0.0.1 2333

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j 2

fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSOCKIT_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS) --target fuzz_addr
	mkdir -p build-fuzz/corpus
	./build-fuzz/tests/fuzz/fuzz_addr -max_total_time=$(FUZZ_SECONDS) \
	  -print_final_stats=1 build-fuzz/corpus tests/fuzz/corpus/addr

bench: build
	./bench/run.sh

bench-quick: build
	./bench/run.sh --quick

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
