"""Deep co-clustering's input choices on simulated cell types: gene scaling and denoising input noise.

Run from the repository root::

    python -m benchmarks.deep_simulated                    # 5 draws, 1 thread
    python -m benchmarks.deep_simulated --quick --draws 0  # smoke run
    python -m benchmarks.deep_simulated --input-noise 0 0.5 1 2.5  # the noise levels compared

Three count simulators, independent of the model, each drawn 5 times (draw d
seeds the simulator and the model):

* ``unbalanced``: :func:`benchmarks.mmdc.unbalanced_counts`, 8 types of
  2-30 % in 4 lineages with their own markers (2500 cells x 400 genes);
* ``markers``: :func:`marker_counts`, 8 types of random shares, each with
  20 marker genes raised 2-4 times over a shared gamma profile (2500 x 500);
* ``splat``: :func:`benchmarks.mmdc.unbalanced_splat`, splat-like counts with
  2000 mostly weak genes, 8 types of 4-30 % in 3 lineages (3000 x 2000).
* ``views``: :func:`rna_protein`, 8 types that need two inputs: the counts
  separate 4 lineages, a 10-feature protein-like row view the two types
  inside each (2500 x 500, view 2500 x 10). It measures what a row view
  adds; its methods are the defaults without and with the view, and k-means
  on 50 PCs without and with the view (each standardised, as
  ``benchmarks.deep_accuracy``'s "PCA50 + ADT" peer).

Methods, all given the true k: ``DeepCoclustering`` with its defaults on the
counts (the encoder input standardised gene by gene), the same with
``feature_scaling="shared"`` (one scale for every gene, MMDC's choice for
counts), the defaults with each ``--input-noise`` level in place of the
default 1.5 (2.5, scDeepCluster's value and the default before, unless told
otherwise), and k-means on 50 PCs of the log-normalised counts. Writes ``benchmarks/results/deep_simulated.json``
(per-draw rows and mean ± std) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

from .deep_accuracy import _lognorm, _scores, _timed, markdown, standardised_side_by_side, summarise
from .mmdc import unbalanced_counts, unbalanced_splat

RESULTS = Path(__file__).resolve().parent / "results" / "deep_simulated.json"


def marker_counts(seed, k=8, n=2500, d=500):
    """k cell types of random shares (Dirichlet, at least 40 % / k each), 20 marker genes each, NB counts."""
    rng = np.random.default_rng(1000 + seed)
    shares = 0.6 * rng.dirichlet(np.full(k, 2.0)) + 0.4 / k
    types = rng.choice(k, size=n, p=shares)
    profile = np.tile(rng.gamma(0.6, 1.0, size=d), (k, 1))
    for t in range(k):
        profile[t, rng.choice(d, 20, replace=False)] *= rng.uniform(2.0, 4.0)
    mean = rng.lognormal(0.0, 0.5, size=n)[:, None] * profile[types]
    return rng.poisson(rng.gamma(3.0, mean / 3.0)).astype(np.float32), types


def rna_protein(seed, k=8, n=2500, d=500):
    """Counts that separate k/2 lineages and a protein-like view that separates the two types inside each.

    Returns ``(X, types, {"protein": view})``. Each lineage raises 20 genes
    2-4 times; each type only 4 genes 1.4 times, so the counts alone barely
    split a lineage. The view (10 features, Gaussian noise of sd 0.8, each
    feature on its own scale) has one lineage marker (+1.5) and one
    type-within-lineage marker (+2) per lineage, and 2 features of noise.
    """
    rng = np.random.default_rng(2000 + seed)
    shares = 0.6 * rng.dirichlet(np.full(k, 2.0)) + 0.4 / k
    types = rng.choice(k, size=n, p=shares)
    profile = np.tile(rng.gamma(0.6, 1.0, size=d), (k, 1))
    for lineage in range(k // 2):
        profile[2 * lineage:2 * lineage + 2, rng.choice(d, 20, replace=False)] *= rng.uniform(2.0, 4.0, size=20)
    for t in range(k):
        profile[t, rng.choice(d, 4, replace=False)] *= 1.4
    mean = rng.lognormal(0.0, 0.5, size=n)[:, None] * profile[types]
    X = rng.poisson(rng.gamma(3.0, mean / 3.0)).astype(np.float32)
    centres = np.zeros((k, 10))
    centres[np.arange(k), np.arange(k) // 2] = 1.5
    centres[np.arange(k), 4 + np.arange(k) // 2] = 2.0 * (np.arange(k) % 2)
    view = (centres[types] + rng.normal(0.0, 0.8, size=(n, 10))) * rng.uniform(0.5, 2.0, size=10)
    return X, types, {"protein": view.astype(np.float32)}


SIMULATORS = {"unbalanced": unbalanced_counts, "markers": marker_counts, "splat": unbalanced_splat,
              "views": rna_protein}
VIEW_METHODS = ("DeepCoclustering (defaults)", "DeepCoclustering (defaults) + protein view",
                "k-means on PCA50 of log-normalised counts", "k-means on PCA50 + protein view")
NOISE = "DeepCoclustering, input_noise="


def methods(noise_levels=(2.5,)):
    """The compared methods: defaults, shared scaling, one row per input noise level, k-means on PCA."""
    return ("DeepCoclustering (defaults)", "DeepCoclustering, feature_scaling='shared'",
            *(f"{NOISE}{float(level):g}" for level in noise_levels), "k-means on PCA50 of log-normalised counts")


def fit(method, X, k, seed, quick=False, views=None):
    """Labels of ``method`` on counts ``X`` (and the row ``views`` its name mentions) with k clusters."""
    views = {name: v for name, v in (views or {}).items() if name in method}
    if method.startswith("k-means"):
        import scanpy as sc
        from sklearn.cluster import KMeans

        adata = _lognorm(X)
        sc.pp.pca(adata, n_comps=50, random_state=seed)
        z = adata.obsm["X_pca"]
        if views:
            z = standardised_side_by_side(z, *views.values())
        return KMeans(k, n_init=10, random_state=seed).fit_predict(z)
    from coclust_deep.deep import DeepCoclustering

    kw = {"feature_scaling": "shared"} if "shared" in method else {}
    if method.startswith(NOISE):
        kw["input_noise"] = float(method[len(NOISE):])
    if quick:
        kw.update(pretrain_epochs=2, epochs=2)
    return DeepCoclustering(k, random_state=seed, verbose=False, **kw).fit(X, row_views=views or None).row_labels_


def run(draws, *, threads=1, quick=False, noise_levels=(2.5,), simulators=tuple(SIMULATORS), on_draw=None):
    import torch

    torch.set_num_threads(threads)
    results = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": threads,
                           "torch": torch.__version__, "quick": quick, "loadavg_before": os.getloadavg()},
               "draws": list(draws), "datasets": {}}
    for name in simulators:
        simulate = SIMULATORS[name]
        entry = None
        for draw in draws:
            X, labels, *views = simulate(draw)
            views = views[0] if views else {}
            k = len(np.unique(labels))
            if entry is None:
                entry = {"shape": list(X.shape), "n_types": k, "per_seed": []}
                results["datasets"][name] = entry
            rows = []
            for method in VIEW_METHODS if views else methods(noise_levels):
                pred, t, cpu = _timed(lambda: fit(method, X, k, draw, quick, views))
                rows.append({"method": method, **_scores(labels, pred), "uses_true_k": True, "seed": draw,
                             "time_s": t, "cpu_s": cpu})
            entry["per_seed"].append(rows)
            entry["summary"] = summarise(entry["per_seed"])
            print(f"{name} draw {draw}: " + ", ".join(f"{r['method']} {r['ari']:.3f}" for r in rows), flush=True)
            results["machine"]["loadavg_after"] = os.getloadavg()
            if on_draw is not None:
                on_draw(results)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2+2 epochs: a smoke run, not a measurement")
    parser.add_argument("--input-noise", nargs="*", type=float, default=[2.5],
                        help="input_noise levels fitted beside the default (1.5)")
    parser.add_argument("--simulators", nargs="+", choices=list(SIMULATORS), default=list(SIMULATORS))
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--merge", action="store_true",
                        help="keep the other simulators' results already in --out (this run's machine goes "
                             "into each re-run simulator's entry)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if args.merge and out.exists() else None

    def write(results):
        if previous is not None:
            for entry in results["datasets"].values():
                entry["machine"] = results["machine"]
            results = {**previous, "datasets": {**previous["datasets"], **results["datasets"]}}
        out.write_text(json.dumps(results, indent=2, default=float))

    results = run(args.draws, threads=args.threads, quick=args.quick, noise_levels=args.input_noise,
                  simulators=args.simulators, on_draw=write)
    print(markdown(results["datasets"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
