"""docker-compose.yml beyond its schema (check-jsonschema's vendored Compose schema checks that):
what `docker compose up` would trip over, and the setup the README promises.

    python compose_check.py docker-compose.yml

Every depends_on names a service, every named volume is declared, every bind-mounted file exists;
planter is built from this folder, publishes 3030, keeps PLANTER_ROOT on a named volume and reaches
Redis and NATS by their service names; NATS runs JetStream on a volume; at least two workers run
`planter worker --nats nats://nats:4222 --pool NAME --config FILE` from the planter image, with
FILE mounted, and no HTTP health check (they have no port).
"""

import os
import re
import sys

from common import Problems, load_yaml_documents

REDIS_URL = "redis://redis:6379"
NATS_URL = "nats://nats:4222"


def environment_of(service):
    value = service.get("environment") or {}
    if isinstance(value, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in value)
    return {key: None if item is None else str(item) for key, item in value.items()}


def mounts_of(service):
    """[(source, target)] of the service's volumes, in either syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            mounts.append((parts[0], parts[1]) if len(parts) > 1 else (None, parts[0]))
        else:
            mounts.append((volume.get("source"), volume.get("target")))
    return mounts


def seconds(text):
    """A Compose duration (`30s`, `1m30s`, `90`) in seconds, or None."""
    if text is None:
        return None
    if isinstance(text, (int, float)) or re.fullmatch(r"\d+(?:\.\d+)?", str(text)):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s|ms|us|ns)", str(text))
    if not parts or "".join(number + unit for number, unit in parts) != str(text):
        return None
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(number) * scale[unit] for number, unit in parts)


def check(path, problems):
    documents = load_yaml_documents(path, problems)
    if documents is None:
        return
    if not problems.check(len(documents) == 1 and isinstance(documents[0], dict), path, "must be one YAML mapping"):
        return
    compose = documents[0]
    folder = os.path.dirname(os.path.abspath(path))
    services = compose.get("services") or {}
    declared_volumes = set((compose.get("volumes") or {}).keys())

    for name, service in services.items():
        where = f"{path}: services/{name}"
        depends = service.get("depends_on") or []
        for other in depends if isinstance(depends, list) else depends.keys():
            problems.check(other in services, where, f"depends_on names {other}, which is no service of this file")
        for source, target in mounts_of(service):
            if source is None:
                continue
            if source.startswith((".", "/")):
                problems.check(os.path.exists(os.path.join(folder, source)), where,
                               f"mounts {source}, which does not exist next to {os.path.basename(path)}")
            else:
                problems.check(source in declared_volumes, where, f"mounts the volume {source}, which the top-level volumes do not declare")

    for required in ("planter", "worker", "redis", "nats"):
        problems.check(required in services, path, f"has no service {required}")
    planter, nats = services.get("planter") or {}, services.get("nats") or {}

    if planter:
        where = f"{path}: services/planter"
        build = planter.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        problems.check(context == ".", where, f"must be built from this folder (build: .), is {build}")
        ports = [str(port) for port in planter.get("ports") or []]
        problems.check(any(port.split(":")[-1].split("/")[0] == "3030" for port in ports), where, f"must publish port 3030, publishes {ports}")
        environment = environment_of(planter)
        problems.check(environment.get("REDIS_URL") == REDIS_URL, where, f"REDIS_URL must be {REDIS_URL}, is {environment.get('REDIS_URL')}")
        problems.check(environment.get("NATS_URL") == NATS_URL, where, f"NATS_URL must be {NATS_URL}, is {environment.get('NATS_URL')}")
        root = environment.get("PLANTER_ROOT")
        named = {target: source for source, target in mounts_of(planter) if source in declared_volumes}
        problems.check(root in named, where, f"PLANTER_ROOT ({root}) must be on a named volume, the named volumes are at {sorted(named)}")
        grace, stop = seconds(environment.get("PLANTER_SHUTDOWN_GRACE") or "10"), seconds(planter.get("stop_grace_period") or "10s")
        problems.check(grace is not None and stop is not None and stop > grace, where,
                       f"stop_grace_period ({planter.get('stop_grace_period')}) must be longer than PLANTER_SHUTDOWN_GRACE ({grace})")

    if nats:
        command = nats.get("command") or []
        command = command.split() if isinstance(command, str) else command
        where = f"{path}: services/nats"
        problems.check("--jetstream" in command or "-js" in command, where, f"must run JetStream (--jetstream), runs {command}")
        store = command[command.index("--store_dir") + 1] if "--store_dir" in command[:-1] else None
        targets = [target for source, target in mounts_of(nats) if source in declared_volumes]
        problems.check(store in targets, where, f"the JetStream store ({store}) must be on a named volume, volumes are at {targets}")

    workers = {name: service for name, service in services.items() if name.startswith("worker")}
    count = sum(int((service.get("deploy") or {}).get("replicas", 1)) for service in workers.values())
    problems.check(count >= 2, path, f"must run at least two workers, runs {count}")
    for name, worker in workers.items():
        where = f"{path}: services/{name}"
        problems.check(worker.get("image") == planter.get("image"), where,
                       f"a worker runs the planter image ({planter.get('image')}), not {worker.get('image')}")
        command = worker.get("command")
        command = command.split() if isinstance(command, str) else (command or [])
        shape = (len(command) == 7 and command[0] == "worker" and command[1] == "--nats" and command[3] == "--pool"
                 and command[5] == "--config")
        if problems.check(shape, where, f"must run planter worker --nats URL --pool NAME --config FILE, runs {command}"):
            problems.check(command[2] == NATS_URL, where, f"--nats must be {NATS_URL}, is {command[2]}")
            targets = [target for source, target in mounts_of(worker)]
            problems.check(command[6] in targets, where, f"--config {command[6]} is not mounted into the worker")
        problems.check((worker.get("healthcheck") or {}).get("disable") is True, where,
                       "a worker has no HTTP port: disable the image's HEALTHCHECK (healthcheck: {disable: true})")


def main(argv):
    problems = Problems(argv[0])
    check(argv[0], problems)
    problems.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
