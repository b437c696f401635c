# connscope: two commands on a fresh Debian 12 machine.
#   make run    installs what is missing, builds (Release), runs the main job
#   make test   installs, builds, runs every test (and the unit tests again under ASan/UBSan)

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_JOBS ?= 2
BIN        := $(BUILD)/src/cli/connscope

.PHONY: all deps configure build run test test-unit test-lab test-asan clean

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

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L unit

test-lab: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L lab

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
