"""The CuPy backend agrees with the numpy reference backend (needs a GPU).

Skipped cleanly without cupy or a CUDA device.  Tolerances: sums are float64
on the device but in a different order (warp shuffles, atomics), so
``rtol=1e-10`` for float64 X and ``rtol=1e-6`` for float32 X, ``atol=1e-12``.
"""
import numpy as np
import pytest

from coclust_deep import kernels
from coclust_deep.kernels import HARD, SAMPLE, SOFT
from coclust_deep.kernels import numpy_backend as ref
from tests.kernels.problems import RTOL, assert_same_result, every_half_step_case, half_step_problem

cp = pytest.importorskip("cupy")
from coclust_deep.kernels import cupy_backend as cb  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cb.is_available(), reason="needs a CUDA device"),
]

def _problem(**kw):
    return half_step_problem(**{"n": 70, "d": 41, **kw})


def _assert_same(got, want, rtol):
    assert_same_result(got, want, rtol, to_numpy=cb.to_numpy)


@every_half_step_case
def test_row_estep_matches_reference(sparse, dtype, mode, with_B, with_z):
    X, T, A, B, w, z, r, uniforms = _problem(dtype=dtype, sparse=sparse)
    args = (T, A, B if with_B else None, w, z if with_z else None, r if with_z else None,
            mode, uniforms)
    _assert_same(cb.row_estep(cb.prepare(X), *args), ref.row_estep(X, *args), RTOL[dtype])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_unfused_fallback_for_many_column_clusters_matches_reference(sparse):
    X, T, A, B, w, z, r, uniforms = _problem(m=cb.MAX_M + 1, sparse=sparse)
    for mode in (SOFT, HARD, SAMPLE):
        args = (T, A, B, w, z, r, mode, uniforms)
        _assert_same(cb.row_estep(X, *args), ref.row_estep(X, *args), 1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_column_half_step_on_transpose_matches_reference(sparse):
    X, T, A, B = _problem(n=45, d=70, g=4, m=3, sparse=sparse)[:4]
    rng = np.random.default_rng(1)
    S = rng.dirichlet(np.ones(4), size=X.shape[0])
    wc = rng.normal(size=3)
    want = ref.row_estep(ref.transpose(ref.prepare(X)), S, A.T, B.T, wc)
    got = cb.row_estep(cb.transpose(cb.prepare(X)), cp.asarray(S), A.T, B.T, wc)
    _assert_same(got, want, 1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("squared", [False, True])
def test_block_stats_matches_reference(sparse, squared):
    X, T = _problem(sparse=sparse)[:2]
    S = np.random.default_rng(2).dirichlet(np.ones(3), size=X.shape[0])
    want = ref.block_stats(X, S, T, squared)
    got = cb.block_stats(cb.prepare(X), cp.asarray(S), cp.asarray(T), squared)
    np.testing.assert_allclose(cb.to_numpy(got[0]), want[0], rtol=1e-10)
    if squared:
        np.testing.assert_allclose(cb.to_numpy(got[1]), want[1], rtol=1e-10)
    else:
        assert got[1] is None


def test_cupy_input_stays_on_the_device():
    X, T, A, B, w = _problem()[:5]
    res = cb.row_estep(cp.asarray(X), cp.asarray(T), A, B, w)
    assert isinstance(res.S, cp.ndarray) and isinstance(res.SXT, cp.ndarray)
    assert isinstance(cb.to_numpy(res.S), np.ndarray)


def test_auto_backend_picks_cupy_for_cupy_input():
    X = cp.asarray(_problem()[0])
    assert kernels.resolve_backend("auto", X) == "cupy"
    assert kernels.get_backend("auto", X).name == "cupy"


# ---- contract additions of issue 10 (written without a GPU; these tests are their first run on one)
from tests.kernels.problems import count_problem, known_rows, level_problem  # noqa: E402


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_fixed_rows_match_reference(sparse):
    X, T, A, B, w, z, r, uniforms = _problem(sparse=sparse)
    fixed = known_rows(X.shape[0], A.shape[0])
    for mode in (SOFT, HARD, SAMPLE):
        args = (T, A, B, w, z, r, mode, uniforms, fixed)
        _assert_same(cb.row_estep(cb.prepare(X), *args), ref.row_estep(X, *args), 1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_levels_and_projections_match_reference(sparse):
    X, T, A, w, z, r, uniforms = level_problem(sparse=sparse)
    fixed = known_rows(X.shape[0], A.shape[0], seed=1)
    for mode in (SOFT, HARD, SAMPLE):
        args = (T, A, None, w, z, r, mode, uniforms, fixed, 4)
        _assert_same(cb.row_estep(cb.prepare(X), *args), ref.row_estep(X, *args), 1e-10)
    np.testing.assert_allclose(cb.to_numpy(cb.project(cb.prepare(X), T, 4)), ref.project(X, T, 4), rtol=1e-10)
    np.testing.assert_allclose(cb.to_numpy(cb.project(cb.prepare(X), T)), ref.project(X, T), rtol=1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_nb_size_terms_match_reference(sparse):
    X, size, theta = count_problem(sparse=sparse)
    for a, b in zip(cb.nb_size_terms(cb.prepare(X), size, theta), ref.nb_size_terms(X, size, theta)):
        np.testing.assert_allclose(cb.to_numpy(a), b, rtol=1e-9, atol=1e-9)
