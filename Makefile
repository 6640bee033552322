# Thin wrapper over CMake. `make test` and `make run` work on a fresh Debian
# machine: they install missing packages with apt-get, configure and build.
BUILD    ?= build
PREFIX   ?= /usr/local
JOBS     ?= $(shell nproc)
FUZZ_SECONDS ?= 60
# Warnings are errors in CI (CI=true) and whenever WERROR=ON is given.
ifeq ($(CI),true)
WERROR   ?= ON
endif
WERROR   ?= OFF

DEB_PACKAGES := cmake ninja-build g++ pkg-config python3 zsh fish clang-16 libclang-rt-16-dev \
  libcli11-dev libleveldb-dev libsnappy-dev libcrypto++-dev libmsgpack-cxx-dev \
  libtomlplusplus-dev libcurl4-openssl-dev libssl-dev doctest-dev libsecp256k1-dev \
  libasio-dev libcpp-httplib-dev nlohmann-json3-dev libspdlog-dev libfmt-dev faketime python3-cryptography \
  libwebsocketpp-dev python3-websocket prometheus

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps configure build test unit tooltests fuzz fuzz-build bench soak e2e mutants run install clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DGTOS_WERROR=$(WERROR) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite: unit tests, tool tables, example scripts, a short fuzz run.
test: build fuzz-build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every libFuzzer target (tests/fuzz/targets.cmake) under ASan and UBSan,
# in a clang build of its own.
fuzz-build: deps
	@[ -f $(BUILD)-fuzz/build.ninja ] || CXX=clang++-16 cmake -S . -B $(BUILD)-fuzz -G Ninja \
	  -DGTOS_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)-fuzz -j $(JOBS) --target fuzz_all

# Longer fuzz runs than the test suite's, one target at a time:
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_RUNS=n] [FUZZ_TARGET="name..."]   (docs/fuzzing.md)
fuzz: fuzz-build
	FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run_all.sh $(BUILD)-fuzz/tests/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGET)

# Tool throughput and start-up (issue 2), then the single-node chain:
# committed kv-put throughput, replay, RSS with RSS_RECORDS live records.
# The 4-validator network runs twice: default parameters (50,000-tx
# blocks), then 10,000-tx blocks, the figure to compare between builds
# (BASELINE=other/build/cmd runs it on that build too).
RSS_RECORDS ?= 1000000
bench: build
	bench/run.sh $(BUILD)
	python3 bench/node_bench.py --bin $(BUILD)/cmd --txs 200000 --senders 4 --rss-records $(RSS_RECORDS)
	python3 bench/net_bench.py --bin $(BUILD)/cmd --validators 4 --idle-blocks 120 --txs 160000 --senders 8
	python3 bench/net_bench.py --bin $(BUILD)/cmd --validators 4 --idle-blocks 10 --txs 160000 --senders 8 --param max_block_txs=10000
	$(if $(BASELINE),python3 bench/net_bench.py --bin $(BASELINE) --validators 4 --idle-blocks 10 --txs 160000 --senders 8 --param max_block_txs=10000)
	bench/prune_bench.sh $(BUILD)
	$(BUILD)/tests/snapshot_bench 1000000 | tee -a $(BUILD)/bench-results.txt

# Retention soak (issue 5): a dev chain with retain_blocks=100 and
# snapshot_interval=500 under TTL kv-put churn for SOAK_BLOCKS blocks;
# prints D/db and D/snapshots bytes every 250 blocks and whether they level off.
SOAK_BLOCKS ?= 3000
soak: build
	python3 bench/retention_soak.py --bin $(BUILD)/cmd --blocks $(SOAK_BLOCKS)
	python3 tests/e2e/runner.py --bin $(BUILD)/cmd tests/e2e/soak.toml --report $(BUILD)/e2e-soak.json

# The e2e runner (docs/e2e.md) on a manifest: make e2e [MANIFEST=...] [SEED=...]
MANIFEST ?= tests/e2e/ci.toml
e2e: build
	python3 tests/e2e/runner.py --bin $(BUILD)/cmd $(MANIFEST) $(if $(SEED),--seed $(SEED)) --report $(BUILD)/e2e.json

# Mutant builds (docs/e2e.md "Mutants"): deliberately broken nodes that the
# runner must catch; in $(BUILD)-mutant-NAME, never installed.
mutants: deps
	for m in skip-commit-check forget-lock; do \
	  cmake -S . -B $(BUILD)-mutant-$$m -G Ninja -DGTOS_MUTANT=$$m -DBUILD_TESTING=OFF && \
	  cmake --build $(BUILD)-mutant-$$m -j $(JOBS) --target gtos-node gtos-keys gtos-tx gtos-genesis gtos-inspect || exit 1; \
	done

# The main job: a dev chain (single validator, 1 s blocks) in DEV_DIR, its
# funded key in DEV_DIR/dev.key; Ctrl-C stops it cleanly.
DEV_DIR ?= /tmp/gtos-dev
run: build
	$(BUILD)/cmd/gtos-node --dev --datadir $(DEV_DIR)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-fuzz
