"""tl.gene_modules / tl.score_modules: gene clusters as ranked modules, top genes and scores."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coclust_deep import tl


def _planted(sparse=False, seed=0):
    """Cell cluster k over-expresses gene module k (3 x 3 diagonal), plus a flat fourth gene block.

    Values are 10 + Gaussian noise (sd 1); within module k, gene ``m{k}_g{j}``
    is raised by 4 + 6 / (1 + j), so the expected ranking inside each module is known.
    """
    rng = np.random.default_rng(seed)
    cells = np.repeat([0, 1, 2], [80, 60, 40])
    genes = np.repeat([0, 1, 2, 3], [8, 8, 8, 6])
    mean = np.full((180, 30), 10.0)
    for j in range(24):
        mean[cells == genes[j], j] += 4.0 + 6.0 / (1 + j % 8)  # gene j % 8 == 0 is the strongest of its module
    X = rng.normal(mean, 1.0)
    adata = ad.AnnData(sp.csr_matrix(X) if sparse else X)
    adata.var_names = [f"m{g}_g{j % 8}" if g < 3 else f"flat{j}" for j, g in enumerate(genes)]
    adata.obs["cell_type"] = pd.Categorical(np.array(["A", "B", "C"])[cells])
    adata.obs["truth"], adata.var["truth"] = cells.astype(str), genes.astype(str)
    return adata


@pytest.fixture
def fitted():
    adata = _planted()
    tl.lbm(adata, 3, 4, n_init=4, random_state=0)
    return adata


def _module_of(adata, truth):
    """The written gene cluster holding planted gene module ``truth``."""
    (label,) = set(adata.var["lbm"][adata.var["truth"] == truth])
    return label


def test_top_genes_follow_the_planted_strength(fitted):
    from scipy.stats import spearmanr

    tl.gene_modules(fitted, "lbm", n_top=3)
    table = fitted.uns["lbm"]["gene_modules"]
    for truth in "012":
        module = _module_of(fitted, truth)
        top = fitted.uns["lbm"]["module_genes"][module]
        assert len(top) == 3 and top[0] == f"m{truth}_g0" and all(g.startswith(f"m{truth}_") for g in top)
        ranked = table[(table["gene_cluster"] == module) & table["top_cell_cluster"]]
        strength_order = ranked["gene"].str[-1].astype(int)  # planted rank j of each gene, in ranked order
        assert spearmanr(ranked["rank"], strength_order)[0] > 0.5


def test_top_cell_cluster_is_the_planted_one(fitted):
    tl.gene_modules(fitted, "lbm")
    for truth in "012":
        cells = fitted.obs["lbm"][fitted.obs["truth"] == truth].unique()
        assert fitted.uns["lbm"]["module_top_cell_cluster"][_module_of(fitted, truth)] == cells[0]


def test_table_is_tidy_and_complete(fitted):
    tl.gene_modules(fitted, "lbm")
    table = fitted.uns["lbm"]["gene_modules"]
    assert list(table.columns) == ["gene_cluster", "cell_cluster", "rank", "gene", "score", "mean_in", "mean_out",
                                   "log2fc", "frac_in", "frac_out", "top_cell_cluster"]
    assert len(table) == 30 * 3  # every clustered gene, once per cell cluster
    assert table.groupby("gene_cluster", observed=True)["top_cell_cluster"].sum().eq(
        table.groupby("gene_cluster", observed=True)["gene"].nunique()).all()
    assert np.isfinite(table[["score", "mean_in", "mean_out", "log2fc"]].to_numpy()).all()
    for _, group in table.groupby(["gene_cluster", "cell_cluster"], observed=True):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["score"].is_monotonic_decreasing


def test_sparse_input_gives_the_same_table():
    dense, sparse = _planted(), _planted(sparse=True)
    for adata in (dense, sparse):
        tl.lbm(adata, 3, 4, n_init=4, random_state=0)
        tl.gene_modules(adata, "lbm")
    pd.testing.assert_frame_equal(dense.uns["lbm"]["gene_modules"], sparse.uns["lbm"]["gene_modules"])


def test_signed_data_has_no_fold_change(fitted):
    fitted.layers["centred"] = fitted.X - fitted.X.mean(axis=0)
    tl.gene_modules(fitted, "lbm", layer="centred")
    table = fitted.uns["lbm"]["gene_modules"]
    assert table["log2fc"].isna().all() and np.isfinite(table["score"]).all()


def test_round_trip_and_dotplot(fitted, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import scanpy as sc

    tl.gene_modules(fitted, "lbm", n_top=2)
    fitted.write_h5ad(tmp_path / "modules.h5ad")
    back = ad.read_h5ad(tmp_path / "modules.h5ad")
    pd.testing.assert_frame_equal(back.uns["lbm"]["gene_modules"], fitted.uns["lbm"]["gene_modules"])
    axes = sc.pl.dotplot(back, back.uns["lbm"]["module_genes"], groupby="lbm", show=False)
    assert axes["mainplot_ax"].get_xticklabels()


def test_input_is_not_modified(fitted):
    X = fitted.X.copy()
    obs = fitted.obs.copy()
    tl.gene_modules(fitted, "lbm")
    np.testing.assert_array_equal(fitted.X, X)
    pd.testing.assert_frame_equal(fitted.obs, obs)


def test_copy_leaves_input_untouched(fitted):
    out = tl.gene_modules(fitted, "lbm", copy=True)
    assert "gene_modules" in out.uns["lbm"] and "gene_modules" not in fitted.uns["lbm"]


def test_rerunning_the_tool_drops_stale_modules(fitted):
    tl.gene_modules(fitted, "lbm")
    tl.lbm(fitted, 3, 4, n_init=2, random_state=1)
    assert "gene_modules" not in fitted.uns["lbm"]


def test_score_modules_scores_the_planted_cells_highest(fitted):
    fitted.raw = None
    tl.gene_modules(fitted, "lbm", score=True, ctrl_size=6, n_bins=5)
    for truth in "012":
        column = f"lbm_module_{_module_of(fitted, truth)}"
        means = fitted.obs.groupby("truth")[column].mean()
        assert means.idxmax() == truth
    assert set(fitted.uns["lbm"]["module_scores"].values()) <= set(fitted.obs.columns)


def test_score_modules_all_genes_and_overwrite_protection(fitted):
    fitted.obs["lbm_module_0"] = 1.0  # a user's column
    with pytest.raises(ValueError, match="overwrite=True"):
        tl.score_modules(fitted, "lbm", genes="all", ctrl_size=6, n_bins=5)
    tl.score_modules(fitted, "lbm", genes="all", key_added="mod_", ctrl_size=6, n_bins=5)
    assert {f"mod_{m}" for m in fitted.var["lbm"].cat.categories} <= set(fitted.obs.columns)


def test_score_modules_refused_on_a_taken_column_writes_nothing(fitted):
    fitted.obs["lbm_module_0"] = 1.0  # a user's column
    before = set(fitted.uns["lbm"])
    with pytest.raises(ValueError, match="overwrite=True"):
        tl.score_modules(fitted, "lbm", n_top=3)
    assert set(fitted.uns["lbm"]) == before  # no gene modules left behind by the refused call

def test_bad_input_raises(fitted):
    with pytest.raises(KeyError, match="no co-clustering result 'nope'"):
        tl.gene_modules(fitted, "nope")
    with pytest.raises(ValueError, match="n_top"):
        tl.gene_modules(fitted, "lbm", n_top=0)
    with pytest.raises(ValueError, match="genes must be"):
        tl.score_modules(fitted, "lbm", genes="some")
    with pytest.raises(TypeError, match="score=True"):
        tl.gene_modules(fitted, "lbm", ctrl_size=5)


def test_a_large_offset_does_not_change_the_ranking(fitted):
    tl.gene_modules(fitted, "lbm")
    fitted.layers["offset"] = fitted.X + 1e8  # E[x^2] - E[x]^2 would lose every digit here
    shifted = tl.gene_modules(fitted, "lbm", layer="offset", copy=True).uns["lbm"]["gene_modules"]
    table = fitted.uns["lbm"]["gene_modules"]
    assert shifted["gene"].tolist() == table["gene"].tolist()
    np.testing.assert_allclose(shifted["score"], table["score"], rtol=1e-5)


def test_rerunning_the_tool_drops_stale_module_scores(fitted):
    fitted.raw = None
    tl.score_modules(fitted, "lbm", ctrl_size=6, n_bins=5)
    tl.lbm(fitted, 3, 2, n_init=2, random_state=1)
    assert not any(c.startswith("lbm_module_") for c in fitted.obs.columns)
    tl.score_modules(fitted, "lbm", ctrl_size=6, n_bins=5)  # no stale columns left to refuse over
    assert {f"lbm_module_{m}" for m in fitted.uns["lbm"]["module_scores"]} <= set(fitted.obs.columns)


def test_labels_rewritten_as_strings_are_read_as_categories(fitted):
    expected = tl.gene_modules(fitted, "lbm", copy=True).uns["lbm"]["module_genes"]
    fitted.obs["lbm"] = fitted.obs["lbm"].astype(str)
    tl.gene_modules(fitted, "lbm")
    assert fitted.uns["lbm"]["module_genes"] == expected
    assert not isinstance(fitted.obs["lbm"].dtype, pd.CategoricalDtype)  # left as the user wrote it


def test_score_modules_use_raw_without_raw_raises(fitted):
    fitted.raw = None
    with pytest.raises(ValueError, match="adata.raw is None"):
        tl.score_modules(fitted, "lbm", use_raw=True)


def test_biclusters_key_says_what_it_holds():
    adata = _planted()
    tl.cocluster(adata, "cheng_church", n_biclusters=2)
    with pytest.raises(KeyError, match=r"holds biclusters from tl.cocluster\(method='cheng_church'\).*"
                                       r"tl.gene_modules needs a co-clustering"):
        tl.gene_modules(adata, "cheng_church")


def test_cells_only_result_says_no_gene_clusters(fitted):
    del fitted.var["lbm"]
    fitted.uns["lbm"]["params"]["tool"] = "deep_cluster"  # a registered tool's result without var[key]
    with pytest.raises(KeyError, match="a clustering of the cells from tl.deep_cluster, without gene clusters"):
        tl.gene_modules(fitted, "lbm")


def test_foreign_obs_column_is_not_a_result():
    adata = _planted()
    adata.obs["leiden"] = adata.obs["truth"]
    with pytest.raises(KeyError, match=r"obs\['leiden'\] is not a coclust_deep result"):
        tl.score_modules(adata, "leiden")
