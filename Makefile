# msw: `make run` to try it, `make test` to check it. CMake does the building.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc)

# Each recipe installs what is missing, then configures, then builds, in that
# order, whatever -j says: CMake must not look for packages before they are in.
configure = test -f $(1)/CMakeCache.txt || cmake -S . -B $(1) $(2)
# The nested gmake that CMake runs would announce every directory it enters.
cmake_build = cmake --build $(1) -j $(JOBS) -- --no-print-directory

.PHONY: all build deps test-deps run test test-asan test-fuzz bench clean

all: build

deps:
	@scripts/deps build

test-deps:
	@scripts/deps test

build:
	@scripts/deps build
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	@$(call cmake_build,$(BUILD))

# `make run` needs the server and the shipped modules, not the tests and
# benchmarks. Their configure and build output (a line per target even when
# nothing changed) goes to a log, shown when something fails: what stays on the
# terminal is the demo links and the server's own lines.
run_log = $(BUILD)/make-run.log
run:
	@scripts/deps build
	@mkdir -p $(BUILD)
	@echo "msw: building the server and the shipped modules (a few minutes the first time; output in $(run_log))"
	@{ $(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=RelWithDebInfo) && \
	   cmake --build $(BUILD) -j $(JOBS) --target msw index live -- --no-print-directory; } >$(run_log) 2>&1 || \
	 { tail -n 40 $(run_log); echo "msw: the build failed; the whole output is in $(run_log)" >&2; exit 1; }
	@scripts/demo-urls || true
	@public/console -s start

test:
	@scripts/deps test
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	@$(call cmake_build,$(BUILD))
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The same tests in an AddressSanitizer + UndefinedBehaviorSanitizer build (CI runs both).
test-asan:
	@scripts/deps test
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMSW_SANITIZE=ON
	@$(call cmake_build,$(ASAN_BUILD))
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The libFuzzer targets of tests/fuzz (clang), FUZZ_SECONDS each.
test-fuzz:
	@scripts/deps test
	@$(call configure,$(FUZZ_BUILD),-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	    -DCMAKE_CXX_COMPILER=clang++ -DMSW_FUZZ=ON -DMSW_TESTS=OFF)
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target msw_fuzzers -- --no-print-directory
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
