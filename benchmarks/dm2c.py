"""DM2C: one clustering of samples seen in one of two modalities, with no pairing.

Run from the repository root::

    python -m benchmarks.dm2c --data-dir ../shared/data            # 3 seeds, CBMC + digits
    python -m benchmarks.dm2c --cases digits --quick                 # 1 seed, short training (smoke run)
    python -m benchmarks.dm2c --jobs 2                               # fits in 2 processes, 1 thread each

Writes ``benchmarks/results/dm2c.json`` (or ``--out``) and prints a markdown
table. Every DM2C fit uses the estimator's defaults; only ``n_clusters`` is
given, and it is the true number of classes (said so in the table). The
ablation rows (``--variants``) refit the same splits and seeds with
``anchors="none"`` (DM2C as the authors train it, without the
Gromov-Wasserstein anchors, the earlier default), with ``readout="ot"``
(the same training; modality B's embeddings moved onto A's by unbalanced
optimal transport before the k-means readout) or with ``readout="matched"``
(the same training; k-means of each modality on its own, B's clusters
named after A's by the one-to-one pairing of nearest centres).

* **cbmc** (``CITE_CBMC_counts_top2000.h5``, 8617 cells, 15 types; read
  ``../shared/data/README.md``): for each seed the cells are split at random
  into two halves; half A keeps only its RNA counts (2000 genes, negative
  binomial likelihood), half B only its 10 normalised surface-protein values
  (``ADT_X``, Gaussian). No pairing is used. Baselines, same split and k:
  k-means on the protein half alone, k-means on the RNA half alone (50 PCs
  of log1p CP10k), the naive union (both halves in one table of the 2000
  log1p CP10k genes and the 10 proteins, a modality's missing features 0,
  every column standardised, 50 PCs, k-means: the issue's reference, whose
  clusters mostly encode the modality), the label-matched halves (k-means on
  each half as above, B's clusters renamed to A's by a Hungarian matching of
  their label profiles: a ceiling for clustering each modality alone and then
  matching, which needs the labels), and the paired oracle (k-means on every
  cell's RNA PCs and proteins, both standardised, which DM2C cannot see).
* **digits** (:func:`coclust_deep.datasets.make_unpaired_digits`, 10
  classes): modality A the pixels of half of scikit-learn's digits, modality
  B a fixed random non-linear projection of the *other* half.

Metrics over all samples of both modalities: NMI and ACC against the
labels (ACC under one Hungarian mapping shared by both modalities, so a
cross-modal permutation of clusters counts as an error), NMI between the
prediction and the modality (0: the clusters do not encode the modality), and
the NMI within each modality. Random training is reported as mean ± std over
seeds (seed = split seed = model seed). Times are wall-clock seconds of each
fit on ``--threads`` torch threads, with ``os.getloadavg()`` before and after.
"""
from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "dm2c.json"
CBMC_FILE = "CITE_CBMC_counts_top2000.h5"
VARIANTS = {"dm2c": {}, "dm2c_without_anchors": {"anchors": "none"}, "dm2c_readout_ot": {"readout": "ot"},
            "dm2c_readout_matched": {"readout": "matched"}}
VARIANT_NAMES = {"dm2c": "DM2C", "dm2c_without_anchors": "DM2C, anchors='none' (no GW anchors)",
                 "dm2c_readout_ot": "DM2C, readout='ot' (B moved onto A before k-means)",
                 "dm2c_readout_matched": "DM2C, readout='matched' (k-means per modality, centres paired)"}


def _summary(values):
    values = np.asarray(values, dtype=float)
    return {"mean": round(float(values.mean()), 6), "std": round(float(values.std()), 6),
            "median": round(float(np.median(values)), 6), "values": [round(float(v), 4) for v in values]}


