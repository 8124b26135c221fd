"""tl.lbm: keys written, dtypes, copy semantics, h5ad round trip, bad input, real data."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coclust_deep import tl
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari
from coclust_deep.tl._utils import labels_to_categorical

FIT = {"n_init": 2, "max_iter": 50}


def _counts_adata(sparse=False, seed=0):
    # full contrast: the default Poisson model has row and column effects, so rows must differ in profile,
    # not only in level (over 2 column clusters, a profile is one ratio)
    X, rows, cols = make_lbm(120, 80, 3, 2, family="poisson", sparse=sparse, signal=1.0, random_state=seed)
    adata = ad.AnnData(X)
    adata.obs["truth"] = pd.Categorical(rows.astype(str))
    adata.var["truth"] = pd.Categorical(cols.astype(str))
    return adata


@pytest.fixture
def counts():
    return _counts_adata()


def test_writes_documented_keys(counts):
    tl.lbm(counts, 3, 2, random_state=0, **FIT)
    assert "lbm" in counts.obs and "lbm" in counts.var
    assert counts.obsm["lbm_row_posterior"].shape == (120, 3)
    assert counts.varm["lbm_column_posterior"].shape == (80, 2)
    expected = {
        "params", "family", "block_params", "block_means", "row_proportions", "column_proportions",
        "icl", "elbo", "elbo_history", "n_iter", "converged", "backend", "n_vars_fitted",
    }
    assert expected <= set(counts.uns["lbm"])
    assert counts.uns["lbm"]["params"]["tool"] == "lbm"
    assert counts.uns["lbm"]["params"]["n_init"] == 2


def test_labels_are_string_categoricals(counts):
    tl.lbm(counts, 3, 2, **FIT)
    for column in (counts.obs["lbm"], counts.var["lbm"]):
        assert isinstance(column.dtype, pd.CategoricalDtype)
        assert all(isinstance(c, str) for c in column.cat.categories)


def test_categories_are_natsorted():
    categorical = labels_to_categorical(np.arange(12)[::-1])
    assert list(categorical.categories) == [str(i) for i in range(12)]  # "10" after "9"


def test_recovers_planted_partition(counts):
    tl.lbm(counts, 3, 2, random_state=0, **FIT)
    assert ari(counts.obs["truth"], counts.obs["lbm"]) == pytest.approx(1.0)
    assert ari(counts.var["truth"], counts.var["lbm"]) == pytest.approx(1.0)


def test_sparse_input_matches_dense():
    dense, sparse = _counts_adata(), _counts_adata(sparse=True)
    assert sp.issparse(sparse.X)
    tl.lbm(dense, 3, 2, **FIT)
    tl.lbm(sparse, 3, 2, **FIT)
    assert sp.issparse(sparse.X)
    assert ari(dense.obs["lbm"], sparse.obs["lbm"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("family", "make"),
    [
        ("poisson", lambda: make_lbm(50, 30, 2, 2, family="poisson", random_state=1)[0]),
        ("bernoulli", lambda: make_lbm(50, 30, 2, 2, family="bernoulli", random_state=1)[0]),
        ("gaussian", lambda: make_lbm(50, 30, 2, 2, family="gaussian", random_state=1)[0]),
    ],
)
def test_auto_family_picks_from_data(family, make):
    adata = ad.AnnData(make())
    tl.lbm(adata, 2, 2, **FIT)
    assert adata.uns["lbm"]["family"] == family
    assert adata.uns["lbm"]["params"]["family_requested"] == "auto"


def test_copy_true_leaves_input_untouched(counts):
    before_obs, before_uns = list(counts.obs.columns), set(counts.uns)
    X_before = counts.X.copy()
    result = tl.lbm(counts, 3, 2, copy=True, **FIT)
    assert isinstance(result, ad.AnnData) and result is not counts
    assert "lbm" in result.obs
    assert list(counts.obs.columns) == before_obs and set(counts.uns) == before_uns
    assert "lbm_row_posterior" not in counts.obsm
    np.testing.assert_array_equal(counts.X, X_before)


def test_copy_false_returns_none_and_keeps_x(counts):
    X = counts.X
    X_before = X.copy()
    assert tl.lbm(counts, 3, 2, **FIT) is None
    assert counts.X is X
    np.testing.assert_array_equal(counts.X, X_before)


def _assert_same(a, b, path="uns"):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}/{k}")
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=path)


def test_h5ad_round_trip(counts, tmp_path):
    tl.lbm(counts, 3, 2, **FIT)
    path = tmp_path / "lbm.h5ad"
    counts.write_h5ad(path)
    back = ad.read_h5ad(path)
    _assert_same(counts.uns["lbm"], back.uns["lbm"])
    assert back.obs["lbm"].equals(counts.obs["lbm"])
    assert back.var["lbm"].equals(counts.var["lbm"])
    np.testing.assert_allclose(back.obsm["lbm_row_posterior"], counts.obsm["lbm_row_posterior"])


def test_layer_is_used(counts):
    counts.layers["counts"] = counts.X.copy()
    counts.X = np.zeros_like(counts.X) + 0.5  # would be "gaussian" and structureless
    tl.lbm(counts, 3, 2, layer="counts", **FIT)
    assert counts.uns["lbm"]["params"]["layer"] == "counts"
    assert counts.uns["lbm"]["family"] == "poisson"
    assert ari(counts.obs["truth"], counts.obs["lbm"]) == pytest.approx(1.0)


def test_use_raw_is_used(counts):
    counts.raw = counts.copy()
    counts.X = np.zeros_like(counts.X) + 0.5
    tl.lbm(counts, 3, 2, use_raw=True, **FIT)
    assert counts.uns["lbm"]["params"]["use_raw"] is True
    assert ari(counts.obs["truth"], counts.obs["lbm"]) == pytest.approx(1.0)


def test_mask_var_leaves_genes_unassigned(counts):
    mask = np.zeros(counts.n_vars, dtype=bool)
    mask[::2] = True
    counts.var["chosen"] = mask
    tl.lbm(counts, 3, 2, mask_var="chosen", **FIT)
    labels = counts.var["lbm"]
    assert (labels[~mask] == "unassigned").all()
    assert (labels[mask] != "unassigned").all()
    assert labels.cat.categories[-1] == "unassigned"
    posterior = counts.varm["lbm_column_posterior"]
    np.testing.assert_array_equal(posterior[~mask], 0.0)
    np.testing.assert_allclose(posterior[mask].sum(axis=1), 1.0)
    assert counts.uns["lbm"]["n_vars_fitted"] == mask.sum()


def test_use_highly_variable_equals_mask_var(counts):
    counts.var["highly_variable"] = np.arange(counts.n_vars) < 60
    tl.lbm(counts, 3, 2, use_highly_variable=True, **FIT)
    assert (counts.var["lbm"] == "unassigned").sum() == 20


def test_missing_layer_raises(counts):
    with pytest.raises(KeyError, match="layer 'nope' is not in adata.layers"):
        tl.lbm(counts, 3, 2, layer="nope")


def test_use_raw_without_raw_raises(counts):
    with pytest.raises(ValueError, match=r"adata.raw is None"):
        tl.lbm(counts, 3, 2, use_raw=True)


def test_missing_mask_column_raises(counts):
    with pytest.raises(KeyError, match="highly_variable"):
        tl.lbm(counts, 3, 2, mask_var="highly_variable")


def test_mask_of_wrong_length_raises(counts):
    with pytest.raises(ValueError, match="one entry per gene"):
        tl.lbm(counts, 3, 2, mask_var=np.ones(3, dtype=bool))


def test_unknown_family_raises(counts):
    with pytest.raises(ValueError, match="family must be one of"):
        tl.lbm(counts, 3, 2, family="negbin")


def test_key_clobbering_user_column_raises(counts):
    counts.obs["lbm"] = "user annotation"
    with pytest.raises(ValueError, match="overwrite=True"):
        tl.lbm(counts, 3, 2, **FIT)
    assert (counts.obs["lbm"] == "user annotation").all()


def test_overwrite_allows_clobbering(counts):
    counts.obs["lbm"] = "user annotation"
    tl.lbm(counts, 3, 2, overwrite=True, **FIT)
    assert counts.obs["lbm"].nunique() == 3


def test_rerun_replaces_own_result_without_overwrite(counts):
    tl.lbm(counts, 3, 2, **FIT)
    tl.lbm(counts, 2, 2, **FIT)
    assert counts.obs["lbm"].nunique() == 2
    assert counts.obsm["lbm_row_posterior"].shape == (120, 2)


def test_backed_adata_fails_clearly_for_a_tool_that_needs_memory(counts, tmp_path):
    # tl.lbm reads a backed X by row blocks (tests/tl/test_lazy.py); spectral methods need it in memory
    path = tmp_path / "backed.h5ad"
    counts.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    try:
        with pytest.raises(ValueError, match="to_memory"):
            tl.cocluster(backed, "spectral_cocluster", 3, 3)
    finally:
        backed.file.close()


def test_not_anndata_raises():
    with pytest.raises(TypeError, match="AnnData"):
        tl.lbm(np.ones((5, 5)), 2, 2)


@pytest.mark.slow
def test_pbmc68k_recommended_settings_beat_leiden():
    sc = pytest.importorskip("scanpy")
    from coclust_deep.datasets import recover_counts

    adata = sc.datasets.pbmc68k_reduced()
    adata.layers["counts"] = recover_counts(adata)
    tl.lbm(adata, 6, 8, layer="counts", poisson_effects=True)
    assert adata.uns["lbm"]["family"] == "poisson"
    # Leiden on the shipped neighbour graph reaches ~0.48; a random partition ~0.
    assert ari(adata.obs["bulk_labels"], adata.obs["lbm"]) > 0.5


def test_use_raw_with_more_genes_than_adata(counts):
    counts.raw = counts.copy()
    subset = counts[:, :50].copy()
    tl.lbm(subset, 3, 2, use_raw=True, **FIT)
    assert subset.uns["lbm"]["n_vars_fitted"] == 80  # every raw gene was fitted
    assert subset.var["lbm"].shape == (50,) and (subset.var["lbm"] != "unassigned").all()
    np.testing.assert_allclose(subset.varm["lbm_column_posterior"].sum(axis=1), 1.0)


@pytest.mark.parametrize("family", ["nb", "categorical"])
def test_new_families_write_their_parameters(family):
    X, rows, cols = make_lbm(400, 300, 3, 2, family=family, signal=1.0, sparse=True, random_state=2)
    adata = ad.AnnData(X)
    tl.lbm(adata, 3, 2, family=family, random_state=0, n_init=4)
    entry = adata.uns["lbm"]
    assert entry["family"] == family and entry["params"]["family"] == family
    assert ari(rows, adata.obs["lbm"]) >= 0.9
    if family == "nb":
        assert entry["block_params"]["theta"].shape == (300,) and entry["block_params"]["lambda"].shape == (3, 2)
    else:
        assert entry["block_params"]["alpha"].shape == (3, 2, 3) and "icl_exact" in entry  # (g, m, levels)


def test_nb_result_survives_h5ad(tmp_path):
    X, _, _ = make_lbm(100, 40, 2, 2, family="nb", random_state=3)
    adata = ad.AnnData(X)
    tl.lbm(adata, 2, 2, family="nb", **FIT)
    adata.write_h5ad(tmp_path / "nb.h5ad")
    back = ad.read_h5ad(tmp_path / "nb.h5ad")
    np.testing.assert_array_equal(back.uns["lbm"]["block_params"]["theta"], adata.uns["lbm"]["block_params"]["theta"])
    assert back.uns["lbm"]["family"] == "nb"


def _subset_with_raw(counts):
    counts.raw = counts
    return counts[:, ::2].copy()  # as after subsetting to highly variable genes


def test_use_raw_keeps_every_fitted_gene_cluster_in_uns(counts):
    adata = _subset_with_raw(counts)
    tl.lbm(adata, 3, 2, use_raw=True, **FIT)
    uns = adata.uns["lbm"]
    assert uns["raw_var_names"].tolist() == counts.var_names.tolist()
    in_var = pd.Series(uns["raw_column_labels"], index=uns["raw_var_names"])[adata.var_names]
    assert in_var.tolist() == adata.var["lbm"].astype(str).tolist()  # the same numbering as var


def test_use_raw_gene_clusters_survive_h5ad(counts, tmp_path):
    adata = _subset_with_raw(counts)
    tl.lbm(adata, 3, 2, use_raw=True, **FIT)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad").uns["lbm"]
    np.testing.assert_array_equal(back["raw_column_labels"], adata.uns["lbm"]["raw_column_labels"])
    np.testing.assert_array_equal(back["raw_var_names"], adata.uns["lbm"]["raw_var_names"])


def test_use_raw_notice_says_where_raw_gene_clusters_are(counts, monkeypatch):
    from coclust_deep.tl import _skeleton

    said = []
    monkeypatch.setattr(_skeleton, "notice", said.append)
    tl.lbm(_subset_with_raw(counts), 3, 2, use_raw=True, **FIT)
    assert len(said) == 1 and "40 of the 80 genes" in said[0] and "raw_column_labels" in said[0]


def test_no_raw_gene_entries_without_raw_only_genes(counts):
    tl.lbm(counts, 3, 2, **FIT)
    assert "raw_var_names" not in counts.uns["lbm"]


def _lognorm_with_counts_layer(counts):
    counts.layers["counts"] = counts.X.copy()
    counts.X = np.log1p(counts.X / counts.X.sum(axis=1, keepdims=True) * 1e4)
    return counts


def test_auto_family_on_lognorm_x_names_counts_layer(counts):
    adata = _lognorm_with_counts_layer(counts)
    with pytest.warns(UserWarning, match="layer 'counts' holds counts: pass layer='counts'"):
        tl.lbm(adata, 3, 2, **FIT)


@pytest.mark.parametrize("kw", [{"layer": "counts"}, {"family": "gaussian"}])
def test_no_counts_layer_warning_when_chosen(counts, kw, recwarn):
    tl.lbm(_lognorm_with_counts_layer(counts), 3, 2, **kw, **FIT)
    assert not [w for w in recwarn if "holds counts" in str(w.message)]


def test_no_counts_layer_warning_when_x_is_counts(counts, recwarn):
    counts.layers["counts"] = counts.X.copy()
    tl.lbm(counts, 3, 2, **FIT)
    assert not [w for w in recwarn if "holds counts" in str(w.message)]


def test_no_counts_layer_warning_with_sparse_non_count_layer(counts, recwarn):
    adata = _lognorm_with_counts_layer(counts)
    adata.layers["counts"] = sp.csr_matrix(adata.X)  # not counts either: nothing to point at
    tl.lbm(adata, 3, 2, **FIT)
    assert not [w for w in recwarn if "holds counts" in str(w.message)]
