# Thin wrapper over CMake and the scripts in scripts/:
#   make        build into build/ (binaries in build/bin)
#   make demo   install missing packages, build, start 3 daemons, mount ./mnt
#   make stop   unmount and stop what demo started
#   make test   install missing packages, build, run the whole suite
#   make fuzz   run every libFuzzer target for FUZZ_SECONDS each
BUILD ?= build
JOBS ?= 2
FUZZ_SECONDS ?= 20

.PHONY: all build deps demo stop test unit fuzz bench clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps.sh

demo: deps build
	@scripts/demo.sh start

stop:
	@scripts/demo.sh stop

test: deps build
	@scripts/run-tests.sh

unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure

fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

bench: build
	@scripts/bench.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
