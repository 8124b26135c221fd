"""Block-update co-clustering: DoubleKMeans, InfoCoclustering, ModularityCoclustering."""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import make_biclusters, make_checkerboard

from coclust_deep import ChengChurch, DoubleKMeans, InfoCoclustering, ModularityCoclustering, kernels
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari, consensus_score, labels_to_biclusters

# Backends that read in-memory numpy/scipy input (dask maps over dask arrays only).
IN_MEMORY_BACKENDS = [b for b in kernels.available_backends() if b != "dask"]

BLOCK_ESTIMATORS = {
    "dkm": lambda k, **kw: DoubleKMeans(k, k, **kw),
    "info": lambda k, **kw: InfoCoclustering(k, k, **kw),
    "mod": lambda k, **kw: ModularityCoclustering(k, **kw),
}


def make_estimator(name, k, **kw):
    kw.setdefault("backend", "numpy")
    kw.setdefault("random_state", 0)
    return BLOCK_ESTIMATORS[name](k, **kw)


def planted_biclusters(k=4, noise=3, shape=(120, 100), random_state=1):
    X, rows, cols = make_biclusters(shape, k, noise=noise, minval=10, maxval=20,
                                    shuffle=True, random_state=random_state)
    return np.abs(X), rows, cols


def assert_recovers(model, rows, cols, threshold=0.95):
    assert ari(rows, model.row_labels_) >= threshold
    assert ari(cols, model.column_labels_) >= threshold


# ---------------------------------------------------------------- planted structure
@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_recovers_make_biclusters(name):
    X, rows, cols = planted_biclusters()
    model = make_estimator(name, 4).fit(X)
    assert_recovers(model, rows.argmax(axis=0), cols.argmax(axis=0))


@pytest.mark.parametrize("init", ["spectral", "auto"])
@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_spectral_starts_recover_make_biclusters(name, init):
    X, rows, cols = planted_biclusters()
    model = make_estimator(name, 4, init=init).fit(X)
    assert_recovers(model, rows.argmax(axis=0), cols.argmax(axis=0))


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_a_given_partition_is_where_every_start_begins(name):
    X, rows, cols = planted_biclusters()
    truth = rows.argmax(axis=0), cols.argmax(axis=0)
    model = make_estimator(name, 4, init=truth, n_init=2, max_iter=1).fit(X)
    assert ari(truth[0], model.row_labels_) == 1.0 and ari(truth[1], model.column_labels_) == 1.0


def test_modularity_consensus_on_make_biclusters():
    X, rows, cols = planted_biclusters()
    model = make_estimator("mod", 4).fit(X)
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.95


@pytest.mark.parametrize("name", ["dkm", "info"])
def test_recovers_make_checkerboard(name):
    X, rows, cols = make_checkerboard((120, 100), (3, 3), noise=4, minval=10, maxval=100,
                                      shuffle=True, random_state=0)
    model = make_estimator(name, 3).fit(np.abs(X))
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.95


def test_double_kmeans_recovers_gaussian_lbm():
    X, rows, cols = make_lbm(150, 120, 3, 2, family="gaussian", random_state=0)
    assert_recovers(DoubleKMeans(3, 2, backend="numpy", random_state=0).fit(X), rows, cols)


def test_info_recovers_poisson_lbm_with_row_effects():
    # Info co-clustering compares profiles p(column cluster | row), so scale
    # effects per row and column (its own model) do not disturb it.
    lam = np.array([[1.0, 4.0, 1.0], [4.0, 1.0, 1.0], [1.0, 1.0, 4.0]])
    X, rows, cols = make_lbm(150, 120, 3, 3, family="poisson", params={"lambda": lam},
                             row_effects=True, random_state=0)
    assert_recovers(InfoCoclustering(3, 3, backend="numpy", random_state=0).fit(X), rows, cols)


