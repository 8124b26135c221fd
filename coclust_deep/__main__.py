"""Demo: co-cluster scanpy's bundled PBMC data with a latent block model.

``python -m coclust_deep`` (or the ``coclust-deep`` console script) loads
``scanpy.datasets.pbmc68k_reduced()`` (shipped with scanpy, nothing is
downloaded), rebuilds its UMI counts, runs :func:`coclust_deep.tl.lbm` with
its defaults, prints block sizes, ICL, the ARI against ``obs["bulk_labels"]``
and, from :func:`coclust_deep.tl.gene_modules`, the top genes of each gene
cluster in the cell cluster where it is most expressed, and writes the
reordered matrix (cell clusters named by their majority ``bulk_labels``, gene
clusters by their top genes) as a PNG.
"""
from __future__ import annotations

import argparse
import sys
import time

from .datasets import recover_counts
from .lbm._families import FAMILIES

# tl.lbm with its defaults only (nothing tuned to the labels): family="auto", which reads counts and picks
# the Poisson model with cell and gene effects. Of the families run with their defaults on these counts
# (python -m benchmarks.lbm_families, 3 seeds), it agrees best with bulk_labels: see DEMO_CHOICE.
FAMILY = "auto"
DEMO_CHOICE = ("the defaults (Poisson with cell and gene effects; ARI 0.503 +- 0.066 over 3 seeds) over "
               "family='nb' (0.391 +- 0.058)")
# g: the number of annotated bulk_labels types (the one thing the demo takes from the labels, as the
# k-means baseline does); m: the gene clusters of the benchmarks.
N_COL_CLUSTERS = 10


def _count(minimum):
    """An argparse type: an integer >= ``minimum`` (a usage error otherwise, before anything runs)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value
    return parse


def _check_out(parser, path):
    """Refuse an output the figure cannot be written to now, rather than after the fit."""
    import os

    from matplotlib.figure import Figure

    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    supported = Figure().canvas.get_supported_filetypes()
    if suffix not in supported:
        parser.error(f"--out {path!r}: the file name must end with a figure format matplotlib writes "
                     f"({', '.join('.' + s for s in sorted(supported))}).")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        parser.error(f"--out {path!r}: the folder {folder!r} does not exist or is not writable.")


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="coclust-deep",
        description="Co-cluster scanpy's bundled pbmc68k_reduced data with a latent block model.",
    )
    parser.add_argument("--out", default="coclust_deep_demo.png", help="PNG of the reordered matrix.")
    parser.add_argument("--n-row-clusters", type=_count(1), default=None,
                        help="cell clusters g (default: the number of bulk_labels types, 10)")
    parser.add_argument("--n-col-clusters", type=_count(1), default=N_COL_CLUSTERS, help="gene clusters m")
    parser.add_argument("--family", default=FAMILY, choices=("auto",) + FAMILIES,
                        help="LBM family (default: auto)")
    parser.add_argument("--n-init", type=_count(1), default=None, help="starts of the LBM fit (default: tl.lbm's)")
    parser.add_argument("--seed", type=_count(0), default=0, help="random_state of the fit")
    parser.add_argument("--top-genes", type=_count(1), default=5, help="genes listed per gene cluster")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    _check_out(parser, args.out)
    return args


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from tqdm.auto import tqdm

    from . import pl, tl
    from .metrics import ari, nmi

    steps = tqdm(total=4, desc="coclust-deep demo", disable=args.no_progress, file=sys.stderr)
    steps.set_postfix_str("loading pbmc68k_reduced")
    import scanpy as sc

    adata = sc.datasets.pbmc68k_reduced()
    steps.update()

    adata.layers["counts"] = recover_counts(adata)
    g = adata.obs["bulk_labels"].nunique() if args.n_row_clusters is None else args.n_row_clusters
    steps.set_postfix_str(f"fitting LBM g={g} m={args.n_col_clusters}")
    start = time.perf_counter()
    options = {} if args.n_init is None else {"n_init": args.n_init}
    tl.lbm(adata, g, args.n_col_clusters, layer="counts", family=args.family, random_state=args.seed, **options)
    fit_seconds = time.perf_counter() - start
    steps.update()

    steps.set_postfix_str("summarising")
    result = adata.uns["lbm"]
    truth = adata.obs["bulk_labels"]
    cells = adata.obs["lbm"]
    majority = pd.crosstab(cells, truth).idxmax(axis=1)
    tl.gene_modules(adata, "lbm", n_top=args.top_genes)
    steps.update()

    steps.set_postfix_str("plotting")
    ax = pl.blocks(adata, key="lbm", log=True, cell_names="bulk_labels", top_genes=3, show=False)
    ax.figure.savefig(args.out, dpi=120, bbox_inches="tight")
    steps.update()
    steps.close()

    print(f"pbmc68k_reduced: {adata.n_obs} cells x {adata.n_vars} genes, UMI counts rebuilt from adata.raw")
    with_effects = result["family"] == "nb" or (result["family"] == "poisson" and result["params"]["poisson_effects"])
    effects = ", with cell and gene effects" if with_effects else ""
    print(
        f"tl.lbm defaults: family={args.family!r} -> {result['family']}{effects}, g={g}, "
        f"m={args.n_col_clusters}, n_init={result['params']['n_init']}, random_state={args.seed}: "
        f"{result['n_iter']} iterations, {fit_seconds:.1f} s"
    )
    print(f"(chosen as {DEMO_CHOICE}: the better agreement with bulk_labels, defaults only)")
    print(f"ICL {result['icl']:.1f}   ELBO {result['elbo']:.1f}   converged {result['converged']}")
    print(f"ARI vs bulk_labels {ari(truth, cells):.3f}   NMI {nmi(truth, cells):.3f}")
    print("cell clusters, largest first (size, most common bulk label):")
    for name, size in cells.value_counts().reindex(cells.cat.categories).items():
        print(f"  {name:>3}  {size:4d}  {majority[name]}")
    print("gene clusters (size, cell cluster where most expressed, its top genes there by t statistic):")
    sizes = adata.var["lbm"].value_counts()
    for name, names in result["module_genes"].items():
        print(f"  {name:>3}  {sizes[name]:4d}  cells {result['module_top_cell_cluster'][name]}  {', '.join(names)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
