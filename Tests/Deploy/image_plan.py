"""What `make test-image` does to stand in for `docker build` and `docker run`, read from the
Dockerfile (so the test follows the file, not a copy of it), as shell assignments for eval:

    eval "$(python image_plan.py Dockerfile)"

suite         the Debian suite of the runtime stage's FROM (debian:<suite>-slim)
packages      its RUNTIME_PACKAGES, comma-separated (mmdebstrap --include)
install       the build stage's `make install …` arguments, DESTDIR left out (the test sets its own)
steps         the runtime stage's RUN commands after its COPY --from=build, in order (the apt-get
              install before it is what mmdebstrap did)
environment   its ENV, as NAME=VALUE words
user, workdir its USER and WORKDIR
command       ENTRYPOINT + CMD, as the engine would start them
healthcheck   the HEALTHCHECK command
"""

import re
import shlex
import sys

from dockerfile_check import STAGING, arguments, exec_form, stages


def fail(message):
    print(f"image_plan: {message}", file=sys.stderr)
    sys.exit(2)


def main(path):
    found = {stage[0]: stage for stage in stages(path)}
    build, runtime = found.get("build"), found.get("runtime")
    if not build or not runtime:
        fail(f"{path} needs the stages build and runtime (Tests/Deploy/run checks why)")
    match = re.fullmatch(r"debian:(\w+)-slim", runtime[1])
    if not match:
        fail(f"the runtime stage starts FROM {runtime[1]}, not debian:<suite>-slim")
    packages = arguments(runtime).get("RUNTIME_PACKAGES", "").split()

    installs = [i["value"] for i in build[3] if i["instruction"] == "RUN" and f"DESTDIR={STAGING}" in i["value"]]
    if len(installs) != 1:
        fail(f"the build stage needs one RUN make install … DESTDIR={STAGING}, has {len(installs)}")
    words = shlex.split(installs[0])
    if words[:1] != ["make"] or any(word in ("&&", ";", "||") for word in words):
        fail(f"the build stage's install must be one make command, is {installs[0]}")
    install = [word for word in words[1:] if not word.startswith("DESTDIR=")]

    steps, environment, user, workdir, entrypoint, command, healthcheck, copied = [], [], "root", "/", [], [], [], False
    for instruction in runtime[3]:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "COPY":
            copied = True
        elif kind == "RUN" and copied:
            steps.append(value)
        elif kind == "ENV":
            environment += [word for word in shlex.split(value) if "=" in word]
        elif kind == "USER":
            user = value
        elif kind == "WORKDIR":
            workdir = value
        elif kind == "ENTRYPOINT":
            entrypoint = exec_form(value) or fail(f"ENTRYPOINT must be the exec form, is {value}")
        elif kind == "CMD":
            command = exec_form(value) or fail(f"CMD must be the exec form, is {value}")
        elif kind == "HEALTHCHECK":
            healthcheck = exec_form(value.split("CMD", 1)[-1].strip()) or fail(f"HEALTHCHECK must be CMD in the exec form, is {value}")
    if not copied:
        fail("the runtime stage copies nothing from the build stage")

    def array(name, values):
        print(f"{name}=({' '.join(shlex.quote(value) for value in values)})")

    print(f"suite={shlex.quote(match.group(1))}")
    print(f"packages={shlex.quote(','.join(packages))}")
    array("install", install)
    array("steps", steps)
    array("environment", environment)
    print(f"user={shlex.quote(user)}")
    print(f"workdir={shlex.quote(workdir)}")
    array("command", entrypoint + command)
    array("healthcheck", healthcheck)


if __name__ == "__main__":
    main(sys.argv[1])
