# Parley — the two commands a newcomer needs:
#   make run    installs what is missing, builds, and runs the embedded voice assistant on a
#               recorded question (no network, no credentials)
#   make test   installs what is missing, builds, and runs every test
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PARLEY = ./$(BUILD)/apps/parley/parley

.PHONY: all deps build run test unit asan tsan bench format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p out
	$(PARLEY) run graphs/voice_assistant.json

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -L unit

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too).
asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=address \
	  -DPARLEY_BUILD_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	@cmake --build build-asan -j $(JOBS) --target parley_unit_tests
	ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L unit

# Unit tests under ThreadSanitizer.
tsan: deps
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=thread \
	  -DPARLEY_BUILD_BENCH=OFF $(CMAKE_ARGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target parley_unit_tests
	ctest --test-dir build-tsan --output-on-failure -j $(JOBS) -L unit

bench: build
	./$(BUILD)/bench/runtime_bench

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-tsan out
