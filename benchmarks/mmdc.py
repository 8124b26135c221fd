"""MMDC and DCEC accuracy on digit images and on 10X PBMC cells, with their ablations and baselines, in one run.

Run from the repository root::

    python -m benchmarks.mmdc --data-dir ../shared/data            # both parts, 5 seeds
    python -m benchmarks.mmdc --parts digits --seeds 0 1 --quick    # a smoke run, not a measurement
    python -m benchmarks.mmdc --parts digits --methods DCEC k-means  # only the methods named so
    python -m benchmarks.mmdc --combine a.json b.json                # merge runs made in parallel processes

Writes ``benchmarks/results/mmdc.json`` (or ``--out``; a run of one part keeps the other part already in
the file) and prints a markdown table. ``--combine`` pools the per-seed runs of several result files (one
process per seed or per part, run side by side), recomputes the summaries and keeps each file's machine
state under ``machine["processes"]``; a ``.log`` file given to it (the printed output of a run stopped
before it wrote its JSON) contributes the runs it printed, without wall times.

* **digits** (``sklearn.datasets.load_digits``: 1797 images 8x8, 10 balanced
  classes): ``MMDC(10)`` with its defaults (rotation task), the ablation
  ``MMDC(10, aux_task="none")``, ``DCEC(10)`` with its defaults, and k-means on
  the raw pixels (``n_init=10``).
* **pbmc10x** (``10X_PBMC_top2000.h5``: 4271 cells x 2000 genes, raw counts,
  8 unbalanced types): ``MMDC(8)`` with its defaults (counts detected,
  masked-gene task, refinement from 40 % of the epochs on the features, one
  scale for all genes), the ablations with refinement on the outputs
  (``refine_on="outputs"``, the authors' choice), with genes standardised one
  by one (``feature_scaling="per_feature"``, the earlier default), without
  refinement (``refine_epoch=None``) and without the
  auxiliary task (``aux_task="none"``), with 50 epochs of the masked-gene
  task alone first (``pretrain_epochs=50``), with the MLP reading 50
  principal components of its input (``n_pcs=50``), and k-means on the PCA of
  log-normalised counts (scanpy: ``normalize_total``, ``log1p``, 50
  components; ``n_init=10``).
* **unbalanced** (no real data, no labels of a shared set): the two
  simulators behind ``refine_on``'s default for rows, ``unbalanced_counts``
  (negative-binomial counts of 8 cell types of 2-30 %, in 4 lineages) and
  ``unbalanced_gaussian`` (8 Gaussian clusters of the same shares around 4
  lineage means), and ``unbalanced_splat`` (splat-like counts: 2000 mostly
  weak genes, 8 types of 4-30 % in 3 lineages), one draw per seed:
  ``MMDC(8)`` with refinement on the features (the default) and on the
  outputs, with per-gene scaling, with ``pretrain_epochs=50``, with
  ``n_pcs=50``, and k-means
  (on log-normalised counts for the counts, on their 50 PCs for splat).

Every method runs once per seed (``--seeds``, default 0-4) and is given the
true number of classes; the summary has the mean, median and standard
deviation over seeds of ACC (Hungarian-matched accuracy), NMI and ARI, and
the CPU seconds of each fit (``--threads`` torch threads, default 1).
``os.getloadavg()`` is recorded before and after: other jobs on a shared
machine slow the times unevenly (CPU seconds suffer less than wall time).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
import warnings
from pathlib import Path

import numpy as np

from .deep_accuracy import FILES, _lognorm, _require, load

RESULTS = Path(__file__).resolve().parent / "results" / "mmdc.json"
UNBALANCED_SHARES = np.array([0.30, 0.20, 0.15, 0.12, 0.10, 0.07, 0.04, 0.02])
SPLAT_SHARES = np.array([0.30, 0.16, 0.14, 0.11, 0.10, 0.08, 0.07, 0.04])
PARTS = ("digits", "pbmc10x", "unbalanced")
METRICS = ("acc", "nmi", "ari")
PER_GENE = "MMDC, genes standardised one by one (the earlier default)"
PRETRAINED = "MMDC with 50 epochs of pretraining on the auxiliary task (pretrain_epochs=50)"
PROJECTED = "MMDC reading 50 principal components (n_pcs=50)"


def _scores(labels, pred):
    from coclust_deep.metrics import accuracy, ari, nmi

    return {"acc": round(accuracy(labels, pred), 4), "nmi": round(nmi(labels, pred), 4),
            "ari": round(ari(labels, pred), 4), "n_clusters_found": int(len(np.unique(pred)))}


def _timed(fit, X, seed):
    wall, cpu = time.perf_counter(), time.process_time()
    pred, extra = fit(X, seed)
    return pred, extra, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def _deep(cls, k, quick_kw, **kw):
    """``fit(X, seed) -> (labels, extra)`` for a deep model; ``quick_kw`` replaces the epochs in a smoke run."""
    def fit(X, seed, quick=False):
        settings = {"random_state": seed, "verbose": False, **kw, **(quick_kw if quick else {})}
        model = cls(k, **settings).fit(X)
        extra = {"epochs": model.n_epochs_, "cluster_sizes": np.bincount(model.labels_, minlength=k).tolist()}
        return model.labels_, extra
    return fit


def _kmeans(k, embed=lambda X: X.reshape(len(X), -1)):
    from sklearn.cluster import KMeans

    return lambda X, seed, quick=False: (KMeans(k, n_init=10, random_state=seed).fit_predict(embed(X)), {})


def digits_methods():
    from coclust_deep.deep import DCEC, MMDC

    mmdc_quick, dcec_quick = {"epochs": 2}, {"pretrain_epochs": 2, "epochs": 2}
    return {
        "MMDC (defaults: rotation task)": _deep(MMDC, 10, mmdc_quick),
        "MMDC without the rotation task": _deep(MMDC, 10, mmdc_quick, aux_task="none"),
        "DCEC (defaults)": _deep(DCEC, 10, dcec_quick),
        "k-means on raw pixels": _kmeans(10),
    }


def pbmc_methods(pcs):
    from coclust_deep.deep import MMDC

    quick_kw = {"epochs": 2}
    return {
        "MMDC (defaults: masked genes, refinement on the features)": _deep(MMDC, 8, quick_kw),
        PRETRAINED: _deep(MMDC, 8, {**quick_kw, "pretrain_epochs": 2}, pretrain_epochs=50),
        PROJECTED: _deep(MMDC, 8, quick_kw, n_pcs=50),
        "MMDC, refinement on the outputs (the authors')": _deep(MMDC, 8, quick_kw, refine_on="outputs"),
        PER_GENE: _deep(MMDC, 8, quick_kw, feature_scaling="per_feature"),
        "MMDC without refinement": _deep(MMDC, 8, quick_kw, refine_epoch=None),
        "MMDC without the auxiliary task": _deep(MMDC, 8, quick_kw, aux_task="none"),
        "k-means on PCA50 of log-normalised counts": _kmeans(8, embed=lambda X: pcs),
    }


def unbalanced_counts(seed, n=2500, d=400):
    """Counts of 8 cell types of 30/20/15/12/10/7/4/2 %: 4 lineages with their own markers, and sub-types.

    Each type multiplies 30 genes of its lineage by 4 and 10 genes of its own by 3 over a gamma baseline;
    library sizes are log-normal, counts negative binomial (gamma-Poisson, shape 3).
    """
    rng = np.random.default_rng(seed)
    types = rng.choice(8, size=n, p=UNBALANCED_SHARES)
    profile = np.tile(rng.gamma(0.6, 1.0, size=d), (8, 1))
    lineage = np.array([0, 0, 0, 1, 1, 2, 2, 3])
    gene_sets = np.array_split(rng.permutation(d), 8)
    for t in range(8):
        profile[t, gene_sets[lineage[t]][:30]] *= 4.0
        own = gene_sets[4 + t % 4][t // 4 * 10:t // 4 * 10 + 10]
        profile[t, own] *= 3.0
    mean = rng.lognormal(0.0, 0.5, size=n)[:, None] * profile[types]
    return rng.poisson(rng.gamma(3.0, mean / 3.0)).astype(np.float32), types


def unbalanced_splat(seed, n=3000, d=2000):
    """Splat-like counts: 2000 mostly weak genes, 8 types of 4-30 % in 3 lineages, 2 % of the genes changed per type.

    Baseline means are gamma(0.3, 2); each lineage scales 60 genes and each type 40 more by log-normal
    factors (median e^1 and e^0.8), up or down at random; library sizes are log-normal (sd 0.4), counts
    negative binomial (gamma-Poisson, shape 3). Most genes carry no type signal and the markers are weak,
    as in a highly-variable-gene selection of real cells.
    """
    rng = np.random.default_rng(seed)
    types = rng.choice(8, size=n, p=SPLAT_SHARES)
    lineage = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    lineage_factor = np.ones((3, d))
    for line in range(3):
        genes = rng.choice(d, 60, replace=False)
        lineage_factor[line, genes] = rng.lognormal(1.0, 0.4, 60) ** rng.choice([-1, 1], 60)
    profile = np.tile(rng.gamma(0.3, 2.0, size=d), (8, 1))
    for t in range(8):
        genes = rng.choice(d, 40, replace=False)
        factor = np.ones(d)
        factor[genes] = rng.lognormal(0.8, 0.4, 40) ** rng.choice([-1, 1], 40)
        profile[t] *= lineage_factor[lineage[t]] * factor
    mean = 0.5 * rng.lognormal(0.0, 0.4, size=n)[:, None] * profile[types]
    return rng.poisson(rng.gamma(3.0, mean / 3.0)).astype(np.float32), types


def unbalanced_gaussian(seed, n=2500, d=50):
    """8 Gaussian clusters of the same shares in 50 dimensions: 4 lineage means, 2 sub-types around each."""
    rng = np.random.default_rng(seed)
    types = rng.choice(8, size=n, p=UNBALANCED_SHARES)
    means = rng.normal(0.0, 1.6, size=(4, d))[np.arange(8) // 2] + rng.normal(0.0, 0.8, size=(8, d))
    return (means[types] + rng.normal(size=(n, d))).astype(np.float32), types


def unbalanced_methods(kmeans_embed):
    from coclust_deep.deep import MMDC

    quick_kw = {"epochs": 2}
    return {
        "MMDC (defaults: refinement on the features)": _deep(MMDC, 8, quick_kw),
        PRETRAINED: _deep(MMDC, 8, {**quick_kw, "pretrain_epochs": 2}, pretrain_epochs=50),
        PROJECTED: _deep(MMDC, 8, quick_kw, n_pcs=50),
        "MMDC, refinement on the outputs (the authors')": _deep(MMDC, 8, quick_kw, refine_on="outputs"),
        PER_GENE: _deep(MMDC, 8, quick_kw, feature_scaling="per_feature"),
        "k-means": _kmeans(8, embed=kmeans_embed),
    }


def _pca(X, seed=0):
    import scanpy as sc

    adata = _lognorm(X)
    sc.pp.pca(adata, n_comps=50, random_state=seed)
    return adata.obsm["X_pca"]


def summarise(runs):
    out = {}
    for metric in (*METRICS, "cpu_s", "time_s"):
        if not all(metric in r for r in runs):  # runs recovered from printed lines have no wall time
            continue
        values = np.array([r[metric] for r in runs], dtype=float)
        out[metric] = {"mean": round(float(values.mean()), 6), "median": round(float(np.median(values)), 6),
                       "std": round(float(values.std(ddof=1)) if len(values) > 1 else 0.0, 6)}
    return out


def run_part(part, data_dir, seeds, quick, only=None):
    if part == "unbalanced":
        return _run_unbalanced(seeds, quick, only)
    if part == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        X, labels = digits.images.astype(np.float32), digits.target
        methods = digits_methods()
    else:
        X, labels, _, _ = load("pbmc10x", data_dir)
        methods = pbmc_methods(_pca(X))
    entry = {"shape": list(X.shape), "n_classes": int(len(np.unique(labels))),
             "class_sizes": np.unique(labels, return_counts=True)[1].tolist(), "methods": {}}
    for name, fit in _selected(methods, only):
        entry["methods"][name] = _seed_runs(part, name, fit, lambda seed: (X, labels), seeds, quick)
    return entry


def _run_unbalanced(seeds, quick, only):
    """The three simulators, one draw per seed (the seed draws the data and seeds the model)."""
    entry = {"generators": {"counts": unbalanced_counts.__doc__.split("\n")[0],
                            "gaussian": unbalanced_gaussian.__doc__.split("\n")[0],
                            "splat": unbalanced_splat.__doc__.split("\n")[0]},
             "shares": UNBALANCED_SHARES.tolist(), "splat_shares": SPLAT_SHARES.tolist(), "methods": {}}
    simulators = (("counts", unbalanced_counts, lambda X: _lognorm(X).X),
                  ("gaussian", unbalanced_gaussian, lambda X: X),
                  ("splat", unbalanced_splat, _pca))
    for generator, make, kmeans_embed in simulators:
        for name, fit in _selected(unbalanced_methods(kmeans_embed), only):
            name = f"{generator}: {name}"
            entry["methods"][name] = _seed_runs("unbalanced", name, fit, make, seeds, quick)
    return entry


def _selected(methods, only):
    """The methods whose name contains one of the words ``only`` (all when None)."""
    return [(name, fit) for name, fit in methods.items()
            if not only or any(word.lower() in name.lower() for word in only)]


def _seed_runs(part, name, fit, data, seeds, quick):
    """One fit per seed on ``data(seed) -> (X, labels)``, each printed as a line ``_parts_from_log`` reads."""
    runs = []
    for seed in seeds:
        X, labels = data(seed)
        pred, extra, wall, cpu = _timed(lambda X_, s_: fit(X_, s_, quick=quick), X, seed)
        runs.append({"seed": seed, **_scores(labels, pred), "time_s": wall, "cpu_s": cpu, **extra})
        print(f"{part} | {name} | seed {seed} | ACC {runs[-1]['acc']:.3f} NMI {runs[-1]['nmi']:.3f} "
              f"ARI {runs[-1]['ari']:.3f} | CPU {cpu:.0f}s | load {os.getloadavg()[0]:.1f}", flush=True)
    return {"summary": summarise(runs), "runs": runs}


_LOG_LINE = re.compile(r"^(\w+) \| (.+?) \| seed (\d+) \| ACC ([\d.]+) NMI ([\d.]+) ARI ([\d.]+) \| CPU (\d+)s "
                       r"\| load ([\d.]+)")


def _parts_from_log(path):
    """The runs printed by a run stopped before it wrote its JSON (no wall time, CPU seconds rounded)."""
    parts = {}
    for line in Path(path).read_text().splitlines():
        match = _LOG_LINE.match(line)
        if match:
            part, name, seed, acc, nmi, ari, cpu, load = match.groups()
            entry = parts.setdefault(part, {"methods": {}, "machine": {"recovered_from_log": str(path)}})
            entry["methods"].setdefault(name, {"runs": []})["runs"].append(
                {"seed": int(seed), "acc": float(acc), "nmi": float(nmi), "ari": float(ari), "cpu_s": float(cpu),
                 "loadavg_at_end": float(load)})
    return parts


def combine(paths):
    """Pool the runs of several result files, part by part and method by method, and recompute the summaries.

    A ``.log`` file (the printed lines of a run stopped before it wrote its JSON) gives the runs it printed.
    """
    parts = {}
    for path in paths:
        found = _parts_from_log(path) if str(path).endswith(".log") else json.loads(Path(path).read_text())["parts"]
        for part, entry in found.items():
            pooled = parts.setdefault(part, {"methods": {}, "machine": {"processes": []}})
            pooled.update({k: v for k, v in entry.items() if k not in ("methods", "machine")})
            pooled["machine"]["processes"].append(entry["machine"])
            for name, result in entry["methods"].items():
                pooled["methods"].setdefault(name, {"runs": []})["runs"].extend(result["runs"])
    for entry in parts.values():
        for result in entry["methods"].values():
            result["runs"].sort(key=lambda run: run["seed"])
            seeds = [run["seed"] for run in result["runs"]]
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"the files to combine repeat seeds {seeds}; give each seed to one file only.")
            result["summary"] = summarise(result["runs"])
    return parts


def markdown(parts):
    lines = ["| data | method | ACC mean ± std (median) | NMI mean ± std (median) | ARI mean ± std (median) | "
             "CPU s per fit |", "|---|---|---|---|---|---|"]
    for part, entry in parts.items():
        for name, result in entry["methods"].items():
            s = result["summary"]
            cells = [f"{s[m]['mean']:.3f} ± {s[m]['std']:.3f} ({s[m]['median']:.3f})" for m in METRICS]
            lines.append(f"| {part} | {name} | {' | '.join(cells)} | {s['cpu_s']['mean']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COCLUST_DEEP_DATA", "../shared/data"))
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 epochs per model: a smoke run, not a measurement")
    parser.add_argument("--methods", nargs="+", metavar="WORD",
                        help="run only the methods whose name contains one of these words (e.g. DCEC k-means)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--combine", nargs="+", metavar="FILE", help="pool these result files instead of running")
    args = parser.parse_args(argv)
    if args.combine:
        parts = combine(args.combine)
        _write(Path(args.out), parts)
        return
    if "pbmc10x" in args.parts:  # fail before any training when the file is missing
        _require(Path(args.data_dir) / FILES["pbmc10x"])
    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
               "torch_threads": args.threads, "seeds": args.seeds, "quick": args.quick}
    parts = {}
    for part in args.parts:
        machine_part = {**machine, "loadavg_before": os.getloadavg()}
        parts[part] = run_part(part, args.data_dir, args.seeds, args.quick, args.methods)
        parts[part]["machine"] = {**machine_part, "loadavg_after": os.getloadavg()}
    _write(Path(args.out), parts)


def _write(out, parts):
    out.parent.mkdir(parents=True, exist_ok=True)
    # a run of some parts keeps the other parts of an earlier run (each part records its own machine state)
    results = json.loads(out.read_text()) if out.exists() else {"parts": {}}
    results["parts"].update(parts)
    out.write_text(json.dumps(results, indent=2))
    print()
    print(markdown(results["parts"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
