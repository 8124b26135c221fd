"""The dask backend: row-block map-reduces that agree with the in-memory kernels.

Both sides sum in float64; only the order of summation differs (per block,
then a tree), hence ``RTOL``.
"""
import dask
import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")

from coclust_deep.kernels import HARD, SAMPLE, SOFT, EStepResult  # noqa: E402
from coclust_deep.kernels import dask_backend as dk  # noqa: E402
from coclust_deep.kernels import numba_backend as nb  # noqa: E402
from coclust_deep.kernels import numpy_backend as ref  # noqa: E402
from tests.kernels.problems import RTOL, every_half_step_case, half_step_problem  # noqa: E402
from tests.kernels.problems import assert_same_result as _assert_same  # noqa: E402


def lazy(X, rows=16, cols=None):
    """``X`` as a dask array of ``rows``-row blocks (and ``cols``-column chunks if given); sparse stays sparse."""
    return da.from_array(X, chunks=(rows, cols or -1), asarray=False)


@every_half_step_case
def test_row_half_step_matches_reference(sparse, dtype, mode, with_B, with_z):
    X, T, A, B, w, z, r, uniforms = half_step_problem(dtype=dtype, sparse=sparse)
    args = (T, A, B if with_B else None, w, z if with_z else None, r if with_z else None, mode, uniforms)
    _assert_same(dk.row_estep(dk.prepare(lazy(X)), *args), ref.row_estep(X, *args), RTOL[dtype])


