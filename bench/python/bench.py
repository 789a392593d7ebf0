#!/usr/bin/env python3
"""Per-phase overhead of trivial Python phases: Planter's python executor with a warm pool, Planter
with a fresh interpreter per phase, and Prefect 3 running the same tasks. Driven by bench/python/run.

Every figure is a marginal cost: (time for N phases - time for 1 phase) / (N - 1), best of --runs, so
process start-up, plugin loading, pool warm-up and Prefect's flow set-up cancel out and what remains is
what each additional phase costs. Planter runs `planter run PLAN --config CFG --parallel 1` (phases one
after another, like a Prefect flow calling its tasks in turn). Prefect runs a flow that calls N tasks in turn
and times that loop inside the flow, after a warm-up flow run: per task = loop time / N (a whole flow run's
wall time carries ~1 s of set-up and tear-down that overlaps its tasks, which makes T(N) - T(1) noise).
Standard library only (Prefect runs in its own venv).
"""
import argparse
import json
import os
import subprocess
import sys
import time

PHASE_CODE = "result = {'i': %d}"

PREFECT_SCRIPT = r'''
import sys, time
from prefect import flow, task

@task
def trivial(i):
    return {"i": i}

@flow
def many(n):
    # Timed inside the flow: a flow run's own wall time is dominated by ~1 s (sometimes several) of
    # set-up and tear-down that overlaps its tasks, so (T(n) - T(1)) of whole flow runs is noise.
    start = time.perf_counter()
    for i in range(n):
        trivial(i)
    return time.perf_counter() - start

runs, n = int(sys.argv[1]), int(sys.argv[2])
many(1)  # warm-up: the ephemeral API server, imports, database
best_n = min(many(n) for _ in range(runs))
print("RESULT %.9f" % best_n)
'''


def write_manifest(path, phases):
    with open(path, "w") as out:
        out.write("[\n")
        for i in range(phases):
            doc = {"kind": "Phase", "id": "p%d" % i,
                   "spec": {"selector": {"matchLabels": {"executor": "py"}}, "x-run": {"code": PHASE_CODE % i}}}
            out.write(json.dumps(doc, separators=(",", ":")) + (",\n" if i < phases - 1 else "\n"))
        out.write("]\n")


def write_config(path, pool, interpreter):
    config = {"executorLabel": "executor", "defaultExecutor": "noop",
              "executors": [{"name": "py", "plugin": "python", "config": {"pool": pool, "interpreter": interpreter}}]}
    with open(path, "w") as out:
        json.dump(config, out, indent=2)


def time_planter(planter, plan, config, env, log):
    start = time.perf_counter()
    done = subprocess.run([planter, "run", plan, "--config", config, "--parallel", "1", "--output", "json"],
                          stdout=subprocess.PIPE, stderr=log, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit("planter run %s --config %s failed (exit %d); see %s" % (plan, config, done.returncode, log.name))
    result = json.loads(done.stdout)
    return elapsed, result


def best(planter, plan, config, env, log, runs):
    return min(time_planter(planter, plan, config, env, log)[0] for _ in range(runs))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--planter", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--phases", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interpreter", default="python3")
    parser.add_argument("--prefect-python", help="a python with prefect 3 installed; omitted = skip Prefect")
    args = parser.parse_args()
    n = args.phases
    os.makedirs(args.work, exist_ok=True)
    plan_n, plan_1 = os.path.join(args.work, "python-%d.json" % n), os.path.join(args.work, "python-1.json")
    write_manifest(plan_n, n)
    write_manifest(plan_1, 1)
    configs = {}
    for name, pool in (("pool", 1), ("fresh", 0)):
        configs[name] = os.path.join(args.work, "python-%s.json" % name)
        write_config(configs[name], pool, args.interpreter)
    env = dict(os.environ)
    env.setdefault("PLANTER_PLUGIN_PATH", os.path.dirname(os.path.abspath(args.planter)))
    log = open(os.path.join(args.work, "planter-stderr.log"), "w")

    # One checked run first: every phase must succeed and carry its outputs.
    _, result = time_planter(args.planter, plan_n, configs["pool"], env, log)
    text = json.dumps(result)
    if '"failed"' in text or text.count('"succeeded"') < n:
        sys.exit("the pooled run did not succeed for every phase; see %s" % os.path.join(args.work, "planter-stderr.log"))

    rows = []
    for name in ("pool", "fresh"):
        runs = args.runs if name == "pool" else max(1, min(args.runs, 3))
        t_n = best(args.planter, plan_n, configs[name], env, log, runs)
        t_1 = best(args.planter, plan_1, configs[name], env, log, runs)
        rows.append(("planter python, " + ("pool: 1 (warm worker)" if name == "pool" else "fresh interpreter per phase"),
                     t_n, t_1, "planter run PLAN --config %s --parallel 1 --output json" % configs[name]))

    if args.prefect_python:
        script = os.path.join(args.work, "prefect_flow.py")
        with open(script, "w") as out:
            out.write(PREFECT_SCRIPT)
        penv = dict(os.environ)
        penv.setdefault("PREFECT_HOME", os.path.join(args.work, "prefect-home"))
        with open(os.path.join(args.work, "prefect.log"), "w") as plog:
            done = subprocess.run([args.prefect_python, script, str(args.runs), str(n)], stdout=subprocess.PIPE,
                                  stderr=plog, env=penv, text=True)
        line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
        if done.returncode != 0 or not line:
            print("prefect run failed (exit %d); see %s" % (done.returncode, os.path.join(args.work, "prefect.log")))
        else:
            t_n = float(line[-1].split()[1])
            # Already a loop over n tasks inside one flow run: its cost per task is t_n / n.
            rows.append(("prefect 3, tasks in turn inside a flow", t_n, None,
                         "%s %s %d %d" % (args.prefect_python, script, args.runs, n)))

    print()
    print("%d trivial Python phases, one after another; marginal cost per phase = (T(%d) - T(1)) / %d, best of %d"
          % (n, n, n - 1, args.runs))
    print()
    print("%-46s %10s %11s %14s" % ("", "T(%d)" % n, "T(1)", "per phase"))
    per = {}
    for label, t_n, t_1, _ in rows:
        per[label] = (t_n - t_1) / (n - 1) if t_1 is not None else t_n / n
        print("%-46s %9.1fms %11s %11.3f ms" % (label, t_n * 1e3, "%.1fms" % (t_1 * 1e3) if t_1 is not None else "-",
                                               per[label] * 1e3))
    pool = per[rows[0][0]]
    print()
    for label, _, _, _ in rows[1:]:
        print("%-46s %8.1fx the pooled phase's cost" % (label, per[label] / pool if pool > 0 else float("inf")))
    print()
    print("target: pooled overhead < 0.200 ms per phase%s" % (", >= 20x ahead of Prefect" if args.prefect_python else ""))
    print()
    print("commands:")
    for _, _, _, command in rows:
        print("  $ " + command)


if __name__ == "__main__":
    main()
