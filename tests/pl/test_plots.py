"""pl.blocks / pl.block_means / pl.icl / pl.convergence render without pyplot state."""
import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import anndata as ad  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from coclust_deep import LatentBlockModel, pl, select_lbm, tl  # noqa: E402
from coclust_deep.datasets import make_lbm  # noqa: E402

PNG_MAGIC = b"\x89PNG"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _fitted(sparse=False):
    X, _, _ = make_lbm(120, 80, 3, 2, family="poisson", sparse=sparse, signal=0.9, random_state=1)
    adata = ad.AnnData(X)
    tl.lbm(adata, 3, 2, n_init=2, max_iter=30)
    return adata


@pytest.mark.parametrize("sparse", [False, True])
def test_blocks_renders_png(sparse, tmp_path):
    adata = _fitted(sparse)
    path = tmp_path / "blocks.png"
    ax = pl.blocks(adata, save=path)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert path.read_bytes()[:4] == PNG_MAGIC
    assert sp.issparse(adata.X) == sparse


def test_blocks_subsamples_rows_keeping_clusters():
    adata = _fitted(sparse=True)
    ax = pl.blocks(adata, max_rows=30, max_cols=20)
    image = ax.get_images()[0].get_array()
    assert image.shape[0] <= 33 and image.shape[1] <= 22  # rounding: a few per cluster
    assert len(ax.get_yticks()) == adata.obs["lbm"].nunique()


def test_blocks_rows_follow_clusters():
    adata = _fitted()
    ax = pl.blocks(adata)
    sizes = adata.obs["lbm"].value_counts().reindex(adata.obs["lbm"].cat.categories).to_numpy()
    boundaries = sorted(line.get_ydata()[0] + 0.5 for line in ax.lines if line.get_ydata()[0] == line.get_ydata()[1])
    np.testing.assert_allclose(boundaries, np.cumsum(sizes)[:-1])


def test_blocks_skips_unassigned_genes():
    X, _, _ = make_lbm(90, 40, 3, 2, family="poisson", signal=0.9, random_state=0)
    adata = ad.AnnData(X)
    adata.var["keep"] = np.arange(40) < 25
    tl.lbm(adata, 3, 2, mask_var="keep", n_init=2, max_iter=30)
    ax = pl.blocks(adata)
    assert ax.get_images()[0].get_array().shape[1] == 25


def test_blocks_draws_into_given_axes():
    adata = _fitted()
    fig, (left, right) = plt.subplots(1, 2)
    assert pl.blocks(adata, ax=right) is right
    assert not left.get_images()


def test_blocks_missing_key_raises():
    adata = _fitted()
    with pytest.raises(KeyError, match="tl.lbm"):
        pl.blocks(adata, key="nope")


def test_show_true_returns_none(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(True))
    assert pl.blocks(_fitted(), show=True) is None
    assert shown == [True]


def test_default_follows_scanpy_autoshow(monkeypatch):
    import scanpy as sc

    adata = _fitted()
    shown = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(True))
    sc.settings.autoshow = True  # restored by the no_autoshow fixture
    assert pl.blocks(adata) is None and shown == [True]
    sc.settings.autoshow = False  # restored by the no_autoshow fixture
    assert isinstance(pl.blocks(adata), matplotlib.axes.Axes) and shown == [True]


def test_given_axes_are_not_shown_by_default(monkeypatch):
    import scanpy as sc

    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() called on the caller's axes"))
    sc.settings.autoshow = True  # restored by the no_autoshow fixture
    fig, (left, right) = plt.subplots(1, 2)
    adata = _fitted()
    assert pl.block_means(adata, ax=left) is left and pl.blocks(adata, ax=right) is right