def _scores(y_a, y_b, labels_a, labels_b):
    from coclust_deep.metrics import accuracy, nmi

    y, pred = np.r_[y_a, y_b], np.r_[labels_a, labels_b]
    modality = np.r_[np.zeros(len(y_a), int), np.ones(len(y_b), int)]
    return {"nmi": nmi(y, pred), "acc_shared_mapping": accuracy(y, pred), "nmi_with_modality": nmi(modality, pred),
            "nmi_a": nmi(y_a, labels_a), "nmi_b": nmi(y_b, labels_b)}


def _kmeans(X, k, seed):
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed).fit_predict(X)


def _oracle_matched_nmi(pred_a, pred_b, y_a, y_b):
    """NMI on all cells of two separate partitions, B's clusters renamed to A's by a matching that reads the labels.

    Each cluster's label profile (share of each class) is compared across the
    halves and one Hungarian matching maximises the agreement: the best any
    method that clusters each modality on its own and then matches the
    clusters could do. A reference, not a method (it needs the labels).
    """
    from scipy.optimize import linear_sum_assignment

    from coclust_deep.metrics import nmi

    classes = np.unique(np.r_[y_a, y_b])
    k = max(pred_a.max(), pred_b.max()) + 1

    def profiles(pred, y):
        table = np.array([[np.sum((pred == c) & (y == t)) for t in classes] for c in range(k)], dtype=float)
        return table / np.maximum(table.sum(axis=1, keepdims=True), 1.0)

    rows, cols = linear_sum_assignment(-(profiles(pred_b, y_b) @ profiles(pred_a, y_a).T))
    rename = np.arange(k)
    rename[rows] = cols
    return nmi(np.r_[y_a, y_b], np.r_[pred_a, rename[pred_b]])


def load_cbmc(data_dir):
    import h5py

    path = Path(data_dir) / CBMC_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; pass --data-dir (or set COCLUST_DEEP_DATA) to the folder "
                                f"holding {CBMC_FILE} (in the repository layout: --data-dir ../shared/data).")
    with h5py.File(path, "r") as f:
        return f["X"][:].astype(np.float32), f["ADT_X"][:].astype(np.float32), f["Y"][:].astype(np.int64)


def _log_cp10k(counts):
    return np.log1p(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0) * 1e4)


def _rna_pcs(counts, seed):
    from sklearn.decomposition import PCA

    logged = _log_cp10k(counts)
    return PCA(50, random_state=seed).fit_transform((logged - logged.mean(0)) / (logged.std(0) + 1e-6))


def _standardise(X):
    return (X - X.mean(0)) / (X.std(0) + 1e-6)


