"""An installed Planter (make install PREFIX=DIR), run from DIR with no environment at all:

    python install_check.py --probe URL --source REPO     only what a client of a running server sees
    python install_check.py PREFIX --source REPO [--config FILE]… [--only layout,plugins,run,serve,configs,libraries]
                            [--dockerfile FILE]    (default REPO/Dockerfile: its RUNTIME_PACKAGES)

- the layout: planter, planter-run, planter-full and planter-executor-host in bin, the OpenAPI bundle beside them (once, not
  nested by a second install), exactly the built-in plugins in lib/planter/plugins;
- `planter plugins` finds every plugin there and none fails to load;
- `planter run` runs a shell phase in planter-executor-host (isolation: process), found beside planter;
- `planter serve` answers /health, /ready, /openapi.yaml (the document of the sources, byte for
  byte) and runs a posted plan (a shell phase, then a python one), then stops on SIGTERM with status 0;
- each --config (the deployment configs of deploy/) loads, with every executor available (a server's
  remote: executors, served over NATS, excepted);
- every shared library the installed files link is the Swift runtime (make install-swift-runtime
  copies it) or comes from a Debian package the Dockerfile's runtime stage installs (or one every
  Debian system has), and so do the programs the plugins start (python3, runc).
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from common import Problems
from dockerfile_check import runtime_packages

PLUGINS = ["container", "http", "native", "python", "shell"]
# Programs the built-in plugins start, which no ldd can see.
PLUGIN_PROGRAMS = {"python": "python3", "container": "runc"}
BUNDLE = "planter_PlanterServer.resources"
PLAN = [{"kind": "Phase", "id": "hello", "spec": {"selector": {"matchLabels": {"executor": "shell"}},
                                                   "x-run": {"script": "echo hello from the prefix"}}}]
# What the server runs: a shell phase, and a python phase after it (the interpreter the image ships).
SERVED_PLAN = PLAN + [{"kind": "Phase", "id": "python", "spec": {
    "selector": {"matchLabels": {"executor": "python"}}, "waitFor": {"phases": ["hello"]},
    "x-run": {"code": "import platform\nprint('python', platform.python_version(), 'ran')"}}}]


def run(argv, cwd, timeout=60):
    """Runs a program with an empty environment, as an installed planter started by hand might be."""
    return subprocess.run(argv, cwd=cwd, env={}, capture_output=True, text=True, timeout=timeout)


def check_layout(prefix, problems):
    for path in ("bin/planter", "bin/planter-run", "bin/planter-full", "bin/planter-executor-host"):
        problems.check(os.access(os.path.join(prefix, path), os.X_OK), prefix, f"{path} is not an installed executable")
    bundle = os.path.join(prefix, "bin", BUNDLE)
    problems.check(os.path.isfile(os.path.join(bundle, "openapi.yaml")), prefix, f"bin/{BUNDLE}/openapi.yaml is not installed")
    problems.check(not os.path.exists(os.path.join(bundle, BUNDLE)), prefix, f"bin/{BUNDLE} is nested in itself (a reinstall copied into it)")
    plugins_dir = os.path.join(prefix, "lib/planter/plugins")
    found = sorted(os.listdir(plugins_dir)) if os.path.isdir(plugins_dir) else []
    wanted = [f"libplanter-{name}.so" for name in PLUGINS]
    problems.check(found == wanted, prefix, f"lib/planter/plugins must hold exactly {wanted}, holds {found}")


def check_plugins(prefix, work, problems):
    result = run([os.path.join(prefix, "bin/planter"), "plugins", "--output", "json"], work)
    if not problems.check(result.returncode == 0, "planter plugins", f"exited {result.returncode}: {result.stderr.strip()}"):
        return
    answer = json.loads(result.stdout)
    directory = os.path.join(prefix, "lib/planter/plugins")
    loaded = {plugin["name"]: plugin["path"] for plugin in answer["plugins"]}
    problems.check(sorted(loaded) == PLUGINS, "planter plugins", f"must load {PLUGINS}, loads {sorted(loaded)}")
    for name, path in loaded.items():
        problems.check(os.path.dirname(path) == directory, "planter plugins", f"loads {name} from {path}, not from {directory}")
    problems.check(not answer["failures"], "planter plugins", f"failures: {answer['failures']}")


def check_isolated_run(prefix, work, problems):
    with open(os.path.join(work, "plan.json"), "w") as file:
        json.dump(PLAN, file)
    with open(os.path.join(work, "isolated.yaml"), "w") as file:
        file.write("executors:\n  - name: shell\n    plugin: shell\n    isolation: process\n")
    result = run([os.path.join(prefix, "bin/planter"), "run", "plan.json", "--config", "isolated.yaml", "--output", "json"], work)
    where = "planter run (isolation: process)"
    if problems.check(result.returncode == 0, where, f"exited {result.returncode}: {result.stdout.strip()} {result.stderr.strip()}"):
        problems.check("hello from the prefix" in result.stdout, where, f"the phase's output is missing from {result.stdout[:2000]}")


def get(url, data=None):
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def probe_server(base, source, problems):
    """What a client of a freshly started server sees: health, readiness (every plugin loads),
    the OpenAPI document of the sources, and a plan that runs."""
    for path in ("/health", "/ready"):
        status, body = get(base + path)
        problems.check(status == 200, f"GET {path}", f"answered {status}: {body[:500]}")
    status, body = get(base + "/openapi.yaml")
    with open(os.path.join(source, "Sources/Server/openapi.yaml"), "rb") as file:
        expected = file.read()
    problems.check(status == 200 and body == expected, "GET /openapi.yaml",
                   f"answered {status} with {len(body)} bytes, not the {len(expected)} of Sources/Server/openapi.yaml")
    status, body = get(base + "/plan?wait=true", json.dumps(SERVED_PLAN).encode())
    text = body.decode()
    problems.check(status == 200 and "hello from the prefix" in text and re.search(r"python [0-9.]+ ran", text),
                   "POST /plan?wait=true", f"answered {status} without both phases' output: {text[:3000]}")


def check_server(prefix, source, work, problems):
    root = os.path.join(work, "root")
    log_path = os.path.join(work, "server.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen([os.path.join(prefix, "bin/planter"), "serve", "--host", "127.0.0.1", "--port", "0", "--root", root],
                                  cwd=work, env={}, stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline and server.poll() is None:
            with open(log_path) as log:
                match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
            port = match.group(1) if match else time.sleep(0.1)
        if not problems.check(port, "planter serve", f"did not listen: {open(log_path).read()[-3000:]}"):
            return
        probe_server(f"http://127.0.0.1:{port}", source, problems)
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
            problems.check(code == 0, "planter serve", f"exited {code} on SIGTERM")
        except subprocess.TimeoutExpired:
            problems.add("planter serve", "did not stop within 30 s of SIGTERM")
    except (OSError, ValueError) as error:
        problems.add("planter serve", f"{error}; the log: {open(log_path).read()[-3000:]}")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def check_config(prefix, config, work, problems):
    result = run([os.path.join(prefix, "bin/planter"), "plugins", "--config", os.path.abspath(config), "--output", "json"], work)
    if problems.check(result.returncode == 0, config, f"planter plugins --config exited {result.returncode}: {result.stdout.strip()} {result.stderr.strip()}"):
        # A server's remote: executors are served over NATS, which `planter plugins` does not connect to.
        unavailable = [e for e in json.loads(result.stdout)["executors"]
                       if not e.get("available") and "runs over NATS" not in json.dumps(e)]
        problems.check(not unavailable, config, f"executors that are not available: {unavailable}")


def package_of(path):
    """The Debian package that ships a file (merged /usr: /lib/x is /usr/lib/x), or None."""
    candidates = [path, os.path.realpath(path)]
    candidates += [c[4:] if c.startswith("/usr/") else "/usr" + c for c in list(candidates)]
    for candidate in candidates:
        result = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].split(",")[0].strip()
    return None


def installable_closure(roots):
    """The packages an install of `roots` brings onto any Debian system: the roots, the Essential
    ones, and what they depend on (as this machine's installed packages record it)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Pre-Depends}, ${Depends}\n"],
                         capture_output=True, text=True).stdout
    depends, essential = {}, set()
    for row in out.splitlines():
        name, is_essential, relations = row.split("\t")
        depends[name] = {alternative.split()[0].split(":")[0] for relation in relations.split(",")
                         for alternative in relation.split("|") if alternative.strip()}
        if is_essential == "yes":
            essential.add(name)
    closure, pending = set(), list(roots) + sorted(essential)
    while pending:
        name = pending.pop()
        if name not in closure:
            closure.add(name)
            pending += depends.get(name, ())
    return closure