def test_save_suffix_goes_to_scanpy_figdir(tmp_path):
    import scanpy as sc

    previous = sc.settings.figdir
    sc.settings.figdir = tmp_path
    try:
        pl.block_means(_fitted(), save="_demo.png")
    finally:
        sc.settings.figdir = previous
    assert (tmp_path / "block_means_demo.png").read_bytes()[:4] == PNG_MAGIC


def test_block_means_shows_uns_means():
    adata = _fitted()
    ax = pl.block_means(adata)
    rows = [int(c) for c in adata.obs["lbm"].cat.categories]  # a cluster left empty has no category
    cols = [int(c) for c in adata.var["lbm"].cat.categories]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), adata.uns["lbm"]["block_means"][np.ix_(rows, cols)])


def test_block_means_computed_for_results_without_them():
    X, _, _ = make_lbm(90, 40, 3, 3, family="poisson", signal=0.9, random_state=0)
    adata = ad.AnnData(X)
    tl.cocluster(adata, "modularity", 3, 3, n_init=1)
    means = pl.block_means(adata, key="modularity").get_images()[0].get_array()
    rows = adata.obs["modularity"].cat.codes.to_numpy()
    cols = adata.var["modularity"].cat.codes.to_numpy()
    assert means[0, 0] == pytest.approx(X[rows == 0][:, cols == 0].mean())


def test_icl_from_table_and_from_adata():
    X, _, _ = make_lbm(90, 40, 3, 2, family="poisson", signal=0.9, random_state=0)
    _, table = select_lbm(X, [2, 3], [1, 2, 3], n_init=1, max_iter=30, random_state=0)
    ax = pl.icl(table)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), table["icl"].to_numpy().reshape(2, 3))
    adata = ad.AnnData(X)
    tl.select_lbm(adata, [2, 3], [1, 2, 3], n_init=1, max_iter=30)
    ax = pl.icl(adata)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), table["icl"].to_numpy().reshape(2, 3))


def test_icl_rejects_other_objects():
    with pytest.raises(TypeError, match="select_lbm"):
        pl.icl([1, 2, 3])


def test_convergence_from_model_adata_and_dict():
    X, _, _ = make_lbm(60, 30, 2, 2, family="poisson", random_state=0)
    model = LatentBlockModel(2, 2, n_init=1, random_state=0).fit(X)
    line = pl.convergence(model).get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), model.elbo_history_)
    adata = _fitted()
    np.testing.assert_allclose(pl.convergence(adata).get_lines()[0].get_ydata(), adata.uns["lbm"]["elbo_history"])
    ax = pl.convergence({"reconstruction": [3.0, 2.0, 1.5], "clustering": [1.0, 0.5, 0.4]}, logy=True)
    assert len(ax.get_lines()) == 2


def test_convergence_unfitted_model_raises():
    with pytest.raises(ValueError, match="fit it first"):
        pl.convergence(LatentBlockModel())


def test_pbmc68k_blocks_from_sparse_raw(tmp_path):
    sc = pytest.importorskip("scanpy")
    adata = sc.datasets.pbmc68k_reduced()
    tl.lbm(adata, 4, 3, use_raw=True, family="poisson", poisson_effects=True, n_init=1)
    path = tmp_path / "pbmc.png"
    pl.blocks(adata, max_rows=200, save=path)
    assert Path(path).read_bytes()[:4] == PNG_MAGIC


def _annotated():
    """Counts with unequal planted clusters, a cell-type column and gene names."""
    X, rows, cols = make_lbm(150, 60, 3, 3, family="poisson", signal=0.9, random_state=2)
    adata = ad.AnnData(X)
    adata.obs["cell_type"] = np.array(["T", "B", "NK"])[rows]
    adata.var_names = [f"gene{j}" for j in range(60)]
    tl.lbm(adata, 3, 3, n_init=2, random_state=0)
    return adata


def test_colour_bars_are_labelled():
    adata = _annotated()
    ax = pl.blocks(adata, log=True)
    assert ax.child_axes[0].get_ylabel() == "log1p(X)"
    assert pl.block_means(adata).child_axes[0].get_ylabel() == "block mean"
    assert pl.block_means(adata, colorbar_label="rate").child_axes[0].get_ylabel() == "rate"


