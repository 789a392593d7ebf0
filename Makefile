# Planter: `make run` and `make test` work on a fresh Debian 12 machine with Swift installed.
# Run as root, they install the Debian packages that are missing first.

SWIFT        ?= swift
PREFIX       ?= /usr/local
CONFIG       ?=
PLAN         ?= examples/hello.json
# C libraries (hiredis, nats.c, libffi) for the Redis/NATS/native executors, compilers for
# the ABI header test, and the tools the test suite drives.
DEB_PACKAGES := libhiredis-dev libnats-dev libffi-dev gcc g++ python3
BENCH_PACKAGES := hyperfine ninja-build time

.PHONY: all build release run test bench deps bench-deps install clean

all: build

deps:
	@./scripts/install-debian-packages $(DEB_PACKAGES)

bench-deps:
	@./scripts/install-debian-packages $(BENCH_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Runs the example plan in process, on the embedded default (no Redis, no NATS).
run: build
	.build/debug/planter run $(PLAN) $(if $(CONFIG),--config $(CONFIG))

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench: deps bench-deps release
	bench/run

# Installs the CLI and the plugins where `planter` looks for them.
install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/planter/plugins
	install -m 755 .build/release/planter $(DESTDIR)$(PREFIX)/bin/planter
	install -m 644 .build/release/libplanter-*.so $(DESTDIR)$(PREFIX)/lib/planter/plugins/

clean:
	rm -rf .build
