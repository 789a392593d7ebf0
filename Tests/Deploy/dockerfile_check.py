"""The Dockerfile's shape, parsed with dockerfile-parse (no Docker engine runs here):

    python dockerfile_check.py Dockerfile [--swift-version X.Y.Z]   (and the .dockerignore beside it)
    python dockerfile_check.py --packages Dockerfile      prints the runtime stage's RUNTIME_PACKAGES

A build stage on the official Swift image of bookworm (the local toolchain's version, when given)
that runs `make install … DESTDIR=/staging`; a runtime stage on bookworm-slim that installs
RUNTIME_PACKAGES with apt, copies /staging from the build stage and nothing from the context, runs
as a user it creates (not root), keeps PLANTER_ROOT on a volume, exposes 3030, checks health with
`planter health` (no curl), and has planter as its entry point with `serve` as the default command.
"""

import json
import os
import re
import shlex
import sys

from dockerfile_parse import DockerfileParser

from common import Problems

BUILD_IMAGE = re.compile(r"^swift:(\d+\.\d+(?:\.\d+)?)-bookworm$")
RUNTIME_IMAGE = "debian:bookworm-slim"
HEALTHCHECK = ["planter", "health", "--url", "http://127.0.0.1:3030/health"]
STAGING = "/staging"


def stages(path):
    """[(name, image, line, [instruction…])] of the file, comments left out."""
    result = []
    for instruction in DockerfileParser(path).structure:
        if instruction["instruction"] == "COMMENT":
            continue
        if instruction["instruction"] == "FROM":
            words = instruction["value"].split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
            result.append((name, words[0], instruction["startline"] + 1, []))
        elif result:
            result[-1][3].append(instruction)
    return result


def runtime_stage(path):
    found = [stage for stage in stages(path) if stage[0] == "runtime"]
    return found[0] if found else None


def arguments(stage):
    """ARG defaults of a stage, quotes removed."""
    values = {}
    for instruction in stage[3]:
        if instruction["instruction"] == "ARG" and "=" in instruction["value"]:
            name, value = instruction["value"].split("=", 1)
            values[name.strip()] = " ".join(shlex.split(value))
    return values


def runtime_packages(path):
    stage = runtime_stage(path)
    return arguments(stage).get("RUNTIME_PACKAGES", "").split() if stage else []


def exec_form(value):
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        words = json.loads(value)
    except ValueError:
        return None
    return words if isinstance(words, list) and all(isinstance(word, str) for word in words) else None


def line(instruction):
    return instruction["startline"] + 1


def check_build(stage, where, problems, swift_version):
    name, image, at, instructions = stage
    match = BUILD_IMAGE.match(image)
    if problems.check(match, f"{where}:{at}", f"the build stage must start FROM swift:<version>-bookworm, not {image}") and swift_version:
        problems.check(match.group(1) == swift_version, f"{where}:{at}",
                       f"the build image is Swift {match.group(1)}, the toolchain here is {swift_version}: build with the one the tests ran with")
    installs = [i for i in instructions if i["instruction"] == "RUN"
                and re.search(r"\bmake\b.*\binstall\b", i["value"]) and f"DESTDIR={STAGING}" in i["value"]]
    problems.check(installs, where, f"the build stage must RUN make install … DESTDIR={STAGING} (the same install as bare metal)")


