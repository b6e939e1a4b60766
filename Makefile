# liaison: `make demo` shows the whole system working, `make test` runs every test.
# Both install the Debian packages they need first (as root), and say which.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
DESTDIR ?=
PYTEST := /usr/bin/python3 -m pytest
# WERROR=ON makes every warning in the project's own sources an error (.ci/run sets it; it takes
# effect when the build directory is configured).
WERROR ?= OFF

.PHONY: all build deps-build deps-unit deps-test deps-bench deps-fuzz configure test unit e2e demo bench fuzz \
	fresh-check install deb format tidy clean macos-check macos-bundle bench-storm

all: build

deps-build:
	@scripts/install-deps.sh build
deps-unit:
	@scripts/install-deps.sh unit
deps-test:
	@scripts/install-deps.sh test
deps-bench:
	@scripts/install-deps.sh bench
deps-fuzz:
	@scripts/install-deps.sh fuzz

# ccache (installed by the build profile) when it is there: decided in the recipe, after the deps
# target has run, so a fresh machine's first configure uses it too. CCACHE=no builds without it.
# The sloppiness lets ccache cache what uses the precompiled headers (it hashes the .gch instead
# of the headers' times and the macros they define); without it every such call is uncacheable.
CCACHE ?= auto
CCACHE_LAUNCHER := env;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;ccache
$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=/usr \
	  -DLIAISON_WERROR=$(WERROR) \
	  $$([ "$(CCACHE)" != no ] && command -v ccache >/dev/null && \
	     echo '-DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE_LAUNCHER)')

configure: $(BUILD_DIR)/build.ninja

build: deps-build configure
	cmake --build $(BUILD_DIR)

# Every test: unit tests (GoogleTest through ctest), each fuzzer for 5 s over its seed corpus, and
# end-to-end tests in a real systemd + logind container (pytest), then one closing line with the
# totals.
test: deps-test configure
	cmake --build $(BUILD_DIR)
	@scripts/run-tests.sh $(BUILD_DIR) all

unit: deps-unit configure
	cmake --build $(BUILD_DIR)
	@scripts/run-tests.sh $(BUILD_DIR) unit

e2e: deps-test configure
	cmake --build $(BUILD_DIR)
	@scripts/run-tests.sh $(BUILD_DIR) e2e

# Builds only what the demo installs (the binary and the man pages), not the tests.
demo: deps-test configure
	cmake --build $(BUILD_DIR) --target liaison man_pages
	@/usr/bin/python3 tests/e2e/demo.py --build-dir $(BUILD_DIR)

# Every fuzzer (tests/fuzz) for FUZZ_SECONDS, two at a time, built with clang in $(BUILD_DIR)-fuzz;
# executions and crashes per harness go into docs/security.md. A crash fails it; its input is kept
# in $(BUILD_DIR)-fuzz/scratch/<harness>/artifacts.
FUZZ_SECONDS ?= 60
fuzz: deps-fuzz
	@scripts/run-fuzzers.sh $(BUILD_DIR)-fuzz run $(FUZZ_SECONDS) docs/security.md

# The macOS build on this machine: every target for arm64 and x86_64 against Apple's SDK (MACOS_SDK,
# assembled as docs/macos.md says; without it: skipped in one line), -Werror, linked by ld64.lld,
# then the universal liaison. macos-bundle lays out Liaison.app and the launchd plists from it.
MACOS_BUILD_DIR ?= $(BUILD_DIR)-macos
macos-check:
	@scripts/macos-check.sh $(MACOS_BUILD_DIR)

macos-bundle: macos-check
	@scripts/macos-bundle.sh $(MACOS_BUILD_DIR)

# A terminal server's login storm (issue 13): STORM_USERS users at once, the broadcast to all of
# them STORM_ROUNDS times; its own section of docs/performance.md, which make bench keeps.
STORM_USERS ?= 200
STORM_ROUNDS ?= 20
bench-storm: deps-test configure
	cmake --build $(BUILD_DIR) --target liaison man_pages liaison-test-notification-sink
	@/usr/bin/python3 bench/storm.py --build-dir $(BUILD_DIR) --users $(STORM_USERS) \
	  --rounds $(STORM_ROUNDS) --out docs/performance.md

bench: deps-bench configure
	cmake --build $(BUILD_DIR)
	@/usr/bin/python3 bench/run.py --build-dir $(BUILD_DIR) --out docs/performance.md

# A minimal Debian 12 container: clone, scripts/install-deps.sh as the only set-up, every program
# of scripts/host-programs.txt present, then make and make unit (.ci/run runs it; it shares this
# machine's ccache, so after a build here it takes minutes, cold about 15).
fresh-check: deps-test
	@WERROR=$(WERROR) scripts/fresh-check.sh

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix /usr

# The Debian package of what `make install` installs, in $(BUILD_DIR)/deb/; prints its path.
deb: build
	@scripts/install-deps.sh deb
	@scripts/build-deb.sh $(BUILD_DIR) $(BUILD_DIR)/deb

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

# clang-tidy-16 (.clang-tidy's checks) over src/*.cpp, 2 at a time; fails on any warning.
tidy: configure
	@scripts/run-tidy.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
