"""Deep co-clustering accuracy on real single-cell data, against the peers a scanpy user runs, in one run.

Run from the repository root::

    python -m benchmarks.deep_accuracy --data-dir ../shared/data                 # 3 seeds, 1 thread
    python -m benchmarks.deep_accuracy --datasets pbmc68k --seeds 0 1 2 3 4
    python -m benchmarks.deep_accuracy --datasets pbmc10x --scvi                 # + scvi-tools (slow)
    python -m benchmarks.deep_accuracy --datasets pbmc68k --quick                # smoke run
    python -m benchmarks.deep_accuracy --datasets cbmc --seeds 0 1 2 3 4 --ours-only  # after a model change
    python -m benchmarks.deep_accuracy --datasets cbmc --seeds 0 1 2 3 4 --ours-only --scaling-ablation-only

Writes ``benchmarks/results/deep_accuracy.json`` (or ``--out``; after every
seed, per-seed rows and mean ± std) and prints a markdown table. Data: 10X
PBMC and CITE-seq CBMC from ``--data-dir`` (raw counts; CBMC also as RNA +
protein, the 10 normalised ADT values ``ADT_X`` as a row view), and scanpy's
``pbmc68k_reduced`` with its counts rebuilt by
:func:`coclust_deep.datasets.recover_counts` (labels ``bulk_labels``). For each
dataset and seed, in the same process:

* **k-means on PCA**: ``normalize_total``, ``log1p``, 50 PCs, k-means with the
  true k (``n_init=10``); with a view, on PCA + view (each standardised);
* **leiden** on the 15-NN graph of the same PCA (the sklearn transformer above
  4096 cells, working around a scanpy 1.11 bug): at resolution 1, and at the
  resolution bisected to give the true k (``uses_true_k``);
* **scvi-tools** (``--scvi``): ``SCVI`` with its defaults on the counts, then
  k-means and leiden (resolution 1 and tuned to k) on its latent space;
* **DEC / IDEC** of this package with their defaults on the log-normalised
  data, given the true k;
* **clustpy's DEC / IDEC** (``--clustpy``; PyPI ``clustpy``, which imports
  torchvision) with their defaults on the same log-normalised data, given the
  true k;
* **ours**: ``DeepCoclustering`` with its defaults on the raw counts
  (``likelihood="auto"`` -> NB), ``n_col_clusters=10``, given the true k and
  with k estimated (``n_row_clusters=None``); on CBMC also with the ADT view;
  the block-term ablation ``block_weight=0`` (given the true k); with
  ``--scaling-ablation``, the true-k fits (RNA, and with each view) again
  with ``feature_scaling="shared"``; on pbmc68k_reduced (gene names) the
  coherence of the gene clusters: for each cell type of
  :data:`coclust_deep.markers.PBMC_MARKERS`, the gene clusters of its markers,
  and the share of marker pairs of one type in one gene cluster against the
  chance level.

ARI and NMI are against the published labels; nothing is chosen by them.
Times are wall-clock seconds of each fit with ``--threads`` torch threads
(default 1: accuracy runs on a shared machine), plus process CPU seconds;
``os.getloadavg()`` is recorded before and after, because other jobs on a
shared machine slow every number unevenly.
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
SHARED = "feature_scaling='shared'"  # the gene-scaling ablation's rows


def _require(path):
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found. Pass --data-dir pointing at the folder holding {', '.join(FILES.values())} "
            "(in the repository layout: --data-dir ../shared/data).")
    return path


def load(name, data_dir):
    """(raw counts, labels, row views, gene names or None) for dataset ``name``."""
    if name == "pbmc68k":
        import scanpy as sc

        from coclust_deep.datasets import recover_counts

        adata = sc.datasets.pbmc68k_reduced()
        labels = adata.obs["bulk_labels"].cat.codes.to_numpy()
        X = recover_counts(adata).toarray().astype(np.float32)
        return X, labels, {}, np.asarray(adata.raw.var_names)
    import h5py

    with h5py.File(_require(Path(data_dir) / FILES[name]), "r") as f:
        X = f["X"][:].astype(np.float32)
        labels = np.asarray(f["Y"][:]).astype(np.int64)
        # ADT_X is already normalised (negative values included; data README): used as it is, the model
        # standardises each protein
        views = {"ADT": f["ADT_X"][:].astype(np.float32)} if "ADT_X" in f else {}
    return X, labels, views, None


def _scores(labels, pred):
    from coclust_deep.metrics import ari, nmi

    return {"ari": round(float(ari(labels, pred)), 4), "nmi": round(float(nmi(labels, pred)), 4),
            "n_clusters_found": int(len(np.unique(pred)))}


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def _lognorm(X):
    import anndata as ad
    import scanpy as sc

    adata = ad.AnnData(X.copy())
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    return adata


def _leiden(adata, seed, resolution=1.0, key="leiden"):
    import scanpy as sc

    sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                 random_state=seed, key_added=key)
    return adata.obs[key].cat.codes.to_numpy()


def _neighbors(adata, rep, seed):
    import scanpy as sc

    kw = {"transformer": "sklearn"} if adata.n_obs > 4096 else {}  # works around a scanpy 1.11 bug
    sc.pp.neighbors(adata, n_neighbors=15, use_rep=rep, random_state=seed, **kw)


def _leiden_k(adata, k, seed):
    """Bisect the resolution until leiden finds k clusters (uses the number of types, not the labels)."""
    lo, hi, best = 0.01, 2.0, None
    for _ in range(12):
        res = (lo + hi) / 2
        pred = _leiden(adata, seed, res, key="leiden_k")
        best = (res, pred)
        found = len(np.unique(pred))
        if found == k:
            break
        lo, hi = (res, hi) if found < k else (lo, res)
    return best


def _graph_rows(adata, rep, labels, seed, name, t_rep):
    """leiden at resolution 1 and tuned to k on representation ``rep``; rows with timings."""
    k = len(np.unique(labels))
    _, t_graph, _ = _timed(lambda: _neighbors(adata, rep, seed))
    pred, t, cpu = _timed(lambda: _leiden(adata, seed))
    rows = [{"method": f"leiden ({name}, 15 nn)", **_scores(labels, pred), "uses_true_k": False,
             "time_s": round(t + t_graph + t_rep, 2), "cpu_s": cpu}]
    (res, pred), t, cpu = _timed(lambda: _leiden_k(adata, k, seed))
    rows.append({"method": f"leiden ({name}, 15 nn), resolution bisected to k", **_scores(labels, pred),
                 "uses_true_k": True, "resolution": round(res, 4), "time_s": round(t, 2), "cpu_s": cpu})
    return rows


def standardised_side_by_side(*blocks):
    """The blocks' columns side by side, each standardised: the input of the "PCA50 + view" peers."""
    from sklearn.preprocessing import StandardScaler

    return np.hstack([StandardScaler().fit_transform(block) for block in blocks])


