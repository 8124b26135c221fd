"""Random half-step problems and the comparison every backend's tests run against the numpy reference."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep.kernels import HARD, SAMPLE, SOFT

# Both backends sum in float64 whatever X's dtype, so results differ only by summation order.
RTOL = {np.float64: 1e-10, np.float32: 1e-6}


def half_step_problem(n=60, d=37, g=3, m=5, dtype=np.float64, sparse=False, seed=0,
                      index_dtype=np.int32, density=0.3):
    """Random nonnegative X with two all-zero rows and one all-zero column, and the half-step inputs."""
    rng = np.random.default_rng(seed)
    X = rng.gamma(1.0, 2.0, size=(n, d)) * (rng.random((n, d)) < density)
    X[[min(1, n - 1), n // 2]] = 0.0  # empty rows
    X[:, 3] = 0.0  # empty column
    X = X.astype(dtype)
    if sparse:
        X = sp.csr_matrix(X)
        X.indices = X.indices.astype(index_dtype)
        X.indptr = X.indptr.astype(index_dtype)
    T = rng.dirichlet(np.ones(m), size=d)
    A = rng.normal(size=(g, m))
    B = -np.abs(rng.normal(size=(g, m))) * 0.05
    w = rng.normal(size=g)
    z = rng.normal(size=g)
    r = rng.gamma(2.0, 1.0, size=n)
    uniforms = rng.random(n)
    return X, T, A, B, w, z, r, uniforms


def assert_same_result(got, want, rtol, to_numpy=np.asarray):
    """A backend's EStepResult equals the reference's within ``rtol`` (``atol`` 1e-12 for near-zero posteriors)."""
    np.testing.assert_allclose(to_numpy(got.S), want.S, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(to_numpy(got.SXT), want.SXT, rtol=rtol, atol=1e-12)
    if want.SX2T is None:
        assert got.SX2T is None
    else:
        np.testing.assert_allclose(to_numpy(got.SX2T), want.SX2T, rtol=rtol, atol=1e-12)
    assert got.log_norm == pytest.approx(want.log_norm, rel=rtol, abs=1e-12)


def every_half_step_case(test):
    """Parametrize ``test(sparse, dtype, mode, with_B, with_z)`` over every storage, dtype, mode and term."""
    marks = [
        pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"]),
        pytest.mark.parametrize("dtype", [np.float64, np.float32]),
        pytest.mark.parametrize("mode", [SOFT, HARD, SAMPLE], ids=["soft", "hard", "sample"]),
        pytest.mark.parametrize("with_B", [False, True], ids=["noB", "B"]),
        pytest.mark.parametrize("with_z", [False, True], ids=["noz", "z"]),
    ]
    for mark in reversed(marks):
        test = mark(test)
    return test


def level_problem(n=60, d=37, g=3, m=5, n_levels=4, sparse=False, seed=0, dtype=np.float64):
    """Categorical X (levels 0..n_levels-1, two empty rows, an empty column) and one-hot half-step inputs."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, n_levels, size=(n, d)).astype(dtype)
    X[[min(1, n - 1), n // 2]] = 0.0
    X[:, 3] = 0.0
    if sparse:
        X = sp.csr_matrix(X)
    T = rng.dirichlet(np.ones(m), size=d)
    A = rng.normal(size=(g, (n_levels - 1) * m))
    w, z, r = rng.normal(size=g), rng.normal(size=g), rng.gamma(2.0, 1.0, size=n)
    return X, T, A, w, z, r, rng.random(n)


def known_rows(n, g, seed=0):
    """Semi-supervised labels: about a third of the rows known, -1 elsewhere."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 1 / 3, rng.integers(0, g, size=n), -1)


def count_problem(n=60, d=37, sparse=False, seed=0, dtype=np.float64):
    """Over-dispersed counts (small and a few large values, an empty row and column), row sizes, dispersions."""
    rng = np.random.default_rng(seed)
    X = rng.negative_binomial(0.8, 0.3, size=(n, d)).astype(dtype)
    X[1] = 0.0
    X[:, 3] = 0.0
    X[2, 5], X[4, 6] = 300.0, 75.0  # beyond the exact finite sums of the Numba kernel
    if sparse:
        X = sp.csr_matrix(X)
    return X, rng.gamma(2.0, 0.5, size=n), np.exp(rng.normal(0.0, 1.5, size=d))
