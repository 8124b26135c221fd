"""Block-update kernels against the floor and against sparsebm, in one run.

Run from the repository root::

    python -m benchmarks.kernels            # full sizes (several minutes on 2 cores)
    python -m benchmarks.kernels --quick    # tiny smoke run (seconds)

Writes ``benchmarks/results/kernels.json`` (or ``--out``) and prints a
markdown table.  Every ratio divides two times measured in this same run.

* **Floor ratio** = one full VEM iteration (row half + column half) through
  the public ``LatentBlockModel`` / the time of ``X @ T`` plus ``X.T @ S``
  with scipy or BLAS on the same data.  The iteration time is the difference
  of two fits with ``max_iter=k1`` and ``max_iter=k2`` (``n_init=1``,
  ``tol=0``, ``init="random"``), divided by ``k2 - k1``, so set-up, the CEM
  warm-up and the ICL cancel out.  ``X.T @ S`` is timed both on the free
  transpose view and on a pre-made CSR/C copy of ``X.T``; the floor takes the
  faster.  The two backend half-steps alone (``row_estep`` on ``X`` and on
  the transpose, as the estimator calls them) are reported next to it, to show
  where the rest of the iteration goes.
* **Peer ratio** = sparsebm ``LBM`` fit time / our Bernoulli fit time on
  planted 3x4 blocks, with both ARIs.  Both libraries run with their default
  numbers of starts and stopping rules (sparsebm on CPU).
* **Compile time**: first call of the numba kernels in a fresh process, with an
  empty cache directory (cold) and again with it filled (warm, ``cache=True``).
* **GPU** (only when cupy and a device are present): bandwidth of the fused
  CSR kernel as a fraction of a device-to-device copy.

Times are medians over ``--repeats`` runs.  The machine, the number of cores
and ``os.getloadavg()`` before and after are recorded, because a shared
machine under load slows everything unevenly.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from coclust_deep import LatentBlockModel, kernels
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari

from ._timing import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "kernels.json"

FULL = {
    "dense_gaussian": dict(shape=(20000, 2000), family="gaussian", sparse=False, density=None),
    "csr_bernoulli": dict(shape=(200000, 20000), family="bernoulli", sparse=True, density=0.005),
    "peer": dict(shape=(20000, 10000), density=0.01),
    "iters": {"numba": (1, 11), "numpy": (1, 4), "cupy": (1, 11)},
}
QUICK = {
    "dense_gaussian": dict(shape=(600, 80), family="gaussian", sparse=False, density=None),
    "csr_bernoulli": dict(shape=(3000, 500), family="bernoulli", sparse=True, density=0.02),
    "peer": dict(shape=(1000, 400), density=0.15),
    "iters": {"numba": (1, 3), "numpy": (1, 3), "cupy": (1, 3)},
}
G, M = 3, 4


# ---------------------------------------------------------------- machine
def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "backends": kernels.available_backends(),
    }
    try:
        import numba

        info["numba"] = numba.__version__
        info["numba_threads"] = numba.get_num_threads()
    except ImportError:
        pass
    return info


def _log(msg):
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ floor
def floor_time(X, T, S, repeats):
    """``X @ T`` + the faster of ``X.T @ S`` (view) and ``Xt @ S`` (copy)."""
    Xt = sp.csr_matrix(X.T) if sp.issparse(X) else np.ascontiguousarray(X.T)
    x_t = median_time(lambda: X @ T, repeats)[0]
    xt_view = median_time(lambda: X.T @ S, repeats)[0]
    xt_copy = median_time(lambda: Xt @ S, repeats)[0]
    return {
        "X@T_s": x_t,
        "X.T@S_s": xt_view,
        "Xt_copy@S_s": xt_copy,
        "floor_s": x_t + min(xt_view, xt_copy),
    }


# -------------------------------------------------------------- iteration
def _fit(X, family, backend, max_iter, seed=0):
    model = LatentBlockModel(
        G, M, family=family, n_init=1, max_iter=max_iter, tol=0.0, init="random",
        random_state=seed, backend=backend,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty clusters on random data
        t0 = time.perf_counter()
        model.fit(X)
    return time.perf_counter() - t0, model


def iteration_time(X, family, backend, iters, repeats):
    """Seconds per full VEM iteration through the public estimator."""
    k1, k2 = iters
    _fit(X, family, backend, k1)  # compile / warm caches
    diffs, n_iters = [], []
    for _ in range(repeats):
        t1, _ = _fit(X, family, backend, k1)
        t2, model = _fit(X, family, backend, k2)
        diffs.append((t2 - t1) / (k2 - k1))
        n_iters.append(int(model.n_iter_))
    if min(n_iters) < k2:  # tol=0 stopped early: the difference is not k2-k1 iterations
        raise RuntimeError(f"fit stopped after {min(n_iters)} < {k2} iterations; raise the size")
    return float(np.median(diffs))


def half_step_time(X, family, backend, repeats):
    """The two backend calls of one iteration, exactly as the estimator makes them."""
    be = kernels.get_backend(backend, X)
    xp = getattr(be, "xp", np)
    rng = np.random.default_rng(0)
    n, d = X.shape
    Xp = be.prepare(X)
    Xt = be.transpose(Xp)
    S = xp.asarray(rng.dirichlet(np.ones(G), size=n))
    T = xp.asarray(rng.dirichlet(np.ones(M), size=d))
    A = rng.normal(size=(G, M)) * 0.01
    B = -np.abs(rng.normal(size=(G, M))) * 0.01 if family == "gaussian" else None
    w_row, w_col = np.log(np.full(G, 1 / G)), np.log(np.full(M, 1 / M))
    At = np.ascontiguousarray(A.T)
    Bt = None if B is None else np.ascontiguousarray(B.T)

    def both():
        be.to_numpy(be.row_estep(Xp, T, A, B, w_row).SXT)
        be.to_numpy(be.row_estep(Xt, S, At, Bt, w_col).SXT)

    both()  # compile
    return median_time(both, repeats)[0]


def run_case(name, spec, iters_by_backend, backends, repeats):
    family = spec["family"]
    kw = {"sparse": True, "density": spec["density"]} if spec["sparse"] else {}
    X, _, _ = make_lbm(*spec["shape"], G, M, family=family, random_state=0, **kw)
    rng = np.random.default_rng(0)
    T = rng.dirichlet(np.ones(M), size=X.shape[1])
    S = rng.dirichlet(np.ones(G), size=X.shape[0])
    nnz = int(X.nnz) if sp.issparse(X) else int(X.size)
    rows = []
    for backend in backends:
        _log(f"{name}: {backend}")
        # floor re-measured next to each backend so both see the same load
        floor = floor_time(X, T, S, repeats)
        it = iteration_time(X, family, backend, iters_by_backend[backend], repeats)
        halves = half_step_time(X, family, backend, repeats)
        rows.append({
            "case": name, "backend": backend, "family": family,
            "shape": list(X.shape), "stored_values": nnz, "dtype": str(X.dtype),
            **floor,
            "iteration_s": it,
            "half_steps_s": halves,
            "floor_ratio": it / floor["floor_s"],
            "half_steps_floor_ratio": halves / floor["floor_s"],
            "iteration_method": (
                f"(fit max_iter={iters_by_backend[backend][1]} - fit max_iter="
                f"{iters_by_backend[backend][0]}) / {iters_by_backend[backend][1] - iters_by_backend[backend][0]}"
            ),
        })
    return rows


# ------------------------------------------------------------------- peer
def run_peer(spec, quick):
    X, rows, cols = make_lbm(*spec["shape"], G, M, family="bernoulli", sparse=True,
                             density=spec["density"], random_state=0)
    out = {"shape": list(X.shape), "stored_values": int(X.nnz), "blocks": [G, M]}
    _log("peer: ours")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t0 = time.perf_counter()
        ours = LatentBlockModel(G, M, family="bernoulli", random_state=0).fit(X)
        out["ours_s"] = time.perf_counter() - t0
    out["ours_settings"] = "LatentBlockModel defaults (n_init=10, init='auto', max_iter=200, tol=1e-6)"
    out["ours_ari_rows"] = ari(rows, ours.row_labels_)
    out["ours_ari_cols"] = ari(cols, ours.column_labels_)
    try:
        from sparsebm import LBM
    except ImportError:
        out["sparsebm"] = "not installed (pip install coclust_deep[benchmark])"
        return out
    # Same start schedule as ours: 10 starts screened for 10 iterations, the best 3
    # run on (sparsebm's own defaults, 100 starts and 10000 iterations, had not
    # finished after 59 min at full size on this machine).
    peer_kw = dict(use_gpu=False, verbosity=0, n_init=10, n_init_total_run=3, n_iter_early_stop=10,
                   max_iter=200)
    if quick:
        peer_kw.update(n_init=4, n_init_total_run=2, max_iter=100)
    _log("peer: sparsebm")
    peer = LBM(G, M, **peer_kw)
    t0 = time.perf_counter()
    peer.fit(X)
    out["sparsebm_s"] = time.perf_counter() - t0
    out["sparsebm_settings"] = "sparsebm.LBM(" + ", ".join(f"{k}={v}" for k, v in peer_kw.items()) + ")"
    out["sparsebm_ari_rows"] = ari(rows, peer.row_labels)
    out["sparsebm_ari_cols"] = ari(cols, peer.column_labels)
    out["peer_ratio"] = out["sparsebm_s"] / out["ours_s"]
    return out


# ---------------------------------------------------------------- compile
_COMPILE_SNIPPET = """
import sys, time
t0 = time.perf_counter()
import numpy as np, scipy.sparse as sp
from coclust_deep.kernels import numba_backend as nb
t1 = time.perf_counter()
rng = np.random.default_rng(0)
X = rng.random((50, 20)); T = rng.dirichlet(np.ones(4), 20); A = rng.normal(size=(3, 4))
nb.row_estep(nb.prepare(X), T, A, None, np.zeros(3))
if sys.argv[1] == "both":
    nb.row_estep(nb.prepare(sp.csr_matrix(X)), T, A, None, np.zeros(3))
