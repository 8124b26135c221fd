"""Bad input raises a clear error naming the problem."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import LatentBlockModel, select_lbm

GOOD = np.random.default_rng(0).poisson(2.0, size=(20, 10)).astype(float)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_rejected(bad):
    X = GOOD.copy()
    X[3, 4] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        LatentBlockModel(2, 2).fit(X)


def test_non_finite_sparse_values_rejected():
    X = sp.csr_matrix(GOOD)
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        LatentBlockModel(2, 2).fit(X)


def test_negative_values_rejected_for_poisson():
    X = GOOD.copy()
    X[0, 0] = -1
    with pytest.raises(ValueError, match="non-negative"):
        LatentBlockModel(2, 2, family="poisson").fit(X)


def test_non_binary_values_rejected_for_bernoulli():
    with pytest.raises(ValueError, match="binary"):
        LatentBlockModel(2, 2, family="bernoulli").fit(GOOD)


@pytest.mark.parametrize("g,m,which", [(21, 2, "n_row_clusters"), (2, 11, "n_col_clusters")])
def test_more_clusters_than_rows_or_columns_rejected(g, m, which):
    with pytest.raises(ValueError, match=which):
        LatentBlockModel(g, m).fit(GOOD)


@pytest.mark.parametrize("X", [np.zeros((0, 5)), np.zeros((5, 0)), sp.csr_matrix((0, 4))])
def test_empty_input_rejected(X):
    with pytest.raises(ValueError, match="empty"):
        LatentBlockModel(1, 1).fit(X)


def test_one_dimensional_input_rejected():
    with pytest.raises(ValueError, match="2-D"):
        LatentBlockModel(1, 1).fit(np.arange(5.0))


def test_object_dtype_rejected():
    with pytest.raises(TypeError, match="dtype"):
        LatentBlockModel(2, 2).fit(GOOD.astype(object))


def test_complex_dtype_rejected_naming_the_dtype():
    # the input rule that tests/sklearn_checks.py cites for xfailing scikit-learn's check_complex_data
    with pytest.raises(TypeError, match="X has dtype complex128"):
        LatentBlockModel(2, 2).fit(GOOD + 1j)


@pytest.mark.parametrize(
    "param,value,match",
    [("family", "negbin", "family"), ("algorithm", "gibbs", "algorithm"), ("backend", "tpu", "backend"),
     ("init", "kmeans++", "init"), ("n_init", 0, "n_init"), ("tol", -1.0, "tol")],
)
def test_unknown_options_rejected(param, value, match):
    with pytest.raises(ValueError, match=match):
        LatentBlockModel(2, 2, **{param: value}).fit(GOOD)


def test_non_integer_cluster_count_rejected():
    with pytest.raises(TypeError, match="n_row_clusters"):
        LatentBlockModel(2.5, 2).fit(GOOD)


def test_select_lbm_rejects_grid_beyond_shape():
    with pytest.raises(ValueError, match="n_col_clusters"):
        select_lbm(GOOD, [2], [2, 50])


@pytest.mark.parametrize(
    "param,value",
    [("n_init", "3"), ("n_init", 2.0), ("max_iter", None), ("tol", "small"), ("family", 1),
     ("poisson_effects", 1), ("init", 42), ("backend", None), ("random_state", np.random.default_rng(0))],
)
def test_wrong_parameter_types_raise_type_error(param, value):
    with pytest.raises(TypeError, match=f"'{param}' parameter of LatentBlockModel"):
        LatentBlockModel(2, 2, **{param: value}).fit(GOOD)


@pytest.mark.parametrize(
    "param,value",
    [("n_init", 0), ("max_iter", -1), ("tol", float("inf")), ("family", "normal"), ("random_state", -1)],
)
def test_wrong_parameter_values_raise_value_error(param, value):
    with pytest.raises(ValueError, match=f"'{param}' parameter of LatentBlockModel"):
        LatentBlockModel(2, 2, **{param: value}).fit(GOOD)


def test_parameters_are_checked_before_the_data():
    with pytest.raises(ValueError, match="'n_init' parameter"):
        LatentBlockModel(2, 2, n_init=0).fit(np.full((3, 3), np.nan))


def test_unconverged_kept_start_warns():
    from sklearn.exceptions import ConvergenceWarning

    X = np.random.default_rng(1).poisson(3.0, size=(80, 40)).astype(float)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        m = LatentBlockModel(3, 3, n_init=1, max_iter=1, tol=0.0, random_state=0).fit(X)
    assert not m.converged_


def test_converged_fit_does_not_warn():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert LatentBlockModel(2, 2, n_init=1, random_state=0).fit(GOOD).converged_


# ---- families of issue 10, and large magnitudes / offsets (issue 17, item 9)
@pytest.mark.parametrize("family", ["nb", "categorical"])
@pytest.mark.parametrize("change", [-1.0, 0.5], ids=["negative", "non-integer"])
def test_counts_and_levels_need_non_negative_integers(family, change):
    X = GOOD.copy()
    X[2, 3] = change
    with pytest.raises(ValueError, match=f"family='{family}'"):
        LatentBlockModel(2, 2, family=family).fit(X)
    with pytest.raises(ValueError, match=f"family='{family}'"):
        LatentBlockModel(2, 2, family=family).fit(sp.csr_matrix(X))


def test_too_many_categorical_levels_rejected_with_the_count():
    X = np.arange(200, dtype=float).reshape(20, 10) % 12
    with pytest.raises(ValueError, match="found 12 levels.*max_levels=10"):
        LatentBlockModel(2, 2, family="categorical").fit(X)
    model = LatentBlockModel(2, 2, family="categorical", max_levels=12, n_init=1, random_state=0).fit(X)
    assert model.params_["alpha"].shape[1] == 12


@pytest.mark.parametrize("value", [1, 1.5, "10"])
def test_max_levels_must_be_an_int_of_at_least_two(value):
    error = ValueError if value == 1 else TypeError
    with pytest.raises(error, match="max_levels"):
        LatentBlockModel(2, 2, family="categorical", max_levels=value).fit(GOOD)


@pytest.mark.parametrize("family", ["poisson", "gaussian"])
def test_a_value_of_1e160_no_longer_overflows(family):
    X = GOOD.copy()
    X[0, 0] = 1e160
    if family == "gaussian":  # its squares overflow: rejected, naming the magnitude
        with pytest.raises(ValueError, match="values up to 1e\\+160.*Divide X by a constant"):
            LatentBlockModel(2, 2, family=family).fit(X)
        return
    model = LatentBlockModel(2, 2, family=family, n_init=2, random_state=0).fit(X)
    assert np.isfinite(model.elbo_) and np.isfinite(model.icl_) and np.isfinite(model.score(X))
    assert all(np.all(np.isfinite(v)) for v in model.params_.values())
    assert np.all(np.isfinite(model.row_posterior_))


@pytest.mark.parametrize("family", ["poisson", "nb", "gaussian"])
def test_values_beyond_float64_sums_rejected_naming_the_magnitude(family):
    X = GOOD.copy()
    X[0, 0] = 1e300
    with pytest.raises(ValueError, match="up to 1e\\+300"):
        LatentBlockModel(2, 2, family=family).fit(X)


@pytest.mark.parametrize("offset", [0.0, 1e7, 1e8, 1e12])
def test_gaussian_blocks_on_a_large_offset_are_recovered(offset):
    # E[x^2] - E[x]^2 lost every digit of the 0.01 block variances at offset 1e8 (column ARI ~0)
    from coclust_deep.metrics import ari

    rng = np.random.default_rng(0)
    z, w = np.repeat([0, 1], 100), np.repeat([0, 1], 50)
    X = np.array([[0.0, 1.0], [1.0, 0.0]])[z][:, w] + 0.1 * rng.standard_normal((200, 100)) + offset
    model = LatentBlockModel(2, 2, family="gaussian", n_init=2, tol=0, max_iter=20, random_state=0).fit(X)
    assert ari(z, model.row_labels_) == 1.0 and ari(w, model.column_labels_) == 1.0
    np.testing.assert_allclose(model.params_["var"], 0.01, rtol=0.1)
    np.testing.assert_allclose(np.sort(model.params_["mean"].ravel()) - offset, [0, 0, 1, 1], atol=0.01)
    h = np.asarray(model.elbo_history_)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[:-1]))


def test_gaussian_partition_does_not_depend_on_the_units_of_x():
    # an absolute variance floor (1e-12) merged the row clusters once X was scaled by 1e-7
    from coclust_deep.datasets import make_lbm

    X, _, _ = make_lbm(100, 60, 3, 2, family="gaussian", signal=1.0, random_state=0)
    fits = [LatentBlockModel(3, 2, family="gaussian", n_init=2, random_state=0).fit(X * s) for s in (1.0, 1e-7)]
    assert np.array_equal(fits[0].row_labels_, fits[1].row_labels_)


def test_gaussian_csr_on_a_large_offset_gives_the_dense_fit():
    # every cell stored: the CSR is centred as dense X is, instead of E[x^2] - E[x]^2 cancelling
    from coclust_deep.datasets import make_lbm

    X = make_lbm(100, 60, 3, 2, family="gaussian", signal=1.0, random_state=0)[0] + 1e8
    fits = [LatentBlockModel(3, 2, family="gaussian", n_init=2, random_state=0).fit(Z) for Z in (X, sp.csr_matrix(X))]
    assert np.array_equal(fits[0].row_labels_, fits[1].row_labels_)