def baselines(X, labels, views, is_counts=True, seed=0):
    """scanpy's pipeline: normalize_total, log1p (counts only), 50 PCs; k-means (true k), leiden (res 1, tuned to k)."""
    import anndata as ad
    import scanpy as sc
    from sklearn.cluster import KMeans

    k = len(np.unique(labels))
    adata = _lognorm(X) if is_counts else ad.AnnData(X.copy())
    _, t_pca, _ = _timed(lambda: sc.pp.pca(adata, n_comps=50, random_state=seed))
    pcs = adata.obsm["X_pca"]
    pred, t, cpu = _timed(lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(pcs))
    rows = [{"method": "k-means on PCA50", **_scores(labels, pred), "uses_true_k": True,
             "time_s": round(t + t_pca, 2), "cpu_s": cpu}]
    rows += _graph_rows(adata, "X_pca", labels, seed, "PCA50", t_pca)
    for name, view in views.items():
        adata.obsm["both"] = standardised_side_by_side(pcs, view)
        pred, t, cpu = _timed(lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(adata.obsm["both"]))
        rows.append({"method": f"k-means on PCA50 + {name}", **_scores(labels, pred), "uses_true_k": True,
                     "time_s": round(t + t_pca, 2), "cpu_s": cpu})
        rows += _graph_rows(adata, "both", labels, seed, f"PCA50 + {name}", t_pca)
    return rows


