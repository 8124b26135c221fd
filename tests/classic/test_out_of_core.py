"""Information-theoretic, modularity and double k-means co-clustering on dask arrays (row blocks)."""
import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")

from coclust_deep import DoubleKMeans, InfoCoclustering, ModularityCoclustering  # noqa: E402
from tests.classic.test_coclustering import planted_biclusters  # noqa: E402

ESTIMATORS = {
    "dkm": lambda **kw: DoubleKMeans(4, 4, **kw),
    "info": lambda **kw: InfoCoclustering(4, 4, **kw),
    "mod": lambda **kw: ModularityCoclustering(4, **kw),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("init", ["spectral", "random"])
def test_dask_array_fit_matches_in_memory(name, sparse, init):
    X, _, _ = planted_biclusters()
    X = sp.csr_matrix(X) if sparse else X
    kw = dict(init=init, n_init=3, random_state=0)
    ref = ESTIMATORS[name](**kw).fit(X)
    model = ESTIMATORS[name](**kw).fit(da.from_array(X, chunks=(25, -1), asarray=False))
    assert model.backend_ == "dask"
    assert np.array_equal(ref.row_labels_, model.row_labels_)
    assert np.array_equal(ref.column_labels_, model.column_labels_)
    np.testing.assert_allclose(model.criterion_history_, ref.criterion_history_, rtol=1e-9)
    for attr in ("mutual_information_", "information_loss_", "block_means_", "modularity_", "criterion_"):
        if hasattr(ref, attr):
            np.testing.assert_allclose(getattr(model, attr), getattr(ref, attr), rtol=1e-9, atol=1e-12)


def test_negative_values_are_found_in_the_blocks():
    X = np.ones((40, 10))
    X[25, 3] = -2.0
    with pytest.raises(ValueError, match="Negative values.*minimum -2"):
        InfoCoclustering(2, 2, init="random").fit(da.from_array(X, chunks=(10, -1)))


def test_kmeans_plus_plus_start_asks_for_another_init():
    with pytest.raises(ValueError, match="k-means\\+\\+.*spectral"):
        DoubleKMeans(2, 2).fit(da.from_array(np.ones((20, 10)), chunks=(5, -1)))


def test_nan_in_a_block_is_named():
    X, _, _ = planted_biclusters()
    X[60, 2] = np.nan
    with pytest.raises(ValueError, match=r"row block 2 of 5 \(rows 50 to 74\)"):
        ModularityCoclustering(4, init="random").fit(da.from_array(X, chunks=(25, -1)))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_dask_array_beyond_the_safe_magnitude_fits_like_in_memory(sparse):
    X = np.random.default_rng(0).poisson(2.0, size=(80, 30)).astype(np.float64) * 2.0**80
    X = sp.csr_matrix(X) if sparse else X
    kw = dict(init="random", n_init=2, random_state=0)
    ref = InfoCoclustering(3, 3, **kw).fit(X)
    model = InfoCoclustering(3, 3, **kw).fit(da.from_array(X, chunks=(20, -1), asarray=False))
    np.testing.assert_array_equal(model.row_labels_, ref.row_labels_)
    np.testing.assert_array_equal(model.column_labels_, ref.column_labels_)
