"""Re-seeding empty clusters: the block sums moved with the re-seeded items equal a fresh pass over X."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import DoubleKMeans, InfoCoclustering, ModularityCoclustering
from coclust_deep.classic._base import sums_are_exact


def test_sums_are_exact_on_counts_and_float32_values():
    rng = np.random.default_rng(0)
    counts = sp.random(50, 40, density=0.3, random_state=0, data_rvs=lambda n: rng.integers(1, 50, n))
    assert sums_are_exact(sp.csr_matrix(counts, dtype=np.float64))
    # float32 values of a moderate range, held as float64: multiples of one small power of two
    assert sums_are_exact(rng.uniform(0.1, 5.0, (30, 20)).astype(np.float32).astype(np.float64))
    assert sums_are_exact(np.zeros((3, 4)))
    assert not sums_are_exact(rng.uniform(0.1, 5.0, (30, 20)))  # full float64 significands
    big = np.full((4, 4), 2.0**50)
    assert sums_are_exact(big)  # multiples of 2**50: exact
    big[0, 0] = 1.0
    assert not sums_are_exact(big)  # integers whose sum passes 2**53
    assert not sums_are_exact(np.full((3, 3), 1e6, dtype=np.float32) + 0.5)  # float32 sums round


def _exact_off(cls):
    return type(cls.__name__, (cls,), {"_exact_block_sums": lambda self, ctx: False})


def _two_blocks():
    from coclust_deep.datasets import make_lbm

    X, _, _ = make_lbm(150, 100, 2, 2, family="poisson", params={"lambda": 0.3 + 2 * np.eye(2)},
                       sparse=True, random_state=0)
    return sp.csr_matrix(X, dtype=np.float64)


def _sparse_counts(seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(60, 40, density=0.05, random_state=seed, data_rvs=lambda n: rng.integers(1, 9, n))
    return sp.csr_matrix(X, dtype=np.float64)


# many more clusters than the data support: some cluster is emptied and re-seeded
@pytest.mark.parametrize("make, data", [
    (lambda: ModularityCoclustering(8, n_init=3, random_state=0), _two_blocks),
    (lambda: InfoCoclustering(12, 12, init="random", n_init=3, random_state=0), lambda: _sparse_counts(2)),
    (lambda: DoubleKMeans(12, 12, init="random", n_init=3, random_state=0), _sparse_counts),
])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_moved_block_sums_match_block_stats(make, data, backend, monkeypatch):
    if backend == "numba":
        pytest.importorskip("numba")
    X = data()
    assert sums_are_exact(X)
    model = make().set_params(backend=backend)
    fallback = _exact_off(type(model))(**model.get_params())
    calls = []
    original = type(model)._reseed_empty

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with monkeypatch.context() as patch:
            patch.setattr(type(model), "_reseed_empty", counting)
            model.fit(X)
        fallback.fit(X)
    assert calls, "the test matrix should make some cluster empty"
    np.testing.assert_array_equal(model.row_labels_, fallback.row_labels_)
    np.testing.assert_array_equal(model.column_labels_, fallback.column_labels_)
    assert model.criterion_history_.tobytes() == fallback.criterion_history_.tobytes()