def scvi_rows(X, labels, seed=0):
    """scvi-tools SCVI (its defaults) on the counts, then leiden and k-means on its latent space."""
    import anndata as ad
    import scvi
    from sklearn.cluster import KMeans

    k = len(np.unique(labels))
    scvi.settings.seed = seed
    adata = ad.AnnData(X.copy())
    scvi.model.SCVI.setup_anndata(adata)

    def fit():
        model = scvi.model.SCVI(adata)
        model.train(enable_progress_bar=False)
        return model.get_latent_representation()

    adata.obsm["X_scvi"], t_fit, cpu_fit = _timed(fit)
    pred, t, cpu = _timed(lambda: KMeans(k, n_init=10, random_state=seed).fit_predict(adata.obsm["X_scvi"]))
    rows = [{"method": "scvi-tools SCVI + k-means", **_scores(labels, pred), "uses_true_k": True,
             "time_s": round(t + t_fit, 2), "cpu_s": round(cpu + cpu_fit, 2)}]
    return rows + _graph_rows(adata, "X_scvi", labels, seed, "SCVI latent", t_fit)


def dec_rows(X, labels, seed=0, quick=False):
    """This package's DEC and IDEC with their defaults, on log-normalised data, given the true k."""
    from coclust_deep.deep import DEC, IDEC

    k = len(np.unique(labels))
    Y = _lognorm(X).X
    kw = dict(pretrain_epochs=3, epochs=3) if quick else {}
    rows = []
    for cls in (DEC, IDEC):
        model = cls(k, random_state=seed, verbose=False, **kw)
        _, t, cpu = _timed(lambda: model.fit(Y))
        rows.append({"method": f"{cls.__name__} (log-normalised, defaults)", **_scores(labels, model.labels_),
                     "uses_true_k": True, "time_s": t, "cpu_s": cpu})
    return rows


def clustpy_rows(X, labels, seed=0, quick=False):
    """clustpy's DEC and IDEC with their defaults on log-normalised data, given the true k."""
    from clustpy.deep import DEC, IDEC

    k = len(np.unique(labels))
    Y = np.asarray(_lognorm(X).X, dtype=np.float32)
    kw = dict(pretrain_epochs=3, clustering_epochs=3) if quick else {}
    rows = []
    for cls in (DEC, IDEC):
        model = cls(k, random_state=seed, **kw)
        _, t, cpu = _timed(lambda: model.fit(Y))
        rows.append({"method": f"clustpy {cls.__name__} (log-normalised, defaults)",
                     **_scores(labels, model.labels_), "uses_true_k": True, "time_s": t, "cpu_s": cpu})
    return rows


