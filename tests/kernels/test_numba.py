"""The Numba backend agrees with the numpy reference backend.

Tolerances: both backends sum in float64 whatever the dtype of X (float32
values are exact in float64), so results differ only by summation order:
``rtol=1e-10`` for float64 X and ``rtol=1e-6`` for float32 X, with
``atol=1e-12`` for posteriors that are close to zero.
"""
import contextlib

import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import kernels
from coclust_deep.kernels import HARD, SAMPLE, SOFT
from coclust_deep.kernels import numba_backend as nb
from coclust_deep.kernels import numpy_backend as ref
from tests.kernels.problems import RTOL, every_half_step_case
from tests.kernels.problems import assert_same_result as _assert_same
from tests.kernels.problems import half_step_problem as _problem


@every_half_step_case
def test_row_estep_matches_reference(sparse, dtype, mode, with_B, with_z):
    X, T, A, B, w, z, r, uniforms = _problem(dtype=dtype, sparse=sparse)
    args = (T, A, B if with_B else None, w, z if with_z else None, r if with_z else None,
            mode, uniforms)
    want = ref.row_estep(X, *args)
    got = nb.row_estep(nb.prepare(X), *args)
    _assert_same(got, want, RTOL[dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_column_half_step_on_transpose_matches_reference(sparse, dtype):
    X, T, A, B, w, z, r, uniforms = _problem(n=45, d=70, g=4, m=3, dtype=dtype, sparse=sparse)
    rng = np.random.default_rng(1)
    S = rng.dirichlet(np.ones(4), size=X.shape[0])
    wc = rng.normal(size=3)
    want = ref.row_estep(ref.transpose(ref.prepare(X)), S, A.T, B.T, wc)
    Xt = nb.transpose(nb.prepare(X))
    got = nb.row_estep(Xt, S, np.ascontiguousarray(A.T), np.ascontiguousarray(B.T), wc)
    _assert_same(got, want, RTOL[dtype])


def test_csr_int64_indices_match_reference():
    X, T, A, B, w, z, r, uniforms = _problem(sparse=True, index_dtype=np.int64)
    Xp = nb.prepare(X)
    assert Xp.indices.dtype == np.int64
    _assert_same(nb.row_estep(Xp, T, A, B, w), ref.row_estep(X, T, A, B, w), 1e-10)


def test_transpose_is_the_transpose():
    X = _problem(sparse=True)[0]
    Xt = nb.to_scipy(nb.transpose(nb.prepare(X)))
    assert (Xt != X.T).nnz == 0
    Xd = _problem()[0]
    np.testing.assert_array_equal(nb.transpose(nb.prepare(Xd)), Xd.T)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("squared", [False, True])
def test_block_stats_matches_reference(sparse, squared):
    X, T = _problem(sparse=sparse)[:2]
    S = np.random.default_rng(2).dirichlet(np.ones(3), size=X.shape[0])
    want = ref.block_stats(X, S, T, squared)
    got = nb.block_stats(nb.prepare(X), S, T, squared)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    if squared:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-10)
    else:
        assert got[1] is None


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_squares_of_float32_data_are_summed_in_float64_by_both(sparse):
    # centred float32 data: the reference squared in float32 and drifted 6e-6 from the compiled kernels
    X = np.random.default_rng(3).normal(0.0, 30.0, size=(60, 37)).astype(np.float32)
    X = sp.csr_matrix(X) if sparse else X
    T = _problem()[1]
    S = np.random.default_rng(2).dirichlet(np.ones(3), size=X.shape[0])
    want = ref.block_stats(X, S, T, True)[1]
    np.testing.assert_allclose(nb.block_stats(nb.prepare(X), S, T, True)[1], want, rtol=1e-12)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(ref.block_stats(X64, S, T, True)[1], want, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_all_zero_matrix_gives_finite_prior_posteriors(sparse):
    X, T, A, B, w = _problem(n=9, sparse=sparse)[:5]
    X = X * 0 if not sparse else sp.csr_matrix(X.shape, dtype=X.dtype)
    res = nb.row_estep(X, T, A, B, w)
    prior = np.exp(w - w.max()) / np.exp(w - w.max()).sum()
    np.testing.assert_allclose(res.S, np.tile(prior, (9, 1)), rtol=1e-12)
    assert np.all(res.SXT == 0) and np.isfinite(res.log_norm)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("n", [1, 2, 7, 257])
def test_parallel_chunks_match_reference(sparse, n):
    X, T, A, B, w, z, r, uniforms = _problem(n=n, sparse=sparse, seed=n)
    # force the multi-threaded path (small inputs normally run on one thread)
    with kernels.config_context(parallel_min_values=0):
        for mode in (SOFT, HARD, SAMPLE):
            _assert_same(nb.row_estep(X, T, A, B, w, z, r, mode, uniforms),
                         ref.row_estep(X, T, A, B, w, z, r, mode, uniforms), 1e-10)


def test_thread_count_is_restored():
    import numba

    before = numba.get_num_threads()
    X, T, A, B, w = _problem()[:5]
    nb.row_estep(X, T, A, B, w)
    assert numba.get_num_threads() == before


def test_duplicate_csr_entries_are_summed_before_squaring():
    X = sp.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([0, 0, 1]), np.array([0, 2, 3])),
                      shape=(2, 2))
    T, A, B, w = np.eye(2), np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(2)
    res = nb.row_estep(X, T, A, B, w)
    Xc = X.copy()
    Xc.sum_duplicates()
    np.testing.assert_allclose(res.SX2T, ref.row_estep(Xc, T, A, B, w).SX2T, rtol=1e-12)


