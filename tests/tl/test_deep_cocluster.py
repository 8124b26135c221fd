"""tl.deep_cocluster on scanpy's bundled pbmc68k_reduced (700 cells x 765 genes)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import anndata as ad  # noqa: E402
import scanpy as sc  # noqa: E402

from coclust_deep import tl  # noqa: E402
from coclust_deep.tl._deep_cocluster import deep_cocluster  # noqa: E402

from ..deep.test_train import _interrupt_on_update  # noqa: E402

torch.set_num_threads(1)

FAST = dict(pretrain_epochs=3, epochs=3, latent_dim=8, hidden=(32,), n_init=2, verbose=False)


@pytest.fixture(scope="module")
def result():
    adata = sc.datasets.pbmc68k_reduced()
    original = adata.copy()
    out = deep_cocluster(adata, 5, 4, use_raw=True, obs_views=["X_pca"], copy=True, **FAST)
    return original, adata, out


def test_public_name():
    assert tl.deep_cocluster is deep_cocluster


def test_copy_leaves_input_untouched(result):
    original, adata, out = result
    assert "deep" not in adata.obs and "X_deep" not in adata.obsm and "deep" not in adata.uns
    np.testing.assert_array_equal(adata.X, original.X)
    assert out is not adata


def test_writes_documented_keys(result):
    _, adata, out = result
    assert out.obs["deep"].dtype == "category" and out.var["deep"].dtype == "category"
    assert list(out.obs["deep"].cat.categories) == sorted(out.obs["deep"].cat.categories, key=int)
    assert out.obsm["X_deep"].shape == (700, 8)
    assert out.varm["X_deep"].shape == (adata.n_vars, 8)
    assert out.obsm["deep_row_posterior"].shape == (700, 5)
    uns = out.uns["deep"]
    assert uns["params"]["tool"] == "deep_cocluster"
    assert list(uns["params"]["obs_views"]) == ["X_pca"]
    assert uns["block_means"].shape == (5, 4)
    assert "X_pca" in uns["view_contributions"]["rows"]
    assert len(uns["history"]["loss"]) == len(uns["history"]["phase"]) > 0


def test_embedding_feeds_scanpy_neighbors(result):
    _, _, out = result
    sc.pp.neighbors(out, use_rep="X_deep", n_neighbors=10)
    assert out.obsp["connectivities"].shape == (700, 700)
    assert out.uns["neighbors"]["params"]["use_rep"] == "X_deep"


def test_survives_h5ad_round_trip(result, tmp_path):
    _, _, out = result
    path = tmp_path / "deep.h5ad"
    out.write_h5ad(path)
    back = ad.read_h5ad(path)
    np.testing.assert_array_equal(back.obsm["X_deep"], out.obsm["X_deep"])
    assert (back.obs["deep"] == out.obs["deep"]).all()
    assert back.uns["deep"]["params"]["tool"] == "deep_cocluster"


def test_in_place_returns_none_and_views_by_add_view_name():
    adata = sc.datasets.pbmc68k_reduced()
    tl.add_view(adata, "image", np.random.default_rng(0).normal(size=(adata.n_obs, 6)))
    assert deep_cocluster(adata, 4, 3, obs_views=["image"], key_added="dc", **FAST) is None
    assert "dc" in adata.obs and "image" in adata.uns["dc"]["view_contributions"]["rows"]


def test_var_view_and_missing_key():
    adata = sc.datasets.pbmc68k_reduced()
    adata.varm["gene_text"] = np.random.default_rng(0).normal(size=(adata.n_vars, 4))
    deep_cocluster(adata, 3, 3, var_views=["gene_text"], **FAST)
    assert "gene_text" in adata.uns["deep"]["view_contributions"]["columns"]
    with pytest.raises(KeyError, match="not in adata.obsm"):
        deep_cocluster(adata, 3, 3, obs_views=["nope"], key_added="other", **FAST)


def test_bad_arguments():
    adata = sc.datasets.pbmc68k_reduced()
    adata.obsm["short"] = np.zeros((adata.n_obs, 2))
    adata.obsm["short"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        deep_cocluster(adata, 3, 3, obs_views=["short"], **FAST)
    with pytest.raises(ValueError, match="device"):
        deep_cocluster(adata, 3, 3, device="quantum", **FAST)


def test_counts_layer_with_k_omitted():
    """The single-cell defaults from the tool: raw counts -> NB, k estimated and recorded."""
    from coclust_deep.datasets import recover_counts

    adata = sc.datasets.pbmc68k_reduced()
    adata = ad.AnnData(adata.raw.X, obs=adata.obs[[]], var=adata.raw.var[[]], layers={"counts": recover_counts(adata)})
    deep_cocluster(adata, n_col_clusters=3, layer="counts", **FAST)
    uns = adata.uns["deep"]
    assert uns["likelihood"] == "nb" and uns["params"]["likelihood"] == "auto"
    k = uns["n_row_clusters_estimation"]["n_clusters"]
    assert k >= 2 and adata.obsm["deep_row_posterior"].shape == (700, k)
    assert uns["selected_features"].all() and uns["zero_count_rows"].size == 0


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_mudata_modality_with_a_view_from_another_modality():
    mudata = pytest.importorskip("mudata")
    rna = sc.datasets.pbmc68k_reduced()[:200].copy()
    prot = ad.AnnData(rna.obsm["X_pca"][::-1, :6].copy())  # a second modality, cells in another order
    prot.obs_names = rna.obs_names[::-1]
    mdata = mudata.MuData({"rna": rna, "prot": prot})
    tl.deep_cocluster(mdata, 4, 3, mod="rna", use_raw=True, obs_views=["prot:X"], **FAST)
    assert mdata["rna"].obs["deep"].nunique() <= 4
    assert list(mdata["rna"].uns["deep"]["params"]["obs_views"]) == ["prot:X"]
    assert "deep" not in mdata["prot"].obs


def test_ctrl_c_propagates_and_keeps_earlier_result(monkeypatch):
    adata = sc.datasets.pbmc68k_reduced()
    deep_cocluster(adata, 4, 3, use_raw=True, **FAST)
    before = adata.obs["deep"].copy(), adata.uns["deep"]["history"]["loss"].copy()
    _interrupt_on_update(monkeypatch, 8)  # after the first epoch: the estimator keeps it and returns
    with pytest.raises(KeyboardInterrupt, match="nothing was written"), pytest.warns(RuntimeWarning):
        deep_cocluster(adata, 4, 3, use_raw=True, **{**FAST, "random_state": 1})
    assert adata.obs["deep"].equals(before[0])
    np.testing.assert_array_equal(adata.uns["deep"]["history"]["loss"], before[1])


def test_auto_likelihood_warns_about_counts_layer():
    adata = sc.datasets.pbmc68k_reduced()[:, :60].copy()
    adata.layers["counts"] = np.random.default_rng(0).poisson(1.0, adata.shape).astype(np.float32)
    with pytest.warns(UserWarning, match="layer 'counts' holds counts: pass layer='counts'"):
        deep_cocluster(adata, 3, 2, **FAST)


def test_n_row_clusters_estimation_absent_when_given(result):
    _, _, out = result
    assert "n_row_clusters_estimation" not in out.uns["deep"]
    assert "absent when given" in deep_cocluster.__doc__