def ours(X, labels, views, *, quick=False, seed=0, verbose=False, estimate_k=True, block_ablation=False,
         scaling_ablation=False, select=None):
    """DeepCoclustering with its defaults on the raw counts: true k, k estimated, views, ablations.

    ``select(method) -> bool`` keeps only some of these fits (for example only
    the scaling ablation's rows, added to an earlier run).
    """
    from coclust_deep.deep import DeepCoclustering

    k = len(np.unique(labels))
    kw = dict(random_state=seed, verbose=verbose)
    if quick:
        kw.update(pretrain_epochs=3, epochs=3)
    runs = [("DeepCoclustering (RNA)", None, k, {})]
    if estimate_k:
        runs.append(("DeepCoclustering (RNA), k estimated", None, None, {}))
    if block_ablation:
        runs.append(("DeepCoclustering (RNA), block_weight=0", None, k, {"block_weight": 0.0}))
    if scaling_ablation:
        runs.append((f"DeepCoclustering (RNA), {SHARED}", None, k, {"feature_scaling": "shared"}))
    for name, view in views.items():
        runs.append((f"DeepCoclustering (RNA + {name} view)", {name: view}, k, {}))
        if scaling_ablation:
            runs.append((f"DeepCoclustering (RNA + {name} view), {SHARED}", {name: view}, k,
                         {"feature_scaling": "shared"}))
        if estimate_k:
            runs.append((f"DeepCoclustering (RNA + {name} view), k estimated", {name: view}, None, {}))
    if select is not None:
        runs = [run for run in runs if select(run[0])]
    rows, models = [], {}
    for method, row_views, n_clusters, extra in runs:
        model = DeepCoclustering(n_clusters, N_GENE_CLUSTERS, **kw, **extra)
        _, t, cpu = _timed(lambda: model.fit(X, row_views=row_views))
        row = {"method": method, **_scores(labels, model.row_labels_), "uses_true_k": n_clusters is not None,
               "time_s": t, "cpu_s": cpu, "epochs": model.n_epochs_, "likelihood": model.likelihood_,
               "n_row_clusters": int(model.n_row_clusters_)}
        if row_views:
            row["view_contributions"] = model.view_contributions_["rows"]
        rows.append(row)
        models[method] = model
    return rows, models


def marker_coherence(model, gene_names):
    """Per PBMC cell type: how its marker genes spread over the gene clusters (no cell labels used)."""
    from coclust_deep.markers import PBMC_MARKERS

    index = {g: j for j, g in enumerate(gene_names)}
    out = {}
    for cell_type, genes in PBMC_MARKERS.items():
        found = [g for g in genes if g in index]
        if len(found) < 2:
            continue
        clusters = [int(model.column_labels_[index[g]]) for g in found]
        top = max(set(clusters), key=clusters.count)
        out[cell_type] = {"genes": found, "gene_clusters": clusters,
                          "share_in_modal_cluster": round(clusters.count(top) / len(found), 3)}
    sizes = np.bincount(model.column_labels_, minlength=N_GENE_CLUSTERS)
    # chance level: two random genes fall in the same cluster with probability sum (size/d)^2
    out["chance_same_cluster"] = round(float(((sizes / sizes.sum()) ** 2).sum()), 3)
    pairs = same = 0
    for entry in out.values():
        if isinstance(entry, dict):
            c = entry["gene_clusters"]
            for i in range(len(c)):
                for j in range(i + 1, len(c)):
                    pairs += 1
                    same += c[i] == c[j]
    out["marker_pairs_same_cluster"] = round(same / pairs, 3) if pairs else None
    return out


def summarise(per_seed):
    """{method: mean ± std of ari, nmi, clusters, time over seeds}."""
    methods = {}
    for rows in per_seed:
        for row in rows:
            methods.setdefault(row["method"], []).append(row)
    out = []
    for method, rows in methods.items():
        entry = {"method": method, "n_seeds": len(rows), "uses_true_k": rows[0].get("uses_true_k")}
        for key in ("ari", "nmi", "n_clusters_found", "time_s", "cpu_s"):
            values = np.array([r[key] for r in rows], dtype=float)
            entry[key] = [round(float(values.mean()), 6), round(float(values.std()), 6)]
        out.append(entry)
    return out


