"""coclust_deep._seeding: one seeder and one init vocabulary for the LBM and the classic estimators."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep._seeding import (
    INITS,
    check_init,
    kmeans_plusplus_labels,
    random_labels,
    starting_partitions,
)
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari


def _profiles(n_per=40, seed=0):
    """Rows with three profiles and very different scales: cosine geometry must ignore the scale."""
    rng = np.random.default_rng(seed)
    base = np.array([[20, 1, 1, 1], [1, 20, 1, 1], [1, 1, 20, 20]], dtype=float)
    labels = np.repeat(np.arange(3), n_per)
    scale = rng.choice([1.0, 50.0], size=labels.size)[:, None]
    return rng.poisson(base[labels] * scale).astype(float), labels


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_seeder_groups_rows_by_profile_whatever_their_scale(fmt):
    X, labels = _profiles()
    X = sp.csr_matrix(X) if fmt == "csr" else X
    assert ari(labels, kmeans_plusplus_labels(X, 3, np.random.RandomState(0))) == 1.0


def test_seeder_with_a_sample_still_labels_every_row():
    X, labels = _profiles(n_per=200)
    got = kmeans_plusplus_labels(X, 3, np.random.RandomState(0), max_iter=5, sample_size=30)
    assert got.shape == labels.shape and ari(labels, got) == 1.0


def test_seeder_falls_back_to_balanced_labels_without_enough_nonzero_rows():
    X = np.zeros((9, 4))
    X[0, 0] = 1.0
    assert np.array_equal(np.bincount(kmeans_plusplus_labels(X, 3, np.random.RandomState(0))), [3, 3, 3])


def test_random_labels_are_balanced():
    assert np.array_equal(np.bincount(random_labels(10, 3, np.random.RandomState(0))), [4, 3, 3])


@pytest.mark.parametrize("init", INITS)
def test_every_init_gives_n_init_partitions_in_range(init):
    X, _, _ = make_lbm(120, 50, 3, 2, family="poisson", random_state=0)
    starts = starting_partitions(X, init, 3, 2, 5, np.random.RandomState(0))
    assert len(starts) == 5
    for rows, cols in starts:
        assert rows.shape == (120,) and cols.shape == (50,)
        assert rows.min() >= 0 and rows.max() < 3 and cols.min() >= 0 and cols.max() < 2


def test_auto_seeds_the_first_half_and_randomises_the_rest():
    X, _, _ = make_lbm(120, 50, 3, 2, family="poisson", random_state=0)
    seeded = []
    starts = starting_partitions(X, "auto", 3, 2, 5, np.random.RandomState(0),
                                 columns_from_rows=lambda rows: seeded.append(rows) or np.zeros(50, dtype=int))
    assert len(seeded) == 3
    assert all(not cols.any() for _, cols in starts[:3])  # the seeded starts come first
    for rows, cols in starts[3:]:  # the rest: balanced random partitions, not seeded, not the same
        assert np.bincount(rows).tolist() == [40, 40, 40] and np.bincount(cols).tolist() == [25, 25]
    assert ari(starts[3][0], starts[4][0]) < 0.2


def test_a_given_partition_starts_every_run():
    rows, cols = np.arange(6) % 2, np.arange(4) % 2
    init = check_init((rows, cols), 6, 4, 2, 2)
    starts = starting_partitions(np.ones((6, 4)), init, 2, 2, 3, np.random.RandomState(0))
    assert all(np.array_equal(r, rows) and np.array_equal(c, cols) for r, c in starts)


@pytest.mark.parametrize("init,match", [((np.zeros(5, int), np.zeros(4, int)), "length 6"),
                                        ((np.full(6, 2), np.zeros(4, int)), r"\[0, n_row_clusters\)")])
def test_given_partitions_are_checked_against_the_shape(init, match):
    with pytest.raises(ValueError, match=match):
        check_init(init, 6, 4, 2, 2)


@pytest.mark.parametrize("name,default", [("LatentBlockModel", "auto"), ("DoubleKMeans", "k-means++"),
                                          ("InfoCoclustering", "k-means++"), ("ModularityCoclustering", "auto")])
def test_partitioning_estimators_document_the_one_vocabulary(name, default):
    import coclust_deep
    from coclust_deep._seeding import INIT_DOC_PLACEHOLDER

    doc = getattr(coclust_deep, name).__doc__
    assert INIT_DOC_PLACEHOLDER not in doc
    assert f'(row_labels, col_labels), default="{default}"' in doc and '``"spectral"``' in doc
