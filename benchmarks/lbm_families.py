"""Latent block model families on real UMI counts, against scanpy baselines, in one run.

Run from the repository root::

    python -m benchmarks.lbm_families --data-dir ../shared/data
    python -m benchmarks.lbm_families --datasets pbmc68k --quick     # a smoke run (shipped data)

Writes ``benchmarks/results/lbm_families.json`` (or ``--out``) and prints a
markdown table. For each dataset (10X PBMC and CITE-seq CBMC RNA from
``--data-dir``; scanpy's ``pbmc68k_reduced`` with its counts rebuilt by
``recover_counts``; the SciPy-docstring document-term counts of
``benchmarks.classic``, 6 subpackages), in the same process and for each seed:

* **k-means on PCA** and **leiden** (resolution 1, and the resolution bisected
  to k clusters): :func:`benchmarks.deep_accuracy.baselines`, scanpy's pipeline
  on the same counts (``normalize_total``, ``log1p``, 50 PCs). k-means and the
  bisected leiden are given the true number of cell types; leiden at
  resolution 1 is not.
* **tl.lbm** on the raw counts with ``g`` = the number of cell types (given
  the true k, like k-means) and ``m = 10`` gene clusters, everything else at its
  default (``n_init=10``), in three settings: the defaults (``family="auto"``:
  Poisson with cell and gene effects), ``poisson_effects=False`` (the plain
  Poisson model, the default before this version) and ``family="nb"``.

ARI and NMI are against the published labels, mean and standard deviation
over ``--seeds``. Times are wall-clock seconds of each fit (numba threads as
the machine gives them) with ``os.getloadavg()`` before and after; the
negative binomial's time is also given as a ratio to the Poisson fit with
effects on the same data and seed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "lbm_families.json"
DATASETS = ("pbmc10x", "cbmc", "pbmc68k", "scipy_docs")
N_GENE_CLUSTERS = 10
SETTINGS = {
    "tl.lbm defaults (Poisson with effects)": {},
    "tl.lbm poisson_effects=False (plain Poisson)": {"family": "poisson", "poisson_effects": False},
    "tl.lbm family='nb'": {"family": "nb"},
}


def load(name, data_dir):
    """(raw counts as float32 dense, labels) for dataset ``name``."""
    if name == "scipy_docs":  # a document-term corpus shipped with scipy: word counts of 6 subpackages' docstrings
        from benchmarks.classic import text_matrix

        data = text_matrix()
        return data["X"].toarray().astype(np.float32), data["rows"]
    if name == "pbmc68k":
        import scanpy as sc

        from coclust_deep.datasets import recover_counts

        adata = sc.datasets.pbmc68k_reduced()
        return recover_counts(adata).toarray().astype(np.float32), adata.obs["bulk_labels"].cat.codes.to_numpy()
    from benchmarks.deep_accuracy import load as load_h5

    X, labels, _, _ = load_h5(name, data_dir)
    return X, labels


def _scores(labels, pred):
    from coclust_deep.metrics import ari, nmi

    return {"ari": float(ari(labels, pred)), "nmi": float(nmi(labels, pred)),
            "n_clusters_found": int(len(np.unique(pred)))}


def lbm_runs(X, labels, seed, n_init):
    import anndata as ad
    import scipy.sparse as sp

    from coclust_deep import tl

    k = len(np.unique(labels))
    adata = ad.AnnData(sp.csr_matrix(X))
    rows = []
    for method, kw in SETTINGS.items():
        start, load = time.perf_counter(), os.getloadavg()[0]
        tl.lbm(adata, k, N_GENE_CLUSTERS, random_state=seed, n_init=n_init, key_added="lbm", overwrite=True, **kw)
        seconds = time.perf_counter() - start
        entry = adata.uns["lbm"]
        rows.append({"method": method, "seed": seed, **_scores(labels, adata.obs["lbm"].cat.codes.to_numpy()),
                     "time_s": round(seconds, 2), "loadavg_1min": round(load, 2), "family": entry["family"],
                     "n_iter": int(entry["n_iter"]), "converged": bool(entry["converged"])})
    return rows


def _warm_up(X):
    """Load (or compile) every kernel the timed fits use, so no fit's time includes it."""
    import scipy.sparse as sp

    from coclust_deep import LatentBlockModel

    small = sp.csr_matrix(X[:200])
    for family in ("poisson", "nb"):
        LatentBlockModel(2, 2, family=family, n_init=2, max_iter=2, random_state=0).fit(small)