def test_cell_clusters_named_by_majority_label():
    adata = _annotated()
    ax = pl.blocks(adata, cell_names="cell_type")
    for tick, cluster in zip(ax.get_yticklabels(), adata.obs["lbm"].cat.categories):
        cells = adata.obs.loc[adata.obs["lbm"] == cluster, "cell_type"]
        majority = cells.value_counts()
        assert tick.get_text() == f"{cluster} {majority.index[0]} ({majority.iloc[0] / len(cells):.0%})"
    labels = [t.get_text() for t in pl.block_means(adata, cell_names="cell_type").get_yticklabels()]
    assert all(" T " in x or " B " in x or " NK " in x for x in labels)
    with pytest.raises(KeyError, match="cell_names"):
        pl.blocks(adata, cell_names="nope")


def test_gene_clusters_show_their_top_genes():
    adata = _annotated()
    tl.gene_modules(adata, "lbm", n_top=2)
    ax = pl.block_means(adata, top_genes=2)
    for tick, (module, genes) in zip(ax.get_xticklabels(), adata.uns["lbm"]["module_genes"].items()):
        assert tick.get_text().startswith(f"{module} (") and tick.get_text().endswith(", ".join(genes))


def test_top_genes_without_stored_modules_leave_adata_alone():
    adata = _annotated()
    before = set(adata.uns["lbm"])
    ax = pl.blocks(adata, top_genes=1)
    assert ":" in ax.get_xticklabels()[0].get_text()
    assert set(adata.uns["lbm"]) == before


def test_hide_and_shrink_gene_clusters():
    adata = _annotated()
    sizes = adata.var["lbm"].value_counts()
    ax = pl.blocks(adata, hide_gene_clusters="largest")
    assert ax.get_images()[0].get_array().shape[1] == 60 - sizes.max()
    assert len(ax.get_xticks()) == 2
    ax = pl.blocks(adata, genes_per_cluster=4)
    assert ax.get_images()[0].get_array().shape[1] == 12
    ax = pl.block_means(adata, hide_gene_clusters=["1"])
    assert ax.get_images()[0].get_array().shape == (3, 2)
    with pytest.raises(ValueError, match="every gene cluster"):
        pl.blocks(adata, hide_gene_clusters=["0", "1", "2"])
    with pytest.raises(ValueError, match="not gene clusters"):
        pl.blocks(adata, hide_gene_clusters=["7"])


def test_tight_layout_keeps_colour_bars_off_the_neighbour():
    import warnings

    adata = _annotated()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "not compatible with tight_layout"
        pl.block_means(adata, ax=left)
        pl.blocks(adata, ax=right)
        fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left_extent = left.get_tightbbox(renderer)  # includes its colour bar (an inset)
    right_box = right.get_window_extent(renderer)
    assert left_extent.x1 <= right_box.x0
    assert left.child_axes and right.child_axes
    assert left.get_position().width > 0.2  # the colour bar did not eat the axes


def test_save_logs_the_path_as_scanpy(tmp_path, scanpy_log):
    import scanpy as sc

    previous = sc.settings.figdir
    sc.settings.figdir = tmp_path
    try:
        pl.blocks(_annotated(), save="_pbmc.pdf")
    finally:
        sc.settings.figdir = previous
    assert (tmp_path / "blocks_pbmc.pdf").exists()
    assert f"saving figure to file {tmp_path / 'blocks_pbmc.pdf'}" in scanpy_log.getvalue()


def _image(ax):
    return np.asarray(ax.get_images()[0].get_array())