def _naive_union(counts_a, protein_b, y_a, y_b, k, seed):
    """k-means on both halves stacked in one feature table (missing modality 0): NMI with labels and modality."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    logged = _log_cp10k(counts_a)
    union = np.zeros((len(y_a) + len(y_b), logged.shape[1] + protein_b.shape[1]), dtype=np.float64)
    union[:len(y_a), :logged.shape[1]] = logged
    union[len(y_a):, logged.shape[1]:] = protein_b
    pcs = PCA(50, random_state=seed).fit_transform(_standardise(union))
    pred = KMeans(k, n_init=10, random_state=seed).fit_predict(pcs)
    scores = _scores(y_a, y_b, pred[:len(y_a)], pred[len(y_a):])
    return scores["nmi"], scores["nmi_with_modality"]


def run_case(X_a, X_b, y_a, y_b, k, seed, fast, params=None, threads=None):
    import torch

    from coclust_deep.deep import DM2C

    if threads is not None:  # a worker process of --jobs
        torch.set_num_threads(threads)
    kw = {"pretrain_epochs": 3, "epochs": 3} if fast else {}
    kw.update(params or {})
    before = os.getloadavg()
    start = time.perf_counter()
    model = DM2C(k, random_state=seed, verbose=False, **kw).fit(X_a, X_b)
    seconds = time.perf_counter() - start
    out = _scores(y_a, y_b, model.labels_a_, model.labels_b_)
    out.update(fit_seconds=seconds, loadavg_before=before, loadavg_after=os.getloadavg(),
               likelihoods=model.likelihoods_, final_cycle=[model.history_["cycle_a"][-1], model.history_["cycle_b"][-1]])
    return out


def _split(n, seed):
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def cbmc_baselines(counts, protein, y, seed):
    """The k-means references on the split of ``seed`` (the same split its DM2C fit sees)."""
    k = int(np.unique(y).size)
    half_a, half_b = _split(len(y), seed)
    from coclust_deep.metrics import nmi

    pcs = _rna_pcs(counts, seed)
    union_nmi, union_modality = _naive_union(counts[half_a], protein[half_b], y[half_a], y[half_b], k, seed)
    pred_a, pred_b = _kmeans(pcs[half_a], k, seed), _kmeans(protein[half_b], k, seed)
    return {
        "kmeans_naive_union": union_nmi, "kmeans_naive_union_nmi_with_modality": union_modality,
        "kmeans_protein_half": nmi(y[half_b], pred_b),
        "kmeans_rna_half": nmi(y[half_a], pred_a),
        "kmeans_each_half_label_matched": _oracle_matched_nmi(pred_a, pred_b, y[half_a], y[half_b]),
        "paired_oracle_kmeans": nmi(y, _kmeans(np.hstack([_standardise(pcs), _standardise(protein)]), k, seed)),
    }


def cbmc_data(data_dir, seed):
    """The CBMC split of ``seed``: ``(RNA counts of half A, proteins of half B, y_a, y_b)``."""
    counts, protein, y = load_cbmc(data_dir)
    half_a, half_b = _split(len(y), seed)
    return counts[half_a], protein[half_b], y[half_a], y[half_b]


def digits_data(seed):
    from coclust_deep.datasets import make_unpaired_digits

    return make_unpaired_digits(10, random_state=seed)


def _case_fit(case, data_dir, seed, fast, variant, threads):
    """One DM2C fit of ``variant`` on ``case``'s data of ``seed`` (a picklable job for the process pool)."""
    X_a, X_b, y_a, y_b = cbmc_data(data_dir, seed) if case == "cbmc" else digits_data(seed)
    k = int(np.unique(np.r_[y_a, y_b]).size)
    out = run_case(X_a, X_b, y_a, y_b, k, seed, fast, VARIANTS[variant], threads)
    print(f"{case} {variant} seed {seed}: {out}", flush=True)
    return out


def bench_cases(cases, data_dir, seeds, fast, variants=("dm2c",), jobs=1, threads=1):
    """Every (case, variant, seed) fit, ``jobs`` at a time in worker processes; the results per case."""
    jobs_list = [(case, variant, seed) for case in cases for variant in variants for seed in seeds]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            futures = [pool.submit(_case_fit, case, data_dir, seed, fast, variant, threads)
                       for case, variant, seed in jobs_list]
            fits = [f.result() for f in futures]
    else:
        fits = [_case_fit(case, data_dir, seed, fast, variant, None) for case, variant, seed in jobs_list]
    results = {}
    for case in cases:
        runs = {variant: [fit for (c, v, _), fit in zip(jobs_list, fits) if c == case and v == variant]
                for variant in variants}
        if case == "cbmc":
            counts, protein, y = load_cbmc(data_dir)
            baselines = [cbmc_baselines(counts, protein, y, seed) for seed in seeds]
            n_a, n_b = (len(half) for half in _split(len(y), seeds[0]))
        else:
            baselines = []
            _, _, y_a, y_b = digits_data(seeds[0])
            y, n_a, n_b = np.r_[y_a, y_b], len(y_a), len(y_b)
        results[case] = _collect(runs, baselines, int(np.unique(y).size), n_a=n_a, n_b=n_b)
    return results


