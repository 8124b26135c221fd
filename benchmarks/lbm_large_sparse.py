"""Peak memory and time of a 5x5 Bernoulli LBM on a large sparse matrix.

Run: ``python -m benchmarks.lbm_large_sparse`` (default 200000 x 20000 at 0.5 %
density, about 20M non-zeros). The matrix is generated and saved by one
subprocess and fitted by another, so the peak RSS (``ru_maxrss``) is that of
loading the CSR matrix plus the fit, with the interpreter and imports included. Writes
``benchmarks/results/lbm_large_sparse.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _generate(path, n_rows, n_cols, density):
    import numpy as np
    import scipy.sparse as sp

    from coclust_deep.datasets import make_lbm

    X, z, w = make_lbm(n_rows, n_cols, 5, 5, family="bernoulli", sparse=True, density=density,
                       signal=0.9, random_state=0)
    sp.save_npz(path + ".X.npz", X, compressed=False)
    np.savez(path + ".labels.npz", z=z, w=w)


def _child(path, backend, n_init, max_iter):
    import numpy as np
    import scipy.sparse as sp

    from coclust_deep import LatentBlockModel
    from coclust_deep.metrics import ari

    X = sp.csr_matrix(sp.load_npz(path + ".X.npz"))
    labels = np.load(path + ".labels.npz")
    z, w = labels["z"], labels["w"]
    n_rows, n_cols = X.shape
    # CSR data as the user holds it: float64 values, int32 indices.
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model = LatentBlockModel(5, 5, family="bernoulli", n_init=n_init, max_iter=max_iter,
                             random_state=0, backend=backend)
    t0 = time.perf_counter()
    model.fit(X)
    fit_s = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({
        "n_rows": n_rows, "n_cols": n_cols, "nnz": int(X.nnz), "backend": model.backend_,
        "n_init": n_init, "n_iter": int(model.n_iter_), "fit_seconds": fit_s,
        "csr_bytes": int(csr_bytes), "peak_rss_bytes": int(peak),
        "peak_rss_over_csr": peak / csr_bytes, "rss_before_fit_bytes": int(rss_data),
        "row_ari": ari(z, model.row_labels_), "col_ari": ari(w, model.column_labels_),
        "finite": bool(np.isfinite(model.row_posterior_).all()),
    }))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-rows", type=int, default=200_000)
    ap.add_argument("--n-cols", type=int, default=20_000)
    ap.add_argument("--density", type=float, default=0.005)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--n-init", type=int, default=4)
    ap.add_argument("--max-iter", type=int, default=50)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.path, args.backend, args.n_init, args.max_iter)
        return
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "lbm")
        # Generated in its own process so its peak memory is not counted as the fit's.
        subprocess.run([sys.executable, "-c", "import sys; from benchmarks.lbm_large_sparse import _generate; "
                        "_generate(sys.argv[1], *map(int, sys.argv[2:4]), float(sys.argv[4]))",
                        path, str(args.n_rows), str(args.n_cols), str(args.density)], check=True, cwd=root)
        cmd = [sys.executable, "-m", "benchmarks.lbm_large_sparse", "--child", "--path", path,
               "--backend", args.backend, "--n-init", str(args.n_init), "--max-iter", str(args.max_iter)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=root).stdout
    res = json.loads(out.strip().splitlines()[-1])
    res["load_average"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lbm_large_sparse.json").write_text(json.dumps(res, indent=2))
    print(f"| {res['n_rows']}x{res['n_cols']} nnz={res['nnz']:,} | backend {res['backend']} | "
          f"fit {res['fit_seconds']:.1f} s ({res['n_iter']} iters) | CSR {res['csr_bytes']/2**20:.0f} MiB | "
          f"peak RSS {res['peak_rss_bytes']/2**20:.0f} MiB = {res['peak_rss_over_csr']:.2f}x CSR | "
          f"ARI rows {res['row_ari']:.3f} cols {res['col_ari']:.3f} |")


if __name__ == "__main__":
    main()
