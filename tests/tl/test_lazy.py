"""tl tools on AnnData whose matrix stays on disk: backed h5ad, anndata's lazy readers, dask layers.

Every case fits the same partition as the in-memory AnnData, while the
matrix reaches the estimator as a dask array of several row blocks (a small
``array.chunk-size`` forces several), read by anndata's own readers.
"""
import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

dask = pytest.importorskip("dask")
zarr = pytest.importorskip("zarr")

from coclust_deep import tl  # noqa: E402
from coclust_deep.datasets import make_lbm  # noqa: E402
from coclust_deep.kernels import dask_backend  # noqa: E402
from coclust_deep.tl._utils import get_matrix, lazy_matrix  # noqa: E402

FIT = {"n_init": 2, "init": "spectral", "random_state": 0}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """An AnnData with CSR counts in X and the same counts dense in a layer, written as h5ad and zarr."""
    X, rows, cols = make_lbm(400, 90, 3, 2, family="poisson", signal=0.9, random_state=0)
    X = X.astype(np.float32)
    adata = ad.AnnData(sp.csr_matrix(X), layers={"dense": X})
    folder = tmp_path_factory.mktemp("lazy")
    adata.write_h5ad(folder / "a.h5ad")
    with ad.settings.override(zarr_write_format=3):
        adata.write_zarr(folder / "a.zarr")
    ad.AnnData(X).write_h5ad(folder / "dense.h5ad")
    return adata, folder


@pytest.fixture(autouse=True)
def small_blocks():
    with dask.config.set({"array.chunk-size": "40kB"}):  # several row blocks even for this small matrix
        yield


def in_memory_result(adata, **kw):
    ref = adata.copy()
    tl.lbm(ref, 3, 2, **FIT, **kw)
    return ref


def assert_same_partition(lazy_adata, ref):
    assert lazy_adata.uns["lbm"]["backend"] == "dask"
    assert np.array_equal(np.asarray(lazy_adata.obs["lbm"]), ref.obs["lbm"].to_numpy())
    assert np.array_equal(np.asarray(lazy_adata.var["lbm"]), ref.var["lbm"].to_numpy())
    np.testing.assert_allclose(lazy_adata.obsm["lbm_row_posterior"], ref.obsm["lbm_row_posterior"], atol=1e-8)


@pytest.mark.parametrize("name", ["a.h5ad", "dense.h5ad"], ids=["csr", "dense"])
def test_backed_h5ad_is_read_by_row_blocks(stored, name):
    adata, folder = stored
    backed = ad.read_h5ad(folder / name, backed="r")
    try:
        data = get_matrix(backed, lazy=True)
        assert data.X.numblocks[0] > 1 and sp.issparse(data.X._meta) == (name == "a.h5ad")
        tl.lbm(backed, 3, 2, **FIT)
        assert backed.isbacked  # X stayed on disk
        assert_same_partition(backed, in_memory_result(adata))
    finally:
        backed.file.close()


@pytest.mark.parametrize("fmt", ["h5ad", "zarr"])
@pytest.mark.parametrize("elem", ["X", "layers/dense"], ids=["csr", "dense"])
def test_lazily_read_matrix_fits_like_in_memory(stored, fmt, elem):
    import h5py

    adata, folder = stored
    store = h5py.File(folder / "a.h5ad", "r") if fmt == "h5ad" else zarr.open(folder / "a.zarr", mode="r")
    try:
        lazy = ad.AnnData(obs=adata.obs.copy(), var=adata.var.copy())
        lazy.X = lazy_matrix(store[elem])
        assert lazy.X.numblocks[0] > 1
        assert sp.issparse(lazy.X._meta) == (elem == "X")
        tl.lbm(lazy, 3, 2, **FIT)  # family="auto": one pass over the blocks picks poisson
        assert lazy.uns["lbm"]["family"] == "poisson"
        assert_same_partition(lazy, in_memory_result(adata, layer=None if elem == "X" else "dense"))
    finally:
        if fmt == "h5ad":
            store.close()