def run(datasets, data_dir, *, seeds=(0, 1, 2), threads=1, quick=False, verbose=False, scvi=False,
        clustpy=False, dec=True, estimate_k=True, block_ablation=True, scaling_ablation=False, on_seed=None):
    """All rows for ``datasets`` x ``seeds``; ``on_seed(results)`` after each seed (partial results)."""
    import torch

    torch.set_num_threads(threads)
    results = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": threads,
                    "torch": torch.__version__, "loadavg_before": os.getloadavg()},
        "seeds": list(seeds),
        "datasets": {},
    }
    for name in datasets:
        X, labels, views, gene_names = load(name, data_dir)
        entry = {"shape": list(X.shape), "n_types": int(len(np.unique(labels))), "per_seed": []}
        for seed in seeds:
            rows = baselines(X, labels, views, seed=seed)
            if scvi:
                rows += scvi_rows(X, labels, seed=seed)
            if dec:
                rows += dec_rows(X, labels, seed=seed, quick=quick)
            if clustpy:
                rows += clustpy_rows(X, labels, seed=seed, quick=quick)
            deep_rows, models = ours(X, labels, views, quick=quick, seed=seed, verbose=verbose,
                                     estimate_k=estimate_k, block_ablation=block_ablation,
                                     scaling_ablation=scaling_ablation)
            rows += deep_rows
            for row in rows:
                row["seed"] = seed
            if gene_names is not None:
                entry.setdefault("marker_coherence", []).append(
                    marker_coherence(models["DeepCoclustering (RNA)"], gene_names))
            entry["per_seed"].append(rows)
            print(f"{name} seed {seed}: " + ", ".join(f"{r['method']} {r['ari']:.3f}" for r in rows), flush=True)
            entry["summary"] = summarise(entry["per_seed"])
            results["datasets"][name] = entry
            if on_seed is not None:
                on_seed(results)
        print(markdown({name: entry}), flush=True)
    results["machine"]["loadavg_after"] = os.getloadavg()
    return results


def rerun_ours(previous, datasets, data_dir, *, seeds, threads=1, quick=False, verbose=False, scaling_ablation=False,
               scaling_ablation_only=False, on_seed=None):
    """Re-measure only DeepCoclustering's rows of ``previous`` (after a change to the model), in place.

    The peers' rows of each dataset and seed stay as they were measured; the
    DeepCoclustering rows (the same kinds as before: k given or estimated,
    block ablation, scaling ablation, views) are replaced, the scaling ablation
    is added with ``scaling_ablation``, and the run is recorded under
    ``previous["runs"]``. With ``scaling_ablation_only`` only the scaling
    ablation's rows are fitted (added, or replaced where present); every other
    row stays as measured.
    """
    import torch

    torch.set_num_threads(threads)
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": threads,
               "torch": torch.__version__, "loadavg_before": os.getloadavg()}
    if scaling_ablation_only:
        refit, what = (lambda m: SHARED in m), f"{SHARED} rows only"
    else:
        refit, what = (lambda m: m.startswith("DeepCoclustering")), "DeepCoclustering rows only"
    for name in datasets:
        entry = previous["datasets"][name]
        by_seed = {rows[0]["seed"]: i for i, rows in enumerate(entry["per_seed"])}
        missing = [seed for seed in seeds if seed not in by_seed]
        if missing:
            raise ValueError(f"{name}: seeds {missing} have no earlier run to update; run without --ours-only.")
        X, labels, views, gene_names = load(name, data_dir)
        for seed in seeds:
            i = by_seed[seed]
            kept = [r for r in entry["per_seed"][i] if not refit(r["method"])]
            before = {r["method"] for r in entry["per_seed"][i] if r["method"].startswith("DeepCoclustering")}
            deep_rows, models = ours(X, labels, views if any("view" in m for m in before) else {}, quick=quick,
                                     seed=seed, verbose=verbose,
                                     estimate_k=any(m.endswith("k estimated") for m in before),
                                     block_ablation=any("block_weight=0" in m for m in before),
                                     scaling_ablation=scaling_ablation or scaling_ablation_only
                                     or any(SHARED in m for m in before),
                                     select=refit)
            for row in deep_rows:
                row["seed"] = seed
            entry["per_seed"][i] = kept + deep_rows
            if gene_names is not None and "DeepCoclustering (RNA)" in models:
                entry["marker_coherence"][i] = marker_coherence(models["DeepCoclustering (RNA)"], gene_names)
            entry["summary"] = summarise(entry["per_seed"])
            print(f"{name} seed {seed}: " + ", ".join(f"{r['method']} {r['ari']:.3f}" for r in deep_rows),
                  flush=True)
            machine["loadavg_after"] = os.getloadavg()
            previous.setdefault("runs", {})[f"{name}, {what}"] = {**machine, "seeds": list(seeds)}
            if on_seed is not None:
                on_seed(previous)
    return previous


