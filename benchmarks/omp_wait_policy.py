"""Effect of ``OMP_WAIT_POLICY`` and of the one-thread rule on numba's parallel half-steps.

Run from the repository root::

    python -m benchmarks.omp_wait_policy            # about a minute on 2 cores
    python -m benchmarks.omp_wait_policy --quick    # smoke run (seconds)

The wait policy is read once, when the OpenMP runtime starts, so each
measurement runs in a fresh process started with the policy in its
environment: unset (GNU OpenMP's default: a waiting thread spins for a while
before it sleeps) or ``PASSIVE`` (it sleeps at once). Each process times, on
numba's dense half-step (``row_estep``, soft mode, g=m=4):

* ``small``: a half-step over 200 000 values, forced onto every thread
  (``parallel_min_values=0``) and on one thread: the cost of a parallel region
  against its work, which sets the one-thread rule;
* ``large``: a half-step over 4 000 000 values on every thread;
* ``fit``: a ``LatentBlockModel`` fit (VEM, Poisson, 4000 x 1000 dense, 2
  starts, 30 iterations; median of 3), where parallel regions alternate with
  serial numpy work.

Each is measured on the machine as it is ("as is") and again while
``--busy`` processes spin on the cores ("contended", load above the core count,
as on a shared CI runner). ``os.getloadavg()`` is recorded beside every
figure. Writes ``benchmarks/results/omp_wait_policy.json`` (or ``--out``) and
prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "omp_wait_policy.json"

_CHILD = r"""
import json, sys, time
import numpy as np
from coclust_deep import LatentBlockModel, config_context
from coclust_deep.kernels import numba_backend as nb
from coclust_deep.datasets import make_lbm

sizes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)

def problem(n, d):
    X = rng.poisson(1.0, size=(n, d)).astype(np.float64)
    T = rng.dirichlet(np.ones(4), size=d)
    return X, T, rng.normal(size=(4, 4)), rng.normal(size=4)

def median_ms(fn):
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))

out = {}
X, T, A, w = problem(*sizes["small"])
with config_context(parallel_min_values=0):
    out["small_parallel_ms"] = median_ms(lambda: nb.row_estep(X, T, A, None, w))
with config_context(parallel_min_values=10**12):
    out["small_serial_ms"] = median_ms(lambda: nb.row_estep(X, T, A, None, w))
X, T, A, w = problem(*sizes["large"])
with config_context(parallel_min_values=0):
    out["large_parallel_ms"] = median_ms(lambda: nb.row_estep(X, T, A, None, w))
Xf, _, _ = make_lbm(*sizes["fit"], 4, 4, family="poisson", random_state=0)
fit = lambda: LatentBlockModel(4, 4, n_init=2, max_iter=30, tol=0.0, random_state=0).fit(Xf)
fit_times = []
for _ in range(4):  # the first run compiles nothing new but warms the caches; it is dropped
    t0 = time.perf_counter(); fit(); fit_times.append(time.perf_counter() - t0)
out["fit_ms"] = 1e3 * float(np.median(fit_times[1:]))
print(json.dumps(out))
"""


def _spin():
    while True:
        pass


def _measure(policy, sizes, repeats):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    env.pop("NUMBA_NUM_THREADS", None)  # every core: the parallel regions are what is measured
    load_before = os.getloadavg()
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(sizes), str(repeats)],
                          env=env, capture_output=True, text=True, check=True)
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row.update(policy=policy, loadavg_before=load_before, loadavg_after=os.getloadavg())
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--busy", type=int, default=os.cpu_count(),
                        help="spinning processes for the contended runs (0: skip them)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        sizes, repeats = {"small": [200, 100], "large": [400, 100], "fit": [200, 100]}, 3
    else:
        sizes, repeats = {"small": [2000, 100], "large": [8000, 500], "fit": [4000, 1000]}, 200
    rows = []
    conditions = [("as is", 0)] + ([("contended", args.busy)] if args.busy else [])
    for condition, busy in conditions:
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
        for p in spinners:
            p.start()
        try:
            time.sleep(0.5 if busy else 0.0)
            for policy in ("default", "PASSIVE"):
                row = _measure(policy, sizes, repeats)
                row.update(condition=condition, busy_processes=busy)
                rows.append(row)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
    result = {"cores": os.cpu_count(), "sizes": sizes, "repeats": repeats, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print("| condition | OMP_WAIT_POLICY | small parallel ms | small 1-thread ms | large parallel ms "
          "| fit ms | load before |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['condition']} | {r['policy']} | {r['small_parallel_ms']:.2f} | {r['small_serial_ms']:.2f} "
              f"| {r['large_parallel_ms']:.1f} | {r['fit_ms']:.0f} | {r['loadavg_before'][0]:.1f} |")


if __name__ == "__main__":
    main()