def test_anndata_read_lazy_fits_like_in_memory(stored):
    adata, folder = stored
    lazy = ad.experimental.read_lazy(folder / "a.zarr")
    tl.lbm(lazy, 3, 2, layer="dense", **FIT)
    assert_same_partition(lazy, in_memory_result(adata, layer="dense"))


def test_csr_blocks_stay_sparse_inside_the_tasks(stored):
    _, folder = stored
    X = lazy_matrix(zarr.open(folder / "a.zarr", mode="r")["X"])
    _, (n_sparse,) = dask_backend.map_reduce(X, lambda block: ((), (int(sp.issparse(block)),)))
    assert n_sparse == X.numblocks[0] > 1


def test_classic_method_reads_a_backed_adata_by_blocks(stored):
    adata, folder = stored
    backed = ad.read_h5ad(folder / "a.h5ad", backed="r")
    try:
        tl.cocluster(backed, "info", 3, 2, init="spectral", n_init=2)
        ref = adata.copy()
        tl.cocluster(ref, "info", 3, 2, init="spectral", n_init=2)
        assert np.array_equal(backed.obs["info"].to_numpy(), ref.obs["info"].to_numpy())
    finally:
        backed.file.close()


@pytest.mark.parametrize("method", ["info", "double_kmeans"])
def test_classic_method_default_init_on_a_backed_adata(stored, method):
    # their default init="k-means++" needs X in memory: the tool starts a backed X from "spectral"
    adata, folder = stored
    backed = ad.read_h5ad(folder / "a.h5ad", backed="r")
    try:
        tl.cocluster(backed, method, 3, 2, n_init=2)
        assert backed.uns[method]["params"]["init"] == "spectral"
        ref = adata.copy()
        tl.cocluster(ref, method, 3, 2, init="spectral", n_init=2)
        assert np.array_equal(backed.obs[method].to_numpy(), ref.obs[method].to_numpy())
    finally:
        backed.file.close()

def test_tool_that_needs_memory_refuses_a_dask_matrix(stored):
    adata, folder = stored
    lazy = ad.AnnData(lazy_matrix(zarr.open(folder / "a.zarr", mode="r")["layers/dense"]))
    with pytest.raises(ValueError, match="dask array.*compute"):
        tl.cocluster(lazy, "spectral_cocluster", 3, 3)


def test_rows_per_block_follow_dask_chunk_size(stored):
    _, folder = stored
    store = zarr.open(folder / "a.zarr", mode="r")
    with dask.config.set({"array.chunk-size": "36kB"}):  # 90 float32 values per row: 100 rows
        assert lazy_matrix(store["layers/dense"]).chunks[0][0] == 100


def test_select_lbm_on_a_backed_adata_matches_in_memory(stored):
    adata, folder = stored
    backed = ad.read_h5ad(folder / "a.h5ad", backed="r")
    try:
        tl.select_lbm(backed, [2, 3], [2], n_init=1, init="spectral", family="poisson")
        ref = adata.copy()
        tl.select_lbm(ref, [2, 3], [2], n_init=1, init="spectral", family="poisson")
        np.testing.assert_allclose(backed.uns["lbm"]["icl_table"]["icl"], ref.uns["lbm"]["icl_table"]["icl"],
                                   rtol=1e-9)
        assert np.array_equal(backed.obs["lbm"].to_numpy(), ref.obs["lbm"].to_numpy())
    finally:
        backed.file.close()


@pytest.mark.parametrize("tool", [lambda a: tl.lbm(a, 3, 2, copy=True), lambda a: tl.lbm(a[:100], 3, 2)],
                         ids=["copy", "view"])
def test_backed_copy_or_view_is_refused_before_fitting(stored, tool):
    _, folder = stored
    backed = ad.read_h5ad(folder / "a.h5ad", backed="r")
    try:
        with pytest.raises(ValueError, match="backed AnnData"):
            tool(backed)
        assert "lbm" not in backed.obs
    finally:
        backed.file.close()