def test_inputs_are_not_modified():
    X, T, A, B, w, z, r, uniforms = _problem(sparse=True)
    copies = [a.copy() for a in (X.data, T, A, B, w, z, r, uniforms)]
    nb.row_estep(X, T, A, B, w, z, r, SAMPLE, uniforms)
    for before, after in zip(copies, (X.data, T, A, B, w, z, r, uniforms)):
        np.testing.assert_array_equal(before, after)


def test_sample_mode_without_uniforms_raises():
    X, T, A, B, w = _problem()[:5]
    with pytest.raises(ValueError, match="uniform"):
        nb.row_estep(X, T, A, B, w, mode="sample")


def test_wrong_shapes_raise_clear_errors():
    X, T, A, B, w = _problem()[:5]
    with pytest.raises(ValueError, match="T must have shape"):
        nb.row_estep(X, T[:-1], A, B, w)
    with pytest.raises(ValueError, match="w must have shape"):
        nb.row_estep(X, T, A, B, w[:-1])
    with pytest.raises(ValueError, match="together"):
        nb.row_estep(X, T, A, B, w, z=w)


def test_auto_backend_resolves_to_numba_on_cpu():
    X = _problem()[0]
    assert kernels.resolve_backend("auto") == "numba"
    assert kernels.get_backend("auto", X).name == "numba"
    assert "numba" in kernels.available_backends()


def test_cupy_without_gpu_is_a_clear_value_error():
    if "cupy" in kernels.available_backends():
        pytest.skip("a GPU and cupy are present")
    with pytest.raises(ValueError, match="cupy"):
        kernels.get_backend("cupy")


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_transpose_view_matches_reference_in_every_mode(parallel, dtype):
    # the CSR column half-step scatters over the rows of X instead of copying X.T
    X, _, _, _, _, _, _, _ = _problem(n=80, d=33, dtype=dtype, sparse=True, seed=5)
    rng = np.random.default_rng(6)
    S = rng.dirichlet(np.ones(3), size=80)
    A, B = rng.normal(size=(5, 3)), -np.abs(rng.normal(size=(5, 3))) * 0.05
    w, z, r, uniforms = rng.normal(size=5), rng.normal(size=5), rng.random(33), rng.random(33)
    Xt_ref = ref.transpose(ref.prepare(X))
    Xt = nb.transpose(nb.prepare(X))
    R = rng.dirichlet(np.ones(5), size=33)
    with kernels.config_context(parallel_min_values=0) if parallel else contextlib.nullcontext():
        for mode in (SOFT, HARD, SAMPLE):
            _assert_same(nb.row_estep(Xt, S, A, B, w, z, r, mode, uniforms),
                         ref.row_estep(Xt_ref, S, A, B, w, z, r, mode, uniforms), RTOL[dtype])
        for got, want in zip(nb.block_stats(Xt, R, S, True), ref.block_stats(Xt_ref, R, S, True)):
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype])