def _leiden_k_named(row):
    """One method name for the bisected leiden over seeds; the resolution it found stays in the row."""
    method = row["method"]
    if method.startswith("leiden, resolution") and method.endswith("(k clusters)"):
        return {**row, "method": "leiden, resolution bisected to k clusters",
                "resolution": float(method.split()[2])}
    return row


def _summary(rows):
    """Mean and standard deviation over seeds, per method."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        row = {"method": method, "n_seeds": len(mine)}
        for key in ("ari", "nmi", "time_s", "n_clusters_found"):
            values = np.array([r[key] for r in mine], dtype=float)
            row[key] = round(float(values.mean()), 6)
            row[key + "_std"] = round(float(values.std()), 6)
        out.append(row)
    return out


def run(datasets, data_dir, seeds, n_init):
    from benchmarks.deep_accuracy import baselines

    results = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                           "loadavg_before": os.getloadavg()},
               "settings": {"n_gene_clusters": N_GENE_CLUSTERS, "n_init": n_init, "seeds": list(seeds)},
               "datasets": {}}
    for name in datasets:
        X, labels = load(name, data_dir)
        _warm_up(X)
        rows = []
        for seed in seeds:
            for row in baselines(X, labels, {}, is_counts=True, seed=seed):
                rows.append({**_leiden_k_named(row), "seed": seed})
            rows += lbm_runs(X, labels, seed, n_init)
        per_seed = {r["seed"]: r for r in rows if r["method"].startswith("tl.lbm family='nb'")}
        poisson = {r["seed"]: r for r in rows if r["method"].startswith("tl.lbm defaults")}
        ratios = [per_seed[s]["time_s"] / poisson[s]["time_s"] for s in seeds]
        entry = {"shape": list(X.shape), "n_types": int(len(np.unique(labels))), "runs": rows,
                 "summary": _summary(rows),
                 "nb_time_ratio_to_poisson": {"mean": round(float(np.mean(ratios)), 2),
                                              "std": round(float(np.std(ratios)), 2),
                                              "per_seed": [round(r, 2) for r in ratios]}}
        results["datasets"][name] = entry
        print(markdown({name: entry}), flush=True)
    results["machine"]["loadavg_after"] = os.getloadavg()
    return results


def markdown(datasets):
    lines = ["| data | method | ARI | NMI | clusters | time (s) |", "|---|---|---|---|---|---|"]
    for name, entry in datasets.items():
        label = f"{name} {entry['shape'][0]}x{entry['shape'][1]}, {entry['n_types']} types"
        for r in entry["summary"]:
            lines.append(f"| {label} | {r['method']} | {r['ari']:.3f} ± {r['ari_std']:.3f} | "
                         f"{r['nmi']:.3f} ± {r['nmi_std']:.3f} | {r['n_clusters_found']:.1f} | "
                         f"{r['time_s']:.1f} ± {r['time_s_std']:.1f} |")
        ratio = entry["nb_time_ratio_to_poisson"]
        lines.append(f"| {label} | NB fit time / Poisson fit time | – | – | – | {ratio['mean']:.2f} ± "
                     f"{ratio['std']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COCLUST_DEEP_DATA", "../shared/data"))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-init", type=int, default=10, help="starts per LBM fit (the estimator's default)")
    parser.add_argument("--quick", action="store_true", help="one seed, 2 starts: a smoke run, not a measurement")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    from benchmarks.deep_accuracy import FILES, _require

    for name in args.datasets:  # fail before any fit when a file is missing
        if name in FILES:
            _require(Path(args.data_dir) / FILES[name])
    seeds, n_init = ([args.seeds[0]], 2) if args.quick else (args.seeds, args.n_init)
    warnings.filterwarnings("ignore", category=FutureWarning)
    results = run(args.datasets, args.data_dir, seeds, n_init)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and set(args.datasets) != set(DATASETS):  # partial run: keep the other datasets
        previous = json.loads(out.read_text())
        previous.setdefault("datasets", {}).update(results["datasets"])
        previous.setdefault("runs", {})["+".join(args.datasets)] = results["machine"]
        results = previous
    out.write_text(json.dumps(results, indent=2))
    print()
    print(markdown(results["datasets"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