def check_libraries(prefix, dockerfile, problems):
    packages = runtime_packages(dockerfile)
    available = installable_closure(packages)
    files = [os.path.join(prefix, "bin", name) for name in ("planter", "planter-run", "planter-full", "planter-executor-host")]
    files += [os.path.join(prefix, "lib/planter/plugins", f"libplanter-{name}.so") for name in PLUGINS]
    libraries = set()
    for file in files:
        out = subprocess.run(["ldd", file], capture_output=True, text=True).stdout
        problems.check("not found" not in out, file, f"needs libraries that are not found: {out}")
        libraries |= {match.group(1) for match in re.finditer(r"=> (/\S+)", out)}
    swift = {os.path.dirname(lib) for lib in libraries if os.path.basename(lib) == "libswiftCore.so"}
    needed = {}
    for library in sorted(libraries):
        if os.path.dirname(library) in swift:
            continue
        needed.setdefault(package_of(library), []).append(library)
    for plugin, program in PLUGIN_PROGRAMS.items():
        # Debian's folders only: a python3 of pyenv or /usr/local is not what the image has.
        path = next((os.path.join(folder, program) for folder in ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
                     if os.access(os.path.join(folder, program), os.X_OK)), None)
        needed.setdefault(package_of(path) if path else None, []).append(f"{program} (the {plugin} plugin runs it)")
    for package, paths in sorted(needed.items(), key=lambda item: str(item[0])):
        if package is None:
            problems.add(dockerfile, f"no Debian package here ships {paths}: the runtime stage cannot have it")
            continue
        name = package.split(":")[0]
        problems.check(name in available, dockerfile,
                       f"RUNTIME_PACKAGES lacks {name}, which ships {', '.join(paths)} (nor does any of them depend on it)")