def test_block_means_follow_renamed_cell_clusters():
    adata = _fitted()
    before = _image(pl.block_means(adata))
    adata.obs["lbm"] = adata.obs["lbm"].cat.rename_categories(["A", "B", "C"])
    ax = pl.block_means(adata)
    np.testing.assert_allclose(_image(ax), before)
    assert [t.get_text().split()[0] for t in ax.get_yticklabels()] == ["A", "B", "C"]


def test_block_means_follow_renamed_gene_clusters():
    adata = _fitted()
    before = _image(pl.block_means(adata))
    adata.var["lbm"] = adata.var["lbm"].cat.rename_categories(["x", "y"])
    np.testing.assert_allclose(_image(pl.block_means(adata)), before)


def test_block_means_ignore_an_unused_category():
    adata = _fitted()
    before = _image(pl.block_means(adata))
    adata.obs["lbm"] = adata.obs["lbm"].cat.add_categories(["extra"])
    np.testing.assert_allclose(_image(pl.block_means(adata)), before)


def test_block_means_refuse_categories_that_cannot_match():
    adata = _fitted()
    adata.uns["lbm"]["block_means"] = np.vstack([adata.uns["lbm"]["block_means"]] * 2)  # 6 stored clusters
    adata.obs["lbm"] = adata.obs["lbm"].cat.rename_categories(["A", "B", "C"])
    with pytest.raises(ValueError, match="block_means'\\] has 6 cluster\\(s\\).*rerun the tool"):
        pl.block_means(adata)


@pytest.mark.parametrize("plot", [pl.blocks, pl.block_means])
def test_hiding_the_only_gene_cluster_raises(plot):
    X, _, _ = make_lbm(60, 30, 3, 2, family="poisson", signal=0.9, random_state=1)
    adata = ad.AnnData(X)
    tl.lbm(adata, 3, 1, n_init=1, max_iter=10)
    with pytest.raises(ValueError, match="every gene cluster"):
        plot(adata, hide_gene_clusters="largest")


@pytest.mark.parametrize("plot", [pl.blocks, pl.block_means])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(top_genes=1.5), TypeError, r"'top_genes' parameter of pl\.\w+ must be an int >= 0"),
    (dict(top_genes="a"), TypeError, r"'top_genes' parameter of pl\.\w+ must be an int >= 0"),
    (dict(top_genes=-1), ValueError, r"'top_genes' parameter of pl\.\w+ must be an int >= 0"),
    (dict(hide_gene_clusters=5), TypeError, "hide_gene_clusters must be None, 'largest'"),
])
def test_annotation_arguments_are_checked(plot, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot(_fitted(), **kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(vmin="a"), TypeError, r"'vmin' parameter of pl\.blocks must be None or a finite number"),
    (dict(vmax=float("nan")), ValueError, r"'vmax' parameter of pl\.blocks must be None or a finite number"),
    (dict(max_rows=0), ValueError, r"'max_rows' parameter of pl\.blocks must be an int >= 1"),
    (dict(max_rows=-1), ValueError, r"'max_rows' parameter of pl\.blocks must be an int >= 1"),
    (dict(max_rows=1.5), TypeError, r"'max_rows' parameter of pl\.blocks must be an int >= 1"),
    (dict(max_cols=True), TypeError, r"'max_cols' parameter of pl\.blocks must be an int >= 1"),
    (dict(genes_per_cluster=0), ValueError, r"'genes_per_cluster' parameter of pl\.blocks must be None or an int >= 1"),
])
def test_blocks_display_arguments_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        pl.blocks(_fitted(), **kwargs)


@pytest.mark.parametrize("plot", ["blocks", "block_means"])
def test_biclusters_key_message_names_tool_and_plot(plot):
    adata = _fitted()
    tl.cocluster(adata, "cheng_church", n_biclusters=2, key_added="cc")
    with pytest.raises(KeyError, match=rf"uns\['cc'\] holds biclusters .*pl.{plot} needs a co-clustering"):
        getattr(pl, plot)(adata, key="cc", show=False)
