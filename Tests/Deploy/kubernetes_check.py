"""deploy/kubernetes beyond its schemas (kubernetes-validate checks those): how the objects refer
to each other, and what the server needs from Kubernetes.

    python kubernetes_check.py DIR                    the rules below
    python kubernetes_check.py --resources DIR        prints the files the kustomization lists
    python kubernetes_check.py --configs DIR OUT      writes each ConfigMap's *.yaml keys to OUT/<map>.<key>

The kustomization lists every manifest of the folder; the server is one replica with Recreate (its
state is SQLite on a ReadWriteOnce claim), probes /health (liveness) and /ready (readiness), runs as
non-root without privilege escalation, sets resources, mounts a claim of the folder at
PLANTER_ROOT, takes PLANTER_TOKEN from a Secret, reaches Redis and NATS by their service names, and
has a grace period longer than PLANTER_SHUTDOWN_GRACE; the Service selects its pods and names one of
their ports; the workers run `planter worker --nats nats://nats:4222 --pool NAME --config FILE`
with FILE mounted, and hold no claim (they scale). Every ConfigMap and claim referred to exists.
"""

import os
import sys

from common import Problems, load_yaml_documents

REDIS_URL = "redis://redis:6379"
NATS_URL = "nats://nats:4222"


def objects(folder, problems):
    """{(kind, name): (file, object)} of the manifests the kustomization lists."""
    kustomization = os.path.join(folder, "kustomization.yaml")
    documents = load_yaml_documents(kustomization, problems) or [{}]
    listed = documents[0].get("resources") or []
    present = sorted(name for name in os.listdir(folder) if name.endswith((".yaml", ".yml")) and name != "kustomization.yaml")
    for name in present:
        problems.check(name in listed, kustomization, f"does not list {name}: kubectl apply -k would leave it out")
    found = {}
    for name in listed:
        path = os.path.join(folder, name)
        if not problems.check(os.path.exists(path), kustomization, f"lists {name}, which does not exist"):
            continue
        for document in load_yaml_documents(path, problems) or []:
            found[(document.get("kind"), (document.get("metadata") or {}).get("name"))] = (name, document)
    return found


def environment_value(variable, found):
    """An env entry's value: literal, or a ConfigMap key of the folder; ("secret", name, key) for a Secret."""
    if "value" in variable:
        return variable["value"]
    source = variable.get("valueFrom") or {}
    if "secretKeyRef" in source:
        return ("secret", source["secretKeyRef"].get("name"), source["secretKeyRef"].get("key"))
    reference = source.get("configMapKeyRef") or {}
    entry = found.get(("ConfigMap", reference.get("name")))
    return (entry[1].get("data") or {}).get(reference.get("key")) if entry else None


def check_references(where, pod, found, problems):
    """Every ConfigMap and claim the pod mounts or reads exists in the folder, with the keys it names."""
    for volume in pod.get("volumes") or []:
        if "configMap" in volume:
            entry = found.get(("ConfigMap", volume["configMap"].get("name")))
            if problems.check(entry, where, f"volume {volume['name']} names the ConfigMap {volume['configMap'].get('name')}, which is not in the folder"):
                for item in volume["configMap"].get("items") or []:
                    problems.check(item.get("key") in (entry[1].get("data") or {}), where,
                                   f"volume {volume['name']} takes the key {item.get('key')}, which its ConfigMap does not have")
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName")
            problems.check(("PersistentVolumeClaim", claim) in found, where, f"volume {volume['name']} names the claim {claim}, which is not in the folder")
    for container in pod.get("containers") or []:
        for variable in container.get("env") or []:
            reference = (variable.get("valueFrom") or {}).get("configMapKeyRef")
            if reference:
                problems.check(environment_value(variable, found) is not None, where,
                               f"{variable['name']} reads {reference.get('name')}/{reference.get('key')}, which is not in the folder")


def mounted_files(pod, container):
    """The paths of files a container sees from its ConfigMap volumes' items."""
    volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
    files = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"]) or {}
        for item in (volume.get("configMap") or {}).get("items") or []:
            files.append(os.path.join(mount["mountPath"], item["path"]))
    return files


def check_secure(where, pod, container, problems):
    pod_context, context = pod.get("securityContext") or {}, container.get("securityContext") or {}
    problems.check(pod_context.get("runAsNonRoot") is True or context.get("runAsNonRoot") is True, where, "must set runAsNonRoot: true")
    problems.check(context.get("allowPrivilegeEscalation") is False, where, "must set allowPrivilegeEscalation: false")
    resources = container.get("resources") or {}
    problems.check(resources.get("requests") and (resources.get("limits") or {}).get("memory"), where,
                   "must request resources and limit memory")