def main(argv):
    source = os.path.abspath(argv[argv.index("--source") + 1])
    if argv[0] == "--probe":
        problems = Problems(f"the server at {argv[1]}")
        try:
            probe_server(argv[1], source, problems)
        except (OSError, ValueError) as error:
            problems.add(argv[1], str(error))
        problems.finish()
        return
    prefix = os.path.abspath(argv[0])
    configs = [argv[index + 1] for index, word in enumerate(argv) if word == "--config"]
    only = set(argv[argv.index("--only") + 1].split(",")) if "--only" in argv else None
    dockerfile = argv[argv.index("--dockerfile") + 1] if "--dockerfile" in argv else os.path.join(source, "Dockerfile")
    problems = Problems(f"installed planter in {prefix}")
    with tempfile.TemporaryDirectory(prefix="planter-install-check.") as work:
        checks = {
            "layout": lambda: check_layout(prefix, problems),
            "plugins": lambda: check_plugins(prefix, work, problems),
            "run": lambda: check_isolated_run(prefix, work, problems),
            "serve": lambda: check_server(prefix, source, work, problems),
            "configs": lambda: [check_config(prefix, config, work, problems) for config in configs],
            "libraries": lambda: check_libraries(prefix, dockerfile, problems),
        }
        for name, check in checks.items():
            if only is None or name in only:
                check()
    problems.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
