"""Messages through scanpy's logging: the once-only compile notice."""
import numba
import pytest

from coclust_deep import _logging


@pytest.fixture
def fresh_notice(monkeypatch):
    monkeypatch.setitem(_logging._state, "compile_notice_shown", False)


def _compile(module):
    """A real Numba compile of a new function that claims to live in ``module``."""
    def add_one(x):
        return x + 1

    add_one.__module__ = module
    return numba.njit(add_one)(1)


def test_first_kernel_compile_is_announced_once(fresh_notice, scanpy_log):
    with _logging.compile_notice():
        _compile("coclust_deep.kernels._numba_test")
        _compile("coclust_deep.kernels._numba_test")
    with _logging.compile_notice():
        _compile("coclust_deep.kernels._numba_test")
    assert scanpy_log.getvalue().count("compiling the Numba kernels") == 1
    assert "WARNING" in scanpy_log.getvalue()  # shown at scanpy's default verbosity


def test_other_compiles_are_not_announced(fresh_notice, scanpy_log):
    with _logging.compile_notice():
        _compile("some_user_module")
    assert "compiling" not in scanpy_log.getvalue()


def test_nothing_is_announced_outside_a_fit(fresh_notice, scanpy_log):
    _compile("coclust_deep.kernels._numba_test")
    assert "compiling" not in scanpy_log.getvalue()


def test_fits_are_wrapped():
    from coclust_deep import LatentBlockModel
    from coclust_deep.classic._base import HardBlockCoclustering

    for method in (LatentBlockModel.fit, HardBlockCoclustering._fit):
        assert hasattr(method, "__wrapped__")


def test_warnings_point_at_the_callers_line():
    import warnings

    import anndata as ad

    from coclust_deep import ModularityCoclustering, select_lbm, tl
    from coclust_deep.datasets import make_lbm

    X, _, _ = make_lbm(100, 40, 2, 2, family="poisson", random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        select_lbm(X, [1, 2], [1, 2], n_init=1, verbose=False)
        tl.select_lbm(ad.AnnData(X), [1, 2], [1, 2], n_init=1, verbose=False)
        ModularityCoclustering(8, n_init=1, max_iter=2, random_state=0).fit(X)
        tl.cocluster(ad.AnnData(X), "modularity", 8, 8, n_init=1, max_iter=2)
    assert caught and {w.filename for w in caught} == {__file__}
