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
# the schemathesis API checks, python3-yaml to read back the CLI's -o yaml, graphviz (dot lays out the dashboard's
# graph), chromium and chromium-driver for the dashboard's browser tests.
DEB_PACKAGES := libsqlite3-dev libhiredis-dev libnats-dev libffi-dev gcc g++ python3 runc busybox-static python3-venv nats-server python3-yaml redis-server \
                graphviz chromium chromium-driver
BENCH_PACKAGES := hyperfine ninja-build time wrk nginx-light

.PHONY: all build release run run-plan test bench deps bench-deps install install-swift-runtime rootfs clean
.PHONY: fuzz fuzz-libfuzzer fuzz-smoke
.PHONY: schemathesis schemathesis-venv fuzz-api ui-test ui-venv
.PHONY: test-deploy deploy-venv test-image install-bad-build

# schemathesis (PyPI) in a virtual environment inside the checkout; the stamp names the pinned
# version, so changing the pin reinstalls it.
VENV                 ?= $(CURDIR)/.venv
SCHEMATHESIS_VERSION := 4.32.5
SCHEMATHESIS_STAMP   := $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
# selenium (PyPI) drives Debian's headless chromium through chromium-driver for the dashboard tests.
SELENIUM_VERSION     := 4.51.0
SELENIUM_STAMP       := $(VENV)/.selenium-$(SELENIUM_VERSION)
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
	$(MAKE) test-deploy
	$(MAKE) schemathesis
	$(MAKE) ui-test
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

# Installs planter (the launcher), planter-run, planter-full, planter-executor-host, the built-in plugins and the server's resources so that
# `$(PREFIX)/bin/planter` needs no environment: it finds its plugins in $(PREFIX)/lib/planter/plugins
# and the executor host and openapi.yaml (SwiftPM's resource bundle) beside itself, in $(PREFIX)/bin.
# BUILD=debug installs the debug build (the install test in make test); the default is a release.
# The example plugins (c-echo, swift-hello) are not installed.
BUILD           ?= release
INSTALL_PLUGINS := shell python container http native
install: $(if $(filter debug,$(BUILD)),build,$(if $(filter release,$(BUILD)),release,install-bad-build))
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/planter/plugins
	install -m 755 .build/$(BUILD)/planter .build/$(BUILD)/planter-run .build/$(BUILD)/planter-full .build/$(BUILD)/planter-executor-host $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(INSTALL_PLUGINS:%=.build/$(BUILD)/libplanter-%.so) $(DESTDIR)$(PREFIX)/lib/planter/plugins/
	rm -rf $(DESTDIR)$(PREFIX)/bin/planter_PlanterServer.resources
	cp -R .build/$(BUILD)/planter_PlanterServer.resources $(DESTDIR)$(PREFIX)/bin/

install-bad-build:
	@echo 'make install: BUILD must be debug or release, not "$(BUILD)"' >&2; exit 2

# The Swift runtime libraries the installed files link, for a machine with no Swift toolchain (the
# Dockerfile's runtime stage, make test-image): copied from the toolchain into $(SWIFT_RUNTIME_DIR),
# which an ld.so.conf.d entry names (the binaries' RUNPATH names the build machine's toolchain).
SWIFT_RUNTIME_DIR ?= /usr/lib/swift/linux
install-swift-runtime: install
	scripts/install-swift-runtime "$(DESTDIR)" "$(SWIFT_RUNTIME_DIR)" \
	    $(DESTDIR)$(PREFIX)/bin/planter $(DESTDIR)$(PREFIX)/bin/planter-run $(DESTDIR)$(PREFIX)/bin/planter-full $(DESTDIR)$(PREFIX)/bin/planter-executor-host $(DESTDIR)$(PREFIX)/lib/planter/plugins/*.so

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

$(SELENIUM_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check selenium==$(SELENIUM_VERSION)
	touch $@

ui-venv: deps $(SELENIUM_STAMP)

# The dashboard in headless chromium against a real planter serve (Tests/UI/run).
ui-test: ui-venv
	test -x .build/debug/planter-full || $(SWIFT) build
	$(VENV)/bin/python Tests/UI/run

# The API against its OpenAPI document (Tests/API/run-schemathesis), bounded and with a fixed seed.
schemathesis: schemathesis-venv
	test -x .build/debug/planter-full || $(SWIFT) build
	MAX_EXAMPLES=$(API_EXAMPLES) SEED=1 SCHEMATHESIS=$(VENV)/bin/schemathesis Tests/API/run-schemathesis

# The same, longer and with a random seed; part of make fuzz.
fuzz-api: schemathesis-venv build
	MAX_EXAMPLES=$(API_FUZZ_EXAMPLES) SEED= SCHEMATHESIS=$(VENV)/bin/schemathesis Tests/API/run-schemathesis

fuzz: fuzz-api

# The deployment files without a Docker engine (Tests/Deploy/run): the Dockerfile, the compose file
# and the Kubernetes manifests parsed and validated against their schemas (PyPI tools that ship
# them, in the venv), and a debug make install into a temp prefix started from there. Part of make test.
DEPLOY_TOOLS := dockerfile-parse==2.0.1 check-jsonschema==0.39.0 kubernetes-validate==1.37.0
empty        :=
space        := $(empty) $(empty)
DEPLOY_STAMP := $(VENV)/.deploy-tools-$(subst $(space),+,$(subst ==,-,$(DEPLOY_TOOLS)))

$(DEPLOY_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(DEPLOY_TOOLS)
	touch $@

deploy-venv: deps $(DEPLOY_STAMP)

test-deploy: deploy-venv
	test -x .build/debug/planter-full || $(SWIFT) build
	SWIFT=$(SWIFT) MAKE=$(MAKE) PYTHON=$(VENV)/bin/python Tests/Deploy/run

# The Dockerfile's runtime stage without a Docker engine (Tests/Deploy/run-image): a Debian bookworm
# root filesystem made by mmdebstrap from its RUNTIME_PACKAGES, the build stage's make install into
# it, its RUN steps, then Planter started there as the image would start it until /health answers.
# Downloads Debian packages; a release build unless BUILD=debug. Not part of make test.
test-image: deploy-venv
	@./scripts/install-debian-packages mmdebstrap
	SWIFT=$(SWIFT) MAKE=$(MAKE) PYTHON=$(VENV)/bin/python BUILD=$(BUILD) Tests/Deploy/run-image

clean:
	rm -rf .build