@pytest.mark.parametrize("backend", IN_MEMORY_BACKENDS)
@pytest.mark.parametrize("k", [5, 8])
def test_modularity_no_empty_coclusters_for_many_clusters(k, backend):
    lam = 1.0 + 4.0 * np.eye(k)
    X, rows, cols = make_lbm(30 * k, 25 * k, k, k, family="poisson", params={"lambda": lam},
                             random_state=0)
    model = ModularityCoclustering(k, backend=backend, random_state=0).fit(X)
    assert np.bincount(model.row_labels_, minlength=k).min() > 0
    assert np.bincount(model.column_labels_, minlength=k).min() > 0
    assert consensus_score(model.biclusters_, labels_to_biclusters(rows, cols)) >= 0.95


# ---------------------------------------------------------------- criteria
def test_info_mutual_information_never_decreases():
    X, _, _ = make_lbm(80, 60, 3, 3, family="poisson", random_state=2)
    model = InfoCoclustering(3, 3, backend="numpy", n_init=1, init="random", random_state=0).fit(X)
    assert np.all(np.diff(model.criterion_history_) >= -1e-12)
    assert model.mutual_information_ == pytest.approx(model.criterion_history_[-1])
    assert model.information_loss_ >= 0


def test_modularity_never_decreases():
    X, _, _ = make_lbm(80, 60, 3, 3, family="poisson", random_state=2)
    model = ModularityCoclustering(3, backend="numpy", n_init=1, init="random", random_state=0).fit(X)
    assert np.all(np.diff(model.criterion_history_) >= -1e-12)


def test_modularity_matches_dense_formula():
    X, _, _ = make_lbm(40, 30, 3, 3, family="poisson", random_state=3)
    model = ModularityCoclustering(3, backend="numpy", random_state=0).fit(X)
    r, c, N = X.sum(axis=1), X.sum(axis=0), X.sum()
    B = X - np.outer(r, c) / N  # fine here: tiny test matrix
    same = model.row_labels_[:, None] == model.column_labels_[None, :]
    assert model.modularity_ == pytest.approx((B * same).sum() / N)


def test_double_kmeans_within_sum_of_squares_never_increases():
    X, _, _ = make_lbm(80, 60, 3, 2, family="gaussian", random_state=1)
    model = DoubleKMeans(3, 2, backend="numpy", n_init=1, init="random", random_state=0).fit(X)
    assert np.all(np.diff(model.criterion_history_) <= 1e-9)
    fitted = model.block_means_[model.row_labels_][:, model.column_labels_]
    assert model.criterion_ == pytest.approx(((X - fitted) ** 2).sum())


