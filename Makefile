# Planter: `make run` and `make test` work on a fresh Debian 12 machine with Swift installed.
# Run as root, they install the Debian packages that are missing first.

SWIFT        ?= swift
PREFIX       ?= /usr/local
CONFIG       ?=
PLAN         ?= examples/hello.json
PORT         ?= 3030
# Development state lives in the checkout; production uses PLANTER_ROOT=/etc/planter.
ROOT         ?= $(CURDIR)/.planter
# C libraries (SQLite for the history store; hiredis, nats.c, libffi for the Redis/NATS/native executors), compilers for
# the ABI header test, and the tools the test suite drives (nats-server for the NATS tests, python3 for the python plugin
# and subprocess executors, runc and busybox-static for real containers), python3-venv for
# the schemathesis API checks, python3-yaml to read back the CLI's -o yaml.
DEB_PACKAGES := libsqlite3-dev libhiredis-dev libnats-dev libffi-dev gcc g++ python3 runc busybox-static python3-venv nats-server python3-yaml redis-server
BENCH_PACKAGES := hyperfine ninja-build time wrk nginx-light

.PHONY: all build release run run-plan test bench deps bench-deps install rootfs clean
.PHONY: fuzz fuzz-libfuzzer fuzz-smoke
.PHONY: schemathesis schemathesis-venv fuzz-api

# schemathesis (PyPI) in a virtual environment inside the checkout; the stamp names the pinned
# version, so changing the pin reinstalls it.
VENV                 ?= $(CURDIR)/.venv
SCHEMATHESIS_VERSION := 4.32.5
SCHEMATHESIS_STAMP   := $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
# Examples per operation: few in make test (a couple of minutes), many in make fuzz-api.
API_EXAMPLES         ?= 15
API_FUZZ_EXAMPLES    ?= 400

all: build

deps:
	@./scripts/install-debian-packages $(DEB_PACKAGES)

bench-deps:
	@./scripts/install-debian-packages $(BENCH_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Starts the server on the embedded default (no Redis, no NATS) at http://0.0.0.0:$(PORT).
run: build
	PLANTER_ROOT=$(ROOT) .build/debug/planter serve --port $(PORT) $(if $(CONFIG),--config $(CONFIG))

# Runs a plan in process, no server: make run-plan PLAN=examples/hello.json
run-plan: build
	.build/debug/planter run $(PLAN) $(if $(CONFIG),--config $(CONFIG))

# Suites run one at a time: the executor tests start and kill real processes and containers,
# and a serial run keeps one test's process churn from timing out another (about 40 s in all).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	$(MAKE) schemathesis
	$(MAKE) fuzz-smoke

# libFuzzer over the JSON parser, the manifest decoder + validator (JSON and YAML) and the
# deployment decoder (Tests/Fuzz/run says how). FUZZ_TIME is seconds per target; FUZZ_TARGETS
# picks some of: json manifest manifest-yaml deployment; FUZZ_FLAGS go to libFuzzer.
FUZZ_TIME    ?= 600
FUZZ_TARGETS ?=
FUZZ_FLAGS   ?=
fuzz: fuzz-libfuzzer

fuzz-libfuzzer: deps
	SWIFT=$(SWIFT) Tests/Fuzz/run $(FUZZ_TIME) $(FUZZ_TARGETS) -- $(FUZZ_FLAGS)

# About 30 s in all: each target replays the committed corpus, then mutates for the rest.
fuzz-smoke: deps
	SWIFT=$(SWIFT) Tests/Fuzz/run 7 $(FUZZ_TARGETS) -- $(FUZZ_FLAGS)

bench: deps bench-deps release
	bench/run

# Installs the CLI and the plugins where `planter` looks for them.
install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/planter/plugins
	install -m 755 .build/release/planter $(DESTDIR)$(PREFIX)/bin/planter
	install -m 755 .build/release/planter-executor-host $(DESTDIR)$(PREFIX)/bin/planter-executor-host
	install -m 644 .build/release/libplanter-*.so $(DESTDIR)$(PREFIX)/lib/planter/plugins/
	cp -R .build/release/planter_PlanterServer.resources $(DESTDIR)$(PREFIX)/bin/

# A busybox root filesystem for the container plugin (examples/deployments/prod.yaml).
ROOTFS ?= /var/lib/planter/rootfs/busybox
rootfs: deps
	install -d $(ROOTFS)/bin $(ROOTFS)/proc $(ROOTFS)/dev $(ROOTFS)/tmp $(ROOTFS)/planter
	install -m 755 /bin/busybox $(ROOTFS)/bin/busybox
	for tool in sh echo cat ls sleep env true false mkdir touch; do ln -sf busybox $(ROOTFS)/bin/$$tool; done

$(SCHEMATHESIS_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)
	touch $@

schemathesis-venv: deps $(SCHEMATHESIS_STAMP)

# The API against its OpenAPI document (Tests/API/run-schemathesis), bounded and with a fixed seed.
schemathesis: schemathesis-venv
	test -x .build/debug/planter || $(SWIFT) build
	MAX_EXAMPLES=$(API_EXAMPLES) SEED=1 SCHEMATHESIS=$(VENV)/bin/schemathesis Tests/API/run-schemathesis

# The same, longer and with a random seed; part of make fuzz.
fuzz-api: schemathesis-venv build
	MAX_EXAMPLES=$(API_FUZZ_EXAMPLES) SEED= SCHEMATHESIS=$(VENV)/bin/schemathesis Tests/API/run-schemathesis

fuzz: fuzz-api

clean:
	rm -rf .build
