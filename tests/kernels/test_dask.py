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


def test_huge_finite_values_get_the_in_memory_magnitude_message():
    from coclust_deep import LatentBlockModel

    X = np.random.RandomState(0).poisson(2, (30, 20)) * 1e300  # finite, but its sums overflow
    messages = []
    for Xi in (X, lazy(X, rows=7)):
        with pytest.raises(ValueError) as err:
            LatentBlockModel(2, 2, n_init=1, random_state=0).fit(Xi)
        messages.append(str(err.value))
    assert "values up to" in messages[0] and messages[1] == messages[0]


def test_sample_mode_needs_uniforms():
    X, T, A, B, w, *_ = half_step_problem()
    with pytest.raises(ValueError, match="uniform"):
        dk.row_estep(dk.prepare(lazy(X)), T, A, None, w, mode=SAMPLE)


# ---- the contract's additions for the families (issue 10) on row blocks: known rows, levels, project, NB
from tests.kernels.problems import count_problem, known_rows, level_problem  # noqa: E402


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("mode", [SOFT, HARD, SAMPLE], ids=["soft", "hard", "sample"])
def test_fixed_rows_and_columns_match_reference(sparse, mode):
    X, T, A, B, w, z, r, uniforms = half_step_problem(sparse=sparse)
    fixed = known_rows(X.shape[0], A.shape[0])
    args = (T, A, B, w, z, r, mode, uniforms, fixed)
    _assert_same(dk.row_estep(dk.prepare(lazy(X)), *args), ref.row_estep(X, *args), 1e-10)
    rng = np.random.default_rng(5)
    S = rng.dirichlet(np.ones(4), size=X.shape[0])
    d = X.shape[1]
    col_args = (S, rng.normal(size=(A.shape[0], 4)), None, w, None, None, mode, rng.random(d),
                known_rows(d, A.shape[0], seed=2))
    _assert_same(dk.row_estep(dk.transpose(dk.prepare(lazy(X))), *col_args),
                 ref.row_estep(ref.transpose(X), *col_args), 1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", [SOFT, HARD, SAMPLE], ids=["soft", "hard", "sample"])
def test_levels_on_rows_and_columns_match_reference(sparse, dtype, mode):
    X, T, A, w, z, r, uniforms = level_problem(n=45, d=70, sparse=sparse, dtype=dtype)
    fixed = known_rows(X.shape[0], A.shape[0], seed=1)
    args = (T, A, None, w, z, r, mode, uniforms, fixed, 4)
    Xp = dk.prepare(lazy(X, rows=10))
    _assert_same(dk.row_estep(Xp, *args), ref.row_estep(X, *args), 1e-10)
    rng = np.random.default_rng(2)
    S = rng.dirichlet(np.ones(4), size=X.shape[0])
    col_args = (S, rng.normal(size=(3, 3 * 4)), None, rng.normal(size=3), None, None, mode, rng.random(70),
                known_rows(70, 3, seed=3), 4)
    _assert_same(dk.row_estep(dk.transpose(Xp), *col_args), ref.row_estep(ref.transpose(X), *col_args), 1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_level_block_stats_match_reference(sparse):
    X, T = level_problem(n=45, d=70, sparse=sparse)[:2]
    S = np.random.default_rng(0).dirichlet(np.ones(3), size=X.shape[0])
    Xp = dk.prepare(lazy(X, rows=10))
    np.testing.assert_allclose(dk.block_stats(Xp, S, T, levels=4)[0], ref.block_stats(X, S, T, levels=4)[0],
                               rtol=1e-10)
    np.testing.assert_allclose(dk.block_stats(dk.transpose(Xp), T, S, levels=4)[0],
                               ref.block_stats(ref.transpose(X), T, S, levels=4)[0], rtol=1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("levels", [None, 4], ids=["values", "levels"])
def test_project_on_rows_and_columns_matches_reference(sparse, levels):
    X = (level_problem(n=45, d=70, sparse=sparse)[0] if levels else half_step_problem(n=45, d=70, sparse=sparse)[0])
    rng = np.random.default_rng(3)
    T, S = rng.dirichlet(np.ones(5), size=70), rng.dirichlet(np.ones(3), size=45)
    Xp = dk.prepare(lazy(X, rows=10))
    np.testing.assert_allclose(dk.project(Xp, T, levels), ref.project(X, T, levels), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dk.project(dk.transpose(Xp), S, levels), ref.project(ref.transpose(X), S, levels),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_nb_size_terms_add_up_over_row_blocks(sparse):
    X, size, theta = count_problem(sparse=sparse)
    got = dk.nb_size_terms(dk.prepare(lazy(X, rows=7)), size, theta)
    for a, b in zip(got, ref.nb_size_terms(X, size, theta)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="row_size"):
        dk.nb_size_terms(dk.prepare(lazy(X)), size[:-1], theta)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_numba_level_column_sums_and_fixed_finish_match_reference(sparse):
    X = level_problem(n=45, d=70, sparse=sparse)[0]
    rng = np.random.default_rng(6)
    S = rng.dirichlet(np.ones(3), size=45)
    U, V = nb.column_sums(X, S, levels=4)
    np.testing.assert_allclose(U, ref.column_sums(X, S, levels=4)[0], rtol=1e-12)
    assert V is None and U.shape == (70, 3 * 3)
    A, w, fixed = rng.normal(size=(4, 9)), rng.normal(size=4), known_rows(70, 4, seed=4)
    for mode in (SOFT, HARD):
        _assert_same(nb.finish_estep(U, None, A, None, w, mode=mode, fixed=fixed),
                     ref.finish_estep(U, None, A, None, w, mode=mode, fixed=fixed), 1e-10)