def check_runtime(stage, where, problems):
    name, image, at, instructions = stage
    problems.check(image == RUNTIME_IMAGE, f"{where}:{at}", f"the runtime stage must start FROM {RUNTIME_IMAGE}, not {image}")

    def each(kind):
        return [i for i in instructions if i["instruction"] == kind]

    packages = arguments(stage).get("RUNTIME_PACKAGES", "").split()
    problems.check(packages, f"{where}:{at}", "the runtime stage must declare ARG RUNTIME_PACKAGES=\"…\" (make test-image builds from it)")
    apt = [i for i in each("RUN") if "apt-get install" in i["value"]]
    if problems.check(len(apt) == 1, where, f"the runtime stage must install packages in one RUN apt-get install, found {len(apt)}"):
        value = apt[0]["value"]
        problems.check("$RUNTIME_PACKAGES" in value or "${RUNTIME_PACKAGES}" in value, f"{where}:{line(apt[0])}",
                       "apt-get install must install exactly $RUNTIME_PACKAGES")
        problems.check("--no-install-recommends" in value, f"{where}:{line(apt[0])}", "apt-get install needs --no-install-recommends")

    for copy in each("COPY") + each("ADD"):
        words = copy["value"].split()
        problems.check(copy["instruction"] == "COPY" and words[:1] == ["--from=build"], f"{where}:{line(copy)}",
                       f"the runtime stage takes files only from the build stage (COPY --from=build), not {copy['content'].strip()}")
    problems.check(any(c["value"].split() == ["--from=build", f"{STAGING}/", "/"] for c in each("COPY")), where,
                   f"the runtime stage must COPY --from=build {STAGING}/ / (what make install wrote)")

    users = each("USER")
    if problems.check(users, where, "the runtime stage must set a USER (the server does not run as root)"):
        user = users[-1]["value"].split(":")[0]
        problems.check(user not in ("root", "0"), f"{where}:{line(users[-1])}", f"USER must not be root, is {user}")
        created = any(re.search(rf"\buseradd\b.*\b{re.escape(user)}\s*($|&&|;)", i["value"]) for i in each("RUN"))
        problems.check(created or user.isdigit(), f"{where}:{line(users[-1])}", f"USER {user} is not created by a RUN useradd of this stage")

    ports = [word.split("/")[0] for i in each("EXPOSE") for word in i["value"].split()]
    problems.check("3030" in ports, where, f"the runtime stage must EXPOSE 3030, exposes {ports or 'nothing'}")

    environment = {}
    for i in each("ENV"):
        for word in shlex.split(i["value"]):
            if "=" in word:
                key, value = word.split("=", 1)
                environment[key] = value
    root = environment.get("PLANTER_ROOT")
    volumes = [v for i in each("VOLUME") for v in (exec_form(i["value"]) or i["value"].split())]
    if problems.check(root, where, "the runtime stage must set ENV PLANTER_ROOT (the state folder)"):
        problems.check(root in volumes, where, f"PLANTER_ROOT={root} must be a VOLUME, volumes are {volumes or 'none'}")

    checks = each("HEALTHCHECK")
    if problems.check(len(checks) == 1, where, f"the runtime stage must have one HEALTHCHECK, has {len(checks)}"):
        value = checks[0]["value"]
        command = exec_form(value.split("CMD", 1)[1].strip()) if "CMD" in value else None
        problems.check(command == HEALTHCHECK, f"{where}:{line(checks[0])}",
                       f"HEALTHCHECK must be CMD {json.dumps(HEALTHCHECK)} (no curl in the image), is {value}")

    entrypoints, commands = each("ENTRYPOINT"), each("CMD")
    entrypoint = exec_form(entrypoints[-1]["value"]) if entrypoints else None
    problems.check(entrypoint and entrypoint[-1] == "planter", where,
                   f"ENTRYPOINT must be the exec form ending in planter, is {entrypoints[-1]['value'] if entrypoints else 'missing'}")
    command = exec_form(commands[-1]["value"]) if commands else None
    problems.check(command and command[0] == "serve", where,
                   f"CMD must be the exec form starting with serve, is {commands[-1]['value'] if commands else 'missing'}")


# What the build stage needs from the context, and what must stay out of it (a build folder names
# this machine's paths and toolchain; its size would be sent to the engine on every build).
CONTEXT_NEEDED = ["Package.swift", "Makefile", "Sources/Server/openapi.yaml", "Plugins/shell/exports.map",
                  "Tests/Support", "scripts/install-debian-packages", "scripts/install-swift-runtime"]
CONTEXT_EXCLUDED = [".build/debug/planter", ".build-fuzz/release/planter-fuzz", "Tests/Fuzz/.build/x", ".venv/bin/python",
                    ".git/HEAD"]


def ignore_pattern(pattern):
    """A .dockerignore line as a regular expression (Go's filepath.Match, plus ** for any folders)."""
    pattern = pattern.strip().lstrip("/")
    expression = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            expression, index = expression + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            expression, index = expression + ".*", index + 2
        elif pattern[index] == "*":
            expression, index = expression + "[^/]*", index + 1
        elif pattern[index] == "?":
            expression, index = expression + "[^/]", index + 1
        else:
            expression, index = expression + re.escape(pattern[index]), index + 1
    return re.compile(expression + "$")


def ignored(path, rules):
    """Whether the context leaves `path` out: the last rule matching it or a folder above it decides."""
    parts = path.split("/")
    excluded = False
    for negated, expression in rules:
        if any(expression.match("/".join(parts[:count])) for count in range(1, len(parts) + 1)):
            excluded = not negated
    return excluded


def check_dockerignore(path, problems):
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line.strip() for line in file]
    except OSError as error:
        problems.add(path, f"cannot be read: {error}")
        return
    rules = [(line.startswith("!"), ignore_pattern(line.lstrip("!"))) for line in lines if line and not line.startswith("#")]
    for needed in CONTEXT_NEEDED:
        problems.check(not ignored(needed, rules), path, f"leaves {needed} out of the build context, which the build needs")
    for excluded in CONTEXT_EXCLUDED:
        problems.check(ignored(excluded, rules), path, f"must leave {excluded} out of the build context (.build*, .git, .venv)")


def main(argv):
    if argv[:1] == ["--packages"]:
        print(" ".join(runtime_packages(argv[1])))
        return
    path = argv[0]
    swift_version = argv[argv.index("--swift-version") + 1] if "--swift-version" in argv else None
    problems = Problems(path)
    found = stages(path)
    names = [stage[0] for stage in found]
    if problems.check(names == ["build", "runtime"], path, f"the stages must be build, then runtime; they are {names}"):
        check_build(found[0], path, problems, swift_version)
        check_runtime(found[1], path, problems)
    check_dockerignore(os.path.join(os.path.dirname(path) or ".", ".dockerignore"), problems)
    problems.finish()


if __name__ == "__main__":
    main(sys.argv[1:])
