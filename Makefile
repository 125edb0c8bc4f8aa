# Thin wrapper over CMake: `make` builds, `make test` runs every test,
# `make bench` runs the benchmarks, `make setup` installs what is missing.
BUILD ?= build
TYPE ?= Release
JOBS ?= $(shell nproc)

# Debian packages moerun builds and tests with (DEPENDENCIES.md).
# Tools are installed only when their command is missing (some images ship
# their own cmake or node); libraries when their package is missing.
DEB_TOOLS := cmake:cmake g++:g++ make:make pkg-config:pkg-config git:git python3:python3 npm:npm
DEB_PACKAGES := libdnnl-dev ocl-icd-opencl-dev libxsimd-dev xtl-dev libcli11-dev doctest-dev \
  libpcre2-dev libutf8proc-dev nlohmann-json3-dev libsimdjson-dev libfmt-dev libedit-dev

# The sanitizer build (ASan + UBSan, clang, -O1) runs the whole suite again
# and holds the libFuzzer targets (tests/fuzz/README.md).
SAN_BUILD ?= $(BUILD)-asan
SANITIZE_PACKAGES := clang-14 libclang-rt-14-dev libomp-14-dev
FUZZ_SECONDS ?= 30

.PHONY: all setup deps configure build test test-neon test-sanitize test-fuzz build-sanitize deps-sanitize \
  unit bench bench-vs oracle clean

all: build

# Shell text for a recipe that has set $$missing (tools already missing):
# adds the Debian packages of $(1) that are not installed, then installs them
# all with apt-get (as root, or through sudo).
define install_missing
for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

# Installs missing packages (needs root or sudo), builds moerun and the oracle.
setup: deps build oracle

deps:
	@missing=""; for t in $(DEB_TOOLS); do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; \
	done; \
	$(call install_missing,$(DEB_PACKAGES))

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

oracle:
	bash tests/oracle/setup.sh $(BUILD)/oracle

# The whole suite twice: with the ISA dispatch picks (the best this CPU runs)
# and with MOERUN_ISA=scalar (the reference kernels), then the NEON kernel
# tests under qemu, the suite under ASan + UBSan, and each fuzz target for
# FUZZ_SECONDS.
test: build oracle
	cd $(BUILD) && ctest --output-on-failure -j 2
	cd $(BUILD) && MOERUN_ISA=scalar ctest --output-on-failure -j 2
	$(MAKE) --no-print-directory test-neon
	$(MAKE) --no-print-directory test-sanitize
	$(MAKE) --no-print-directory test-fuzz

deps-sanitize:
	@missing=""; $(call install_missing,$(SANITIZE_PACKAGES))

$(SAN_BUILD)/CMakeCache.txt:
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DMOERUN_FUZZ=ON

build-sanitize: deps-sanitize $(SAN_BUILD)/CMakeCache.txt
	cmake --build $(SAN_BUILD) -j $(JOBS)

# The oracle is the optimized build's (it is llama.cpp, not moerun).
test-sanitize: build-sanitize oracle
	cd $(SAN_BUILD) && MOERUN_ORACLE_DIR=$${MOERUN_ORACLE_DIR:-$(CURDIR)/$(BUILD)/oracle} ctest --output-on-failure -j 2

test-fuzz: build-sanitize
	bash tests/fuzz/run_fuzz.sh $(SAN_BUILD) $(FUZZ_SECONDS)

# NEON kernels: cross-build quant/ + simd/ + their tests (tests/simd/CMakeLists.txt)
# for aarch64 and run them under qemu on a dotprod CPU (neoverse-n1: scalar,
# neon, neon_dotprod rows) and one without (cortex-a72: scalar, neon).
NEON_BUILD ?= $(BUILD)-aarch64
NEON_SYSROOT := /usr/aarch64-linux-gnu
test-neon:
	@if ! command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then \
	  echo "installing: g++-aarch64-linux-gnu qemu-user"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends g++-aarch64-linux-gnu qemu-user; \
	fi
	cmake -S tests/simd -B $(NEON_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/tests/simd/aarch64-toolchain.cmake >/dev/null
	cmake --build $(NEON_BUILD) -j $(JOBS)
	qemu-aarch64 -cpu neoverse-n1 -L $(NEON_SYSROOT) $(NEON_BUILD)/moerun_kernel_tests
	qemu-aarch64 -cpu cortex-a72 -L $(NEON_SYSROOT) $(NEON_BUILD)/moerun_kernel_tests

unit: build
	$(BUILD)/moerun_tests

bench: build
	@echo "benchmarks: see tests/bench/"; \
	for b in $(BUILD)/bench_*; do [ -x "$$b" ] && "$$b"; done; true

# moerun against llama.cpp (llama-bench built from the oracle's source bundle),
# alternating runs on synthetic real-shaped models; writes docs/PERFORMANCE.md.
# Slow (tens of minutes) and needs ~50 GB of disk for the models.
bench-vs: build
	tests/bench/vs-llamacpp --write docs/PERFORMANCE.md

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
