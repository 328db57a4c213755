# airlock: the two commands that matter are `make demo` and `make check`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
CMAKE_ARGS ?=
AIRLOCK    := $(CURDIR)/$(BUILD)/src/cli/airlock

# The nested makes of `cmake --build` would print every directory they enter
# and leave (over a hundred lines on an up-to-date tree).
MAKEFLAGS  += --no-print-directory

.PHONY: all deps build check demo asan tsan bench fuzz install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

check: build
	@scripts/check-layers.sh
	@ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

demo: build
	@AIRLOCK_BIN=$(AIRLOCK) demo/tour.sh

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
		-DAIRLOCK_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# ThreadSanitizer: the broker's sync thread, the redactor's rule thread and
# the MCP server's workers.  A report stops the process; it is printed.
tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
		-DAIRLOCK_TSAN=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS)
	@rm -f $(TSAN_BUILD)/tsan.*
	@TSAN_OPTIONS="halt_on_error=1 log_path=$(CURDIR)/$(TSAN_BUILD)/tsan" \
		ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS) || \
		{ cat $(TSAN_BUILD)/tsan.* 2>/dev/null; exit 1; }

bench: build
	@for b in bench/*.sh; do [ -x "$$b" ] && AIRLOCK_BIN=$(AIRLOCK) \
		AIRLOCK_BUILD=$(CURDIR)/$(BUILD) "$$b"; done; true

fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
		-DAIRLOCK_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@scripts/fuzz.sh $(FUZZ_BUILD)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
