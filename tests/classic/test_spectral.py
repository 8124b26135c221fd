"""SpectralCoclustering (Dhillon 2001) and SpectralBiclustering (Kluger 2003)."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.cluster import SpectralCoclustering as SklearnSpectralCoclustering
from sklearn.datasets import make_biclusters, make_checkerboard

from coclust_deep import SpectralBiclustering, SpectralCoclustering
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari, consensus_score, labels_to_biclusters

CHECKER_LAMBDA = np.array([[1.0, 4.0, 1.0], [4.0, 1.0, 1.0], [1.0, 1.0, 4.0]])


def planted_biclusters(noise=3, random_state=1):
    X, rows, cols = make_biclusters((120, 100), 4, noise=noise, minval=10, maxval=20,
                                    shuffle=True, random_state=random_state)
    return np.abs(X), rows, cols


def planted_checkerboard():
    return make_checkerboard((120, 100), (3, 3), noise=4, minval=10, maxval=100,
                             shuffle=True, random_state=0)


# ---------------------------------------------------------------- planted structure
@pytest.mark.parametrize("svd_method", ["randomized", "arpack"])
def test_coclustering_recovers_make_biclusters(svd_method):
    X, rows, cols = planted_biclusters()
    model = SpectralCoclustering(4, svd_method=svd_method, random_state=0).fit(X)
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.95


def test_coclustering_recovers_lbm():
    k = 5
    X, rows, cols = make_lbm(150, 120, k, k, family="poisson", params={"lambda": 1.0 + 4.0 * np.eye(k)},
                             random_state=0)
    model = SpectralCoclustering(k, random_state=0).fit(X)
    assert consensus_score(model.biclusters_, labels_to_biclusters(rows, cols)) >= 0.95


@pytest.mark.parametrize("method", ["bistochastic", "scale", "log"])
def test_biclustering_recovers_make_checkerboard(method):
    X, rows, cols = planted_checkerboard()
    model = SpectralBiclustering((3, 3), method=method, random_state=0).fit(np.abs(X))
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.95


def test_biclustering_recovers_lbm():
    X, rows, cols = make_lbm(150, 120, 3, 3, family="poisson", params={"lambda": CHECKER_LAMBDA},
                             row_effects=True, random_state=0)
    model = SpectralBiclustering(3, random_state=0).fit(X)
    assert ari(rows, model.row_labels_) >= 0.95 and ari(cols, model.column_labels_) >= 0.95


# ---------------------------------------------------------------- zeros, sparse, seeds
def test_coclustering_all_zero_rows_and_columns_without_nan():
    X, rows, cols = planted_biclusters()
    X[:5] = 0
    X[:, :3] = 0
    model = SpectralCoclustering(4, random_state=0).fit(sp.csr_matrix(X))
    assert np.all(np.isfinite(model.row_embedding_)) and np.all(np.isfinite(model.column_embedding_))
    assert model.row_labels_.min() >= 0 and model.row_labels_.max() < 4
    assert ari(rows.argmax(axis=0)[5:], model.row_labels_[5:]) >= 0.95
    assert ari(cols.argmax(axis=0)[3:], model.column_labels_[3:]) >= 0.95


def test_scikit_learn_fails_where_we_do_not():
    X, _, _ = planted_biclusters()
    X[:5] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):  # NaN in the embedding makes k-means refuse it
            SklearnSpectralCoclustering(4, random_state=0).fit(X)
    SpectralCoclustering(4, random_state=0).fit(X)


@pytest.mark.parametrize("method", ["bistochastic", "scale"])
def test_biclustering_all_zero_rows_and_columns(method):
    X, rows, cols = planted_checkerboard()
    X = np.abs(X)
    X[:4] = 0
    X[:, :2] = 0
    model = SpectralBiclustering((3, 3), method=method, random_state=0).fit(sp.csr_matrix(X))
    assert ari(rows.argmax(axis=0)[4:], np.unique(model.rows_, axis=0).argmax(axis=0)[4:]) >= 0.9
    assert ari(rows.argmax(axis=0)[4:], model.row_labels_[4:]) >= 0.9


def test_coclustering_sparse_equals_dense():
    X, _, _ = planted_biclusters(noise=5)
    X[X < 3] = 0
    dense = SpectralCoclustering(4, random_state=0).fit(X)
    sparse = SpectralCoclustering(4, random_state=0).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(dense.row_labels_, sparse.row_labels_)
    np.testing.assert_array_equal(dense.column_labels_, sparse.column_labels_)


@pytest.mark.parametrize("method", ["bistochastic", "scale"])
def test_biclustering_sparse_equals_dense(method):
    X, _, _ = planted_checkerboard()
    X = np.abs(X)
    X[X < 30] = 0
    dense = SpectralBiclustering(3, method=method, random_state=0).fit(X)
    sparse = SpectralBiclustering(3, method=method, random_state=0).fit(sp.csr_matrix(X))
    assert ari(dense.row_labels_, sparse.row_labels_) == 1.0
    assert ari(dense.column_labels_, sparse.column_labels_) == 1.0


@pytest.mark.parametrize("cls", [SpectralCoclustering, SpectralBiclustering])
def test_seed_reproducible(cls):
    X, _, _ = planted_biclusters(noise=8)
    a, b = cls(4, random_state=3).fit(X), cls(4, random_state=3).fit(X)
    np.testing.assert_array_equal(a.row_labels_, b.row_labels_)
    np.testing.assert_array_equal(a.column_labels_, b.column_labels_)


@pytest.mark.parametrize("cls", [SpectralCoclustering, SpectralBiclustering])
def test_clone(cls):
    model = cls(4, n_init=3, random_state=0)
    assert clone(model).get_params() == model.get_params()


def test_biclustering_block_layout_matches_scikit_learn():
    X, _, _ = planted_checkerboard()
    model = SpectralBiclustering((3, 2), random_state=0).fit(np.abs(X))
    assert model.rows_.shape == (6, X.shape[0]) and model.columns_.shape == (6, X.shape[1])
    row_idx, col_idx = model.get_indices(4)  # block (2, 0)
    np.testing.assert_array_equal(row_idx, np.flatnonzero(model.row_labels_ == 2))
    np.testing.assert_array_equal(col_idx, np.flatnonzero(model.column_labels_ == 0))


# ---------------------------------------------------------------- bad input
def test_log_method_rejects_sparse():
    with pytest.raises(ValueError, match="dense"):
        SpectralBiclustering(2, method="log").fit(sp.csr_matrix(np.ones((10, 8))))


def test_too_few_nonzero_rows_rejected():
    X = np.zeros((10, 8))
    X[0, :] = 1
    with pytest.raises(ValueError, match="positive sum"):
        SpectralCoclustering(3).fit(X)


@pytest.mark.parametrize("kw", [{"svd_method": "lanczos"}, {"n_init": 0}])
def test_bad_parameters_rejected(kw):
    with pytest.raises(ValueError):
        SpectralCoclustering(2, **kw).fit(np.ones((10, 8)))


def test_bad_n_clusters_rejected():
    with pytest.raises(TypeError, match="n_clusters"):
        SpectralBiclustering("3").fit(np.ones((10, 8)))
    with pytest.raises(ValueError, match="n_best"):
        SpectralBiclustering(2, n_best=7).fit(np.ones((10, 8)))


@pytest.mark.parametrize("kw,error", [({"svd_method": 3}, TypeError), ({"n_svd_vecs": 0}, ValueError),
                                      ({"n_svd_vecs": "10"}, TypeError), ({"random_state": "0"}, TypeError)])
def test_parameter_mistakes_have_one_error_type_each(kw, error):
    with pytest.raises(error, match=f"'{next(iter(kw))}' parameter of SpectralCoclustering"):
        SpectralCoclustering(2, **kw).fit(np.ones((10, 8)))


@pytest.mark.parametrize("n_clusters,error", [((2, 0), ValueError), ((2, "3"), TypeError), ((2, 3, 4), TypeError)])
def test_biclustering_pairs_are_checked(n_clusters, error):
    with pytest.raises(error, match="'n_clusters' parameter"):
        SpectralBiclustering(n_clusters).fit(np.ones((10, 8)))


@pytest.mark.parametrize("svd_method", ["randomized", "arpack"])
@pytest.mark.parametrize("cls", [SpectralBiclustering, SpectralCoclustering])
def test_all_zero_matrix_is_refused_the_same_way(cls, svd_method):
    with pytest.raises(ValueError, match="every value of X is 0"):
        cls(2, svd_method=svd_method).fit(np.zeros((9, 8)))


@pytest.mark.parametrize("n_svd_vecs", [2, 500])
def test_arpack_n_svd_vecs_out_of_range_is_named(n_svd_vecs):
    X = np.abs(np.random.default_rng(0).normal(size=(30, 20))) + 1
    with pytest.raises(ValueError, match=rf"n_svd_vecs={n_svd_vecs}: with svd_method='arpack'.*\(3, 20\)"):
        SpectralCoclustering(3, svd_method="arpack", n_svd_vecs=n_svd_vecs, random_state=0).fit(X)


@pytest.mark.parametrize("cls", [SpectralBiclustering, SpectralCoclustering])
def test_arpack_on_a_dask_array_asks_for_the_randomized_svd(cls):
    da = pytest.importorskip("dask.array")
    X = np.abs(np.random.default_rng(0).normal(size=(30, 20))) + 1
    with pytest.raises(ValueError, match="svd_method='randomized' for dask input"):
        cls(2, svd_method="arpack", random_state=0).fit(da.from_array(X, chunks=(10, 20)))


def test_arpack_failure_falls_back_to_the_randomized_svd(monkeypatch):
    from scipy.sparse.linalg import ArpackError

    from coclust_deep.classic import spectral

    def failing_svds(*args, **kwargs):
        raise ArpackError(-9)

    monkeypatch.setattr(spectral, "svds", failing_svds)
    X, rows, cols = planted_checkerboard()
    with pytest.warns(RuntimeWarning, match="ARPACK failed"):
        model = SpectralBiclustering((3, 3), svd_method="arpack", random_state=0).fit(np.abs(X))
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.95  # the fallback's fit is a working one (1.0)


# ---------------------------------------------------------------- negative values
def test_coclustering_refuses_negative_values():
    # Dhillon's scaling by row and column sums degenerates on z-scores instead of failing
    X, _, _ = planted_biclusters()
    with pytest.raises(ValueError, match="Negative values in data passed to SpectralCoclustering"):
        SpectralCoclustering(4, random_state=0).fit(X - X.mean(axis=0))


def test_biclustering_scale_refuses_negative_values():
    X, _, _ = planted_checkerboard()
    with pytest.raises(ValueError, match=r"method='scale'"):
        SpectralBiclustering(3, method="scale", random_state=0).fit(X - X.mean(axis=0))


@pytest.mark.parametrize("method", ["bistochastic", "log"])
def test_biclustering_shifting_methods_take_negative_values(method):
    X, _, _ = planted_checkerboard()
    model = SpectralBiclustering(3, method=method, random_state=0).fit(X - X.mean())
    assert model.row_labels_.shape == (X.shape[0],)