def check_server(found, problems):
    entry = found.get(("Deployment", "planter"))
    if not problems.check(entry, "deploy/kubernetes", "has no Deployment planter"):
        return
    file, deployment = entry
    spec = deployment.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or [{}]
    container = containers[0]
    where = f"{file}: Deployment planter"
    problems.check(spec.get("replicas") == 1, where, f"must run one replica (its SQLite state is on a ReadWriteOnce claim), runs {spec.get('replicas')}")
    problems.check((spec.get("strategy") or {}).get("type") == "Recreate", where,
                   "needs strategy Recreate: a rolling update would open the state with two pods at once")
    probes = {kind: ((container.get(kind) or {}).get("httpGet") or {}).get("path") for kind in ("livenessProbe", "readinessProbe")}
    problems.check(probes == {"livenessProbe": "/health", "readinessProbe": "/ready"}, where,
                   f"probes must be liveness /health and readiness /ready, are {probes}")
    check_secure(where, pod, container, problems)
    check_references(where, pod, found, problems)

    environment = {variable["name"]: environment_value(variable, found) for variable in container.get("env") or []}
    problems.check(environment.get("REDIS_URL") == REDIS_URL, where, f"REDIS_URL must be {REDIS_URL}, is {environment.get('REDIS_URL')}")
    problems.check(environment.get("NATS_URL") == NATS_URL, where, f"NATS_URL must be {NATS_URL}, is {environment.get('NATS_URL')}")
    token = environment.get("PLANTER_TOKEN")
    problems.check(isinstance(token, tuple) and token[0] == "secret", where, "PLANTER_TOKEN must come from a Secret (secretKeyRef)")
    root = environment.get("PLANTER_ROOT")
    claims = {volume["name"] for volume in pod.get("volumes") or [] if "persistentVolumeClaim" in volume}
    on_claim = [mount for mount in container.get("volumeMounts") or [] if mount["name"] in claims and mount["mountPath"] == root]
    problems.check(root and on_claim, where, f"PLANTER_ROOT ({root}) must be a mounted PersistentVolumeClaim")
    for volume in pod.get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        claim_entry = found.get(("PersistentVolumeClaim", claim))
        if claim_entry:
            modes = (claim_entry[1].get("spec") or {}).get("accessModes") or []
            problems.check(modes == ["ReadWriteOnce"], claim_entry[0], f"the state claim must be ReadWriteOnce only, is {modes}")
    grace = environment.get("PLANTER_SHUTDOWN_GRACE") or "10"
    period = pod.get("terminationGracePeriodSeconds", 30)
    problems.check(str(grace).isdigit() and period > int(grace), where,
                   f"terminationGracePeriodSeconds ({period}) must be longer than PLANTER_SHUTDOWN_GRACE ({grace})")
    command = (container.get("command") or []) + (container.get("args") or [])
    problems.check(command[:1] == ["serve"], where, f"must run planter serve (args: [serve, …]), runs {command}")

    service = found.get(("Service", "planter"))
    if problems.check(service, "deploy/kubernetes", "has no Service planter"):
        service_spec = service[1].get("spec") or {}
        labels = (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}
        selector = service_spec.get("selector") or {}
        problems.check(selector and all(labels.get(key) == value for key, value in selector.items()), service[0],
                       f"the selector {selector} does not select the server's pods ({labels})")
        ports = {port.get("name") for port in container.get("ports") or []} | {port.get("containerPort") for port in container.get("ports") or []}
        for port in service_spec.get("ports") or []:
            problems.check(port.get("targetPort", port.get("port")) in ports, service[0],
                           f"targetPort {port.get('targetPort')} is no port of the server's container")


def check_workers(found, problems):
    entry = found.get(("Deployment", "planter-worker"))
    if not problems.check(entry, "deploy/kubernetes", "has no Deployment planter-worker"):
        return
    file, deployment = entry
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    container = (pod.get("containers") or [{}])[0]
    where = f"{file}: Deployment planter-worker"
    command = (container.get("command") or []) + (container.get("args") or [])
    shape = len(command) == 7 and command[0] == "worker" and command[1] == "--nats" and command[3] == "--pool" and command[5] == "--config"
    if problems.check(shape, where, f"must run planter worker --nats URL --pool NAME --config FILE, runs {command}"):
        problems.check(command[2] == NATS_URL, where, f"--nats must be {NATS_URL}, is {command[2]}")
        problems.check(command[6] in mounted_files(pod, container), where, f"--config {command[6]} is no file mounted from a ConfigMap")
    problems.check(not any("persistentVolumeClaim" in volume for volume in pod.get("volumes") or []), where,
                   "workers hold no state: no PersistentVolumeClaim, so they scale")
    check_secure(where, pod, container, problems)
    check_references(where, pod, found, problems)


def main(argv):
    if argv[:1] == ["--resources"]:
        problems = Problems(argv[1])
        documents = load_yaml_documents(os.path.join(argv[1], "kustomization.yaml"), problems) or [{}]
        print("\n".join(os.path.join(argv[1], name) for name in documents[0].get("resources") or []))
        return
    if argv[:1] == ["--configs"]:
        problems = Problems(argv[1])
        for (kind, name), (file, document) in objects(argv[1], problems).items():
            for key, text in (document.get("data") or {}).items() if kind == "ConfigMap" else []:
                if key.endswith(".yaml"):
                    with open(os.path.join(argv[2], f"{name}.{key}"), "w", encoding="utf-8") as out:
                        out.write(text)
        problems.finish()
        return
    problems = Problems(argv[0])
    found = objects(argv[0], problems)
    check_server(found, problems)
    check_workers(found, problems)
    problems.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
