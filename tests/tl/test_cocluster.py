"""tl.cocluster: the same write-back for every co-clustering estimator."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.cluster import SpectralCoclustering as SkSpectralCoclustering

import coclust_deep
from coclust_deep import tl
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari
from coclust_deep.tl._cocluster import METHODS


@pytest.fixture
def counts():
    X, rows, cols = make_lbm(120, 80, 3, 3, family="poisson", signal=0.9, random_state=0)
    adata = ad.AnnData(X)
    adata.obs["truth"] = rows.astype(str)
    adata.var["truth"] = cols.astype(str)
    return adata


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_writes_categoricals(counts, method):
    assert hasattr(coclust_deep, METHODS[method])
    tl.cocluster(counts, method, 3, 3, n_init=2)
    for column in (counts.obs[method], counts.var[method]):
        assert isinstance(column.dtype, pd.CategoricalDtype)
        assert all(isinstance(c, str) for c in column.cat.categories)
    params = counts.uns[method]["params"]
    assert params["tool"] == "cocluster" and params["method"] == method


@pytest.mark.parametrize("method", ["info", "double_kmeans", "lbm"])
def test_recovers_planted_rows(counts, method):
    tl.cocluster(counts, method, 3, 3, n_init=4)
    assert ari(counts.obs["truth"], counts.obs[method]) > 0.9


def test_lbm_method_writes_what_tl_lbm_writes(counts):
    tl.cocluster(counts, "lbm", 3, 3, key_added="via_cocluster", n_init=2)
    tl.lbm(counts, 3, 3, key_added="via_lbm", n_init=2)
    lbm_keys = set(counts.uns["via_lbm"]) - {"params"}
    assert lbm_keys <= set(counts.uns["via_cocluster"])
    assert counts.uns["via_cocluster"]["family"] == "poisson"
    assert "via_cocluster_row_posterior" in counts.obsm


def test_spectral_embeddings_written(counts):
    tl.cocluster(counts, "spectral_cocluster", 3, 3)
    assert counts.obsm["X_spectral_cocluster"].shape[0] == counts.n_obs
    assert counts.varm["X_spectral_cocluster"].shape[0] == counts.n_vars


def test_estimator_instance_is_cloned_not_fitted(counts):
    estimator = SkSpectralCoclustering(3, random_state=0)
    tl.cocluster(counts, estimator, key_added="sk")
    assert not hasattr(estimator, "row_labels_")
    assert counts.obs["sk"].nunique() == 3
    assert counts.uns["sk"]["params"]["method"] == "SpectralCoclustering"


def test_same_numbers_required_for_single_n_clusters(counts):
    with pytest.raises(ValueError, match="n_row_clusters == n_col_clusters"):
        tl.cocluster(counts, "modularity", 3, 2)


def test_unknown_method_raises(counts):
    with pytest.raises(ValueError, match="method must be one of"):
        tl.cocluster(counts, "louvain", 3, 3)


def test_estimator_without_column_labels_raises(counts):
    with pytest.raises(TypeError, match="column_labels_"):
        tl.cocluster(counts, KMeans(3, n_init=1), key_added="km")
    assert "km" not in counts.obs


def test_h5ad_round_trip(counts, tmp_path):
    tl.cocluster(counts, "info", 3, 3, n_init=2)
    counts.write_h5ad(tmp_path / "c.h5ad")
    back = ad.read_h5ad(tmp_path / "c.h5ad")
    assert back.obs["info"].equals(counts.obs["info"])
    assert back.uns["info"]["params"] == counts.uns["info"]["params"]
    np.testing.assert_allclose(back.uns["info"]["criterion_history"], counts.uns["info"]["criterion_history"])


def test_copy_semantics(counts):
    out = tl.cocluster(counts, "double_kmeans", 3, 3, n_init=2, copy=True)
    assert "double_kmeans" in out.obs and "double_kmeans" not in counts.obs


def test_key_clobber_raises(counts):
    counts.var["info"] = "my gene notes"
    with pytest.raises(ValueError, match="overwrite=True"):
        tl.cocluster(counts, "info", 3, 3)


def test_estimator_instance_keeps_its_family(counts):
    binary = ad.AnnData((counts.X > 2).astype(float))
    tl.cocluster(binary, coclust_deep.LatentBlockModel(3, 3, family="gaussian", n_init=1), key_added="g")
    assert binary.uns["g"]["family"] == "gaussian"


def _planted_bicluster(sparse=False):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(50, 30))
    X[5:20, 3:12] = 4.0 + np.arange(9)[None, :] * 0.5  # an additive (here column-only) pattern
    adata = ad.AnnData(sp.csr_matrix(X) if sparse else X)
    return adata, X


@pytest.mark.parametrize("sparse", [False, True])
def test_cheng_church_writes_boolean_memberships(sparse):
    adata, X = _planted_bicluster(sparse)
    tl.cocluster(adata, "cheng_church", n_biclusters=2, delta=0.01, random_state=0)
    rows, cols = adata.obsm["cheng_church_biclusters"], adata.varm["cheng_church_biclusters"]
    assert rows.dtype == bool and rows.shape == (50, 2) and cols.shape == (30, 2)
    assert np.flatnonzero(rows[:, 0]).tolist() == list(range(5, 20))
    assert np.flatnonzero(cols[:, 0]).tolist() == list(range(3, 12))
    assert "cheng_church" not in adata.obs and "cheng_church" not in adata.var  # overlapping: no partition
    assert adata.uns["cheng_church"]["residues"][0] <= 0.01
    assert adata.uns["cheng_church"]["bicluster_sizes"]["n_cells"].tolist()[0] == 15
    assert sp.issparse(adata.X) == sparse


def test_cheng_church_round_trips_and_rejects_cluster_numbers(tmp_path):
    adata, _ = _planted_bicluster()
    tl.cocluster(adata, "cheng_church", n_biclusters=2, delta=0.01, random_state=0)
    adata.write_h5ad(tmp_path / "cc.h5ad")
    back = ad.read_h5ad(tmp_path / "cc.h5ad")
    np.testing.assert_array_equal(back.varm["cheng_church_biclusters"], adata.varm["cheng_church_biclusters"])
    with pytest.raises(ValueError, match="pass n_biclusters="):
        tl.cocluster(adata, "cheng_church", 2, 2, key_added="other")


def _scaled(counts):
    adata = counts.copy()
    adata.layers["counts"] = adata.X.copy()
    adata.X = (adata.X - adata.X.mean(axis=0)) / (adata.X.std(axis=0) + 1e-12)  # as sc.pp.scale
    return adata


def test_spectral_on_scaled_x_names_the_counts_layer(counts):
    with pytest.raises(ValueError, match=r"adata\.X has negative values.*layer='counts'"):
        tl.cocluster(_scaled(counts), "spectral_cocluster", 3, 3)


def test_negative_input_message_drops_the_shift_advice(counts):
    with pytest.raises(ValueError) as info:
        tl.cocluster(_scaled(counts), "info", 3, 3)
    assert "X.min()" not in str(info.value)


def test_negative_input_message_suggests_use_raw(counts):
    adata = _scaled(counts)
    adata.raw = counts.copy()
    del adata.layers["counts"]
    with pytest.raises(ValueError, match="use_raw=True"):
        tl.cocluster(adata, "spectral_cocluster", 3, 3)
