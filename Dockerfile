# Planter as a container image: docker build -t planter . && docker run -p 3030:3030 planter
#
# Two stages. `build` compiles a release on the official Swift image of Debian 12 (bookworm, so glibc,
# hiredis 0.14 and nats.c 3.4 are the versions the runtime stage installs) and runs the same
# `make install` as a bare-metal install, into /staging. `runtime` is Debian bookworm-slim with only
# what runs (RUNTIME_PACKAGES) plus /staging. `make test-image` builds this runtime stage's root
# filesystem without a Docker engine (mmdebstrap, from RUNTIME_PACKAGES) and starts Planter in it;
# Tests/Deploy/run checks this file's structure in make test.

FROM swift:6.3.1-bookworm AS build
WORKDIR /src
COPY . .
# make installs the build's Debian packages (DEB_PACKAGES) first; the image runs as root.
RUN make install install-swift-runtime PREFIX=/usr/local DESTDIR=/staging SWIFT_RUNTIME_DIR=/usr/lib/swift/linux

FROM debian:bookworm-slim AS runtime
# What the installed files link (hiredis, nats.c, libffi, SQLite, the C++ runtime under Swift's),
# what the built-in plugins run (python3 for the python plugin, runc for the container plugin,
# ca-certificates for the http plugin's TLS), graphviz for the dashboard's DAG layout, tini as
# process 1 (it reaps what a phase left behind and passes signals on: planter is no init).
ARG RUNTIME_PACKAGES="libhiredis0.14 libnats3.4 libffi8 libsqlite3-0 libstdc++6 libgcc-s1 zlib1g python3 runc graphviz ca-certificates tzdata tini"
RUN apt-get update \
    && apt-get install -y --no-install-recommends $RUNTIME_PACKAGES \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/ /
# The Swift runtime's folder (install-swift-runtime's ld.so.conf.d entry) into ld.so.cache; the user
# the server runs as; its state folder.
RUN ldconfig \
    && groupadd --system --gid 10001 planter \
    && useradd --system --uid 10001 --gid planter --home-dir /var/lib/planter --shell /usr/sbin/nologin planter \
    && install -d -o planter -g planter -m 750 /var/lib/planter

ENV PLANTER_ROOT=/var/lib/planter
VOLUME ["/var/lib/planter"]
USER planter:planter
WORKDIR /var/lib/planter
EXPOSE 3030
# No curl in the image: the CLI asks /health itself and exits non-zero unless it answers 200.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["planter", "health", "--url", "http://127.0.0.1:3030/health"]
# `planter` is the entry point (under tini), so `docker run planter worker …` runs a worker; the
# default is the server.
ENTRYPOINT ["/usr/bin/tini", "--", "planter"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3030"]
