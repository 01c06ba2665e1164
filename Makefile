# Thin wrapper over CMake and the scripts in scripts/:
#   make        build into build/ (binaries in build/bin)
#   make demo   install missing packages, build, start 3 daemons, mount ./mnt
#   make stop   unmount and stop what demo started
#   make test   install missing packages, build, run the whole suite
#   make fuzz   run every libFuzzer target for FUZZ_SECONDS each
#   make chaos  the chaos test (tests/integration/fs_chaos.sh, root) for
#               CHAOS_SECONDS (300) with CHAOS_SEED (random, printed) on
#               CHAOS_DAEMONS ("a b c"; "a b c d" puts keys on 3 of 4)
#   make install    install into PREFIX (default /usr/local), DESTDIR honoured
#   make deb        build the Debian package in build-deb/ (CPack)
#   make deb-check  check the package's files and Depends, then dpkg -i it,
#                   run the programs and dpkg -r it (root; changes the system)
BUILD ?= build
JOBS ?= 2
FUZZ_SECONDS ?= 20
CHAOS_SECONDS ?= 300
CHAOS_SEED ?= random
CHAOS_DAEMONS ?= a b c

.PHONY: all build deps demo stop test unit fuzz chaos bench clean

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

# Not through ctest: its 300 s TIMEOUT is shorter than a long run.
chaos: deps build
	@QFS_BIN=$(CURDIR)/$(BUILD)/bin QFS_SRC=$(CURDIR) QFS_CHAOS_SECONDS=$(CHAOS_SECONDS) \
		QFS_CHAOS_SEED=$(CHAOS_SEED) QFS_CHAOS_DAEMONS="$(CHAOS_DAEMONS)" \
		bash tests/integration/fs_chaos.sh $(CURDIR)/$(BUILD)/tests/chaos_work \
		$(CURDIR)/$(BUILD)/tests/replica_check

bench: build
	@scripts/bench.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz

# ---- install and package (cmake/Install.cmake, cmake/Packaging.cmake) ----
PREFIX ?= /usr/local
DEB_BUILD ?= build-deb
QFS_PROGRAMS = chunkd quorumfs mkfs.quorumfs fsck.quorumfs qfs

.PHONY: install deb deb-check

install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# A build of its own with the /usr prefix (the unit's ExecStart path comes
# from it) that compiles only the programs, not the tests.
deb:
	@cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
	@cmake --build $(DEB_BUILD) -j$(JOBS) --target $(QFS_PROGRAMS)
	@cd $(DEB_BUILD) && cpack -G DEB >/dev/null
	@ls -l $(DEB_BUILD)/*.deb

deb-check: deb
	@scripts/deb-check.sh $(DEB_BUILD)
