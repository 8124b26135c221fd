"""Cheng & Church biclustering: overlapping delta-biclusters."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from coclust_deep import ChengChurch
from coclust_deep.classic.cheng_church import _residues
from coclust_deep.metrics import consensus_score


def overlapping_constant_biclusters(random_state=0):
    """Uniform noise with three constant biclusters that share rows or columns."""
    rng = np.random.RandomState(random_state)
    n, d = 100, 80
    X = rng.uniform(0, 10, size=(n, d))
    spec = [(range(0, 30), range(0, 20), 2.0), (range(20, 50), range(30, 50), 8.0),
            (range(60, 85), range(15, 35), 5.0)]
    rows, cols = np.zeros((3, n), bool), np.zeros((3, d), bool)
    for b, (r, c, value) in enumerate(spec):
        rows[b, list(r)] = True
        cols[b, list(c)] = True
        X[np.ix_(list(r), list(c))] = value + rng.normal(0, 0.1, size=(len(r), len(c)))
    return X, rows, cols


def test_finds_overlapping_constant_biclusters():
    X, rows, cols = overlapping_constant_biclusters()
    assert (rows[0] & rows[1]).any() and (cols[0] & cols[2]).any()  # planted overlap
    model = ChengChurch(n_biclusters=3, delta=0.05, random_state=0).fit(X)
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.8


def test_found_biclusters_have_residue_below_delta():
    X, _, _ = overlapping_constant_biclusters(random_state=1)
    model = ChengChurch(n_biclusters=3, delta=0.05, random_state=0).fit(X)
    assert np.all(model.residues_ <= 0.05)
    for i in range(3):
        r, c = model.get_indices(i)
        assert model.residues_[i] == pytest.approx(_residues(X, r, c)[0])


def test_additive_bicluster_found():
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 20, size=(60, 50))
    a, b = rng.uniform(0, 5, 15), rng.uniform(0, 5, 12)
    X[:15, :12] = 3 + a[:, None] + b[None, :]  # zero residue, not constant
    model = ChengChurch(n_biclusters=1, delta=0.01, random_state=0).fit(X)
    r, c = model.get_indices(0)
    np.testing.assert_array_equal(r, np.arange(15))
    np.testing.assert_array_equal(c, np.arange(12))


def test_masking_prevents_finding_the_same_bicluster_twice():
    X, _, _ = overlapping_constant_biclusters()
    model = ChengChurch(n_biclusters=3, delta=0.05, random_state=0).fit(X)
    keys = {(tuple(r), tuple(c)) for r, c in zip(model.rows_, model.columns_)}
    assert len(keys) == 3


def test_seed_reproducible_and_input_untouched():
    X, _, _ = overlapping_constant_biclusters()
    before = X.copy()
    a = ChengChurch(n_biclusters=3, delta=0.05, random_state=4).fit(X)
    b = ChengChurch(n_biclusters=3, delta=0.05, random_state=4).fit(X)
    np.testing.assert_array_equal(a.rows_, b.rows_)
    np.testing.assert_array_equal(a.columns_, b.columns_)
    np.testing.assert_array_equal(X, before)


def test_all_zero_rows_and_columns():
    X, rows, cols = overlapping_constant_biclusters()
    X[95:] = 0
    X[:, 75:] = 0
    model = ChengChurch(n_biclusters=3, delta=0.05, random_state=0).fit(X)
    assert np.all(np.isfinite(model.residues_))
    assert model.rows_.shape == (3, 100) and model.columns_.shape == (3, 80)
    # the planted biclusters lie outside the zeroed rows and columns: still found as without them
    assert consensus_score(model.biclusters_, (rows, cols)) >= 0.8  # measured 0.80-0.81 over data seeds 0-3


def test_clone():
    model = ChengChurch(4, delta=0.5, alpha=1.5, random_state=0)
    assert clone(model).get_params() == model.get_params()


def test_sparse_input_rejected_with_hint():
    with pytest.raises(TypeError, match="toarray"):
        ChengChurch(2).fit(sp.csr_matrix(np.ones((10, 8))))


def test_dask_input_rejected_with_hint():
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match=r"does not take dask input.*X\.compute\(\)"):
        ChengChurch(2).fit(da.from_array(np.ones((10, 8)), chunks=(5, 8)))


@pytest.mark.parametrize("kw", [{"delta": -1.0}, {"alpha": 0.5}, {"n_biclusters": 0}])
def test_bad_parameters_rejected(kw):
    with pytest.raises(ValueError):
        ChengChurch(**{"n_biclusters": 2, **kw}).fit(np.ones((10, 8)))


@pytest.mark.parametrize("kw", [{"delta": "1"}, {"alpha": None}, {"n_biclusters": 2.0}])
def test_wrong_parameter_types_raise_type_error(kw):
    with pytest.raises(TypeError, match=f"'{next(iter(kw))}' parameter of ChengChurch"):
        ChengChurch(**{"n_biclusters": 2, **kw}).fit(np.ones((10, 8)))
