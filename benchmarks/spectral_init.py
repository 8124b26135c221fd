"""The spectral embedding of the starting partitions: our range finder against scikit-learn and SciPy.

Run from the repository root::

    python -m benchmarks.spectral_init            # about a minute on 2 cores
    python -m benchmarks.spectral_init --quick    # smoke run (seconds)

``init="spectral"`` (and half the starts of ``init="auto"``) needs the leading
singular vectors of ``D_r^-1/2 X D_c^-1/2`` (non-negative X) or of the
column-centred X (other data). Three ways are timed in the same run, medians
of ``--repeats``, on one BLAS thread:

* ``ours``: ``coclust_deep._seeding.spectral_embedding``, a randomised range
  finder over products with the *implicit* scaled/centred matrix;
* ``randomized_svd``: scikit-learn's ``randomized_svd`` with the same
  oversampling and power iterations; it takes no linear operator, so the
  scaled or centred matrix is built first (a copy of X, dense when centred);
  the copy is part of its time;
* ``svds_arpack``: ``scipy.sparse.linalg.svds`` on a ``LinearOperator`` (implicit).

The singular values each finds are recorded too. Writes
``benchmarks/results/spectral_init.json`` (or ``--out``) with
``os.getloadavg()`` and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, svds
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

from coclust_deep._seeding import _scaled_operator, spectral_embedding
from coclust_deep.datasets import make_lbm

from ._timing import median_time

RESULTS = Path(__file__).resolve().parent / "results" / "spectral_init.json"
K = 5  # informative directions, as for max(g, m) = 5


def cases(quick):
    scale = 10 if quick else 1
    sparse = make_lbm(100_000 // scale, 10_000 // scale, 5, 5, family="bernoulli", sparse=True,
                      density=0.005 * (3 if quick else 1), random_state=0)[0]
    centred = make_lbm(10_000 // scale, 1_000 // scale, 5, 5, family="gaussian", random_state=0)[0]
    return {"csr_bernoulli": (sparse, True), "dense_gaussian_centred": (centred, False)}


def _explicit(X, nonneg):
    if nonneg:
        _, _, dr, dc = _scaled_operator(X, True)
        return sp.diags(dr) @ X @ sp.diags(dc) if sp.issparse(X) else dr[:, None] * X * dc[None, :]
    dense = X.toarray() if sp.issparse(X) else X
    return dense - dense.mean(axis=0)


def _operator(X, nonneg):
    mat, rmat, _, _ = _scaled_operator(X, nonneg)
    return LinearOperator(X.shape, matvec=lambda v: mat(v.reshape(-1, 1)).ravel(),
                          rmatvec=lambda v: rmat(v.reshape(-1, 1)).ravel(),
                          matmat=mat, rmatmat=rmat, dtype=np.float64)


def _ours_singular_values(X, nonneg, k):
    # the same range finder, keeping the singular values it finds
    mat, rmat, _, _ = _scaled_operator(X, nonneg)
    rng = np.random.RandomState(0)
    Q, _ = np.linalg.qr(mat(rng.standard_normal((X.shape[1], min(k + 5, *X.shape)))))
    for _ in range(3):
        Q, _ = np.linalg.qr(mat(np.linalg.qr(rmat(Q))[0]))
    return np.linalg.svd(rmat(Q).T, compute_uv=False)[:k]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    with threadpool_limits(1):
        for name, (X, nonneg) in cases(args.quick).items():
            k = K + (1 if nonneg else 0)  # non-negative data: the trivial leading pair too
            row = {"case": name, "shape": list(X.shape), "loadavg_before": os.getloadavg()}
            row["ours_s"], _ = median_time(lambda: spectral_embedding(X, K, np.random.RandomState(0), nonneg=nonneg),
                                       args.repeats)
            row["ours_sv"] = _ours_singular_values(X, nonneg, k).tolist()
            row["randomized_svd_s"], (_, s, _) = median_time(
                lambda: randomized_svd(_explicit(X, nonneg), k, n_oversamples=5, n_iter=3, random_state=0),
                args.repeats)
            row["randomized_svd_sv"] = s.tolist()
            row["svds_arpack_s"], (_, s, _) = median_time(
                lambda: svds(_operator(X, nonneg), k=k, solver="arpack", random_state=0), 1)
            row["svds_arpack_sv"] = sorted(s.tolist(), reverse=True)
            row["loadavg_after"] = os.getloadavg()
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"quick": args.quick, "repeats": args.repeats, "rows": rows}, indent=2))
    print("| case | shape | ours s | randomized_svd s (ratio) | svds arpack s (ratio) | load |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['shape'][0]}x{r['shape'][1]} | {r['ours_s']:.3f} "
              f"| {r['randomized_svd_s']:.3f} ({r['randomized_svd_s'] / r['ours_s']:.2f}x) "
              f"| {r['svds_arpack_s']:.2f} ({r['svds_arpack_s'] / r['ours_s']:.1f}x) | {r['loadavg_before'][0]:.1f} |")


if __name__ == "__main__":
    main()
