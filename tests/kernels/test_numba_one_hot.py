"""The Numba CSR kernels' one-hot path (hard partitions: classic co-clustering, CEM).

A one-hot ``T`` (or ``S`` on the transpose) is read as cluster labels, so each
stored value is added once instead of multiplied by every column of ``T``.
It must give the numpy reference's answer (same tolerances as
``test_numba.py``) and, on integer-valued X, where every sum is exact, the
very same bits as the general kernels.
"""
import contextlib

import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import kernels
from coclust_deep.kernels import HARD, SAMPLE, SOFT, _numba_csr
from coclust_deep.kernels import numba_backend as nb
from coclust_deep.kernels import numpy_backend as ref
from tests.kernels.problems import RTOL, assert_same_result, half_step_problem


def _one_hot(labels, k):
    out = np.zeros((labels.size, k))
    out[np.arange(labels.size), labels] = 1.0
    return out


def _hard_problem(n=80, d=45, g=4, m=5, dtype=np.float64, index_dtype=np.int32, integer=False, seed=0):
    """CSR X (an empty row and column), one-hot T and S with an empty cluster each, hard-step inputs."""
    X = half_step_problem(n=n, d=d, g=g, m=m, dtype=np.float64, sparse=False, seed=seed)[0]
    if integer:
        X = np.round(3 * X)
    X = sp.csr_matrix(X.astype(dtype))
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    rng = np.random.default_rng(seed + 1)
    T = _one_hot(rng.integers(0, m - 1, size=d), m)  # column cluster m-1 stays empty
    S = _one_hot(rng.integers(0, g - 1, size=n), g)
    A, w, z, r = rng.normal(size=(g, m)), rng.normal(size=g), rng.normal(size=g), rng.gamma(2.0, 1.0, size=n)
    return X, T, S, A, w, z, r, rng.random(n)


@contextlib.contextmanager
def _count_calls(name):
    """Count the calls of a kernel of ``_numba_csr`` (the backend looks it up at call time)."""
    original = getattr(_numba_csr, name)
    calls = []

    def spy(*args):
        calls.append(args)
        return original(*args)

    setattr(_numba_csr, name, spy)
    try:
        yield calls
    finally:
        setattr(_numba_csr, name, original)


def test_one_hot_labels_only_for_one_hot_rows():
    T = _one_hot(np.array([2, 0, 1, 2]), 4)
    np.testing.assert_array_equal(_numba_csr.one_hot_labels(T), [2, 0, 1, 2])
    for value in (0.5, 2.0, -1.0, np.nan):  # a soft, scaled, negative or NaN entry
        bad = T.copy()
        bad[1, 3] = value
        assert _numba_csr.one_hot_labels(bad).size == 0
    zero_row = T.copy()
    zero_row[2] = 0.0
    assert _numba_csr.one_hot_labels(zero_row).size == 0
    assert _numba_csr.one_hot_labels(np.full((3, 2), 0.5)).size == 0
    assert nb._one_hot_labels(T, allowed=False).size == 0


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_one_hot_half_steps_match_reference(parallel, dtype, index_dtype):
    X, T, S, A, w, z, r, uniforms = _hard_problem(dtype=dtype, index_dtype=index_dtype)
    Xp = nb.prepare(X)
    Xt, Xt_ref = nb.transpose(Xp), ref.transpose(ref.prepare(X))
    rng = np.random.default_rng(7)
    Ac, wc, zc, rc, uc = (rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=5),
                          rng.gamma(2.0, 1.0, size=X.shape[1]), rng.random(X.shape[1]))
    rtol = RTOL[dtype]
    with kernels.config_context(parallel_min_values=0) if parallel else contextlib.nullcontext():
        with _count_calls("csr_column_sums_one_hot") as scatters:
            for mode in (SOFT, HARD, SAMPLE):
                assert_same_result(nb.row_estep(Xp, T, A, None, w, z, r, mode, uniforms),
                                   ref.row_estep(X, T, A, None, w, z, r, mode, uniforms), rtol)
                assert_same_result(nb.row_estep(Xt, S, Ac, None, wc, zc, rc, mode, uc),
                                   ref.row_estep(Xt_ref, S, Ac, None, wc, zc, rc, mode, uc), rtol)
            for got, want in ((nb.block_stats(Xp, S, T)[0], ref.block_stats(X, S, T)[0]),
                              (nb.block_stats(Xt, T, S)[0], ref.block_stats(Xt_ref, T, S)[0]),
                              (nb.column_sums(Xp, S)[0], ref.column_sums(X, S)[0]),
                              (nb.project(Xt, S), ref.project(Xt_ref, S))):
                np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
        assert len(scatters) == 3 + 1 + 2  # every column-side call took the one-hot path


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_one_hot_path_is_bit_identical_to_the_general_kernels_on_counts(parallel, monkeypatch):
    X, T, S, A, w, z, r, uniforms = _hard_problem(integer=True, seed=3)
    Xp = nb.prepare(X)
    Xt = nb.transpose(Xp)
    rng = np.random.default_rng(8)
    Ac, wc = rng.normal(size=(5, 4)), rng.normal(size=5)

    def run():
        out = []
        for mode in (SOFT, HARD, SAMPLE):
            out.append(nb.row_estep(Xp, T, A, None, w, z, r, mode, uniforms))
            out.append(nb.row_estep(Xt, S, Ac, None, wc, mode=mode, uniforms=uniforms[: X.shape[1]]))
        out.append(nb.block_stats(Xp, S, T))
        return out

    with kernels.config_context(parallel_min_values=0) if parallel else contextlib.nullcontext():
        with _count_calls("csr_half_step") as row_calls:
            fast = run()
        assert all(call[-1].size > 0 for call in row_calls)  # the labels were passed
        monkeypatch.setattr(nb, "_one_hot_labels", lambda T, allowed=True: nb._NO_LABELS)
        general = run()
    for a, b in zip(fast, general):
        for x, y in zip(a, b):
            if x is None:
                assert y is None
            else:
                np.testing.assert_array_equal(x, y)


def test_squared_sums_keep_the_general_kernels():
    # (x*x) T would round x*x differently under fused multiply-adds: no one-hot path with B
    X, T, S, A, w, z, r, uniforms = _hard_problem(seed=5)
    Xp = nb.prepare(X)
    B = -np.abs(A) * 0.05
    with _count_calls("csr_half_step") as row_calls, _count_calls("csr_column_sums_one_hot") as scatters:
        assert_same_result(nb.row_estep(Xp, T, A, B, w, mode=HARD), ref.row_estep(X, T, A, B, w, mode=HARD), 1e-10)
        Xt_ref = ref.transpose(ref.prepare(X))
        Bc = -np.abs(np.random.default_rng(2).normal(size=(5, 4)))
        Ac = np.random.default_rng(3).normal(size=(5, 4))
        assert_same_result(nb.row_estep(nb.transpose(Xp), S, Ac, Bc, np.zeros(5), mode=HARD),
                           ref.row_estep(Xt_ref, S, Ac, Bc, np.zeros(5), mode=HARD), 1e-10)
    assert row_calls[0][-1].size == 0 and not scatters

