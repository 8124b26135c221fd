"""Hypothesis property sweep: profiles and the generated matrices.

Two profiles: ``ci`` (the default: a fixed, derandomised set of examples sized
for CI) and ``thorough`` (ten times as many, random, for local runs)::

    HYPOTHESIS_PROFILE=thorough python -m pytest -q tests/properties

The matrices are small (at most 12 x 10), dense or CSR, drawn for one family
(Bernoulli 0/1, Poisson counts, Gaussian reals), then given all-zero rows and
columns, constant columns and a magnitude from 1e-300 to 1e300.
"""
import os
import traceback
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CI_EXAMPLES = 25
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=10 * CI_EXAMPLES, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

MAGNITUDES = (1e-300, 1e-12, 1.0, 1e12, 1e150, 1e300)
"""Scales the non-Bernoulli matrices are multiplied by."""

FAMILIES = ("bernoulli", "poisson", "gaussian")


@st.composite
def matrices(draw, families=FAMILIES, magnitudes=MAGNITUDES, max_rows=12, max_cols=10):
    """``(X, family)``: a small dense or CSR matrix with the awkward cases a fit must survive."""
    n = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, max_cols))
    family = draw(st.sampled_from(families))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if family == "bernoulli":
        X = (rng.random((n, d)) < draw(st.floats(0.0, 1.0))).astype(np.float64)
    elif family == "poisson":
        X = rng.poisson(draw(st.sampled_from([0.05, 0.5, 3.0, 50.0])), size=(n, d)).astype(np.float64)
    else:
        X = rng.normal(draw(st.sampled_from([0.0, 5.0])), 1.0, size=(n, d))
    zero_rows = draw(st.lists(st.integers(0, n - 1), max_size=n))
    zero_cols = draw(st.lists(st.integers(0, d - 1), max_size=d))
    constant_cols = draw(st.lists(st.integers(0, d - 1), max_size=2))
    X[zero_rows] = 0.0
    X[:, zero_cols] = 0.0
    X[:, constant_cols] = 1.0
    if family != "bernoulli":
        X = X * draw(st.sampled_from(magnitudes))
    if draw(st.booleans()):
        X = sp.csr_matrix(X)
    return X, family


def snapshot(X):
    """A copy of everything ``X`` holds, to check that a fit left it unchanged."""
    if sp.issparse(X):
        return ("sparse", X.format, X.shape, X.data.copy(), X.indices.copy(), X.indptr.copy())
    return ("dense", np.array(X, copy=True))


def unchanged(X, before):
    if before[0] == "sparse":
        _, fmt, shape, data, indices, indptr = before
        return (X.format == fmt and X.shape == shape and np.array_equal(X.data, data)
                and np.array_equal(X.indices, indices) and np.array_equal(X.indptr, indptr))
    return np.array_equal(X, before[1])


def check_labels(labels, n_items, n_clusters, what):
    labels = np.asarray(labels)
    assert labels.shape == (n_items,), f"{what}: shape {labels.shape}"
    assert labels.dtype.kind in "iu", f"{what}: dtype {labels.dtype}"
    assert labels.size == 0 or (labels.min() >= 0 and labels.max() < n_clusters), f"{what}: out of range"


def check_finite(value, what):
    values = np.asarray(value, dtype=np.float64)
    assert np.all(np.isfinite(values)), f"{what} is not finite: {value!r}"


FLOAT32_ATOL = 1e-5
"""Tolerance on the row sums of the deep models' float32 soft assignments."""


def check_posterior(P, n_items, n_clusters, what, atol=1e-8):
    """Rows of ``P`` are finite probability vectors, summing to 1 within ``atol``."""
    P = np.asarray(P, dtype=np.float64)
    assert P.shape == (n_items, n_clusters), f"{what}: shape {P.shape}"
    check_finite(P, what)
    assert np.all(P >= 0), f"{what} has negative entries"
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=atol, err_msg=f"{what} rows do not sum to 1")


PACKAGE_DIRS = tuple(str(Path(__file__).resolve().parents[2] / name) for name in ("coclust_deep", "kernels"))


def clear_refusal(err):
    """A ValueError/TypeError raised by coclust_deep itself (its own message), not by numpy or scipy inside it."""
    if not isinstance(err, (ValueError, TypeError)):
        return False
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PACKAGE_DIRS)
