"""Properties of LatentBlockModel on generated matrices (hypothesis; profiles in conftest.py)."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coclust_deep import LatentBlockModel

from .conftest import check_finite, check_labels, check_posterior, clear_refusal, matrices, snapshot, unchanged

# Magnitudes every family fits: 1e-300 to 1e100. Beyond, a fit is finite or refused with a message
# that names the magnitude (test_lbm_extreme_magnitudes_fit_finite_or_are_refused_naming_the_magnitude).
LBM_MAGNITUDES = (1e-300, 1e-12, 1.0, 1e12, 1e100)


def _fit(X, family, g, m, algorithm):
    model = LatentBlockModel(g, m, family=family, algorithm=algorithm, n_init=2, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty clusters, convergence: warned, not wrong
        return model.fit(X)


def _check_model(model, n, d, g, m):
    check_labels(model.row_labels_, n, g, "row_labels_")
    check_labels(model.column_labels_, d, m, "column_labels_")
    check_posterior(model.row_posterior_, n, g, "row_posterior_")
    check_posterior(model.column_posterior_, d, m, "column_posterior_")
    for name, value in model.params_.items():
        check_finite(value, f"params_[{name!r}]")
    for name in ("row_proportions_", "column_proportions_", "block_means_", "elbo_", "icl_", "elbo_history_"):
        check_finite(getattr(model, name), name)


@given(data=matrices(magnitudes=LBM_MAGNITUDES), g=st.integers(1, 4), m=st.integers(1, 3),
       algorithm=st.sampled_from(["vem", "cem", "sem"]))
def test_lbm_fits_or_refuses_clearly(data, g, m, algorithm):
    X, family = data
    before = snapshot(X)
    n, d = X.shape
    try:
        model = _fit(X, family, g, m, algorithm)
    except Exception as err:  # noqa: BLE001 - the property is about which errors
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"
        assert g > n or m > d or family != "gaussian", f"a Gaussian fit of a valid shape was refused: {err}"
    else:
        _check_model(model, n, d, g, m)
    assert unchanged(X, before)


@given(data=matrices(families=("gaussian",), magnitudes=LBM_MAGNITUDES), g=st.integers(1, 3))
def test_lbm_any_real_matrix_is_fitted_by_the_gaussian_family(data, g):
    X, _ = data
    g = min(g, X.shape[0])
    _check_model(_fit(X, "gaussian", g, 1, "vem"), *X.shape, g, 1)


@pytest.mark.parametrize("family", ["poisson", "gaussian"])
@pytest.mark.parametrize("scale", [1e160, 1e300])
def test_lbm_extreme_magnitudes_fit_finite_or_are_refused_naming_the_magnitude(family, scale):
    X = np.abs(np.random.default_rng(0).normal(size=(12, 8))).round() + 1.0
    X[0, 0] = scale
    try:
        model = _fit(X, family, 2, 2, "vem")
    except ValueError as err:  # never an OverflowError or NaN (issue 17 item 9)
        assert f"{scale:g}" in str(err) and "Divide X by a constant" in str(err)
    else:
        _check_model(model, *X.shape, 2, 2)