def markdown(datasets):
    lines = ["| data | method | true k | ARI | NMI | clusters | time (s) |", "|---|---|---|---|---|---|---|"]
    for name, entry in datasets.items():
        label = f"{name} {entry['shape'][0]}x{entry['shape'][1]}, {entry['n_types']} types"
        for row in entry["summary"]:
            (a, sa), (n, sn), (c, _), (t, _) = row["ari"], row["nmi"], row["n_clusters_found"], row["time_s"]
            lines.append(f"| {label} | {row['method']} | {'yes' if row['uses_true_k'] else 'no'} | "
                         f"{a:.3f} ± {sa:.3f} | {n:.3f} ± {sn:.3f} | {c:.1f} | {t:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COCLUST_DEEP_DATA", "../shared/data"))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: accuracy runs on a shared machine; time with 2 separately)")
    parser.add_argument("--scvi", action="store_true", help="also run scvi-tools SCVI (slow: ~15 min per fit on CPU)")
    parser.add_argument("--clustpy", action="store_true",
                        help="also run clustpy's DEC and IDEC (needs clustpy and a torchvision that imports)")
    parser.add_argument("--no-dec", action="store_true", help="skip this package's DEC and IDEC")
    parser.add_argument("--no-estimate-k", action="store_true", help="skip the k-estimated DeepCoclustering fits")
    parser.add_argument("--no-ablation", action="store_true", help="skip the block_weight=0 fit")
    parser.add_argument("--scaling-ablation", action="store_true",
                        help="also fit with feature_scaling='shared' (true k; RNA and each view)")
    parser.add_argument("--quick", action="store_true", help="3+3 epochs: a smoke run, not a measurement")
    parser.add_argument("--verbose", action="store_true", help="show the training progress bars")
    parser.add_argument("--ours-only", action="store_true",
                        help="re-measure only DeepCoclustering's rows of the results in --out, keeping the peers'")
    parser.add_argument("--scaling-ablation-only", action="store_true",
                        help=f"with --ours-only: fit only the {SHARED} rows, keeping every other row of --out")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    for name in args.datasets:  # fail before any training when a file is missing
        if name in FILES:
            _require(Path(args.data_dir) / FILES[name])
    warnings.filterwarnings("ignore", category=FutureWarning)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() and set(args.datasets) != set(DATASETS) else None

    def write(results):
        """Write now (after every seed, so that a stopped run keeps what it measured)."""
        if previous is not None:  # partial run: keep the other datasets
            runs = dict(previous.get("runs", {}))
            runs["+".join(args.datasets)] = {**results["machine"], "seeds": results["seeds"]}
            results = {"runs": runs, "datasets": {**previous.get("datasets", {}), **results["datasets"]}}
        out.write_text(json.dumps(results, indent=2, default=float))
        return results

    if args.ours_only:
        results = rerun_ours(json.loads(out.read_text()), args.datasets, args.data_dir, seeds=args.seeds,
                             threads=args.threads, quick=args.quick, verbose=args.verbose,
                             scaling_ablation=args.scaling_ablation,
                             scaling_ablation_only=args.scaling_ablation_only,
                             on_seed=lambda r: out.write_text(json.dumps(r, indent=2, default=float)))
        print(markdown({name: results["datasets"][name] for name in args.datasets}))
        print(f"\nwritten to {out}")
        return
    results = run(args.datasets, args.data_dir, seeds=args.seeds, threads=args.threads, quick=args.quick,
                  verbose=args.verbose, scvi=args.scvi, clustpy=args.clustpy, dec=not args.no_dec,
                  estimate_k=not args.no_estimate_k,
                  block_ablation=not args.no_ablation, scaling_ablation=args.scaling_ablation, on_seed=write)
    results = write(results)
    print()
    print(markdown(results["datasets"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
