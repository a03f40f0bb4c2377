# SPDX-License-Identifier: Apache-2.0
#
# Thin wrappers over CMake presets. `make run` and `make test` are the two commands of the
# README's quick start; both install missing packages first.
.PHONY: all deps build run test check bench fuzz format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev

run: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release
	@build/release/src/keyhold selftest
	@exec build/release/src/keyholdd --dev $(KEYHOLDD_FLAGS)

test: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	@cmake --build --preset asan --target format-check cppcheck
	@ctest --preset asan

bench: deps
	@scripts/deps.sh bench
	@cmake --preset release >/dev/null
	@cmake --build --preset release
	@build/release/bench/bench_crypto
	@echo
	@build/release/bench/bench_keys
	@echo
	@build/release/bench/bench_pki
	@echo
	@bench/bench_server.sh build/release/src/keyholdd
	@echo
	@bench/bench_xks.sh build/release/src/keyholdd
	@echo
	@bench/bench_pki.sh build/release/src/keyholdd

fuzz:
	@scripts/deps.sh fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@scripts/fuzz.sh

format:
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev --target format

clean:
	rm -rf build