@every_half_step_case
def test_column_half_step_without_transpose_matches_reference(sparse, dtype, mode, with_B, with_z):
    X, T, A, B, w, z, r, uniforms = half_step_problem(n=45, d=70, g=4, m=3, dtype=dtype, sparse=sparse)
    rng = np.random.default_rng(1)
    S = rng.dirichlet(np.ones(4), size=X.shape[0])
    zc, cw, u = rng.normal(size=3), rng.gamma(2.0, 1.0, size=70), rng.random(70)
    args = (S, A.T, B.T if with_B else None, rng.normal(size=3), zc if with_z else None,
            cw if with_z else None, mode, u)
    want = ref.row_estep(ref.transpose(X), *args)
    Xt = dk.transpose(dk.prepare(lazy(X, rows=10)))
    assert isinstance(Xt, dk.Transposed) and Xt.shape == (70, 45)
    _assert_same(dk.row_estep(Xt, *args), want, RTOL[dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_block_stats_and_products_match_reference(sparse):
    X, T, *_ = half_step_problem(sparse=sparse)
    S = np.random.default_rng(2).dirichlet(np.ones(3), size=X.shape[0])
    Xp = dk.prepare(lazy(X))
    for got, want in zip(dk.block_stats(Xp, S, T, True), ref.block_stats(X, S, T, True)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    for got, want in zip(dk.block_stats(dk.transpose(Xp), T, S, True), ref.block_stats(X.T, T, S, True)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    M = np.random.default_rng(3).normal(size=(X.shape[1], 4))
    np.testing.assert_allclose(dk.matmul(Xp, M), X @ M, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dk.matmul(dk.transpose(Xp), S), X.T @ S, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numba_column_sums_and_finish_match_reference(sparse, dtype):
    X, T, A, B, w, *_ = half_step_problem(dtype=dtype, sparse=sparse)
    S = np.random.default_rng(4).dirichlet(np.ones(6), size=X.shape[0])
    for got, want in zip(nb.column_sums(X, S, True), ref.column_sums(X, S, True)):
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype])
    U, V = ref.column_sums(X, S[:, :5], True)  # (d, m): the column half-step's projections
    for mode in (SOFT, HARD):
        _assert_same(nb.finish_estep(U, V, A, B, w, mode=mode), ref.finish_estep(U, V, A, B, w, mode=mode), 1e-10)


def test_every_additive_field_is_summed_generically():
    # a block function with sums of any shape and number: each one is added over blocks
    X = np.arange(40.0).reshape(10, 4)

    def stats(block):
        return (block[:, :1],), (block.sum(axis=0), float(block.shape[0]), None, (block.max(), 1))

    rows, sums = dk.map_reduce(lazy(X, rows=3), stats)
    np.testing.assert_array_equal(rows[0], X[:, :1])
    np.testing.assert_allclose(sums[0], X.sum(axis=0))
    assert sums[1] == 10.0 and sums[2] is None
    assert sums[3] == (11.0 + 23.0 + 35.0 + 39.0, 4)  # block maxima 11, 23, 35, 39 and a count


def test_row_estep_rebuilds_every_field_of_the_contract():
    X, T, A, B, w, *_ = half_step_problem()
    got = dk.row_estep(dk.prepare(lazy(X)), T, A, B, w)
    assert isinstance(got, EStepResult) and set(got._fields) == set(EStepResult._fields)


def test_sparse_blocks_reach_the_tasks_sparse():
    X = sp.random(50, 30, density=0.2, format="csr", random_state=0)
    _, (n_sparse,) = dk.map_reduce(lazy(X, rows=7), lambda b: ((), (int(sp.issparse(b)),)))
    assert n_sparse == 8  # every one of the 8 blocks


def test_column_chunks_are_merged_into_whole_rows_without_moving_rows():
    X, T, A, B, w, *_ = half_step_problem()
    Xd = lazy(X, rows=16, cols=10)
    Xp = dk.prepare(Xd)
    assert Xp.numblocks == (Xd.numblocks[0], 1) and Xp.chunks[0] == Xd.chunks[0]
    _assert_same(dk.row_estep(Xp, T, A, B, w), ref.row_estep(X, T, A, B, w), 1e-10)


def test_columns_only_chunks_of_a_large_matrix_raise():
    X = da.zeros((1000, 40), chunks=(1000, 10))
    with dask.config.set({"array.chunk-size": "100kB"}):
        with pytest.raises(ValueError, match="chunked across columns only.*by rows"):
            dk.prepare(X)
    assert dk.prepare(X).numblocks == (1, 1)  # small enough for one block under the default chunk size


def test_margins_in_one_pass_match_numpy():
    X, *_ = half_step_problem()
    X[0, 0] = -1.5
    for Xi in (X, sp.csr_matrix(X)):
        m = dk.margins(lazy(Xi), lambda v: (float(v.size), float(np.sum(v))))
        np.testing.assert_allclose(m.row_sums, X.sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(m.col_sums, X.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(m.row_sq_sums, (X * X).sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(m.col_sq_sums, (X * X).sum(axis=0), rtol=1e-12)
        values = Xi.data if sp.issparse(Xi) else X.ravel()
        assert m.n_stored == values.size and m.min == values.min() and m.n_negative == 1
        assert m.n_non_integer == np.count_nonzero(values != np.round(values))
        assert m.extra[0] == values.size and m.extra[1] == pytest.approx(values.sum())


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_nan_in_a_block_is_named(sparse):
    X, T, A, B, w, *_ = half_step_problem(n=60)
    X = X.toarray() if sp.issparse(X) else X
    X[37, 5] = np.nan  # block 2 of 4 with 16-row blocks
    Xi = da.from_array(sp.csr_matrix(X) if sparse else X, chunks=(16, -1), asarray=False)
    with pytest.raises(ValueError, match=r"NaN or infinite values in row block 2 of 4 \(rows 32 to 47\)"):
        dk.margins(Xi)
    with pytest.raises(ValueError, match=r"row block 2 of 4 \(rows 32 to 47\)"):
        dk.row_estep(dk.prepare(Xi), T, A, B, w)


def test_sample_mode_needs_uniforms():
    X, T, A, B, w, *_ = half_step_problem()
    with pytest.raises(ValueError, match="uniform"):
        dk.row_estep(dk.prepare(lazy(X)), T, A, None, w, mode=SAMPLE)