print(t1 - t0, time.perf_counter() - t1)
"""


def compile_times(quick=False):
    """First-call time of the numba kernels in a fresh process, cold and warm cache.

    Full mode compiles the dense and the CSR float64 kernels; quick mode only
    the dense one.  Import time (numpy, scipy, numba, coclust_deep) is apart.
    """
    if "numba" not in kernels.available_backends():
        return {"skipped": "numba not available"}
    which = "dense" if quick else "both"
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = []
        for _ in range(2):
            res = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET, which], env=env,
                                 capture_output=True, text=True, check=True)
            runs.append([float(x) for x in res.stdout.split()[-2:]])
    return {"import_s": runs[1][0], "cold_cache_s": runs[0][1], "warm_cache_s": runs[1][1],
            "what": "first row_estep on dense float64" + (" and CSR float64/int32" if which == "both" else "")
            + ", after import"}


# -------------------------------------------------------------------- gpu
def gpu_bandwidth(spec, repeats):
    """Fused CSR kernel bytes/s as a fraction of a device-to-device copy."""
    import cupy as cp
    import cupyx.scipy.sparse as cpsp

    be = kernels.get_backend("cupy")
    X, _, _ = make_lbm(*spec["shape"], G, M, family="bernoulli", sparse=True,
                       density=spec["density"], random_state=0)
    Xg = cpsp.csr_matrix(X)
    Xp = be.prepare(Xg)
    rng = np.random.default_rng(0)
    T = cp.asarray(rng.dirichlet(np.ones(M), size=X.shape[1]))
    A = rng.normal(size=(G, M)) * 0.01

    def sync(fn):
        def run():
            fn()
            cp.cuda.Device().synchronize()
        return run

    step = sync(lambda: be.row_estep(Xp, T, A, None, np.zeros(G)))
    step()
    kernel_s = median_time(step, repeats)[0]
    streamed = Xg.data.nbytes + Xg.indices.nbytes + Xg.indptr.nbytes
    buf = cp.empty(streamed // 8 + 1, dtype=cp.float64)
    dst = cp.empty_like(buf)
    copy = sync(lambda: dst.__setitem__(Ellipsis, buf))
    copy()
    copy_s = median_time(copy, repeats)[0]
    kernel_bw = streamed / kernel_s
    copy_bw = 2 * buf.nbytes / copy_s  # a copy reads and writes every byte
    return {"device": cp.cuda.runtime.getDeviceProperties(0)["name"].decode(),
            "kernel_s": kernel_s, "kernel_GBps": kernel_bw / 1e9,
            "copy_GBps": copy_bw / 1e9, "fraction_of_copy": kernel_bw / copy_bw}


# ------------------------------------------------------------------ report
def markdown(result):
    lines = [
        f"Machine: {result['machine']['cpu']}, {result['machine']['nproc']} cores; "
        f"load average before/after: {result['loadavg_before'][0]:.2f} / {result['loadavg_after'][0]:.2f}",
        "",
        "| case | backend | X@T + X.T@S (floor) | full VEM iteration | ratio | two half-steps | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["cases"]:
        lines.append(
            f"| {r['case']} {r['shape'][0]}x{r['shape'][1]} | {r['backend']} | {r['floor_s']*1e3:.1f} ms | "
            f"{r['iteration_s']*1e3:.1f} ms | {r['floor_ratio']:.2f}x | {r['half_steps_s']*1e3:.1f} ms | "
            f"{r['half_steps_floor_ratio']:.2f}x |"
        )
    p = result["peer"]
    if "skipped" in p:
        p = None
        lines += ["", "Peer comparison skipped (--no-peer)."]
    else:
        lines += ["", f"Peer (Bernoulli {p['shape'][0]}x{p['shape'][1]}, {p['stored_values']} non-zeros, 3x4 blocks):"]
    if p is not None:
        lines.append(f"ours {p['ours_s']:.2f} s, ARI rows/cols {p['ours_ari_rows']:.3f}/{p['ours_ari_cols']:.3f}")
        if "sparsebm_s" in p:
            lines.append(
                f"sparsebm {p['sparsebm_s']:.2f} s, ARI rows/cols "
                f"{p['sparsebm_ari_rows']:.3f}/{p['sparsebm_ari_cols']:.3f}; "
                f"speed-up {p['peer_ratio']:.1f}x"
            )
        else:
            lines.append(f"sparsebm: {p['sparsebm']}")
    c = result["compile"]
    if "cold_cache_s" in c:
        lines.append(f"\nnumba first call ({c['what']}): {c['cold_cache_s']:.1f} s cold cache, "
                     f"{c['warm_cache_s']:.2f} s warm cache (import {c['import_s']:.1f} s apart)")
    if "gpu" in result:
        gpu = result["gpu"]
        lines.append(f"\nGPU: {gpu}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="timings per figure (median)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    parser.add_argument("--no-peer", action="store_true", help="skip the sparsebm comparison")
    parser.add_argument("--peer-only", action="store_true", help="only the sparsebm comparison")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (2 if args.quick else 3)
    backends = kernels.available_backends()

    result = {"quick": args.quick, "repeats": repeats, "machine": machine_info(),
              "loadavg_before": list(os.getloadavg())}
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save():  # after every section, so a long peer run never loses the rest
        result["loadavg_after"] = list(os.getloadavg())
        args.out.write_text(json.dumps(result, indent=2))

    if args.peer_only:  # e.g. --peer-only --out benchmarks/results/peer_sparsebm.json
        result["peer"] = run_peer(sizes["peer"], args.quick)
        save()
        print(json.dumps(result["peer"], indent=2))
        return result
    result["cases"] = []
    for name in ("dense_gaussian", "csr_bernoulli"):
        result["cases"] += run_case(name, sizes[name], sizes["iters"], backends, repeats)
        save()
    _log("compile times")
    result["compile"] = compile_times(quick=args.quick)
    if "cupy" in backends:
        result["gpu"] = gpu_bandwidth(sizes["csr_bernoulli"], repeats)
    result["peer"] = {"skipped": "--no-peer"}
    save()
    if not args.no_peer:
        result["peer"] = run_peer(sizes["peer"], args.quick)
        save()
    print(markdown(result))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
