"""tl.deep_cluster: every method on scanpy's pbmc68k_reduced (700 cells) or small digit images, written into AnnData."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import anndata as ad  # noqa: E402
import scanpy as sc  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from coclust_deep import tl  # noqa: E402
from coclust_deep.datasets import recover_counts  # noqa: E402
from coclust_deep.metrics import ari  # noqa: E402

from ..deep.test_train import _interrupt_on_update  # noqa: E402

torch.set_num_threads(1)

MMDC_FAST = dict(epochs=3, hidden=(32, 16), batch_size=128, n_init=2, verbose=False)
FAST = {
    "mmdc": MMDC_FAST,
    "dec": dict(pretrain_epochs=2, epochs=2, latent_dim=4, hidden=(32,), n_init=2, verbose=False),
    "idec": dict(pretrain_epochs=2, epochs=2, latent_dim=4, hidden=(32,), n_init=2, verbose=False),
    "deepcluster": dict(epochs=2, latent_dim=4, hidden=(32,), n_init=2, passes_per_epoch=1, verbose=False),
}


@pytest.fixture(scope="module")
def pbmc():
    adata = sc.datasets.pbmc68k_reduced()
    adata.layers["counts"] = recover_counts(adata)
    return adata


@pytest.fixture(scope="module")
def mmdc_result(pbmc):
    original = pbmc.copy()
    out = tl.deep_cluster(pbmc, "mmdc", 5, layer="counts", obs_views=["X_pca"], copy=True, **MMDC_FAST)
    return original, pbmc, out


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    keep = np.isin(data.target, [0, 1, 7])
    adata = ad.AnnData(data.data[keep].astype(np.float32))
    adata.obs["digit"] = data.target[keep].astype(str)
    return adata


def test_public_name():
    from coclust_deep.tl._deep_cluster import deep_cluster

    assert tl.deep_cluster is deep_cluster


def test_mmdc_writes_labels_embedding_and_uns(mmdc_result):
    _, _, out = mmdc_result
    assert out.obs["mmdc"].dtype == "category" and out.obs["mmdc"].nunique() <= 5
    assert out.obsm["X_mmdc"].shape == (700, 16) and out.obsm["X_mmdc"].dtype == np.float32
    assert "mmdc_row_posterior" not in out.obsm and "mmdc" not in out.var
    uns = out.uns["mmdc"]
    assert uns["params"]["tool"] == "deep_cluster" and uns["params"]["method"] == "mmdc"
    assert uns["params"]["layer"] == "counts" and list(uns["params"]["obs_views"]) == ["X_pca"]
    assert uns["input_type"] == "counts" and uns["aux_task"] == "masked_features"
    assert len(uns["history"]["target_mse"]) == uns["n_epochs"]["train"] == 3
    assert not uns["interrupted"]


def test_copy_leaves_the_input_untouched(mmdc_result):
    original, adata, out = mmdc_result
    assert "mmdc" not in adata.obs and "X_mmdc" not in adata.obsm and "mmdc" not in adata.uns
    assert (adata.layers["counts"] != original.layers["counts"]).nnz == 0
    assert out is not adata


def test_embedding_feeds_scanpy_neighbors(mmdc_result):
    _, _, out = mmdc_result
    sc.pp.neighbors(out, use_rep="X_mmdc", n_neighbors=10)
    assert out.obsp["connectivities"].shape == (700, 700)


def test_survives_h5ad_round_trip(mmdc_result, tmp_path):
    _, _, out = mmdc_result
    out.write_h5ad(tmp_path / "mmdc.h5ad")
    back = ad.read_h5ad(tmp_path / "mmdc.h5ad")
    assert back.obs["mmdc"].equals(out.obs["mmdc"])
    np.testing.assert_array_equal(back.obsm["X_mmdc"], out.obsm["X_mmdc"])
    assert back.uns["mmdc"]["params"]["method"] == "mmdc"


@pytest.mark.parametrize("method", ["dec", "idec", "deepcluster"])
def test_other_row_methods_write_their_results(pbmc, method):
    out = tl.deep_cluster(pbmc, method, 4, use_raw=True, copy=True, key_added="deep", **FAST[method])
    assert out.obs["deep"].nunique() <= 4 and out.obsm["X_deep"].shape == (700, 4)
    assert ("deep_row_posterior" in out.obsm) == (method != "deepcluster")
    assert out.uns["deep"]["params"]["method"] == method


def test_dcec_and_mmdc_read_rows_as_images(digits):
    labels = digits.obs["digit"].to_numpy()
    out = tl.deep_cluster(digits, "dcec", 3, image_shape=(8, 8), copy=True, pretrain_epochs=40, epochs=10,
                          filters=(8, 16, 16), latent_dim=4, batch_size=32, n_init=4, verbose=False)
    assert out.obsm["dcec_row_posterior"].shape == (digits.n_obs, 3)
    assert list(out.uns["dcec"]["params"]["image_shape"]) == [8, 8]
    assert ari(labels, out.obs["dcec"]) > 0.8
    out = tl.deep_cluster(digits, "mmdc", 3, image_shape=(1, 8, 8), copy=True, epochs=2, channels=(8, 16),
                          verbose=False)
    assert out.uns["mmdc"]["input_type"] == "image" and out.uns["mmdc"]["aux_task"] == "rotation"


def test_rerun_under_the_same_key_replaces_the_result(pbmc):
    adata = pbmc.copy()
    tl.deep_cluster(adata, "dec", 3, use_raw=True, key_added="k", **FAST["dec"])
    tl.deep_cluster(adata, "mmdc", 3, use_raw=True, key_added="k", **MMDC_FAST)
    assert "k_row_posterior" not in adata.obsm and adata.uns["k"]["params"]["method"] == "mmdc"


def test_unknown_method_raises(pbmc):
    with pytest.raises(ValueError, match="method must be one of"):
        tl.deep_cluster(pbmc, "kmeans", 3)


def test_dcec_needs_an_image_shape(pbmc):
    with pytest.raises(ValueError, match="image_shape"):
        tl.deep_cluster(pbmc, "dcec", 3, use_raw=True)


def test_wrong_image_shape_raises(digits):
    with pytest.raises(ValueError, match="holds 63 pixels but the matrix has 64 columns"):
        tl.deep_cluster(digits, "mmdc", 3, image_shape=(7, 9))


def test_views_only_for_mmdc(pbmc):
    with pytest.raises(ValueError, match="takes no extra views"):
        tl.deep_cluster(pbmc, "dec", 3, use_raw=True, obs_views=["X_pca"])


def test_missing_view_raises(pbmc):
    with pytest.raises(KeyError, match="not in adata.obsm"):
        tl.deep_cluster(pbmc, "mmdc", 3, use_raw=True, obs_views=["protein"], **MMDC_FAST)


def test_user_keys_are_protected(pbmc):
    adata = pbmc.copy()
    adata.obsm["X_mmdc"] = np.zeros((700, 2))
    with pytest.raises(ValueError, match="overwrite"):
        tl.deep_cluster(adata, "mmdc", 3, use_raw=True, **MMDC_FAST)


def test_ctrl_c_propagates_and_keeps_earlier_result(pbmc, monkeypatch):
    adata = pbmc.copy()
    tl.deep_cluster(adata, "dec", 3, layer="counts", **FAST["dec"])
    before = adata.obs["dec"].copy()
    _interrupt_on_update(monkeypatch, 5)  # Ctrl-C in the 2nd epoch (3 steps each); DEC keeps the 1st and returns
    with pytest.raises(KeyboardInterrupt, match="nothing was written"), pytest.warns(RuntimeWarning):
        tl.deep_cluster(adata, "dec", 3, layer="counts", **{**FAST["dec"], "random_state": 5})
    assert adata.obs["dec"].equals(before)
