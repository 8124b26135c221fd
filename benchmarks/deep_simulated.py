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

from .deep_accuracy import _lognorm, _scores, _timed, markdown, summarise
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


SIMULATORS = {"unbalanced": unbalanced_counts, "markers": marker_counts, "splat": unbalanced_splat}
NOISE = "DeepCoclustering, input_noise="


def methods(noise_levels=(2.5,)):
    """The compared methods: defaults, shared scaling, one row per input noise level, k-means on PCA."""
    return ("DeepCoclustering (defaults)", "DeepCoclustering, feature_scaling='shared'",
            *(f"{NOISE}{float(level):g}" for level in noise_levels), "k-means on PCA50 of log-normalised counts")


def fit(method, X, k, seed, quick=False):
    """Labels of ``method`` on counts ``X`` with k clusters."""
    if method.startswith("k-means"):
        import scanpy as sc
        from sklearn.cluster import KMeans

        adata = _lognorm(X)
        sc.pp.pca(adata, n_comps=50, random_state=seed)
        return KMeans(k, n_init=10, random_state=seed).fit_predict(adata.obsm["X_pca"])
    from coclust_deep.deep import DeepCoclustering

    kw = {"feature_scaling": "shared"} if "shared" in method else {}
    if method.startswith(NOISE):
        kw["input_noise"] = float(method[len(NOISE):])
    if quick:
        kw.update(pretrain_epochs=2, epochs=2)
    return DeepCoclustering(k, random_state=seed, verbose=False, **kw).fit(X).row_labels_


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
            X, labels = simulate(draw)
            k = len(np.unique(labels))
            if entry is None:
                entry = {"shape": list(X.shape), "n_types": k, "per_seed": []}
                results["datasets"][name] = entry
            rows = []
            for method in methods(noise_levels):
                pred, t, cpu = _timed(lambda: fit(method, X, k, draw, quick))
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
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = run(args.draws, threads=args.threads, quick=args.quick, noise_levels=args.input_noise,
                  simulators=args.simulators,
                  on_draw=lambda r: out.write_text(json.dumps(r, indent=2, default=float)))
    print(markdown(results["datasets"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
