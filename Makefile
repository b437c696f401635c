# connscope: two commands on a fresh Debian 12 machine.
#   make run    installs what is missing, builds (Release), runs the main job
#   make test   installs, builds, runs every test (and the unit tests again under ASan/UBSan), and
#               the fuzz harnesses over their corpora (make test-fuzz)
#   make fuzz   fuzzes every parser of outside bytes, FUZZ_SECONDS each (tests/fuzz/README.md)
#   make test-tsan  the unit and integration tests under ThreadSanitizer (build-tsan)

BUILD      ?= build
ASAN_BUILD ?= build-asan
# ThreadSanitizer: Debug like the ASan build, unit and integration tests only.
TSAN_BUILD ?= build-tsan
# The libFuzzer harnesses: their own build directory, with clang (Debian 12's clang-19: it is
# the first whose C++23 mode compiles libstdc++ 12's <expected>).
FUZZ_BUILD ?= build-fuzz
FUZZ_CXX   ?= clang++-19
FUZZ_SECONDS ?= 60
# Seconds of fuzzing per harness in `make test-fuzz` (CI), after the corpus replay.
FUZZ_CI_SECONDS ?= 10
JOBS       ?= $(shell nproc)
CTEST_JOBS ?= 2
BIN        := $(BUILD)/src/cli/connscope

.PHONY: all deps configure build run test test-unit test-lab test-asan test-tsan fuzz-build fuzz test-fuzz clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The main job: the console (agent) on 127.0.0.1:9600 until Ctrl-C; open http://127.0.0.1:9600/.
# AGENT_ARGS adds options (e.g. AGENT_ARGS='--config agent.toml'). Its data dir is
# /var/lib/connscope as root, else ~/.local/state/connscope.
AGENT_ARGS ?=
run: build
	$(BIN) agent $(AGENT_ARGS)

test: build
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCONNSCOPE_SANITIZE=ON \
	  -DCONNSCOPE_LAB_TESTS=OFF -DCONNSCOPE_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 300
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(CTEST_JOBS) -L 'unit|integration' --timeout 300
	$(MAKE) test-fuzz

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L unit

test-lab: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L lab

$(TSAN_BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCONNSCOPE_TSAN=ON \
	  -DCONNSCOPE_LAB_TESTS=OFF -DCONNSCOPE_BENCH=OFF

# The unit and integration tests under ThreadSanitizer, with the connscope binary the integration
# tests start built the same way. Every report, the test processes' and their children's, goes to
# a file in $(TSAN_BUILD)/tsan-reports (a child's stderr is often the test's to read, not ours):
# the run fails on a failed test or on any report file, and prints the reports.
TSAN_REPORTS := $(CURDIR)/$(TSAN_BUILD)/tsan-reports
test-tsan: deps $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	@rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	cd $(TSAN_BUILD) && \
	  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp:log_path=$(TSAN_REPORTS)/report \
	  ctest --output-on-failure -j $(CTEST_JOBS) -L 'unit|integration' --timeout 300; \
	  rc=$$?; \
	  if [ -n "$$(ls -A $(TSAN_REPORTS))" ]; then \
	    cat $(TSAN_REPORTS)/*; echo "ThreadSanitizer: $$(ls $(TSAN_REPORTS) | wc -l) report file(s)"; exit 1; \
	  fi; \
	  exit $$rc

$(FUZZ_BUILD)/build.ninja: CMakeLists.txt tests/fuzz/CMakeLists.txt
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DCONNSCOPE_FUZZ=ON -DCONNSCOPE_FUZZ_CI_SECONDS=$(FUZZ_CI_SECONDS)

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# Every harness for FUZZ_SECONDS, one after the other; new inputs in $(FUZZ_BUILD)/fuzz-work,
# crashes in $(FUZZ_BUILD)/fuzz-work/crashes. A crash stops the run.
fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/fuzz-work
	@for bin in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
	  [ -x "$$bin" ] && [ -f "$$bin" ] || continue; \
	  log=$(FUZZ_BUILD)/fuzz-work/$$(basename $$bin).log; \
	  echo "== $$bin: $(FUZZ_SECONDS) s, log $$log"; \
	  if ! tests/fuzz/run_harness.sh "$$bin" tests/fuzz $(FUZZ_BUILD)/fuzz-work $(FUZZ_SECONDS) \
	      >"$$log" 2>&1; then tail -40 "$$log"; exit 1; fi; \
	  grep -E '^#[0-9]+.*DONE' "$$log" | tail -1; \
	done

# CI's part: each harness over its committed corpus, then FUZZ_CI_SECONDS of fuzzing (ctest -L fuzz).
test-fuzz: fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
