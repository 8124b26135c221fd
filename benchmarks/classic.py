"""Classic co-clustering against scikit-learn's SpectralCoclustering, in one run.

Run from the repository root::

    python -m benchmarks.classic            # full sizes (a few minutes on 2 cores)
    python -m benchmarks.classic --quick    # small smoke run

Writes ``benchmarks/results/classic.json`` (or ``--out``) and prints a markdown
table. On each matrix, every algorithm is fitted once (or ``--repeats`` times,
median) with its default number of starts and ``random_state=0``, and its row
(and, where planted, column) partition is scored by NMI and ARI against the
known classes. Ratios divide two times measured in this same run:

* ``vs_sklearn`` = fit time / scikit-learn ``SpectralCoclustering`` fit time;
* ``vs_floor`` = fit time / the time of one ``X @ T`` pass (``T`` a one-hot
  column partition), the least any block update has to do per half-step.

Matrices:

* ``text_scipy_docstrings``: a document-term matrix of the docstrings of the
  public functions and classes of six SciPy subpackages (``signal``,
  ``linalg``, ``optimize``, ``ndimage``, ``special``, ``stats``), the
  subpackage being the class. Built from the installed SciPy: no download.
* ``lbm_poisson_row_effects``: sparse Poisson latent block model data with
  diagonal co-clusters and log-normal row and column effects (``make_lbm``).
* ``make_biclusters``: scikit-learn's planted biclusters (absolute values).
* ``pbmc68k_reduced``: ``scanpy.datasets.pbmc68k_reduced().raw.X`` (ships with
  scanpy), rows scored against ``obs["bulk_labels"]``.
* ``10X_PBMC_top2000``: raw UMI counts from ``--data-dir`` (default
  ``../shared/data`` beside the repository); ``--no-shared-data`` leaves it out.

The machine and ``os.getloadavg()`` before and after are recorded: the machine
may be shared, which slows everything unevenly.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from coclust_deep import (
    DoubleKMeans,
    InfoCoclustering,
    ModularityCoclustering,
    SpectralCoclustering,
)
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari, nmi

from ._timing import median_time

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "classic.json"
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"
TEXT_SUBPACKAGES = ("scipy.signal", "scipy.linalg", "scipy.optimize", "scipy.ndimage",
                    "scipy.special", "scipy.stats")


# ---------------------------------------------------------------- data
def scipy_docstring_corpus(subpackages=TEXT_SUBPACKAGES, min_chars=300):
    """Docstrings (without their Examples section) of public callables, by subpackage."""
    docs, labels = [], []
    for k, name in enumerate(subpackages):
        module = importlib.import_module(name)
        seen = set()
        for attr in sorted(getattr(module, "__all__", dir(module))):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or obj is None or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            text = (inspect.getdoc(obj) or "").split("\nExamples\n")[0]
            if len(text) >= min_chars:
                docs.append(text)
                labels.append(k)
    return docs, np.asarray(labels)


def text_matrix():
    from sklearn.feature_extraction.text import CountVectorizer

    docs, labels = scipy_docstring_corpus()
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z]{3,}\b",
                                 min_df=3, max_df=0.3)
    X = sp.csr_matrix(vectorizer.fit_transform(docs), dtype=np.float64)
    return {"X": X, "rows": labels, "cols": None, "k": len(TEXT_SUBPACKAGES)}


def lbm_matrix(quick):
    k = 5
    n, d = (2000, 500) if quick else (20000, 2000)
    lam = 0.05 + 0.25 * np.eye(k)
    X, rows, cols = make_lbm(n, d, k, k, family="poisson", params={"lambda": lam},
                             row_effects=True, sparse=True, random_state=0)
    return {"X": X, "rows": rows, "cols": cols, "k": k}


def biclusters_matrix(quick):
    from sklearn.datasets import make_biclusters

    k = 5
    shape = (300, 250) if quick else (1500, 1000)
    X, rows, cols = make_biclusters(shape, k, noise=5, minval=10, maxval=20, shuffle=True, random_state=0)
    return {"X": np.abs(X), "rows": rows.argmax(axis=0), "cols": cols.argmax(axis=0), "k": k}


def pbmc68k_matrix():
    import scanpy as sc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = sc.datasets.pbmc68k_reduced()
    labels = adata.obs["bulk_labels"].cat.codes.to_numpy()
    return {"X": sp.csr_matrix(adata.raw.X, dtype=np.float64), "rows": labels, "cols": None,
            "k": int(labels.max()) + 1}


def pbmc10x_matrix(data_dir):
    import h5py

    path = Path(data_dir) / "10X_PBMC_top2000.h5"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass --data-dir pointing at the folder holding 10X_PBMC_top2000.h5, "
            "or --no-shared-data to leave this matrix out."
        )
    with h5py.File(path, "r") as f:
        X = np.asarray(f["X"], dtype=np.float64)
        labels = np.asarray(f["Y"]).astype(np.int64).ravel()
    labels = np.unique(labels, return_inverse=True)[1]
    return {"X": sp.csr_matrix(X), "rows": labels, "cols": None, "k": int(labels.max()) + 1}


# ---------------------------------------------------------------- algorithms
def algorithms(k):
    from sklearn.cluster import SpectralCoclustering as SklearnSpectralCoclustering

    return {
        "InfoCoclustering": lambda: InfoCoclustering(k, k, random_state=0),
        "InfoCoclustering[numpy]": lambda: InfoCoclustering(k, k, random_state=0, backend="numpy"),
        "ModularityCoclustering": lambda: ModularityCoclustering(k, random_state=0),
        "DoubleKMeans": lambda: DoubleKMeans(k, k, random_state=0),
        "SpectralCoclustering": lambda: SpectralCoclustering(k, random_state=0),
        "sklearn SpectralCoclustering": lambda: SklearnSpectralCoclustering(k, random_state=0),
    }


def floor_time(X, k, repeats=5):
    T = np.zeros((X.shape[1], k))
    T[np.arange(X.shape[1]), np.arange(X.shape[1]) % k] = 1.0
    X @ T  # warm-up
    return median_time(lambda: X @ T, repeats)[0]


def run_case(name, case, repeats):
    X = case["X"]
    nnz = int(X.nnz) if sp.issparse(X) else int(np.count_nonzero(X))
    floor_s = floor_time(X, case["k"])
    rows = []
    for algo, make in algorithms(case["k"]).items():
        row = {"case": name, "shape": list(X.shape), "nnz": nnz, "k": case["k"], "algorithm": algo,
               "floor_s": floor_s}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row["time_s"], model = median_time(lambda: make().fit(X), repeats)
        except Exception as exc:  # scikit-learn fails on some inputs: report, do not hide
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            rows.append(row)
            continue
        row["backend"] = getattr(model, "backend_", "-")
        row["nmi_rows"] = nmi(case["rows"], model.row_labels_)
        row["ari_rows"] = ari(case["rows"], model.row_labels_)
        if case["cols"] is not None:
            row["nmi_cols"] = nmi(case["cols"], model.column_labels_)
            row["ari_cols"] = ari(case["cols"], model.column_labels_)
        row["vs_floor"] = row["time_s"] / floor_s
        rows.append(row)
    peer = next((r for r in rows if r["algorithm"] == "sklearn SpectralCoclustering" and "time_s" in r), None)
    for r in rows:
        if peer is not None and "time_s" in r:
            r["vs_sklearn"] = r["time_s"] / peer["time_s"]
    return rows


# ---------------------------------------------------------------- report
def machine_info():
    from coclust_deep import kernels

    return {"cpu": platform.processor() or platform.machine(), "nproc": os.cpu_count(),
            "python": platform.python_version(), "backends": kernels.available_backends()}


def _fmt(x, spec):
    return format(x, spec) if isinstance(x, (int, float)) else "-"


def markdown(rows):
    lines = ["| case | shape (nnz) | algorithm | backend | NMI rows | ARI rows | NMI cols | time s | vs sklearn SC | vs floor |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = f"{r['shape'][0]}x{r['shape'][1]} ({r['nnz']})"
        if "error" in r:
            lines.append(f"| {r['case']} | {shape} | {r['algorithm']} | - | failed: {r['error']} | | | | | |")
            continue
        lines.append(
            f"| {r['case']} | {shape} | {r['algorithm']} | {r['backend']} | {_fmt(r['nmi_rows'], '.3f')} | "
            f"{_fmt(r['ari_rows'], '.3f')} | {_fmt(r.get('nmi_cols'), '.3f')} | {_fmt(r['time_s'], '.2f')} | "
            f"{_fmt(r.get('vs_sklearn'), '.2f')} | {_fmt(r['vs_floor'], '.0f')} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small matrices (smoke run)")
    parser.add_argument("--repeats", type=int, default=1, help="fits per algorithm; the median time is kept")
    parser.add_argument("--out", default=str(RESULTS), help="JSON output path")
    parser.add_argument("--data-dir", default=os.environ.get("COCLUST_DEEP_DATA", str(DEFAULT_DATA_DIR)),
                        help="folder with 10X_PBMC_top2000.h5 (env COCLUST_DEEP_DATA)")
    parser.add_argument("--no-shared-data", action="store_true", help="leave out the 10X PBMC matrix")
    parser.add_argument("--cases", nargs="+", help="run only these matrices (default: all)")
    args = parser.parse_args(argv)

    load_before = list(os.getloadavg())
    cases = {
        "text_scipy_docstrings": text_matrix,
        "lbm_poisson_row_effects": lambda: lbm_matrix(args.quick),
        "make_biclusters": lambda: biclusters_matrix(args.quick),
        "pbmc68k_reduced": pbmc68k_matrix,
    }
    if not args.no_shared_data and not args.quick:
        cases["10X_PBMC_top2000"] = lambda: pbmc10x_matrix(args.data_dir)
    if args.cases:
        unknown = set(args.cases) - set(cases) - {"10X_PBMC_top2000"}
        if unknown:
            parser.error(f"unknown cases {sorted(unknown)}; choose from {sorted(cases)}")
        cases = {name: build for name, build in cases.items() if name in args.cases}
    # Compile the numba kernels outside the timed fits.
    InfoCoclustering(2, 2, n_init=1, random_state=0).fit(sp.random(20, 10, density=0.5, random_state=0))
    rows = []
    for name, build in cases.items():
        rows.extend(run_case(name, build(), args.repeats))
        print(f"done {name}", flush=True)
    result = {"machine": machine_info(), "loadavg_before": load_before, "loadavg_after": list(os.getloadavg()),
              "quick": args.quick, "repeats": args.repeats, "cases": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(markdown(rows))
    print(f"\nloadavg before {load_before}, after {result['loadavg_after']}; written to {out}")
    return result


if __name__ == "__main__":
    main()
