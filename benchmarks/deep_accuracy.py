"""Deep co-clustering accuracy on real single-cell data, against scanpy baselines, in one run.

Run from the repository root::

    python -m benchmarks.deep_accuracy --data-dir ../shared/data
    python -m benchmarks.deep_accuracy --data-dir ../shared/data --datasets pbmc68k --quick

Writes ``benchmarks/results/deep_accuracy.json`` (or ``--out``) and prints a
markdown table. For each dataset, in the same process:

* **k-means on PCA**: scanpy's pipeline (``normalize_total``, ``log1p``,
  ``pca`` with 50 components, then k-means with k = number of labelled
  types, ``n_init=10``);
* **leiden**: ``sc.pp.neighbors`` (15 neighbours on the same PCA; the
  sklearn transformer above 4096 cells, working around a scanpy 1.11 bug)
  then ``sc.tl.leiden`` (igraph flavour) at resolution 1, and at the
  resolution found by bisection that gives k clusters (time: the search,
  graph excluded);
* **ours**: ``DeepCoclustering`` with its defaults except the likelihood
  (``nb`` on raw counts, ``gaussian`` on pbmc68k_reduced whose ``raw`` is
  already log-normalised), ``n_row_clusters`` = number of types,
  ``n_col_clusters=10`` gene clusters, ``random_state=0``. On CITE-seq CBMC
  it runs twice, on RNA alone and with the 10 surface-protein counts
  (``ADT_X``) as a row view: the view ablation. A k-means on PCA + ADT
  (concatenated, each block standardised) is the matching shallow baseline.

ARI and NMI are against the published labels. Times are wall-clock seconds
of each fit with ``--threads`` torch/BLAS threads (default 2), plus the
process CPU seconds; ``os.getloadavg()`` is recorded before and after,
because other jobs on a shared machine slow every number unevenly.
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

RESULTS = Path(__file__).resolve().parent / "results" / "deep_accuracy.json"
FILES = {"pbmc10x": "10X_PBMC_top2000.h5", "cbmc": "CITE_CBMC_counts_top2000.h5"}
DATASETS = ("pbmc10x", "cbmc", "pbmc68k")
N_GENE_CLUSTERS = 10


def _require(path):
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found. Pass --data-dir pointing at the folder holding {', '.join(FILES.values())} "
            "(in the repository layout: --data-dir ../shared/data).")
    return path


def load(name, data_dir):
    """(counts or log-normalised matrix, labels, row views, likelihood) for dataset ``name``."""
    if name == "pbmc68k":
        import scanpy as sc

        adata = sc.datasets.pbmc68k_reduced()
        labels = adata.obs["bulk_labels"].cat.codes.to_numpy()
        return adata.raw.X.astype(np.float32), labels, {}, "gaussian"
    import h5py

    with h5py.File(_require(Path(data_dir) / FILES[name]), "r") as f:
        X = f["X"][:].astype(np.float32)
        labels = np.asarray(f["Y"][:]).astype(np.int64)
        views = {"ADT": f["ADT_X"][:].astype(np.float32)} if "ADT_X" in f else {}
    return X, labels, views, "nb"


def _scores(labels, pred):
    from coclust_deep.metrics import ari, nmi

    return {"ari": round(float(ari(labels, pred)), 4), "nmi": round(float(nmi(labels, pred)), 4),
            "n_clusters_found": int(len(np.unique(pred)))}


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def baselines(X, labels, views, is_counts, seed=0):
    import anndata as ad
    import scanpy as sc
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    k = len(np.unique(labels))
    adata = ad.AnnData(X.copy())

    def pca():
        if is_counts:
            sc.pp.normalize_total(adata)
            sc.pp.log1p(adata)
        sc.pp.pca(adata, n_comps=50, random_state=seed)
        return adata.obsm["X_pca"]

    pcs, t_pca, _ = _timed(pca)
    rows = []
    pred, t, cpu = _timed(lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(pcs))
    rows.append({"method": "k-means on PCA50", **_scores(labels, pred), "time_s": round(t + t_pca, 2),
                 "cpu_s": cpu})

    def leiden():
        kw = {"transformer": "sklearn"} if adata.n_obs > 4096 else {}
        sc.pp.neighbors(adata, n_neighbors=15, use_rep="X_pca", random_state=seed, **kw)
        sc.tl.leiden(adata, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
        return adata.obs["leiden"].cat.codes.to_numpy()

    pred, t, cpu = _timed(leiden)
    rows.append({"method": "leiden (PCA50, 15 nn)", **_scores(labels, pred), "time_s": round(t + t_pca, 2),
                 "cpu_s": cpu})

    def leiden_k():
        """Bisect the resolution until leiden finds k clusters (uses the number of types, not the labels)."""
        lo, hi, best = 0.01, 2.0, None
        for _ in range(12):
            res = (lo + hi) / 2
            sc.tl.leiden(adata, resolution=res, flavor="igraph", n_iterations=2, directed=False,
                         random_state=seed, key_added="leiden_k")
            found = adata.obs["leiden_k"].nunique()
            best = (res, adata.obs["leiden_k"].cat.codes.to_numpy())
            if found == k:
                break
            lo, hi = (res, hi) if found < k else (lo, res)
        return best

    (res, pred), t, cpu = _timed(leiden_k)
    rows.append({"method": f"leiden, resolution {res:.3g} (k clusters)", **_scores(labels, pred),
                 "time_s": round(t, 2), "cpu_s": cpu})
    for name, view in views.items():
        both = np.hstack([StandardScaler().fit_transform(pcs), StandardScaler().fit_transform(view)])
        pred, t, cpu = _timed(lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(both))
        rows.append({"method": f"k-means on PCA50 + {name}", **_scores(labels, pred),
                     "time_s": round(t + t_pca, 2), "cpu_s": cpu})
    return rows


def ours(X, labels, views, likelihood, *, quick=False, seed=0, verbose=False):
    from coclust_deep.deep import DeepCoclustering

    k = len(np.unique(labels))
    kw = dict(likelihood=likelihood, random_state=seed, verbose=verbose)
    if quick:
        kw.update(pretrain_epochs=3, epochs=3)
    runs = [("DeepCoclustering (RNA)", None)]
    runs += [(f"DeepCoclustering (RNA + {name} view)", {name: view}) for name, view in views.items()]
    rows = []
    for method, row_views in runs:
        model = DeepCoclustering(k, N_GENE_CLUSTERS, **kw)
        _, t, cpu = _timed(lambda: model.fit(X, row_views=row_views))
        row = {"method": method, **_scores(labels, model.row_labels_), "time_s": t, "cpu_s": cpu,
               "epochs": model.n_epochs_}
        if row_views:
            row["view_contributions"] = model.view_contributions_["rows"]
        rows.append(row)
    return rows


def run(datasets, data_dir, *, threads=2, quick=False, verbose=False):
    import torch

    torch.set_num_threads(threads)
    results = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": threads,
                    "torch": torch.__version__, "loadavg_before": os.getloadavg()},
        "datasets": {},
    }
    for name in datasets:
        X, labels, views, likelihood = load(name, data_dir)
        entry = {"shape": list(X.shape), "n_types": int(len(np.unique(labels))), "likelihood": likelihood}
        entry["rows"] = baselines(X, labels, views, is_counts=likelihood != "gaussian")
        entry["rows"] += ours(X, labels, views, likelihood, quick=quick, verbose=verbose)
        results["datasets"][name] = entry
        print(markdown({name: entry}), flush=True)
    results["machine"]["loadavg_after"] = os.getloadavg()
    return results


def markdown(datasets):
    lines = ["| data | method | ARI | NMI | clusters | time (s) | CPU (s) |", "|---|---|---|---|---|---|---|"]
    for name, entry in datasets.items():
        label = f"{name} {entry['shape'][0]}x{entry['shape'][1]}, {entry['n_types']} types"
        for row in entry["rows"]:
            lines.append(f"| {label} | {row['method']} | {row['ari']:.3f} | {row['nmi']:.3f} | "
                         f"{row['n_clusters_found']} | {row['time_s']:.1f} | {row['cpu_s']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COCLUST_DEEP_DATA", "../shared/data"))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3+3 epochs: a smoke run, not a measurement")
    parser.add_argument("--verbose", action="store_true", help="show the training progress bars")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    for name in args.datasets:  # fail before any training when a file is missing
        if name in FILES:
            _require(Path(args.data_dir) / FILES[name])
    warnings.filterwarnings("ignore", category=FutureWarning)
    results = run(args.datasets, args.data_dir, threads=args.threads, quick=args.quick, verbose=args.verbose)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and set(args.datasets) != set(DATASETS):  # partial run: keep the other datasets
        previous = json.loads(out.read_text())
        runs = previous.get("runs", {})
        runs["+".join(args.datasets)] = results.pop("machine")
        datasets = previous.get("datasets", {})
        datasets.update(results["datasets"])
        results = {"runs": runs, "datasets": datasets}
    out.write_text(json.dumps(results, indent=2))
    print()
    print(markdown(results["datasets"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