def _collect(runs, baselines, k, **sizes):
    """``runs``: ``{variant: [one fit per seed]}``; the defaults' runs under ``runs``, the others' in theirs."""
    keys = ("nmi", "acc_shared_mapping", "nmi_with_modality", "nmi_a", "nmi_b", "fit_seconds")
    out = {"n_clusters_given": k, **sizes}
    for variant, variant_runs in runs.items():
        out[variant] = {key: _summary([r[key] for r in variant_runs]) for key in keys}
    out["runs"] = runs["dm2c"]
    out.update({f"runs_{variant}": variant_runs for variant, variant_runs in runs.items() if variant != "dm2c"})
    if baselines:
        out["baselines"] = {key: _summary([b[key] for b in baselines]) for key in baselines[0]}
    return out


def _table(results):
    lines = ["| data (k given) | method | NMI | ACC (shared mapping) | NMI with modality | fit s |",
             "|---|---|---|---|---|---|"]
    cell = lambda s: f"{s['mean']:.3f} ± {s['std']:.3f}"  # noqa: E731
    for case, res in results["cases"].items():
        for variant, name in VARIANT_NAMES.items():
            if variant not in res:
                continue
            d = res[variant]
            lines.append(f"| {case} (k={res['n_clusters_given']}) | {name} | {cell(d['nmi'])} | "
                         f"{cell(d['acc_shared_mapping'])} | {cell(d['nmi_with_modality'])} | "
                         f"{d['fit_seconds']['mean']:.0f} |")
        for name, s in res.get("baselines", {}).items():
            lines.append(f"| {case} (k={res['n_clusters_given']}) | {name} (NMI on its cells) | {cell(s)} | | | |")
    return "\n".join(lines)


def update_baselines(data_dir, seeds, out):
    """Put the CBMC references of ``seeds`` into the cbmc case of the results in ``out``; DM2C runs stay."""
    results = json.loads(out.read_text())
    case = results["cases"]["cbmc"]
    if sorted(seeds) != sorted(results["seeds"]):
        raise ValueError(f"--seeds {seeds} differ from the seeds of the DM2C runs in {out}, {results['seeds']}.")
    counts, protein, y = load_cbmc(data_dir)
    rows = [cbmc_baselines(counts, protein, y, seed) for seed in results["seeds"]]
    case["baselines"] = {key: _summary([r[key] for r in rows]) for key in rows[0]}
    out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(_table(results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COCLUST_DEEP_DATA", "../shared/data"))
    parser.add_argument("--cases", nargs="+", default=["cbmc", "digits"], choices=["cbmc", "digits"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each fit")
    parser.add_argument("--jobs", type=int, default=1, help="fits run at once, each in its own process")
    parser.add_argument("--variants", nargs="+", default=["dm2c"], choices=list(VARIANTS),
                        help="dm2c: the defaults; dm2c_without_anchors: the ablation anchors='none'; "
                             "dm2c_readout_ot: readout='ot'; dm2c_readout_matched: readout='matched'")
    parser.add_argument("--quick", action="store_true", help="one seed, 3+3 epochs (smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--baselines-only", action="store_true",
                        help="recompute only the CBMC k-means references (same seeds and splits) "
                             "into --out's cbmc case")
    args = parser.parse_args(argv)
    if args.baselines_only:
        return update_baselines(args.data_dir, args.seeds, args.out)
    import torch

    torch.set_num_threads(args.threads)
    seeds = args.seeds[:1] if args.quick else args.seeds
    variants = ["dm2c", *[v for v in args.variants if v != "dm2c"]]
    results = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "threads": args.threads, "jobs": args.jobs, "cpus": os.cpu_count()},
               "seeds": seeds, "quick": args.quick, "loadavg_before": os.getloadavg(),
               "cases": bench_cases(args.cases, args.data_dir, seeds, args.quick, variants, args.jobs, args.threads)}
    results["loadavg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(_table(results))


if __name__ == "__main__":
    main()