# ---------------------------------------------------------------- sparse, zeros, seeds
@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_sparse_equals_dense(name):
    X, _, _ = planted_biclusters(noise=5)
    X[X < 3] = 0
    dense = make_estimator(name, 4).fit(X)
    sparse = make_estimator(name, 4).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(dense.row_labels_, sparse.row_labels_)
    np.testing.assert_array_equal(dense.column_labels_, sparse.column_labels_)
    np.testing.assert_allclose(dense.criterion_history_, sparse.criterion_history_, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_all_zero_rows_and_columns(name):
    X, rows, cols = planted_biclusters()
    X[:5] = 0
    X[:, -4:] = 0
    model = make_estimator(name, 4).fit(sp.csr_matrix(X))
    for labels, n in ((model.row_labels_, X.shape[0]), (model.column_labels_, X.shape[1])):
        assert labels.shape == (n,) and labels.dtype.kind == "i"
        assert labels.min() >= 0 and labels.max() < 4
    assert np.all(np.isfinite(model.criterion_history_))
    assert ari(rows.argmax(axis=0)[5:], model.row_labels_[5:]) >= 0.95


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_seed_reproducible(name):
    X, _, _ = planted_biclusters(noise=8)
    a = make_estimator(name, 4, random_state=7, n_init=2).fit(X)
    b = make_estimator(name, 4, random_state=7, n_init=2).fit(X)
    np.testing.assert_array_equal(a.row_labels_, b.row_labels_)
    np.testing.assert_array_equal(a.column_labels_, b.column_labels_)


@pytest.mark.parametrize("backend", IN_MEMORY_BACKENDS)
@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_backends_agree_with_numpy_reference(name, backend):
    X, _, _ = planted_biclusters(noise=5)
    ref = make_estimator(name, 4, n_init=2).fit(X)
    other = make_estimator(name, 4, n_init=2, backend=backend).fit(X)
    assert other.backend_ == backend
    np.testing.assert_array_equal(ref.row_labels_, other.row_labels_)
    np.testing.assert_array_equal(ref.column_labels_, other.column_labels_)


def test_float32_input_gives_finite_results():
    X, rows, cols = planted_biclusters()
    model = make_estimator("info", 4).fit(sp.csr_matrix(X.astype(np.float32)))
    assert np.all(np.isfinite(model.criterion_history_))
    assert ari(rows.argmax(axis=0), model.row_labels_) >= 0.95


@pytest.mark.parametrize("backend", IN_MEMORY_BACKENDS)
def test_reseeding_empty_clusters_on_every_backend(backend):
    # Only 4 distinct rows and columns (plus all-zero ones) for 8 clusters:
    # identical rows always pick the same cluster, so some clusters empty out.
    rng = np.random.RandomState(0)
    pattern = rng.uniform(1, 5, size=(4, 4))
    X = pattern[rng.randint(0, 4, 120)][:, rng.randint(0, 4, 100)]
    X[:10] = 0
    X = sp.csr_matrix(X)
    for name in sorted(BLOCK_ESTIMATORS):
        model = make_estimator(name, 8, backend=backend, init="random", n_init=3).fit(X)
        assert np.bincount(model.row_labels_, minlength=8).min() > 0
        assert np.bincount(model.column_labels_, minlength=8).min() > 0


def test_modularity_memory_stays_sparse():
    # A dense modularity matrix B = X - r c^T / N would take 8 * 4000 * 3000 = 96 MB.
    rng = np.random.RandomState(0)
    X = sp.random(4000, 3000, density=0.002, random_state=rng, format="csr") * 10
    tracemalloc.start()
    ModularityCoclustering(5, n_init=1, max_iter=5, backend="numpy", random_state=0).fit(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20e6


# ---------------------------------------------------------------- API
@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_clone_and_params(name):
    model = make_estimator(name, 3, n_init=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "row_labels_")


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_bicluster_api(name):
    X, _, _ = planted_biclusters()
    model = make_estimator(name, 4).fit(X)
    rows, cols = model.biclusters_
    assert rows.dtype == bool and rows.shape[1] == X.shape[0] and cols.shape[1] == X.shape[1]
    row_idx, col_idx = model.get_indices(0)
    sub = model.get_submatrix(0, sp.csr_matrix(X))
    assert sub.shape == (row_idx.size, col_idx.size)
    np.testing.assert_array_equal(sub.toarray(), X[np.ix_(row_idx, col_idx)])


def test_does_not_mutate_input():
    X, _, _ = planted_biclusters()
    Xs = sp.csr_matrix(X)
    before = Xs.data.copy()
    make_estimator("mod", 4).fit(Xs)
    np.testing.assert_array_equal(Xs.data, before)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", ["info", "mod"])
def test_negative_values_rejected(name):
    X = -np.ones((10, 8))
    with pytest.raises(ValueError, match="negative"):
        make_estimator(name, 2).fit(X)


@pytest.mark.parametrize("name", ["info", "mod"])
def test_all_zero_matrix_rejected(name):
    with pytest.raises(ValueError, match="sums to 0"):
        make_estimator(name, 2).fit(sp.csr_matrix((10, 8)))


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_too_many_clusters_rejected(name):
    with pytest.raises(ValueError, match="more clusters"):
        make_estimator(name, 9).fit(np.ones((10, 8)))


def test_nan_rejected():
    X = np.ones((10, 8))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make_estimator("dkm", 2).fit(X)


@pytest.mark.parametrize("param, value", [("init", "kmeans"), ("backend", "gpu"), ("n_init", 0), ("tol", -1.0)])
def test_bad_parameters_rejected(param, value):
    with pytest.raises(ValueError, match=param):
        make_estimator("info", 2, **{param: value}).fit(np.ones((10, 8)))


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
@pytest.mark.parametrize("param, value", [("n_init", "2"), ("tol", None), ("init", 3), ("random_state", 1.5)])
def test_wrong_parameter_types_raise_type_error(name, param, value):
    with pytest.raises(TypeError, match=f"'{param}' parameter"):
        make_estimator(name, 2, **{param: value}).fit(np.ones((10, 8)))


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_dask_backend_on_in_memory_data_matches_numpy(name):
    pytest.importorskip("dask.array")
    X, _, _ = planted_biclusters()
    ref = make_estimator(name, 4, n_init=2).fit(X)
    model = make_estimator(name, 4, n_init=2, backend="dask").fit(X)
    assert model.backend_ == "dask"
    assert np.array_equal(ref.row_labels_, model.row_labels_)
    assert np.array_equal(ref.column_labels_, model.column_labels_)


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_unconverged_kept_start_warns(name):
    from sklearn.exceptions import ConvergenceWarning

    X, _, _ = planted_biclusters(noise=20)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = make_estimator(name, 4, n_init=1, max_iter=1, tol=0.0, init="random").fit(X)
    assert not model.converged_


@pytest.mark.parametrize("name", sorted(BLOCK_ESTIMATORS))
def test_n_features_in_is_the_number_of_columns(name):
    X, _, _ = planted_biclusters()
    assert make_estimator(name, 4).fit(X).n_features_in_ == X.shape[1]


# ---------------------------------------------------------------- magnitudes and degenerate clusters
@pytest.mark.parametrize("cls, scale", [
    (cls, scale) for cls in (InfoCoclustering, ModularityCoclustering, DoubleKMeans)
    for scale in (2.0**-1000, 2.0**-200, 2.0**200, 2.0**900)
    if not (cls is DoubleKMeans and scale > 2.0**300)  # its sum of squares exceeds float64: refused, next test
])
def test_partitions_do_not_depend_on_the_scale(cls, scale):
    X, _, _ = make_lbm(60, 40, 3, 3, family="poisson", signal=0.9, random_state=0)
    make = (lambda: cls(3, n_init=2, random_state=0)) if cls is ModularityCoclustering else (
        lambda: cls(3, 3, n_init=2, random_state=0))
    plain, scaled = make().fit(X), make().fit(X * scale)
    np.testing.assert_array_equal(plain.row_labels_, scaled.row_labels_)
    np.testing.assert_array_equal(plain.column_labels_, scaled.column_labels_)
    for name in ("criterion_", "information_loss_", "modularity_", "mutual_information_"):
        if hasattr(plain, name):
            value = getattr(scaled, name)
            assert np.isfinite(value)
            expected = getattr(plain, name) * (scale**2 if name == "criterion_" and cls is DoubleKMeans else 1)
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_huge_values_are_refused_where_the_criterion_cannot_be_a_float():
    X = np.abs(np.random.default_rng(0).normal(size=(30, 20)))
    X[0, 0] = 1e300
    with pytest.raises(ValueError, match=r"values up to 1e\+300.*X / abs\(X\).max\(\)"):
        DoubleKMeans(2, 2).fit(X)
    with pytest.raises(ValueError, match=r"values up to 1e\+300"):
        ChengChurch(2).fit(X)
    info = InfoCoclustering(2, 2, n_init=2, random_state=0).fit(X)
    assert np.isfinite(info.information_loss_) and np.isfinite(info.criterion_history_).all()
    assert np.isfinite(ModularityCoclustering(2, n_init=2, random_state=0).fit(X).modularity_)


def test_modularity_with_more_clusters_than_supported_warns():
    X, _, _ = make_lbm(200, 60, 2, 2, family="poisson", params={"lambda": np.array([[6.0, 0.2], [0.2, 6.0]])},
                       random_state=0)
    with pytest.warns(RuntimeWarning, match="with a single member|empty"):
        model = ModularityCoclustering(8, n_init=2, random_state=0).fit(X)
    assert np.bincount(model.row_labels_).min() <= 1


def test_no_degenerate_warning_on_planted_clusters():
    import warnings

    X, _, _ = make_lbm(90, 60, 3, 3, family="poisson", signal=0.9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ModularityCoclustering(3, n_init=2, random_state=0).fit(X)
        DoubleKMeans(3, 3, n_init=2, random_state=0).fit(X)
