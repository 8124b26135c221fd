"""Estimator contract: fitted attributes, clone, determinism, no NaN, init options."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from coclust_deep import LatentBlockModel
from coclust_deep.datasets import make_lbm


@pytest.fixture(scope="module")
def poisson_data():
    return make_lbm(200, 80, 3, 2, family="poisson", random_state=0)


def test_fitted_attributes_have_documented_shapes(poisson_data):
    X, _, _ = poisson_data
    m = LatentBlockModel(3, 2, n_init=1, random_state=0).fit(X)
    assert m.row_labels_.shape == (200,) and m.row_labels_.dtype.kind == "i"
    assert m.column_labels_.shape == (80,) and m.column_labels_.dtype.kind == "i"
    assert m.row_posterior_.shape == (200, 3) and m.column_posterior_.shape == (80, 2)
    assert m.row_proportions_.shape == (3,) and m.column_proportions_.shape == (2,)
    assert m.params_["lambda"].shape == (3, 2) and m.block_means_.shape == (3, 2)
    assert len(m.elbo_history_) == m.n_iter_ and m.elbo_ == m.elbo_history_[-1]
    assert np.isfinite(m.icl_) and isinstance(m.converged_, bool)


def test_posteriors_are_normalised(poisson_data):
    X, _, _ = poisson_data
    m = LatentBlockModel(3, 2, n_init=1, random_state=0).fit(X)
    np.testing.assert_allclose(m.row_posterior_.sum(axis=1), 1.0)
    np.testing.assert_allclose(m.column_posterior_.sum(axis=1), 1.0)


def test_clone_keeps_parameters():
    m = LatentBlockModel(4, 3, family="gaussian", algorithm="cem", n_init=3, random_state=7)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m


def test_fit_predict_returns_row_labels(poisson_data):
    X, _, _ = poisson_data
    m = LatentBlockModel(3, 2, n_init=1, random_state=0)
    labels = m.fit_predict(X)
    assert np.array_equal(labels, m.row_labels_)


def test_same_seed_same_result(poisson_data):
    X, _, _ = poisson_data
    a = LatentBlockModel(3, 2, n_init=3, random_state=11).fit(X)
    b = LatentBlockModel(3, 2, n_init=3, random_state=11).fit(X)
    assert np.array_equal(a.row_labels_, b.row_labels_) and a.elbo_ == b.elbo_


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_formats_accepted(poisson_data, fmt):
    X, _, _ = poisson_data
    ref = LatentBlockModel(3, 2, n_init=1, random_state=0).fit(X)
    m = LatentBlockModel(3, 2, n_init=1, random_state=0).fit(sp.csr_matrix(X).asformat(fmt))
    assert np.array_equal(ref.row_labels_, m.row_labels_)


def test_caller_dense_array_not_modified(poisson_data):
    X, _, _ = poisson_data
    before = X.copy()
    LatentBlockModel(3, 2, family="gaussian", n_init=1, random_state=0).fit(X)
    assert np.array_equal(X, before)


def test_caller_unsorted_csr_not_modified():
    X = sp.csr_matrix((np.array([2.0, 1.0, 3.0]), np.array([2, 0, 1]), np.array([0, 2, 3])), shape=(2, 3))
    X.has_sorted_indices = False
    indices, data = X.indices.copy(), X.data.copy()
    LatentBlockModel(2, 2, n_init=1, random_state=0).fit(X)
    assert np.array_equal(X.indices, indices) and np.array_equal(X.data, data)


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "gaussian"])
def test_all_zero_rows_and_columns_give_finite_results(family):
    X, _, _ = make_lbm(150, 60, 2, 2, family="bernoulli", random_state=1)
    X[:10] = 0
    X[:, :5] = 0
    m = LatentBlockModel(2, 2, family=family, n_init=2, random_state=0).fit(sp.csr_matrix(X))
    assert np.all(np.isfinite(m.row_posterior_)) and np.all(np.isfinite(m.column_posterior_))
    assert all(np.all(np.isfinite(v)) for v in m.params_.values())
    assert np.isfinite(m.elbo_) and np.isfinite(m.icl_)


def test_too_many_clusters_warn_and_stay_finite():
    X, _, _ = make_lbm(60, 30, 2, 2, family="poisson", signal=1.0, random_state=0)
    with pytest.warns(RuntimeWarning, match="clusters are empty"):
        m = LatentBlockModel(12, 2, algorithm="cem", init="random", n_init=1, random_state=0).fit(X)
    assert all(np.all(np.isfinite(v)) for v in m.params_.values())
    assert np.all(np.isfinite(m.row_posterior_))


@pytest.mark.parametrize("effects", [False, True])
def test_blocks_of_an_empty_cluster_take_the_mean_of_x(effects):
    X, _, _ = make_lbm(60, 30, 2, 2, family="poisson", signal=1.0, random_state=0)
    with pytest.warns(RuntimeWarning, match="clusters are empty"):
        m = LatentBlockModel(12, 2, algorithm="cem", init="random", n_init=1, poisson_effects=effects,
                             random_state=0).fit(X)
    empty = np.setdiff1d(np.arange(12), m.row_labels_)
    assert empty.size
    # the pooled rate: the mean of X, or 1 relative to the effects (sum of X over sum of r_i c_j / N)
    np.testing.assert_allclose(m.params_["lambda"][empty], 1.0 if effects else X.mean(), rtol=1e-12)


def test_init_with_given_partition_starts_there():
    X, z, w = make_lbm(200, 80, 3, 2, family="poisson", signal=1.0, random_state=0)
    # the plain model generated X (two of its rows are nearly proportional over 2 column clusters,
    # which the effects model cannot tell apart)
    m = LatentBlockModel(3, 2, init=(z, w), n_init=1, algorithm="cem", poisson_effects=False,
                         random_state=0).fit(X)
    assert np.array_equal(m.row_labels_, z) and np.array_equal(m.column_labels_, w)


@pytest.mark.parametrize("init", ["spectral", "random", "k-means++"])
def test_each_init_recovers_clear_structure(init):
    from coclust_deep.metrics import ari

    X, z, w = make_lbm(300, 90, 3, 3, family="poisson", signal=1.0, random_state=4)
    m = LatentBlockModel(3, 3, init=init, n_init=3, random_state=0).fit(X)
    assert ari(z, m.row_labels_) == 1.0 and ari(w, m.column_labels_) == 1.0


def test_numpy_backend_selectable_and_reported(poisson_data):
    X, _, _ = poisson_data
    m = LatentBlockModel(3, 2, n_init=1, random_state=0, backend="numpy").fit(X)
    assert m.backend_ == "numpy"


def test_dask_array_fit_matches_in_memory_fit(poisson_data):
    da = pytest.importorskip("dask.array")
    X, _, _ = poisson_data
    ref = LatentBlockModel(3, 2, n_init=2, random_state=0).fit(X)
    m = LatentBlockModel(3, 2, n_init=2, random_state=0).fit(da.from_array(X, chunks=(50, 40)))
    assert m.backend_ == "dask"
    assert np.array_equal(ref.row_labels_, m.row_labels_)
    assert np.array_equal(ref.column_labels_, m.column_labels_)
    np.testing.assert_allclose(ref.elbo_, m.elbo_, rtol=1e-10)


def test_dask_array_with_kmeans_init_rejected():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="k-means\\+\\+.*dask"):
        LatentBlockModel(2, 2, init="k-means++").fit(da.from_array(np.ones((20, 10)), chunks=(5, 10)))


def test_dask_array_with_nan_rejected():
    da = pytest.importorskip("dask.array")
    X = np.ones((20, 10))
    X[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LatentBlockModel(2, 2).fit(da.from_array(X, chunks=(5, 10)))


def test_poisson_effects_are_the_default():
    assert LatentBlockModel().poisson_effects is True
    X, _, _ = make_lbm(200, 60, 2, 2, family="poisson", row_effects=True, random_state=0)
    m = LatentBlockModel(2, 2, n_init=1, random_state=0).fit(X)
    plain = LatentBlockModel(2, 2, n_init=1, poisson_effects=False, random_state=0).fit(X)
    assert m.family_ == "poisson" and not np.allclose(m.params_["lambda"], plain.params_["lambda"])
    # relative to the effects the rates average about 1; without them, about the mean count
    assert 0.5 < np.median(m.params_["lambda"]) < 2 < np.median(plain.params_["lambda"])
