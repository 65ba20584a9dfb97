# Petrel: the two commands a new user needs are `make run` and `make test`.
# Both install what is missing (scripts/deps.sh), build, then run or test.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=
WERROR ?= $(if $(CI),ON,OFF)

.PHONY: all deps build run test test-fast test-asan asan fuzz bench install clean format

all: build

deps:
	@scripts/deps.sh

# Configuring every time is cheap and picks up new test folders.
build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPETREL_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

run: deps build
	$(BUILD)/petrel dev

# The full suite: the optimised build, then the same C tests under
# AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600
	$(MAKE) test-asan

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPETREL_SANITIZE=ON -DPETREL_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j$(JOBS) --timeout 900 -LE no-asan

fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DPETREL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j$(JOBS) --target fuzz_frame
	mkdir -p build-fuzz/corpus && build-fuzz/tests/fuzz/fuzz_frame -max_total_time=$${FUZZ_SECONDS:-300} build-fuzz/corpus tests/fuzz/seeds

# The issue-8 performance table, side by side with Redis Streams, NATS JetStream
# and RabbitMQ (../shared/bench/peers). Long: minutes.
bench: build
	PETREL=$(BUILD)/petrel bench/run_all.sh

install: build
	cmake --install $(BUILD) --prefix $${PREFIX:-/usr/local}

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