# ---- contract additions of issue 10: known rows, categorical levels, projections, NB size terms
from tests.kernels.problems import count_problem, known_rows, level_problem  # noqa: E402


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("mode", [SOFT, HARD, SAMPLE], ids=["soft", "hard", "sample"])
def test_fixed_rows_match_reference(sparse, mode):
    X, T, A, B, w, z, r, uniforms = _problem(sparse=sparse)
    fixed = known_rows(X.shape[0], A.shape[0])
    args = (T, A, B, w, z, r, mode, uniforms, fixed)
    want = ref.row_estep(X, *args)
    _assert_same(nb.row_estep(nb.prepare(X), *args), want, 1e-10)
    known = fixed >= 0
    np.testing.assert_array_equal(want.S[known].argmax(axis=1), fixed[known])
    assert np.all(want.S[known].max(axis=1) == 1.0)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", [SOFT, HARD, SAMPLE], ids=["soft", "hard", "sample"])
def test_levels_match_reference(sparse, dtype, mode):
    X, T, A, w, z, r, uniforms = level_problem(sparse=sparse, dtype=dtype)
    fixed = known_rows(X.shape[0], A.shape[0], seed=1)
    args = (T, A, None, w, z, r, mode, uniforms, fixed, 4)
    _assert_same(nb.row_estep(nb.prepare(X), *args), ref.row_estep(X, *args), 1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_levels_on_the_transpose_match_reference(sparse, parallel):
    X = level_problem(n=45, d=70, sparse=sparse)[0]
    rng = np.random.default_rng(2)
    S = rng.dirichlet(np.ones(4), size=X.shape[0])
    A, wc, uniforms = rng.normal(size=(3, 3 * 4)), rng.normal(size=3), rng.random(X.shape[1])
    fixed = known_rows(X.shape[1], 3, seed=3)
    Xt_ref, Xt = ref.transpose(ref.prepare(X)), nb.transpose(nb.prepare(X))
    with kernels.config_context(parallel_min_values=0) if parallel else contextlib.nullcontext():
        for mode in (SOFT, HARD, SAMPLE):
            args = (S, A, None, wc, None, None, mode, uniforms, fixed, 4)
            _assert_same(nb.row_estep(Xt, *args), ref.row_estep(Xt_ref, *args), 1e-10)
        np.testing.assert_allclose(nb.project(Xt, S, 4), ref.project(Xt_ref, S, 4), rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_level_counts_add_up_to_the_non_zero_cells(sparse):
    X, T = level_problem(sparse=sparse)[:2]
    U = nb.project(nb.prepare(X), T, 4)  # one-hot blocks of u, levels 1..3
    nonzero = np.asarray((X != 0).astype(float) @ T)
    np.testing.assert_allclose(U.reshape(X.shape[0], 3, -1).sum(axis=1), nonzero, rtol=1e-12)
    S = np.random.default_rng(0).dirichlet(np.ones(3), size=X.shape[0])
    np.testing.assert_allclose(nb.block_stats(nb.prepare(X), S, T, levels=4)[0],
                               ref.block_stats(X, S, T, levels=4)[0], rtol=1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_project_matches_reference(sparse, dtype):
    X, T = _problem(sparse=sparse, dtype=dtype)[:2]
    with kernels.config_context(parallel_min_values=0):
        np.testing.assert_allclose(nb.project(nb.prepare(X), T), ref.project(X, T), rtol=RTOL[dtype])
    S = np.random.default_rng(3).dirichlet(np.ones(4), size=X.shape[0])
    np.testing.assert_allclose(nb.project(nb.transpose(nb.prepare(X)), S),
                               ref.project(ref.transpose(ref.prepare(X)), S), rtol=RTOL[dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_nb_size_terms_match_reference(sparse, parallel):
    X, size, theta = count_problem(sparse=sparse)
    with kernels.config_context(parallel_min_values=0) if parallel else contextlib.nullcontext():
        got = nb.nb_size_terms(nb.prepare(X), size, theta)
    for a, b in zip(got, ref.nb_size_terms(X, size, theta)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert got[0][3] == 0 and got[1][3] == 0  # an all-zero column contributes nothing


def test_nb_size_derivatives_are_the_derivatives():
    X, size, theta = count_problem(sparse=True, seed=4)
    h = 1e-6
    value, first, second = nb.nb_size_terms(nb.prepare(X), size, theta)
    up, down = (nb.nb_size_terms(nb.prepare(X), size, theta * (1 + s * h)) for s in (1, -1))
    np.testing.assert_allclose(first, (up[0] - down[0]) / (2 * h * theta), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second, (up[1] - down[1]) / (2 * h * theta), rtol=1e-5, atol=1e-6)


def test_fixed_labels_out_of_range_rejected():
    X, T, A, B, w = _problem()[:5]
    with pytest.raises(ValueError, match="fixed"):
        nb.row_estep(X, T, A, B, w, fixed=np.full(X.shape[0], A.shape[0]))
